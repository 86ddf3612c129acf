// N4-style bias field correction (after Tustison et al. 2010, "N4ITK: improved N3 bias correction";
// written from the method description). Model: I = U * B with a smooth multiplicative field B; in the
// log domain log I = log U + log B.
//
// 1. Mask (user's, or automatic: mask.ts); voxels of it that are <= 0 or not finite are left out.
// 2. Shrink (shrink.ts): every f-th valid voxel per axis, at its full-resolution position.
// 3. Per level l (one per entry of `iterations`), on a lattice of spans_1 * 2^(l-1) knot intervals per
//    axis (spans_1 from the spline distance; refined exactly between levels, bspline_lattice.ts):
//      r = log I - log B                          (current residual log image, at the points)
//      s = E[u | r]                               (histogram sharpening: sharpen.ts)
//      fit a B-spline d to r - s                  (penalised least squares: bspline_fit.ts)
//      log B += d
//      stop the level when CV(exp(d)) = std/mean over the points < convergence (N4's criterion).
// 4. log B evaluated from the lattice on the full grid, minus its mean over the valid mask voxels
//    (the field is only defined up to a scale); corrected = I / exp(log B), field = exp(log B).
// Where we differ from N4 (design choices, measured on Colin27 ch2bet at 1 mm, defaults otherwise):
// - The fit is least squares with a smoothness penalty (`smoothing`, default 100; bspline_fit.ts)
//   instead of Lee et al.'s scattered-data approximation. That approximation is damped (one pass
//   recovers only part of a field, and the convergence test stops early), least squares is not, so
//   the penalty takes that role at the finer levels. With smoothing 1e-3 the finest levels follow
//   tissue composition (cortex vs deep white matter): the field found on the clean image has a std
//   of 0.093 (log), and the correlation of the estimate with a synthetic strength-0.4 field is 0.27;
//   with smoothing 100: std 0.033, correlation 0.66 (the rest is Colin27's own inhomogeneity), the
//   white-matter CV falls from 0.067 to 0.050, and the change the synthetic field makes to the
//   estimate still correlates 0.9996 with it (slope 0.997).
// - Shrinking subsamples (as ITK's shrink filter), see shrink.ts.
import { voxelSizes } from "../../volume/affine.js";
import { checkVolume, type Volume } from "../../volume/volume.js";
import { createLattice, evaluateOnGrid, latticeSpans, refineLattice, type Lattice, type Triple } from "./bspline_lattice.js";
import { evaluateAtPoints, pointWeights, SplineSystem, transposeApply } from "./bspline_fit.js";
import { automaticMask } from "./mask.js";
import { sharpenValues, checkSharpenOptions } from "./sharpen.js";
import { shrinkPoints, validVoxels } from "./shrink.js";

export interface N4Options {
  /** Shrink factor per axis (N4 default 4). */
  readonly shrink: number;
  /** Maximum iterations per level; the number of entries is the number of levels (default 50x50x50x50). */
  readonly iterations: readonly number[];
  /** Stop a level when the coefficient of variation of the field update is below this (default 0.001). */
  readonly convergence: number;
  /** Control-point distance of the first level, mm (default 200, as ANTs). */
  readonly splineDistance: number;
  /** Histogram bins (default 200). */
  readonly bins: number;
  /** FWHM of the Gaussian blur assumed by the sharpening, in log intensity (default 0.15). */
  readonly fwhm: number;
  /** Wiener filter noise (default 0.01). */
  readonly wienerNoise: number;
  /** Relative weight of the B-spline smoothness penalty (bspline_fit.ts; default 100). */
  readonly smoothing: number;
}

export const N4_DEFAULTS: N4Options = Object.freeze({
  shrink: 4,
  iterations: Object.freeze([50, 50, 50, 50]),
  convergence: 0.001,
  splineDistance: 200,
  bins: 200,
  fwhm: 0.15,
  wienerNoise: 0.01,
  smoothing: 100,
});

/** The shrunken points must be at least this many for a histogram and a fit. */
export const MIN_POINTS = 100;

export interface N4Iteration {
  /** 1-based. */
  readonly level: number;
  /** 1-based within the level. */
  readonly iteration: number;
  /** CV of exp(update) over the points. */
  readonly cv: number;
  readonly converged: boolean;
}

export interface N4LevelSummary {
  readonly level: number;
  readonly spans: Triple;
  readonly controlPoints: number;
  readonly iterations: number;
  readonly converged: boolean;
  readonly finalCv: number;
}

export interface N4Result {
  readonly corrected: Volume;
  /** The multiplicative field B (input = corrected * B), mean log 0 over the valid mask voxels. */
  readonly field: Volume;
  /** log B on the full grid (float64). */
  readonly logField: Float64Array;
  readonly levels: readonly N4LevelSummary[];
  /** Mask voxels (user's or automatic). */
  readonly maskVoxels: number;
  /** Mask voxels left out because they are <= 0 or not finite. */
  readonly excludedVoxels: number;
  /** Shrunken points the fit used. */
  readonly points: number;
  /** How the mask was made. */
  readonly mask: { readonly source: "given" } | { readonly source: "automatic"; readonly threshold: number; readonly filled: number };
}

/** Resolves options against the defaults, rejecting unknown keys and bad values with their names. */
export function resolveN4Options(o: Partial<N4Options> = {}): N4Options {
  for (const key of Object.keys(o)) {
    if (!(key in N4_DEFAULTS)) throw new TypeError(`N4: unknown option "${key}" (known: ${Object.keys(N4_DEFAULTS).join(", ")})`);
  }
  const r: N4Options = { ...N4_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
  if (!Number.isInteger(r.shrink) || r.shrink < 1) throw new RangeError(`N4: shrink must be a positive integer, got ${r.shrink}`);
  if (!Array.isArray(r.iterations) || r.iterations.length < 1 || r.iterations.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new RangeError(`N4: iterations must be one or more positive integers (one per level, e.g. 50x50x50x50), got ${JSON.stringify(r.iterations)}`);
  }
  if (!(Number.isFinite(r.convergence) && r.convergence >= 0)) throw new RangeError(`N4: convergence must be a number >= 0, got ${r.convergence}`);
  if (!(Number.isFinite(r.splineDistance) && r.splineDistance > 0)) throw new RangeError(`N4: splineDistance must be a positive number of mm, got ${r.splineDistance}`);
  if (!(Number.isFinite(r.smoothing) && r.smoothing >= 0)) throw new RangeError(`N4: smoothing must be a number >= 0, got ${r.smoothing}`);
  checkSharpenOptions(r, "N4");
  return r;
}

function coefficientOfVariationOfExp(update: Float64Array): number {
  let sum = 0;
  let sum2 = 0;
  for (let i = 0; i < update.length; i++) {
    const e = Math.exp(update[i] as number);
    sum += e;
    sum2 += e * e;
  }
  const n = update.length;
  const mean = sum / n;
  const variance = Math.max(0, (sum2 - n * mean * mean) / Math.max(n - 1, 1));
  return Math.sqrt(variance) / mean;
}

/**
 * Estimates and removes a smooth multiplicative bias field. `mask` (0/1 per voxel, on the volume's
 * grid) restricts the estimate; without it an automatic mask is used. `onIteration` sees every
 * iteration (for progress).
 */
export function n4BiasCorrection(
  volume: Volume,
  options: Partial<N4Options> = {},
  mask?: Uint8Array,
  onIteration?: (it: N4Iteration) => void,
): N4Result {
  checkVolume(volume, "N4: volume");
  const o = resolveN4Options(options);
  let maskSource: N4Result["mask"];
  let m: Uint8Array;
  if (mask === undefined) {
    const auto = automaticMask(volume);
    m = auto.mask;
    maskSource = { source: "automatic", threshold: auto.threshold, filled: auto.filled };
  } else {
    if (mask.length !== volume.data.length) throw new RangeError(`N4: mask has ${mask.length} voxels, the volume ${volume.data.length}`);
    m = mask;
    maskSource = { source: "given" };
  }
  let maskVoxels = 0;
  for (let i = 0; i < m.length; i++) if (m[i] !== 0) maskVoxels++;
  if (maskVoxels === 0) throw new RangeError("N4: the mask is empty (no voxels to estimate the field from)");
  const { valid, count: validCount, excluded } = validVoxels(volume, m);
  if (validCount === 0) {
    throw new RangeError(`N4: none of the ${maskVoxels} mask voxels has a positive finite intensity; N4 works on magnitude images (intensities > 0)`);
  }
  const pts = shrinkPoints(volume, valid, o.shrink);
  if (pts.count < MIN_POINTS) {
    throw new RangeError(
      `N4: too few voxels: ${pts.count} points after shrinking ${validCount} valid mask voxels by ${o.shrink}, at least ${MIN_POINTS} are needed ` +
        `for the histogram and the fit; use a larger mask or a smaller --shrink`,
    );
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let p = 0; p < pts.count; p++) {
    lo = Math.min(lo, pts.logValue[p] as number);
    hi = Math.max(hi, pts.logValue[p] as number);
  }
  if (!(hi > lo)) throw new RangeError(`N4: the image is constant (${Math.exp(lo)}) inside the mask: there is no intensity distribution to sharpen and no field to estimate`);
  const sharpen = { bins: o.bins, fwhm: o.fwhm, wienerNoise: o.wienerNoise };
  const spans1 = latticeSpans(volume.dims, voxelSizes(volume.affine), o.splineDistance);
  let lattice: Lattice = createLattice(volume.dims, spans1);
  const levels: N4LevelSummary[] = [];
  const residual = new Float64Array(pts.count);
  for (let level = 1; level <= o.iterations.length; level++) {
    if (level > 1) lattice = refineLattice(lattice);
    const pw = pointWeights(lattice, pts.x, pts.y, pts.z);
    const system = new SplineSystem(pw, o.smoothing);
    const logField = evaluateAtPoints(pw, lattice.coefficients);
    const rhs = new Float64Array(system.n);
    const maxIt = o.iterations[level - 1] as number;
    let it = 0;
    let cv = Infinity;
    let converged = false;
    while (it < maxIt && !converged) {
      it++;
      for (let p = 0; p < pts.count; p++) residual[p] = (pts.logValue[p] as number) - (logField[p] as number);
      const sharpened = sharpenValues(residual, sharpen);
      for (let p = 0; p < pts.count; p++) residual[p] = (residual[p] as number) - (sharpened[p] as number);
      transposeApply(pw, residual, rhs);
      const { x: d } = system.solve(rhs, { tol: 1e-6 });
      const c = lattice.coefficients;
      for (let i = 0; i < c.length; i++) c[i] = (c[i] as number) + (d[i] as number);
      const update = evaluateAtPoints(pw, d);
      for (let p = 0; p < pts.count; p++) logField[p] = (logField[p] as number) + (update[p] as number);
      cv = coefficientOfVariationOfExp(update);
      converged = cv < o.convergence;
      onIteration?.({ level, iteration: it, cv, converged });
    }
    levels.push({ level, spans: lattice.spans, controlPoints: c3(lattice.size), iterations: it, converged, finalCv: cv });
  }
  // Full resolution.
  const logField = evaluateOnGrid(lattice, volume.dims);
  let mean = 0;
  for (let i = 0; i < logField.length; i++) if (valid[i] === 1) mean += logField[i] as number;
  mean /= validCount;
  const corrected = new Float32Array(logField.length);
  const field = new Float32Array(logField.length);
  for (let i = 0; i < logField.length; i++) {
    const lf = (logField[i] as number) - mean;
    logField[i] = lf;
    field[i] = Math.exp(lf);
    corrected[i] = (volume.data[i] as number) * Math.exp(-lf);
  }
  const grid = { dims: [volume.dims[0], volume.dims[1], volume.dims[2]] as const, affine: Array.from(volume.affine) };
  return {
    corrected: { data: corrected, ...grid },
    field: { data: field, ...grid },
    logField,
    levels,
    maskVoxels,
    excludedVoxels: excluded,
    points: pts.count,
    mask: maskSource,
  };
}

function c3(size: Triple): number {
  return size[0] * size[1] * size[2];
}
