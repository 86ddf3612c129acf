// The diffusion (denoising) loss of one expert (paper Eq. 7):
// L_diffusion(i) = E ||E_i(z_t(i), t) - eps_(i)||_2^2.
//
// Norm: the squared error is averaged over the elements of each sample (the
// usual DDPM "simple" loss, independent of the latent size), then over the
// batch unless `perSample` asks for the [B] values Eq. 13 weights by G.
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import { checkSameShape, meanPerSample, reduce, type ReductionOptions } from "./common.js";

/** Eq. 7 for predicted noise epsHat and the true noise eps, both [B, ...]. */
export function diffusionLoss(epsHat: Tensor, eps: Tensor, o?: ReductionOptions): Tensor {
  checkSameShape("diffusionLoss", epsHat, eps, "epsHat", "eps");
  return T.tidy(() => reduce(meanPerSample(epsHat.sub(eps).square()), o)); // Eq. 7
}
