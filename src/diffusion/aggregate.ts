// Gated aggregation of the experts' clean-latent estimates (paper Eq. 9):
// z0_hat = sum_i G_i * z0_hat_(i).
//
// Weights are either global, one per sample and expert ([B, K]), or spatial
// maps ([B, K, h, w], already upsampled to the latent grid by the caller), in
// which case the sum is taken per position. The weights are used as given: the
// gating network makes them sum to one (Eq. 4); they are not renormalised here,
// so a caller that masks experts out (asynchronous mode) decides the scaling.
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";

const fmt = (s: readonly number[]): string => `[${s.join(", ")}]`;

/** Eq. 9 for K estimates z0Hats[i] of shape [B, C, h, w] and weights [B, K] or [B, K, h, w]. */
export function aggregateZ0(z0Hats: readonly Tensor[], weights: Tensor): Tensor {
  const k = z0Hats.length;
  if (k === 0) throw new RangeError("aggregateZ0: z0Hats is empty; give one [B, C, h, w] estimate per expert");
  const first = z0Hats[0] as Tensor;
  if (first.ndim !== 4) throw new RangeError(`aggregateZ0: z0Hats[0] must be [B, C, h, w], got ${fmt(first.shape)}`);
  const [b, , h, w] = first.shape as [number, number, number, number];
  z0Hats.forEach((z, i) => {
    if (z.ndim !== 4 || z.shape.some((d, j) => d !== first.shape[j])) {
      throw new RangeError(`aggregateZ0: z0Hats[${i}] has shape ${fmt(z.shape)}, expected ${fmt(first.shape)} like z0Hats[0]`);
    }
  });
  const ws = weights.shape;
  const global = weights.ndim === 2 && ws[0] === b && ws[1] === k;
  const spatial = weights.ndim === 4 && ws[0] === b && ws[1] === k && ws[2] === h && ws[3] === w;
  if (!global && !spatial) {
    throw new RangeError(
      `aggregateZ0: weights must be [B, K] = [${b}, ${k}] or [B, K, h, w] = [${b}, ${k}, ${h}, ${w}] (upsample gate maps to the latent grid first), got ${fmt(ws)}`,
    );
  }
  return T.tidy(() => {
    const stacked = T.stack(z0Hats, 1); // [B, K, C, h, w]
    const g = global ? weights.reshape(b, k, 1, 1, 1) : weights.unsqueeze(2); // [B, K, 1, (1|h), (1|w)]
    return stacked.mul(g).sum(1); // Eq. 9
  });
}
