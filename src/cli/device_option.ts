// --device, checked when the option is parsed (before any input is read or model loaded): the name,
// and for CUDA that this build has it, that a GPU is visible and that the index exists. Without this a
// CUDA device on a CPU-only build fails at the first tensor with libtorch's 46-line dispatcher dump.
import * as T from "../torch/index.js";

const CUDA_BUILD = 'rebuild against a CUDA libtorch: LIBTORCH=/path/to/libtorch bash scripts/setup.sh (docs/install.md, "GPU, or another libtorch")';

/** Throws one line saying why `device` cannot be used here; returns it as a Device. */
export function checkDevice(device: string, flag = "--device"): T.Device {
  if (device !== "cpu" && device !== "cuda" && !/^cuda:\d+$/.test(device)) throw new Error(`${flag} must be cpu, cuda or cuda:N, got '${device}'`);
  if (device === "cpu") return "cpu";
  if (!T.cuda.isAvailable()) {
    if (!T.cuda.isBuilt()) throw new Error(`${flag} ${device}: this build has no CUDA (its libtorch ${T.libtorchVersion()} is CPU-only); use --device cpu, or ${CUDA_BUILD}`);
    throw new Error(`${flag} ${device}: this build has CUDA but libtorch sees no GPU (check nvidia-smi and CUDA_VISIBLE_DEVICES); use --device cpu`);
  }
  const count = T.cuda.deviceCount();
  const index = device === "cuda" ? 0 : Number(device.slice(5));
  if (index >= count) throw new Error(`${flag} ${device}: there ${count === 1 ? "is 1 CUDA device (cuda:0)" : `are ${count} CUDA devices (cuda:0 to cuda:${count - 1})`}`);
  return device as T.Device;
}

/** commander's parser for --device. */
export const parseDeviceOption = (v: string): T.Device => checkDevice(v);
