// Weights that hold NaN or Inf are refused where they are loaded (a model directory, the autoencoder
// of `train --vqvae`, a U-Net directory, a training checkpoint), with the file and the first bad
// tensor named: a damaged file must not be trained on or enhanced with, giving NaN everywhere after.
import * as T from "../torch/index.js";

export interface NonFiniteTensor {
  /** The tensor's key in the file. */
  name: string;
  nan: number;
  inf: number;
  numel: number;
}

/** The first floating-point tensor (in key order) holding NaN or Inf, or null when all are finite. */
export function firstNonFinite(tensors: ReadonlyMap<string, T.Tensor> | Readonly<Record<string, T.Tensor>>): NonFiniteTensor | null {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!T.isFloatingPoint(t.dtype) || t.numel === 0) continue;
    const found = T.tidy(() => {
      const bad = Number(t.isfinite().logicalNot().sum().item());
      if (bad === 0) return null;
      const nan = Number(t.isnan().sum().item());
      return { name, nan, inf: bad - nan, numel: t.numel };
    });
    if (found !== null) return found;
  }
  return null;
}

/** "FILE: tensor 'NAME' holds 4 NaN and 0 Inf values (of 432)". */
export function describeNonFinite(file: string, bad: NonFiniteTensor): string {
  return `${file}: tensor '${bad.name}' holds ${bad.nan} NaN and ${bad.inf} Inf values (of ${bad.numel})`;
}

/** Throws `error(message)` when a tensor of `tensors` (read from `file`) is not finite; `fix` says what to do. */
export function assertFiniteWeights(
  tensors: ReadonlyMap<string, T.Tensor> | Readonly<Record<string, T.Tensor>>,
  file: string,
  fix: string,
  error: new (message: string) => Error = Error,
): void {
  const bad = firstNonFinite(tensors);
  if (bad !== null) throw new error(`${describeNonFinite(file, bad)}; the weights are damaged: ${fix}`);
}

/** assertFiniteWeights on a loaded module's state dict (its keys are the file's). */
export function assertFiniteModule(module: T.nn.Module, file: string, fix: string, error: new (message: string) => Error = Error): void {
  T.tidy(() => assertFiniteWeights(module.stateDict(), file, fix, error));
}
