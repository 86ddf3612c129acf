// Random contrast of a randomised training subject: a per-tissue intensity remapping driven by the
// segment labels (0 outside the brain, 1 CSF, 2 GM, 3 WM), then a random gamma. Applied to the HR
// target and to the volume the LR input is simulated from alike, so the network learns to keep the
// subject's own contrast rather than to paint Colin27's.
//
// In units of the source's white-matter mean (r = I / mean_WM; the source class c has mean m_c and
// standard deviation s_c in those units), class c maps r to
//     f_c(r) = m'_c + k_c (r - m_c)          (brain classes: new mean m'_c, spread k_c x the source's)
//     f_0(r) = g r                           (non-brain tissue: a gain)
// with m'_WM = 1, m'_GM = gmToWm, m'_CSF = csfToGm * m'_GM, so CSF < GM < WM (the T1 ordering) by
// construction. The residual r - m_c keeps the source's anatomical detail inside every class (a
// replacement by class means would leave a cartoon, and the network would learn to invent texture).
// Partial volume: the classes are blended by tissue probabilities p_c = the one-hot labels blurred
// with a Gaussian (sd `blurMm`), so the remapped image is sum_c p_c f_c(r) = A + B r with A and B the
// blurred per-label offsets and slopes (two blurs, not four); boundaries stay as smooth as in the
// source. Negative values are clipped to 0. Then gamma: v -> v_max (v / v_max)^gamma. The result is
// returned in the source's intensity units (times mean_WM), on the source grid.
import type { Volume } from "../../volume/volume.js";
import { voxelSizes } from "../../volume/affine.js";
import type { Rng } from "../rng.js";
import { roundTo, type ContrastRanges } from "./ranges.js";

export interface ContrastParams {
  /** New class means relative to WM: CSF, GM, WM (= 1). */
  readonly means: readonly [number, number, number];
  /** Within-class spread multipliers: CSF, GM, WM. */
  readonly spreads: readonly [number, number, number];
  /** Gain of non-brain tissue. */
  readonly nonBrain: number;
  readonly gamma: number;
  /** Label blur sd, mm. */
  readonly blurMm: number;
}

/** Class means and standard deviations (CSF, GM, WM) of the source intensities. */
export interface TissueStats {
  readonly means: readonly [number, number, number];
  readonly sds: readonly [number, number, number];
  readonly counts: readonly [number, number, number];
}

export function drawContrast(rng: Rng, r: ContrastRanges): ContrastParams {
  const gm = rng.uniform(r.gmToWm[0], r.gmToWm[1]);
  const csf = gm * rng.uniform(r.csfToGm[0], r.csfToGm[1]);
  const spreads = [0, 1, 2].map(() => roundTo(rng.uniform(r.spread[0], r.spread[1]), 4)) as unknown as [number, number, number];
  const nonBrain = roundTo(rng.uniform(r.nonBrain[0], r.nonBrain[1]), 4);
  const gamma = roundTo(Math.exp(rng.uniform(r.logGamma[0], r.logGamma[1])), 4);
  return { means: [roundTo(csf, 4), roundTo(gm, 4), 1], spreads, nonBrain, gamma, blurMm: r.blurMm };
}

/** Mean and sd of `image` within labels 1, 2, 3; throws unless every class has voxels and CSF < GM < WM. */
export function tissueStats(image: Volume, labels: Uint8Array, what = "source"): TissueStats {
  if (labels.length !== image.data.length) throw new RangeError(`${what}: ${labels.length} labels for ${image.data.length} voxels`);
  const n = [0, 0, 0];
  const s = [0, 0, 0];
  const s2 = [0, 0, 0];
  for (let q = 0; q < labels.length; q++) {
    const l = labels[q] as number;
    if (l < 1 || l > 3) continue;
    const x = image.data[q] as number;
    n[l - 1]!++;
    s[l - 1]! += x;
    s2[l - 1]! += x * x;
  }
  if (n.some((c) => c === 0)) throw new RangeError(`${what}: the labels must hold CSF (1), GM (2) and WM (3) voxels; counts ${n.join(", ")}`);
  const means = s.map((v, c) => v / n[c]!) as [number, number, number];
  const sds = s2.map((v, c) => Math.sqrt(Math.max(0, v / n[c]! - means[c]! ** 2))) as [number, number, number];
  if (!(means[0] < means[1] && means[1] < means[2] && means[2] > 0)) {
    throw new RangeError(`${what}: class means CSF ${means[0].toFixed(3)}, GM ${means[1].toFixed(3)}, WM ${means[2].toFixed(3)} are not in T1 order (CSF < GM < WM)`);
  }
  return { means, sds, counts: n as [number, number, number] };
}

/** Separable Gaussian blur in place (sd in voxels per axis; truncated at 3 sd, renormalised at the edges). */
export function blur3d(data: Float32Array, dims: readonly [number, number, number], sd: readonly [number, number, number]): void {
  const [nx, ny, nz] = dims;
  const strides = [1, nx, nx * ny];
  for (let a = 0; a < 3; a++) {
    const s = sd[a] as number;
    const n = dims[a] as number;
    if (!(s > 0) || n < 2) continue;
    const rad = Math.max(1, Math.ceil(3 * s));
    const k = new Float64Array(2 * rad + 1);
    for (let t = -rad; t <= rad; t++) k[t + rad] = Math.exp(-(t * t) / (2 * s * s));
    const stride = strides[a] as number;
    const line = new Float64Array(n);
    const lines = data.length / n;
    for (let l = 0; l < lines; l++) {
      // The start of line l: every voxel whose index along axis a is 0.
      const base = a === 0 ? l * nx : a === 1 ? (l % nx) + Math.floor(l / nx) * nx * ny : l;
      for (let i = 0; i < n; i++) line[i] = data[base + i * stride] as number;
      for (let i = 0; i < n; i++) {
        let acc = 0;
        let wsum = 0;
        const lo = Math.max(0, i - rad);
        const hi = Math.min(n - 1, i + rad);
        for (let t = lo; t <= hi; t++) {
          const w = k[t - i + rad] as number;
          acc += w * (line[t] as number);
          wsum += w;
        }
        data[base + i * stride] = acc / wsum;
      }
    }
  }
}

/** The remapped image (see the top of this file). `stats` are the source's (tissueStats). */
export function remapContrast(image: Volume, labels: Uint8Array, stats: TissueStats, p: ContrastParams): Volume {
  const n = image.data.length;
  if (labels.length !== n) throw new RangeError(`remapContrast: ${labels.length} labels for ${n} voxels`);
  const wm = stats.means[2];
  const m = stats.means.map((x) => x / wm);
  // Per label: offset a and slope b of f_label(r) = a + b r.
  const a = [0, 0, 0, 0];
  const b = [p.nonBrain, 0, 0, 0];
  for (let c = 0; c < 3; c++) {
    b[c + 1] = p.spreads[c] as number;
    a[c + 1] = (p.means[c] as number) - (p.spreads[c] as number) * (m[c] as number);
  }
  const A = new Float32Array(n);
  const B = new Float32Array(n);
  for (let q = 0; q < n; q++) {
    const l = labels[q] as number;
    const lab = l <= 3 ? l : 0;
    A[q] = a[lab] as number;
    B[q] = b[lab] as number;
  }
  const vs = voxelSizes(image.affine);
  const sd = vs.map((v) => p.blurMm / v) as [number, number, number];
  blur3d(A, image.dims, sd);
  blur3d(B, image.dims, sd);
  const out = new Float32Array(n);
  let vmax = 0;
  for (let q = 0; q < n; q++) {
    const v = (A[q] as number) + (B[q] as number) * ((image.data[q] as number) / wm);
    const c = v > 0 ? v : 0;
    out[q] = c;
    if (c > vmax) vmax = c;
  }
  if (!(vmax > 0)) throw new RangeError("remapContrast: the remapped image is zero everywhere");
  const g = p.gamma;
  for (let q = 0; q < n; q++) {
    const v = out[q] as number;
    out[q] = v > 0 ? wm * vmax * Math.pow(v / vmax, g) : 0;
  }
  return { data: out, dims: image.dims, affine: image.affine };
}
