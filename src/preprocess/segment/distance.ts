// Exact Euclidean distance transform of a binary 3-D mask, in world millimetres.
//
// For each voxel: the distance (mm) from its centre to the centre of the nearest "feature" voxel
// (mask value 1); 0 on feature voxels, Infinity when the volume has no feature voxel. Anisotropic
// voxels are honoured: the squared distance between voxels (i, j, k) and (i', j', k') is
// (sx (i - i'))^2 + (sy (j - j'))^2 + (sz (k - k'))^2 with the voxel sizes (sx, sy, sz), i.e. the
// voxel axes are taken as orthogonal (true for every affine without shear, including oblique ones;
// a sheared affine gets distances measured along its column lengths, an approximation).
//
// Method: separable lower envelopes of parabolas (Felzenszwalb and Huttenlocher, "Distance
// transforms of sampled functions", 2012), one 1-D pass per axis on squared distances, in float64;
// linear in the number of voxels.
//
// `outsideIsFeature`: when true the voxels just outside the volume count as features too, so the
// result is min(distance to a feature, distance to the outer voxel layer beyond the faces). Erosion
// uses this to treat the outside as background.
import type { Dims3 } from "../../volume/affine.js";

export interface DistanceOptions {
  /** Treat the layer of voxels just outside the volume as features (default false). */
  readonly outsideIsFeature?: boolean;
}

/** Checks a mask against its dims and a voxel-size triple; throws naming `what`. */
export function checkMask(mask: Uint8Array, dims: Dims3, what: string): void {
  if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${what}: dims must be 3 positive integers, got [${dims.join(", ")}]`);
  }
  const n = dims[0] * dims[1] * dims[2];
  if (mask.length !== n) throw new RangeError(`${what}: mask has ${mask.length} voxels, dims [${dims.join(", ")}] need ${n}`);
}

function checkSpacing(spacing: readonly number[], what: string): void {
  if (spacing.length !== 3 || spacing.some((s) => !(Number.isFinite(s) && s > 0))) {
    throw new RangeError(`${what}: voxel sizes must be 3 positive numbers (mm), got [${spacing.join(", ")}]`);
  }
}

/**
 * One 1-D squared-distance transform: out[p] = min_q f[q] + (s (p - q))^2 over the n samples of `f`
 * (Infinity = no parabola; all Infinity gives Infinity). v, z are scratch buffers of length n and n + 1.
 */
function transform1d(f: Float64Array, n: number, s2: number, out: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q] as number;
    if (fq === Infinity) continue;
    // Where the parabola at q overtakes the rightmost kept one; pop those it hides entirely.
    let cross = -Infinity;
    while (k >= 0) {
      const r = v[k] as number;
      cross = (fq + s2 * q * q - ((f[r] as number) + s2 * r * r)) / (2 * s2 * (q - r));
      if (cross > (z[k] as number)) break;
      k--;
    }
    k++;
    v[k] = q;
    z[k] = k === 0 ? -Infinity : cross;
    z[k + 1] = Infinity;
  }
  if (k < 0) {
    out.fill(Infinity, 0, n);
    return;
  }
  let j = 0;
  for (let p = 0; p < n; p++) {
    while ((z[j + 1] as number) < p) j++;
    const q = v[j] as number;
    const d = p - q;
    out[p] = (f[q] as number) + s2 * d * d;
  }
}

/** Squared distances (mm^2) to the nearest feature voxel (see the file header). */
export function squaredDistanceTransform(
  feature: Uint8Array,
  dims: Dims3,
  spacing: readonly [number, number, number],
  options: DistanceOptions = {},
): Float64Array {
  checkMask(feature, dims, "distanceTransform");
  checkSpacing(spacing, "distanceTransform");
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = feature[i] !== 0 ? 0 : Infinity;
  const m = Math.max(nx, ny, nz);
  const line = new Float64Array(m);
  const out = new Float64Array(m);
  const v = new Int32Array(m);
  const z = new Float64Array(m + 1);
  // One pass per axis over every line along it: (length, stride, start indices).
  const pass = (len: number, stride: number, s: number, starts: (visit: (start: number) => void) => void): void => {
    const s2 = s * s;
    starts((start) => {
      for (let p = 0, idx = start; p < len; p++, idx += stride) line[p] = d[idx] as number;
      transform1d(line, len, s2, out, v, z);
      for (let p = 0, idx = start; p < len; p++, idx += stride) d[idx] = out[p] as number;
    });
  };
  pass(nx, 1, spacing[0], (visit) => {
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) visit(nx * (j + ny * k));
  });
  pass(ny, nx, spacing[1], (visit) => {
    for (let k = 0; k < nz; k++) for (let i = 0; i < nx; i++) visit(i + nx * ny * k);
  });
  pass(nz, nx * ny, spacing[2], (visit) => {
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) visit(i + nx * j);
  });
  if (options.outsideIsFeature === true) {
    const [sx, sy, sz] = spacing;
    for (let k = 0, idx = 0; k < nz; k++) {
      const dz = sz * Math.min(k + 1, nz - k);
      for (let j = 0; j < ny; j++) {
        const dy = sy * Math.min(j + 1, ny - j);
        const dyz = Math.min(dy, dz);
        for (let i = 0; i < nx; i++, idx++) {
          const b = Math.min(sx * Math.min(i + 1, nx - i), dyz);
          if (b * b < (d[idx] as number)) d[idx] = b * b;
        }
      }
    }
  }
  return d;
}

/** Euclidean distance (mm) from each voxel to the nearest voxel with feature[i] != 0 (see the file header). */
export function distanceTransform(
  feature: Uint8Array,
  dims: Dims3,
  spacing: readonly [number, number, number],
  options: DistanceOptions = {},
): Float32Array {
  const d2 = squaredDistanceTransform(feature, dims, spacing, options);
  const out = new Float32Array(d2.length);
  for (let i = 0; i < d2.length; i++) out[i] = Math.sqrt(d2[i] as number);
  return out;
}
