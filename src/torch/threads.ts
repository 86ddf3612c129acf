// Intra-op parallelism. The default (set when the addon loads) is every core,
// or MOEDIFF_NUM_THREADS when set.
import { native } from "./native.js";

export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected a positive integer, got ${n}`);
  native.setNumThreads(n);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

export function libtorchVersion(): string {
  return native.versions().libtorch;
}
