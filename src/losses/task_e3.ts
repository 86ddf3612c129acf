// Task loss of expert E3, grey-white junction (paper Eq. 12): a multi-scale
// short-time Fourier loss over sliding windows,
// L_task(3) = sum_{s in {8,16,32}} sum_{w in Omega_s} ||STFT_s(z0^w) - STFT_s(z0_hat(3)^w)||^2.
//
// Decisions where the paper is vague:
// - Omega_s: s x s windows with hop s/2 (50% overlap, the usual STFT hop) along
//   height and width. As torch.stft(center=True), the latent is first reflect-
//   padded by s/2 on each side, so border positions are covered like interior
//   ones (`center: false` turns this off). If the hop does not land exactly on
//   the last position, one extra window flush with the far border is added, so
//   every position is seen.
// - STFT_s of a window: a 2-D periodic Hann window (outer product of two 1-D
//   periodic Hann windows of length s; with hop s/2 they sum to one, COLA) times
//   the patch, then the 2-D FFT with orthonormal scaling, per channel.
// - ||.||^2 is the squared magnitude of the complex difference ("complex", the
//   literal equation; by Parseval it is a Hann^2-weighted MSE of the patches).
//   `mode: "magnitude"` compares magnitudes instead, (|X| - |Y|)^2, which is
//   phase-insensitive.
// - Normalisation: for each scale, the mean over windows, channels and
//   frequency bins (so scales of very different window counts weigh alike and
//   the value does not grow with the latent size); then the sum over scales.
// - Window sizes larger than the latent (height or width) are skipped; if every
//   size is skipped the call throws (the loss would be a silent no-op).
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import { Op } from "../torch/index.js";
import { checkLatent, checkSameShape, fmt, reduce, type ReductionOptions } from "./common.js";

/** The window sizes S of Eq. 12. */
export const STFT_WINDOW_SIZES: readonly number[] = Object.freeze([8, 16, 32]); // Eq. 12

export type StftMode = "complex" | "magnitude";

export interface TaskE3Options extends ReductionOptions {
  /** Window sizes s (default 8, 16, 32 as Eq. 12). */
  windowSizes?: readonly number[];
  /** Reflect-pad by s/2 before windowing, as torch.stft(center=True) (default true). */
  center?: boolean;
  /** How the STFTs are compared (default "complex"). */
  mode?: StftMode;
}

export interface TaskE3Result {
  /** L_task(3): scalar, or [B] with perSample. */
  loss: Tensor;
  /** The term of each window size actually used (sizes larger than the latent are absent). */
  perScale: Map<number, Tensor>;
}

const unfoldOp = new Op("aten::unfold");

/** Periodic Hann window of length n (as torch.hann_window(n, periodic=True)). */
export function periodicHann(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

/** Start offsets of size-s windows with hop `hop` over n positions, plus a final flush window if needed. */
export function windowStarts(n: number, s: number, hop: number): number[] {
  const starts: number[] = [];
  for (let p = 0; p + s <= n; p += hop) starts.push(p);
  if (starts.length > 0 && (starts[starts.length - 1] as number) !== n - s) starts.push(n - s);
  return starts;
}

/** Windows along `dim`, appended as a new last dimension of size s (tensor.unfold + a flush tail window). */
function windowsAlong(x: Tensor, dim: number, s: number, hop: number): Tensor {
  const n = x.size(dim);
  const regular = unfoldOp.tensor(x, dim, s, hop);
  if ((n - s) % hop === 0) return regular;
  const tail = unfoldOp.tensor(x.narrow(dim, n - s, s), dim, s, s);
  return T.cat([regular, tail], dim);
}

/**
 * Windowed patches of x [B, C, h, w] for window size s: [B, C, nH, nW, s, s],
 * each multiplied by the 2-D Hann window.
 */
export function hannPatches(x: Tensor, s: number, center = true): Tensor {
  checkLatent("hannPatches", x, "x");
  const hop = Math.max(1, Math.floor(s / 2));
  return T.tidy(() => {
    const padded = center ? T.pad(x, [hop, hop, hop, hop], "reflect") : x;
    const patches = windowsAlong(windowsAlong(padded, 2, s, hop), 3, s, hop);
    const h1 = periodicHann(s);
    const h2 = new Float64Array(s * s);
    for (let i = 0; i < s; i++) for (let j = 0; j < s; j++) h2[i * s + j] = (h1[i] as number) * (h1[j] as number);
    return patches.mul(T.tensor(h2, [s, s], { dtype: x.dtype, device: x.device }));
  });
}

function magnitude(z: Tensor): Tensor {
  return T.viewAsReal(z).square().sum(-1).add(1e-24).sqrt();
}

/** Eq. 12. z0 and z0Hat are [B, C, h, w]. */
export function taskLossE3(z0: Tensor, z0Hat: Tensor, o?: TaskE3Options): TaskE3Result {
  checkLatent("taskLossE3", z0Hat, "z0Hat");
  checkSameShape("taskLossE3", z0Hat, z0, "z0Hat", "z0");
  const sizes = o?.windowSizes ?? STFT_WINDOW_SIZES;
  const mode = o?.mode ?? "complex";
  const center = o?.center ?? true;
  if (mode !== "complex" && mode !== "magnitude") throw new RangeError(`taskLossE3: mode must be 'complex' or 'magnitude', got '${String(mode)}'`);
  if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s < 2)) {
    throw new RangeError(`taskLossE3: windowSizes must be integers >= 2, got [${sizes.join(", ")}]`);
  }
  const [, , h, w] = z0.shape as [number, number, number, number];
  const used = sizes.filter((s) => s <= h && s <= w);
  if (used.length === 0) {
    throw new RangeError(`taskLossE3: latent ${fmt(z0.shape)} is smaller than every STFT window [${sizes.join(", ")}]; use a larger latent or smaller windowSizes`);
  }
  return T.tidy(() => {
    const target = z0.detach();
    const perScale = new Map<number, Tensor>();
    let total: Tensor | undefined;
    for (const s of used) {
      let sq: Tensor;
      if (mode === "complex") {
        // The windowed STFT is linear: STFT(z0_hat^w) - STFT(z0^w) = STFT((z0_hat - z0)^w).
        const spec = T.fft2(hannPatches(z0Hat.sub(target), s, center), { norm: "ortho" });
        sq = T.viewAsReal(spec).square().sum(-1);
      } else {
        const a = magnitude(T.fft2(hannPatches(z0Hat, s, center), { norm: "ortho" }));
        const b = magnitude(T.fft2(hannPatches(target, s, center), { norm: "ortho" }));
        sq = a.sub(b).square();
      }
      const term = sq.mean([1, 2, 3, 4, 5]); // [B]: mean over channels, windows and frequency bins
      perScale.set(s, term);
      total = total === undefined ? term.clone() : total.add(term); // Eq. 12: sum over s
    }
    const loss = total as Tensor;
    const reduced = new Map<number, Tensor>();
    for (const [s, v] of perScale) reduced.set(s, reduce(v, o));
    return { loss: reduce(loss, o), perScale: reduced };
  });
}
