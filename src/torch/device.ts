// Devices are strings as in PyTorch: "cpu", "cuda", "cuda:1".
import { readFileSync } from "node:fs";
import { native } from "./native.js";

export type Device = "cpu" | "cuda" | `cuda:${number}`;

let defaultDevice: Device = "cpu";

export function getDefaultDevice(): Device {
  return defaultDevice;
}

/** Where new tensors go when no device is given. */
export function setDefaultDevice(device: Device): void {
  defaultDevice = parseDevice(device);
}

export function parseDevice(device: string): Device {
  if (device === "cpu" || device === "cuda" || /^cuda:\d+$/.test(device)) return device as Device;
  throw new TypeError(`unknown device '${device}'; expected 'cpu', 'cuda' or 'cuda:N'`);
}

export const cuda = {
  /** True when libtorch was built with CUDA and a GPU is visible. */
  isAvailable(): boolean {
    return native.cudaIsAvailable();
  },
  deviceCount(): number {
    return native.cudaDeviceCount();
  },
  /**
   * True when the addon was linked against a CUDA libtorch (libtorch_cuda is loaded), whether or not a
   * GPU is visible; false for a CPU-only build (or where /proc/self/maps cannot be read).
   */
  isBuilt(): boolean {
    try {
      return /\/lib(torch|c10)_cuda[^/]*\.so/.test(readFileSync("/proc/self/maps", "utf8"));
    } catch {
      return false;
    }
  },
};
