// Robust intensity normalisation of a volume, applied to LR and HR separately, each with its own scale:
//
//   foreground  = voxels whose value is above the mean of all voxels of the volume
//   scale       = the 99.5th percentile of the foreground values (linear interpolation between order
//                 statistics, numpy's default "linear" method)
//   normalised  = clip(value / scale, 0, 1)
//
// The mean threshold is a deliberately simple foreground rule that works for skull-stripped images
// (zero background) and for noisy LR images (Rician background well below the mean) alike; the
// 99.5th percentile ignores the few brightest voxels (vessels, fat, noise spikes) that a max would
// follow. Zero stays zero, so padding with 0 later means "background".
import type { Volume } from "../volume/volume.js";
import { percentile } from "../util/percentile.js";

/** Default percentile of the foreground that maps to 1. */
export const NORMALISE_PERCENTILE = 99.5;

export interface NormaliseResult {
  /** The normalised volume (same grid), values in [0, 1]. */
  readonly volume: Volume;
  /** The divisor: the percentile of the foreground. */
  readonly scale: number;
  /** The foreground threshold: the mean of all voxels. */
  readonly threshold: number;
  /** Number of foreground voxels. */
  readonly foregroundVoxels: number;
}

/** Throws naming `what` if the volume holds NaN/Inf, is all zero or is constant. */
export function checkIntensities(v: Volume, what: string): void {
  const d = v.data;
  let bad = 0;
  let first = -1;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < d.length; i++) {
    const x = d[i] as number;
    if (!Number.isFinite(x)) {
      if (first < 0) first = i;
      bad++;
      continue;
    }
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (bad > 0) {
    throw new RangeError(`${what}: ${bad} voxels are NaN or Inf (the first at voxel index ${first}); fix the image or set them to 0 (moediff-sr convert --non-finite zero)`);
  }
  if (max === 0 && min === 0) throw new RangeError(`${what}: the volume is empty (every voxel is 0)`);
  if (max === min) throw new RangeError(`${what}: the volume is constant (every voxel is ${max}); it holds no image`);
}

/** Robust percentile scaling as described at the top of this file. */
export function normaliseIntensity(v: Volume, what = "volume", p = NORMALISE_PERCENTILE): NormaliseResult {
  checkIntensities(v, what);
  const d = v.data;
  let sum = 0;
  for (let i = 0; i < d.length; i++) sum += d[i] as number;
  const threshold = sum / d.length;
  let count = 0;
  for (let i = 0; i < d.length; i++) if ((d[i] as number) > threshold) count++;
  const fg = new Float32Array(count);
  for (let i = 0, j = 0; i < d.length; i++) if ((d[i] as number) > threshold) fg[j++] = d[i] as number;
  const scale = percentile(fg, p);
  if (!(scale > 0)) {
    throw new RangeError(`${what}: the ${p}th percentile of the foreground is ${scale}, not positive; a magnitude MR image is expected (values >= 0)`);
  }
  const out = new Float32Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const x = (d[i] as number) / scale;
    out[i] = x < 0 ? 0 : x > 1 ? 1 : x;
  }
  return { volume: { data: out, dims: v.dims, affine: v.affine }, scale, threshold, foregroundVoxels: count };
}

/** v / scale clipped to [0, 1]: the normalisation of normaliseIntensity with a divisor fixed elsewhere. */
export function scaleIntensity(v: Volume, scale: number, what = "volume"): Volume {
  if (!(Number.isFinite(scale) && scale > 0)) throw new RangeError(`${what}: the intensity divisor must be a positive number, got ${scale}`);
  checkIntensities(v, what);
  const d = v.data;
  const out = new Float32Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const x = (d[i] as number) / scale;
    out[i] = x < 0 ? 0 : x > 1 ? 1 : x;
  }
  return { data: out, dims: v.dims, affine: v.affine };
}
