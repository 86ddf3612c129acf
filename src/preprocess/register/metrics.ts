// Similarity costs of `register` on engine tensors, differentiable with respect to the sampled moving
// intensities (and so, through grid_sample, to the transform parameters).
//
// Both take the fixed values f [N], the moving values m [N] sampled at T(fixed points), and weights
// w [N] (1 where the transformed point lies inside the moving field of view, else 0): points outside
// the overlap do not count.
//
// - ncc: minus the normalised cross-correlation of f and m over the overlap (global, not ANTs' local
//   CC), in [-1, 1]; for same-contrast images (3T and 7T T1w).
// - mi: minus the mutual information (nats) of a Parzen-window joint histogram, after Mattes et al.
//   (2003): `bins` bins per image with 2 padding bins each side; each sample spreads over the bins
//   with a cubic B-spline kernel of one bin width, for BOTH images (Mattes use a zero-order kernel for
//   the fixed image; the cubic one keeps the cost smooth in the fixed intensities too and costs little:
//   the fixed weights are computed once per level). Intensities are mapped linearly to bin positions
//   from their range: the fixed samples' min..max and the (smoothed) moving image's min..max. Each
//   sample touches 4 x 4 bins, so the joint histogram is a scatter-add of N x 16 products (not a dense
//   [N, bins] kernel matrix); cubicBSplineKernel is the dense reference the tests compare against.
import * as T from "../../torch/index.js";

export type Metric = "ncc" | "mi";
export const METRICS: readonly Metric[] = ["ncc", "mi"];

/** Small constant keeping divisions and logarithms finite. */
const EPS = 1e-10;

function checkSamples(what: string, f: T.Tensor, m: T.Tensor, w: T.Tensor): void {
  const n = f.shape[0];
  if (f.ndim !== 1 || m.ndim !== 1 || w.ndim !== 1 || m.shape[0] !== n || w.shape[0] !== n) {
    throw new RangeError(`${what}: f, m and w must be [N] each, got [${f.shape.join(", ")}], [${m.shape.join(", ")}], [${w.shape.join(", ")}]`);
  }
}

/** Minus the weighted normalised cross-correlation of f and m (a 0-d tensor). */
export function nccCost(f: T.Tensor, m: T.Tensor, w: T.Tensor): T.Tensor {
  checkSamples("nccCost", f, m, w);
  return T.tidy(() => {
    const sw = w.sum().clamp(EPS);
    const mf = w.mul(f).sum().div(sw);
    const mm = w.mul(m).sum().div(sw);
    const df = f.sub(mf);
    const dm = m.sub(mm);
    const cov = w.mul(df).mul(dm).sum();
    const vf = w.mul(df.square()).sum();
    const vm = w.mul(dm.square()).sum();
    return cov.div(vf.mul(vm).add(EPS).sqrt()).neg();
  });
}

/** The cubic B-spline kernel beta3(x) = ((2 - |x|)+^3 - 4 (1 - |x|)+^3) / 6, support (-2, 2). */
export function cubicBSplineKernel(x: T.Tensor): T.Tensor {
  return T.tidy(() => {
    const u = x.abs();
    const a = u.rsub(2).clamp(0).pow(3);
    const b = u.rsub(1).clamp(0).pow(3);
    return a.sub(b.mul(4)).div(6);
  });
}

/**
 * Continuous bin positions in [2, bins - 3] for intensities in [lo, hi] (values outside are clamped):
 * the kernel's support then stays inside 0 .. bins-1.
 */
export function binPositions(v: T.Tensor, lo: number, hi: number, bins: number): T.Tensor {
  const width = hi > lo ? (hi - lo) / (bins - 5) : 1;
  return T.tidy(() => v.sub(lo).div(width).clamp(0, bins - 5).add(2));
}

/**
 * The 4 non-zero Parzen taps of each sample: bins floor(x) - 1 .. floor(x) + 2 (index [N, 4], int64)
 * and their weights beta3(x - bin) (weight [N, 4], differentiable in x through the fractional part).
 */
export interface ParzenTaps {
  readonly index: T.Tensor;
  readonly weight: T.Tensor;
}

export function parzenTaps(positions: T.Tensor): ParzenTaps {
  if (positions.ndim !== 1) throw new RangeError(`parzenTaps: positions must be [N], got [${positions.shape.join(", ")}]`);
  return T.tidy(() => {
    const base = T.noGrad(() => positions.floor());
    const t = positions.sub(base).unsqueeze(1); // [N, 1] in [0, 1)
    const t2 = t.square();
    const t3 = t2.mul(t);
    // beta3 at distances 1 + t, t, 1 - t, 2 - t.
    const w0 = t.rsub(1).pow(3).div(6);
    const w1 = t3.mul(3).sub(t2.mul(6)).add(4).div(6);
    const w2 = t3.mul(-3).add(t2.mul(3)).add(t.mul(3)).add(1).div(6);
    const w3 = t3.div(6);
    const offsets = T.tensor([-1, 0, 1, 2], [1, 4], { dtype: "int64", device: positions.device });
    const index = base.to("int64").unsqueeze(1).add(offsets);
    return { index, weight: T.cat([w0, w1, w2, w3], 1) };
  });
}

export interface MattesOptions {
  /** Bins per image (>= 8). */
  readonly bins: number;
  /** Intensity range of the moving image (for its bin positions). */
  readonly movingRange: readonly [number, number];
}

/**
 * Minus the Mattes mutual information. `fixedTaps` are parzenTaps() of the fixed values' bin
 * positions, precomputed once per level (they do not depend on the transform).
 */
export function mattesCost(fixedTaps: ParzenTaps, m: T.Tensor, w: T.Tensor, o: MattesOptions): T.Tensor {
  const n = m.shape[0] as number;
  if (fixedTaps.index.ndim !== 2 || fixedTaps.index.shape[0] !== n || fixedTaps.index.shape[1] !== 4) {
    throw new RangeError(`mattesCost: fixed taps must be [${n}, 4], got [${fixedTaps.index.shape.join(", ")}]`);
  }
  if (m.ndim !== 1 || w.ndim !== 1 || w.shape[0] !== n) throw new RangeError(`mattesCost: m and w must be [N] each, got [${m.shape.join(", ")}], [${w.shape.join(", ")}]`);
  const bins = o.bins;
  return T.tidy(() => {
    const mt = parzenTaps(binPositions(m, o.movingRange[0], o.movingRange[1], bins));
    // Joint histogram p(f, m): every sample adds wf[a] * wm[b] at (fixed bin a, moving bin b), inside the overlap only.
    const index = fixedTaps.index.mul(bins).unsqueeze(2).add(mt.index.unsqueeze(1)).reshape(n * 16);
    const values = fixedTaps.weight.mul(w.unsqueeze(1)).unsqueeze(2).mul(mt.weight.unsqueeze(1)).reshape(n * 16);
    const joint = T.scatterAdd(T.zeros([bins * bins], { dtype: m.dtype, device: m.device }), 0, index, values).reshape(bins, bins);
    const p = joint.div(joint.sum().clamp(EPS));
    const pf = p.sum(1, true);
    const pm = p.sum(0, true);
    const logRatio = p.add(EPS).log().sub(pf.add(EPS).log()).sub(pm.add(EPS).log());
    return p.mul(logRatio).sum().neg();
  });
}
