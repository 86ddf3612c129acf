// Task loss of expert E2, cortex (paper Eq. 11):
// L_task(2) = ||S(z0) - S(z0_hat(2))||^2 + ||F(z0) - F(z0_hat(2))||^2.
//
// Decisions where the paper is vague:
// - S is the classic (unnormalised) 3x3 Sobel pair: Gx = [[-1,0,1],[-2,0,2],[-1,0,1]]
//   (derivative along the width, positive for values increasing to the right)
//   and Gy = Gx^T, applied per channel as a depthwise convolution; S(z) stacks
//   [dx_c, dy_c] for every channel c -> [B, 2C, h, w]. Borders use replicate
//   padding (as kornia's spatial gradient): a flat border gives no fake edge,
//   which zero padding would; the map keeps the latent size. On a ramp of slope a
//   the interior response is 8a and the first/last column 4a.
// - F is the 2-D FFT over (h, w) with orthonormal scaling, per channel;
//   ||F(a) - F(b)||^2 is the mean over frequency bins of the squared magnitude of
//   the complex difference. Note (Parseval): with the unitary FFT this term
//   equals the latent MSE exactly, so the literal Eq. 11 adds a second MSE.
//   `fourier: "amplitude"` instead compares spectral magnitudes,
//   (|F(a)| - |F(b)|)^2, which is phase-insensitive and not an MSE; "complex"
//   (the literal equation) is the default.
// - Norms are per-element means per sample, as the other losses.
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import { checkLatent, checkSameShape, meanPerSample, reduce, type ReductionOptions } from "./common.js";

export type FourierMode = "complex" | "amplitude";

export interface TaskE2Options extends ReductionOptions {
  /** How F(z0) and F(z0_hat) are compared (default "complex", the literal Eq. 11). */
  fourier?: FourierMode;
}

export interface TaskE2Result {
  /** L_task(2): scalar, or [B] with perSample. */
  loss: Tensor;
  sobel: Tensor;
  fourier: Tensor;
}

const SOBEL_X = [-1, 0, 1, -2, 0, 2, -1, 0, 1];
const SOBEL_Y = [-1, -2, -1, 0, 0, 0, 1, 2, 1];

/** Sobel gradients S(x): [B, C, h, w] -> [B, 2C, h, w] with channels (dx_0, dy_0, dx_1, dy_1, ...). */
export function sobel(x: Tensor): Tensor {
  checkLatent("sobel", x, "x");
  const c = x.size(1);
  return T.tidy(() => {
    const k: number[] = [];
    for (let i = 0; i < c; i++) k.push(...SOBEL_X, ...SOBEL_Y);
    const weight = T.tensor(Float64Array.from(k), [2 * c, 1, 3, 3], { dtype: x.dtype, device: x.device });
    return T.F.conv2d(T.pad(x, [1, 1, 1, 1], "replicate"), weight, null, { groups: c });
  });
}

/** |z|, with a tiny floor inside the square root so the gradient is finite at 0. */
function magnitude(z: Tensor): Tensor {
  return T.viewAsReal(z).square().sum(-1).add(1e-24).sqrt();
}

/** Eq. 11. z0 and z0Hat are [B, C, h, w]. */
export function taskLossE2(z0: Tensor, z0Hat: Tensor, o?: TaskE2Options): TaskE2Result {
  checkLatent("taskLossE2", z0Hat, "z0Hat");
  checkSameShape("taskLossE2", z0Hat, z0, "z0Hat", "z0");
  const mode = o?.fourier ?? "complex";
  if (mode !== "complex" && mode !== "amplitude") throw new RangeError(`taskLossE2: fourier must be 'complex' or 'amplitude', got '${String(mode)}'`);
  return T.tidy(() => {
    const target = z0.detach();
    const diff = z0Hat.sub(target);
    // S is linear: S(z0_hat) - S(z0) = S(z0_hat - z0).
    const sob = meanPerSample(sobel(diff).square());
    let four: Tensor;
    if (mode === "complex") {
      // F is linear too: F(z0_hat) - F(z0) = F(z0_hat - z0).
      four = meanPerSample(T.viewAsReal(T.fft2(diff, { norm: "ortho" })).square().sum(-1));
    } else {
      const a = magnitude(T.fft2(z0Hat, { norm: "ortho" }));
      const b = magnitude(T.fft2(target, { norm: "ortho" }));
      four = meanPerSample(a.sub(b).square());
    }
    const loss = sob.add(four); // Eq. 11
    return { loss: reduce(loss, o), sobel: reduce(sob, o), fourier: reduce(four, o) };
  });
}
