// Task loss of expert E1, centrum semiovale (paper Eq. 10):
// L_task(1) = ||z0 - z0_hat(1)||^2 + ||Phi(z0) - Phi(z0_hat(1))||^2.
//
// Phi is the perceptual feature extractor applied in latent space (VGG-16
// features or a documented frozen substitute, built elsewhere); it is passed in
// as `phi(z) -> feature maps`. Decisions:
// - Norm: each ||.||^2 is a mean squared error per element (per sample), so the
//   terms do not scale with latent or feature-map size; the perceptual term is
//   the sum over the returned feature maps of their per-element MSE.
// - z0 is a target (the frozen encoder's output): it is detached and Phi(z0) is
//   computed without gradient; gradients flow through z0_hat and Phi(z0_hat) only.
// - A phi that returns no feature maps is an error, never a silent no-op.
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import { checkSameShape, fmt, meanPerSample, reduce, type ReductionOptions } from "./common.js";

/** Perceptual feature extractor: one or more feature maps [B, ...] for a latent [B, C, h, w]. */
export type FeatureExtractor = (z: Tensor) => Tensor[];

export interface TaskE1Result {
  /** L_task(1): scalar, or [B] with perSample. */
  loss: Tensor;
  /** The latent MSE term. */
  mse: Tensor;
  /** The perceptual term (sum over feature maps). */
  perceptual: Tensor;
}

/** Eq. 10. z0 and z0Hat are [B, C, h, w]. */
export function taskLossE1(z0: Tensor, z0Hat: Tensor, phi: FeatureExtractor, o?: ReductionOptions): TaskE1Result {
  checkSameShape("taskLossE1", z0Hat, z0, "z0Hat", "z0", 2);
  const batch = z0.size(0);
  return T.tidy(() => {
    const z0t = z0.detach();
    const mse = meanPerSample(z0Hat.sub(z0t).square());
    const target = T.noGrad(() => phi(z0t));
    const pred = phi(z0Hat);
    if (target.length === 0) throw new RangeError("taskLossE1: phi returned no feature maps; the perceptual term of Eq. 10 would be a no-op");
    if (pred.length !== target.length) {
      throw new RangeError(`taskLossE1: phi returned ${pred.length} feature maps for z0Hat but ${target.length} for z0`);
    }
    let perceptual: Tensor | undefined;
    pred.forEach((p, i) => {
      const q = target[i] as Tensor;
      checkSameShape(`taskLossE1: feature map ${i}`, p, q, "phi(z0Hat)", "phi(z0)");
      if (p.size(0) !== batch) throw new RangeError(`taskLossE1: feature map ${i} has shape ${fmt(p.shape)}; its first dimension must be the batch ${batch}`);
      const term = meanPerSample(p.sub(q.detach()).square());
      perceptual = perceptual === undefined ? term : perceptual.add(term);
    });
    const perc = perceptual as Tensor;
    const loss = mse.add(perc); // Eq. 10
    return { loss: reduce(loss, o), mse: reduce(mse, o), perceptual: reduce(perc, o) };
  });
}
