// 4x4 voxel-to-world helpers (row-major, m[4*r + c]) and the target grid for a new voxel size.
import { checkVolume, type Mat4, type Volume } from "./volume.js";

export type Vec3 = readonly [number, number, number];
export type Dims3 = readonly [number, number, number];

/** A sampling grid in world space: what a volume is without its data. */
export interface Grid {
  readonly dims: Dims3;
  readonly affine: Mat4;
}

export function identity(): number[] {
  return [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
}

/** Throws unless m is 16 finite numbers. */
export function checkMat4(m: Mat4, what = "matrix"): Mat4 {
  if (m.length !== 16 || m.some((x) => !Number.isFinite(x))) {
    throw new RangeError(`${what}: must be 16 finite numbers (4x4 row-major), got ${m.length} values`);
  }
  return m;
}

/** Throws unless m is a 4x4 affine: finite, last row exactly [0, 0, 0, 1]. */
export function checkAffine(m: Mat4, what = "affine"): Mat4 {
  checkMat4(m, what);
  if (m[12] !== 0 || m[13] !== 0 || m[14] !== 0 || m[15] !== 1) {
    throw new RangeError(`${what}: last row must be [0, 0, 0, 1], got [${m.slice(12).join(", ")}]`);
  }
  return m;
}

/** a * b. */
export function multiply(a: Mat4, b: Mat4): number[] {
  checkMat4(a, "multiply: a");
  checkMat4(b, "multiply: b");
  const out = new Array<number>(16).fill(0);
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += (a[4 * r + k] as number) * (b[4 * k + c] as number);
      out[4 * r + c] = s;
    }
  }
  return out;
}

/**
 * Inverse of a 4x4 matrix by Gauss-Jordan elimination with partial pivoting.
 * Singular (throws) when |det| <= 1e-12 * max(product of row norms, product of column norms): the
 * determinant relative to its Hadamard bounds, so the test does not depend on the units of the matrix
 * (near-parallel voxel axes are singular whatever the voxel size).
 */
export function invert(m: Mat4, what = "matrix"): number[] {
  checkMat4(m, what);
  const a = Array.from(m);
  const inv = identity();
  let rows = 1;
  let cols = 1;
  for (let r = 0; r < 4; r++) {
    rows *= Math.hypot(a[4 * r] as number, a[4 * r + 1] as number, a[4 * r + 2] as number, a[4 * r + 3] as number);
    cols *= Math.hypot(a[r] as number, a[4 + r] as number, a[8 + r] as number, a[12 + r] as number);
  }
  const bound = Math.max(rows, cols);
  let det = 1;
  for (let c = 0; c < 4; c++) {
    let p = c;
    for (let r = c + 1; r < 4; r++) if (Math.abs(a[4 * r + c] as number) > Math.abs(a[4 * p + c] as number)) p = r;
    const pivot = a[4 * p + c] as number;
    det *= pivot;
    if (pivot === 0) throw new RangeError(`${what} is singular and cannot be inverted (|det| 0): [${fmt(m)}]`);
    if (p !== c) {
      for (let k = 0; k < 4; k++) {
        swap(a, 4 * p + k, 4 * c + k);
        swap(inv, 4 * p + k, 4 * c + k);
      }
      det = -det;
    }
    for (let k = 0; k < 4; k++) {
      a[4 * c + k] = (a[4 * c + k] as number) / pivot;
      inv[4 * c + k] = (inv[4 * c + k] as number) / pivot;
    }
    for (let r = 0; r < 4; r++) {
      if (r === c) continue;
      const f = a[4 * r + c] as number;
      if (f === 0) continue;
      for (let k = 0; k < 4; k++) {
        a[4 * r + k] = (a[4 * r + k] as number) - f * (a[4 * c + k] as number);
        inv[4 * r + k] = (inv[4 * r + k] as number) - f * (inv[4 * c + k] as number);
      }
    }
  }
  if (!(Math.abs(det) > 1e-12 * bound)) {
    throw new RangeError(`${what} is singular and cannot be inverted (|det| ${Math.abs(det).toExponential(2)}): [${fmt(m)}]`);
  }
  return inv;
}

/** m * [p, 1] for an affine m (the last row is not used). */
export function applyToPoint(m: Mat4, p: Vec3): [number, number, number] {
  const [x, y, z] = p;
  const e = (r: number): number =>
    (m[4 * r] as number) * x + (m[4 * r + 1] as number) * y + (m[4 * r + 2] as number) * z + (m[4 * r + 3] as number);
  return [e(0), e(1), e(2)];
}

/** Voxel sizes (mm): the norms of the first three columns of the affine. */
export function voxelSizes(affine: Mat4): [number, number, number] {
  checkMat4(affine, "voxelSizes: affine");
  const col = (c: number): number => Math.hypot(affine[c] as number, affine[4 + c] as number, affine[8 + c] as number);
  return [col(0), col(1), col(2)];
}

/** Normalises a voxel size argument (isotropic number or [sx, sy, sz]) or throws naming the bad value. */
export function voxelSizeTriple(voxelSize: number | Vec3, what = "voxel size"): [number, number, number] {
  const t: readonly number[] = typeof voxelSize === "number" ? [voxelSize, voxelSize, voxelSize] : voxelSize;
  if (t.length !== 3 || t.some((s) => typeof s !== "number" || !Number.isFinite(s) || s <= 0)) {
    throw new RangeError(`${what} must be a positive finite number or 3 of them, got ${JSON.stringify(voxelSize)}`);
  }
  return [t[0] as number, t[1] as number, t[2] as number];
}

/**
 * The grid covering the field of view of `volume` at a new voxel size.
 *
 * Convention: the field of view is the box bounded by the outer faces of the boundary voxels
 * (voxel i covers i - 0.5 .. i + 0.5 along each axis, so an axis of n voxels of size s spans n * s mm).
 * - The voxel axes keep their directions (columns of the affine rescaled to the new size; rotation
 *   and shear are kept).
 * - New dims per axis: n' = round(n * s / s'), halves rounded up, at least 1.
 * - The centre of the field of view stays at the same world position: affine' * (n' - 1) / 2 =
 *   affine * (n - 1) / 2.
 * So the field-of-view faces are preserved exactly when n * s / s' is an integer (e.g. 1 mm -> 0.5 mm),
 * and otherwise move symmetrically by less than s' / 2 each side (181 x 1 mm -> 121 x 1.5 mm spans
 * 181.5 mm, 0.25 mm more each side). Voxel centres at the FOV corner are generally not preserved.
 */
export function gridFor(volume: Volume, voxelSize: number | Vec3): Grid {
  checkVolume(volume, "gridFor: volume");
  checkAffine(volume.affine, "gridFor: volume affine");
  const target = voxelSizeTriple(voxelSize, "gridFor: voxel size");
  const old = voxelSizes(volume.affine);
  const a = volume.affine;
  const dims: [number, number, number] = [1, 1, 1];
  const out = identity();
  for (let c = 0; c < 3; c++) {
    const s = old[c] as number;
    if (!(s > 0)) throw new RangeError(`gridFor: volume affine column ${c} is zero (voxel size 0), cannot rescale`);
    const n = volume.dims[c] as number;
    const sNew = target[c] as number;
    dims[c] = Math.max(1, Math.floor((n * s) / sNew + 0.5 + 1e-9));
    const f = sNew / s;
    for (let r = 0; r < 3; r++) out[4 * r + c] = (a[4 * r + c] as number) * f;
  }
  const centreOld: Vec3 = [(volume.dims[0] - 1) / 2, (volume.dims[1] - 1) / 2, (volume.dims[2] - 1) / 2];
  const centreWorld = applyToPoint(a, centreOld);
  for (let r = 0; r < 3; r++) {
    let t = centreWorld[r] as number;
    for (let c = 0; c < 3; c++) t -= (out[4 * r + c] as number) * (((dims[c] as number) - 1) / 2);
    out[4 * r + 3] = t;
  }
  return { dims, affine: out };
}

function swap(a: number[], i: number, j: number): void {
  const t = a[i] as number;
  a[i] = a[j] as number;
  a[j] = t;
}

function fmt(m: Mat4): string {
  return Array.from(m, (x) => String(Number(x.toPrecision(6)))).join(", ");
}
