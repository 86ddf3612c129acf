// The public surface of the engine. Model code imports from here only.
// First: installs Tensor's op-backed methods (x.add(y), x.sum(), ...) on its prototype.
import "./tensor_methods.js";
export { Tensor } from "./tensor.js";
export { DisposedTensorError } from "./errors.js";
export { tidy, keep, memory, type MemoryInfo } from "./scope.js";
export {
  type DType,
  DTYPES,
  ITEM_SIZE,
  isFloatingPoint,
  isComplex,
  getDefaultDType,
  setDefaultDType,
  type TypedArray,
} from "./dtype.js";
export { type Device, cuda, getDefaultDevice, setDefaultDevice } from "./device.js";
export { Generator, manualSeed } from "./generator.js";
export { noGrad, enableGrad, inferenceMode, isInferenceMode, isGradEnabled, grad } from "./autograd.js";
export { gradcheck, type GradcheckOptions, type GradcheckMismatch } from "./gradcheck.js";
export { setNumThreads, getNumThreads, libtorchVersion } from "./threads.js";
export { blasLibrary, cpuAllocatorStats, emptyCpuCache, type CpuAllocatorStats } from "./memory_backend.js";
export { Op } from "./op.js";
export * from "./ops/creation.js";
export type { TensorOptions, RandomOptions } from "./ops/options.js";
export * from "./ops/math.js";
export * from "./ops/reduce.js";
export * from "./ops/shape.js";
export * from "./ops/linalg.js";
export * from "./ops/fft.js";
export * as F from "./nn/functional.js";
export * as nn from "./nn/index.js";
export * as optim from "./optim/index.js";
export * as io from "./io/safetensors.js";
export * as flops from "./flops.js";
