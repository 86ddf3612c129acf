// The only module that loads the native addon. Everything else imports `native`
// from here, typed: no `any` crosses the boundary.
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** A value the generic op path accepts: tensor and generator ids are numbers. */
export type NativeArg = number | boolean | string | null | undefined | readonly NativeArg[];
/** What an op returns: tensor ids (numbers), nulls, plain values, or arrays of them. */
export type NativeResult = number | boolean | string | null | undefined | NativeResult[];

/** The caching CPU allocator's state (native/src/cpu_allocator.cc); only `active` when it is off. */
export interface CpuAllocatorStats {
  active: boolean;
  cachedBytes?: number;
  cachedBlocks?: number;
  liveBytes?: number;
  hits?: number;
  misses?: number;
  limitBytes?: number;
}

export interface NativeAddon {
  resolveOp(name: string): number;
  hasOp(name: string): boolean;
  opSchema(opId: number): string;
  call(opId: number, ...args: NativeArg[]): NativeResult;
  callInPlace(opId: number, ...args: NativeArg[]): void;
  fromBytes(data: ArrayBufferView | ArrayBuffer, shape: readonly number[], scalarType: number, device?: string): number;
  toBytes(id: number): ArrayBuffer;
  free(id: number): void;
  shape(id: number): number[];
  strides(id: number): number[];
  scalarType(id: number): number;
  device(id: number): string;
  isContiguous(id: number): boolean;
  memory(): [number, number];
  pauseMemoryReports(): void;
  resumeMemoryReports(): void;
  memoryReportState(): [number, number, number];
  backward(outputs: number[], grads: (number | null)[] | null, retainGraph: boolean, createGraph: boolean): void;
  grad(
    outputs: number[],
    inputs: number[],
    gradOutputs: (number | null)[] | null,
    retainGraph: boolean,
    createGraph: boolean,
    allowUnused: boolean,
  ): (number | null)[];
  getGrad(id: number): number | null;
  setGrad(id: number, grad: number | null): void;
  requiresGrad(id: number): boolean;
  setRequiresGrad(id: number, value: boolean): void;
  isLeaf(id: number): boolean;
  retainGrad(id: number): void;
  gradEnabled(): boolean;
  setGradEnabled(enabled: boolean): boolean;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  manualSeed(seed: number): void;
  generatorNew(device: string, seed: number): number;
  generatorFree(id: number): void;
  generatorSeed(id: number, seed: number): void;
  generatorGetState(id: number): number;
  generatorSetState(id: number, stateTensor: number): void;
  versions(): { libtorch: string; parallel: string };
  cpuAllocatorStats(): CpuAllocatorStats;
  inferenceModeEnter(): number;
  inferenceModeExit(depth: number): void;
  isInferenceMode(): boolean;
  cpuAllocatorEmptyCache(): void;
  benchConvStepCpp(batch: number, channels: number, size: number, layers: number, warmup: number, iters: number): number[];
}

function addonPath(): string {
  const fromEnv = process.env.MOEDIFF_NATIVE;
  if (fromEnv) return fromEnv;
  // dist/src/torch/native.js -> <package>/native/build/Release/
  return fileURLToPath(new URL("../../../native/build/Release/moediff_native.node", import.meta.url));
}

function load(): NativeAddon {
  const path = addonPath();
  if (!existsSync(path)) {
    throw new Error(
      `moediff-sr: the native addon is not built (${path} is missing). ` +
        "Run `bash scripts/setup.sh` (or `npm run build:native` once libtorch is installed).",
    );
  }
  const require = createRequire(import.meta.url);
  try {
    return require(path) as NativeAddon;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `moediff-sr: could not load the native addon ${path}: ${msg}. ` +
        "If libtorch moved or was removed, rebuild with `bash scripts/setup.sh` (set LIBTORCH for an official distribution).",
    );
  }
}

// Debian's libtorch does its matrix products in OpenBLAS, whose thread pool is sized once, from the
// environment, when the library loads: without this, MOEDIFF_NUM_THREADS=1 still multiplied on every core.
const threads = initialThreads();
process.env.OPENBLAS_NUM_THREADS ??= String(threads);
process.env.OMP_NUM_THREADS ??= String(threads);

export const native: NativeAddon = load();

function initialThreads(): number {
  const env = process.env.MOEDIFF_NUM_THREADS;
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`MOEDIFF_NUM_THREADS must be a positive integer, got '${env}'`);
    }
    return n;
  }
  return availableParallelism();
}

// libtorch starts with one intra-op thread here; use every core unless told otherwise.
native.setNumThreads(threads);
