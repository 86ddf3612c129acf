// Shared input checks and reductions for the losses (Eq. 7, 10-12).
//
// Every loss works per sample first ([B] values: the mean over all non-batch
// elements) so that Eq. 13 can weight each sample's loss by its own gating
// weights; `perSample: false` (the default) returns the batch mean instead.
import type { Tensor } from "../torch/index.js";

export interface ReductionOptions {
  /** Return one value per sample ([B]) instead of the batch mean (scalar). */
  perSample?: boolean;
}

export const fmt = (s: readonly number[]): string => `[${s.join(", ")}]`;

/** Throws unless a and b have the same shape with at least `minDims` dimensions (batch first). */
export function checkSameShape(what: string, a: Tensor, b: Tensor, an: string, bn: string, minDims = 1): void {
  if (a.ndim < minDims) throw new RangeError(`${what}: ${an} must have at least ${minDims} dimensions [B, ...], got ${fmt(a.shape)}`);
  if (a.ndim !== b.ndim || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`${what}: ${an} and ${bn} shapes differ: ${fmt(a.shape)} vs ${fmt(b.shape)}`);
  }
}

/** Throws unless x is [B, C, h, w]. */
export function checkLatent(what: string, x: Tensor, name: string): void {
  if (x.ndim !== 4) throw new RangeError(`${what}: ${name} must be [B, C, h, w], got ${fmt(x.shape)}`);
}

/** Mean over every dimension but the first: [B, ...] -> [B]. */
export function meanPerSample(x: Tensor): Tensor {
  if (x.ndim === 1) return x.clone();
  const dims: number[] = [];
  for (let d = 1; d < x.ndim; d++) dims.push(d);
  return x.mean(dims);
}

/** A [B] tensor made by the caller -> itself (perSample) or its mean (scalar). */
export function reduce(perSample: Tensor, o: ReductionOptions | undefined): Tensor {
  return o?.perSample ? perSample : perSample.mean();
}
