// Which slices hold enough brain to be worth training on.
//
// Rule (stated): a slice is kept when at least `minBrain` (default 0.05 = 5%) of the voxels of the
// NORMALISED HR slice, counted over the native slice before crop/pad, are above BRAIN_LEVEL = 0.05
// (5% of the foreground's 99.5th percentile). Slices at the top/bottom of the head, outside the brain
// or in empty padding are skipped. The LR image is not used, so every acquisition of one HR source
// keeps the same slices.
import type { Volume } from "../volume/volume.js";
import type { Axis } from "./slicing.js";

/** Normalised intensity above which a voxel counts as brain. */
export const BRAIN_LEVEL = 0.05;
/** Default minimum fraction of brain voxels per slice. */
export const MIN_BRAIN_FRACTION = 0.05;

/** For every slice along `axis`: the fraction of its voxels above `level`. */
export function brainFractions(normalised: Volume, axis: Axis, level = BRAIN_LEVEL): Float64Array {
  const [nx, ny, nz] = normalised.dims;
  const d = normalised.data;
  // Compare in float32 (the data's precision): a voxel holding float32(0.05) is not above 0.05.
  const lv = Math.fround(level);
  const dim = axis === "x" ? 0 : axis === "y" ? 1 : 2;
  const n = normalised.dims[dim];
  const counts = new Float64Array(n);
  let q = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, q++) {
        if ((d[q] as number) > lv) {
          const s = dim === 0 ? i : dim === 1 ? j : k;
          counts[s] = (counts[s] as number) + 1;
        }
      }
    }
  }
  const perSlice = (nx * ny * nz) / n;
  for (let s = 0; s < n; s++) counts[s] = (counts[s] as number) / perSlice;
  return counts;
}

/** Indices of the slices whose fraction is >= minBrain, ascending. */
export function keptSlices(fractions: ArrayLike<number>, minBrain = MIN_BRAIN_FRACTION): number[] {
  if (!(minBrain >= 0 && minBrain <= 1)) throw new RangeError(`minimum brain fraction must be in [0, 1], got ${minBrain}`);
  const out: number[] = [];
  for (let s = 0; s < fractions.length; s++) if ((fractions[s] as number) >= minBrain) out.push(s);
  return out;
}
