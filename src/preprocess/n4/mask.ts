// The mask N4 works in: a user's mask (checked against the image grid) or an automatic one.
//
// Automatic mask (design choice, documented for users): voxels whose intensity is above 10% of the
// 99th percentile of the positive voxels, with holes filled (background regions not connected to the
// volume's border through 6-connected non-mask voxels are added, e.g. dark ventricles). On a
// skull-stripped image it is the brain; on a whole-head image it is the head (scalp included), which
// N4 handles as well since the field is smooth.
// Voxels of the mask that are not positive or not finite cannot enter the log domain: they are left
// out of the fit (the field is still evaluated there) and counted.
import { percentile } from "../../util/percentile.js";
import type { Volume } from "../../volume/volume.js";

export const AUTO_MASK_FRACTION = 0.1;
export const AUTO_MASK_PERCENTILE = 99;
/** Affine entries of a mask may differ from the image's by this much (mm) and still be the same grid. */
const GRID_TOLERANCE = 1e-3;

export interface AutoMask {
  readonly mask: Uint8Array;
  readonly threshold: number;
  /** Voxels added by hole filling. */
  readonly filled: number;
}

/** Marks, in place, the zero voxels of `mask` that the border cannot reach through zero voxels (6-connected). */
export function fillHoles(mask: Uint8Array, dims: readonly [number, number, number]): number {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (mask.length !== n) throw new RangeError(`fillHoles: mask has ${mask.length} voxels, dims [${dims.join(", ")}] need ${n}`);
  const outside = new Uint8Array(n);
  const queue = new Int32Array(n);
  let head = 0;
  let tail = 0;
  const seed = (v: number): void => {
    if (mask[v] === 0 && outside[v] === 0) {
      outside[v] = 1;
      queue[tail++] = v;
    }
  };
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        if (i === 0 || j === 0 || k === 0 || i === nx - 1 || j === ny - 1 || k === nz - 1) seed(i + nx * (j + ny * k));
      }
    }
  }
  const plane = nx * ny;
  while (head < tail) {
    const v = queue[head++] as number;
    const i = v % nx;
    const j = Math.floor(v / nx) % ny;
    const k = Math.floor(v / plane);
    if (i > 0) seed(v - 1);
    if (i < nx - 1) seed(v + 1);
    if (j > 0) seed(v - nx);
    if (j < ny - 1) seed(v + nx);
    if (k > 0) seed(v - plane);
    if (k < nz - 1) seed(v + plane);
  }
  let filled = 0;
  for (let v = 0; v < n; v++) {
    if (mask[v] === 0 && outside[v] === 0) {
      mask[v] = 1;
      filled++;
    }
  }
  return filled;
}

/** The automatic mask (see the top of this file). Throws when the image has no positive voxels. */
export function automaticMask(volume: Volume): AutoMask {
  const d = volume.data;
  let positives = 0;
  for (let i = 0; i < d.length; i++) if ((d[i] as number) > 0 && Number.isFinite(d[i] as number)) positives++;
  if (positives === 0) throw new RangeError("bias correction: the image has no positive voxels; N4 works on magnitude images (intensities > 0)");
  const pos = new Float32Array(positives);
  for (let i = 0, w = 0; i < d.length; i++) if ((d[i] as number) > 0 && Number.isFinite(d[i] as number)) pos[w++] = d[i] as number;
  const threshold = AUTO_MASK_FRACTION * percentile(pos, AUTO_MASK_PERCENTILE);
  const mask = new Uint8Array(d.length);
  for (let i = 0; i < d.length; i++) if ((d[i] as number) > threshold) mask[i] = 1; // NaN compares false
  const filled = fillHoles(mask, volume.dims);
  return { mask, threshold, filled };
}

/** A user's mask volume as 0/1 after checking it lies on the image's grid (nonzero = inside). */
export function maskFromVolume(maskVolume: Volume, image: Volume, what = "mask"): Uint8Array {
  const same = maskVolume.dims.every((v, i) => v === image.dims[i]);
  if (!same) {
    throw new RangeError(
      `${what} is ${maskVolume.dims.join("x")}, the image is ${image.dims.join("x")}: the mask must be on the image's grid ` +
        "(resample it onto the image, e.g. `moediff-sr baseline MASK -o MASK2 --like IMAGE --method input`)",
    );
  }
  let worst = 0;
  for (let e = 0; e < 12; e++) worst = Math.max(worst, Math.abs((maskVolume.affine[e] as number) - (image.affine[e] as number)));
  if (!(worst <= GRID_TOLERANCE)) {
    throw new RangeError(
      `${what} has the image's dimensions but another affine (entries differ by up to ${worst.toPrecision(3)} mm): the mask must be on the image's grid ` +
        "(resample it onto the image, e.g. `moediff-sr baseline MASK -o MASK2 --like IMAGE --method input`)",
    );
  }
  const m = maskVolume.data;
  const out = new Uint8Array(m.length);
  let count = 0;
  for (let i = 0; i < m.length; i++) {
    const v = m[i] as number;
    if (!Number.isFinite(v)) throw new RangeError(`${what}: voxel ${i} is ${v}; a mask must be finite (nonzero = inside)`);
    if (v !== 0) {
      out[i] = 1;
      count++;
    }
  }
  if (count === 0) throw new RangeError(`${what} is empty (no nonzero voxels): give a mask with the region to correct, or none for the automatic mask`);
  return out;
}
