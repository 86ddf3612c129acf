// Voxel-to-world affines: NIfTI's quaternion qform <-> 4x4 matrix, the closest
// rigid transform of an affine, voxel sizes, and orientation codes ("RAS", "LPI").
//
// Matrices are row-major 4x4 (`Mat4`, m[4*r + c]) as in src/volume/volume.ts; 3x3
// blocks are row-major arrays of 9.
import type { Mat4 } from "../volume/volume.js";

export type { Mat4 };

/** The qform fields of a NIfTI header (nifti1.h "METHOD 2"). */
export interface Quatern {
  b: number;
  c: number;
  d: number;
  /** qoffset_x, qoffset_y, qoffset_z. */
  offset: [number, number, number];
  /** pixdim[1..3]. */
  pixdim: [number, number, number];
  /** pixdim[0]: -1 flips the third axis, anything else counts as 1. */
  qfac: number;
}

export const IDENTITY: Mat4 = Object.freeze([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);

/** Row-major 4x4 from the three rows of a NIfTI sform (srow_x, srow_y, srow_z). */
export function mat4FromRows(x: ArrayLike<number>, y: ArrayLike<number>, z: ArrayLike<number>): number[] {
  const m: number[] = [];
  for (const row of [x, y, z]) for (let c = 0; c < 4; c++) m.push(row[c] as number);
  m.push(0, 0, 0, 1);
  return m;
}

/** The 4x4 as nested rows, for printing and JSON. */
export function mat4ToRows(m: Mat4): number[][] {
  return [0, 1, 2, 3].map((r) => [0, 1, 2, 3].map((c) => m[4 * r + c] as number));
}

function at(m: ArrayLike<number>, i: number): number {
  return m[i] as number;
}

/** The upper-left 3x3 of a 4x4. */
export function linear3(m: Mat4): number[] {
  return [at(m, 0), at(m, 1), at(m, 2), at(m, 4), at(m, 5), at(m, 6), at(m, 8), at(m, 9), at(m, 10)];
}

export function det3(a: ArrayLike<number>): number {
  return (
    at(a, 0) * (at(a, 4) * at(a, 8) - at(a, 5) * at(a, 7)) -
    at(a, 1) * (at(a, 3) * at(a, 8) - at(a, 5) * at(a, 6)) +
    at(a, 2) * (at(a, 3) * at(a, 7) - at(a, 4) * at(a, 6))
  );
}

/** Inverse transpose of a 3x3, or undefined if singular. */
function invTranspose3(a: ArrayLike<number>): number[] | undefined {
  const det = det3(a);
  if (!Number.isFinite(det) || det === 0) return undefined;
  // cofactor matrix / det = inverse transpose
  const [a0, a1, a2, a3, a4, a5, a6, a7, a8] = Array.from(a);
  const c = [
    (a4! * a8! - a5! * a7!),
    -(a3! * a8! - a5! * a6!),
    (a3! * a7! - a4! * a6!),
    -(a1! * a8! - a2! * a7!),
    (a0! * a8! - a2! * a6!),
    -(a0! * a7! - a1! * a6!),
    (a1! * a5! - a2! * a4!),
    -(a0! * a5! - a2! * a3!),
    (a0! * a4! - a1! * a3!),
  ];
  return c.map((v) => v / det);
}

/**
 * The orthogonal polar factor of a non-singular 3x3 (the closest orthogonal matrix
 * in the Frobenius norm), by Newton's iteration X <- (X + X^-T) / 2. Undefined if
 * the matrix is singular.
 */
export function closestOrthogonal3(a: ArrayLike<number>): number[] | undefined {
  let x = Array.from(a);
  for (let it = 0; it < 100; it++) {
    const xit = invTranspose3(x);
    if (xit === undefined) return undefined;
    const next = x.map((v, i) => 0.5 * (v + (xit[i] as number)));
    const change = next.reduce((s, v, i) => s + Math.abs(v - (x[i] as number)), 0);
    x = next;
    if (change < 1e-15) break;
  }
  return x;
}

/** Euclidean norms of the first three columns of the affine: the voxel size along i, j, k. */
export function voxelSizes(m: Mat4): [number, number, number] {
  const col = (c: number) => Math.hypot(at(m, c), at(m, 4 + c), at(m, 8 + c));
  return [col(0), col(1), col(2)];
}

/**
 * The qform matrix (nifti1_io's nifti_quatern_to_mat44): R(b, c, d) * diag(dx, dy, qfac*dz)
 * plus the offset. a = sqrt(1 - b^2 - c^2 - d^2); when that is below 1e-7 the
 * quaternion is renormalised as a 180-degree rotation (a = 0). Non-positive pixdims
 * count as 1, as in nifti1_io.
 */
export function quaternToMat4(q: Quatern): number[] {
  let { b, c, d } = q;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    const s = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= s;
    c *= s;
    d *= s;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const xd = q.pixdim[0] > 0 ? q.pixdim[0] : 1;
  const yd = q.pixdim[1] > 0 ? q.pixdim[1] : 1;
  let zd = q.pixdim[2] > 0 ? q.pixdim[2] : 1;
  if (q.qfac < 0) zd = -zd;
  return [
    (a * a + b * b - c * c - d * d) * xd,
    2 * (b * c - a * d) * yd,
    2 * (b * d + a * c) * zd,
    q.offset[0],
    2 * (b * c + a * d) * xd,
    (a * a + c * c - b * b - d * d) * yd,
    2 * (c * d - a * b) * zd,
    q.offset[1],
    2 * (b * d - a * c) * xd,
    2 * (c * d + a * b) * yd,
    (a * a + d * d - c * c - b * b) * zd,
    q.offset[2],
    0,
    0,
    0,
    1,
  ];
}

/**
 * The qform closest to an affine: pixdim = the column norms; the columns divided by
 * them; if that matrix has a negative determinant, qfac = -1 and the third column is
 * negated; the result is replaced by its closest rotation (polar decomposition, which
 * drops any shear), and that rotation becomes a unit quaternion with a >= 0. For an
 * affine without shear, quaternToMat4(mat4ToQuatern(m)) == m up to rounding.
 * Throws a RangeError for a singular or non-finite affine.
 */
export function mat4ToQuatern(m: Mat4): Quatern {
  if (m.length !== 16 || m.some((v) => !Number.isFinite(v))) throw new RangeError("the affine must be 16 finite numbers");
  const pixdim = voxelSizes(m);
  if (pixdim.some((v) => v === 0)) throw new RangeError(`the affine is singular (a voxel axis has length 0)`);
  const r = linear3(m);
  for (let row = 0; row < 3; row++) for (let col = 0; col < 3; col++) r[3 * row + col] = at(r, 3 * row + col) / pixdim[col]!;
  let qfac = 1;
  if (det3(r) < 0) {
    qfac = -1;
    r[2] = -at(r, 2);
    r[5] = -at(r, 5);
    r[8] = -at(r, 8);
  }
  const rot = closestOrthogonal3(r);
  if (rot === undefined) throw new RangeError("the affine is singular (its voxel axes are linearly dependent)");
  const [, b, c, d] = rotationToQuaternion(rot); // a >= 0 is implied by b, c, d
  return { b, c, d, offset: [at(m, 3), at(m, 7), at(m, 11)], pixdim, qfac };
}

/** Unit quaternion [a, b, c, d] with a >= 0 of a rotation matrix (Shepperd's method). */
function rotationToQuaternion(r: number[]): [number, number, number, number] {
  const [r11, r12, r13, r21, r22, r23, r31, r32, r33] = r as [number, number, number, number, number, number, number, number, number];
  const trace = r11 + r22 + r33;
  let a: number, b: number, c: number, d: number;
  if (trace >= r11 && trace >= r22 && trace >= r33) {
    a = 0.5 * Math.sqrt(Math.max(0, 1 + trace));
    b = (r32 - r23) / (4 * a);
    c = (r13 - r31) / (4 * a);
    d = (r21 - r12) / (4 * a);
  } else if (r11 >= r22 && r11 >= r33) {
    b = 0.5 * Math.sqrt(Math.max(0, 1 + r11 - r22 - r33));
    a = (r32 - r23) / (4 * b);
    c = (r12 + r21) / (4 * b);
    d = (r13 + r31) / (4 * b);
  } else if (r22 >= r33) {
    c = 0.5 * Math.sqrt(Math.max(0, 1 + r22 - r11 - r33));
    a = (r13 - r31) / (4 * c);
    b = (r12 + r21) / (4 * c);
    d = (r23 + r32) / (4 * c);
  } else {
    d = 0.5 * Math.sqrt(Math.max(0, 1 + r33 - r11 - r22));
    a = (r21 - r12) / (4 * d);
    b = (r13 + r31) / (4 * d);
    c = (r23 + r32) / (4 * d);
  }
  const n = Math.hypot(a, b, c, d);
  const s = a < 0 ? -1 / n : 1 / n;
  return [a * s, b * s, c * s, d * s];
}

const AXIS_LETTERS: readonly (readonly [string, string])[] = [
  ["R", "L"],
  ["A", "P"],
  ["S", "I"],
];

/**
 * Orientation code of an affine: for each voxel axis i, j, k, the world direction
 * it points to most ("RAS" = i towards Right, j Anterior, k Superior; "LPI" the
 * opposite). As nibabel's aff2axcodes: the columns are normalised and made
 * orthogonal (polar decomposition), then each voxel axis in turn takes the world
 * axis with the largest absolute component among those not yet taken.
 * Throws a RangeError for a singular affine.
 */
export function orientationCode(affine: Mat4): string {
  const sizes = voxelSizes(affine);
  if (sizes.some((v) => !(v > 0) || !Number.isFinite(v))) throw new RangeError("orientationCode: the affine is singular or not finite");
  const r = linear3(affine).map((v, i) => v / sizes[i % 3]!);
  const q = closestOrthogonal3(r);
  if (q === undefined) throw new RangeError("orientationCode: the affine is singular");
  const taken = [false, false, false];
  let code = "";
  for (let col = 0; col < 3; col++) {
    let best = -1;
    let bestAbs = -1;
    for (let row = 0; row < 3; row++) {
      const v = Math.abs(at(q, 3 * row + col));
      if (!taken[row] && v > bestAbs) {
        best = row;
        bestAbs = v;
      }
    }
    taken[best] = true;
    const letters = AXIS_LETTERS[best]!;
    code += at(q, 3 * best + col) >= 0 ? letters[0] : letters[1];
  }
  return code;
}

/** Spatial unit in xyzt_units (bits 0-2) and its factor to millimetres. Unknown units are taken as mm. */
export function spatialUnit(xyztUnits: number): { unit: "unknown" | "meter" | "mm" | "micron"; toMm: number } {
  switch (xyztUnits & 0x07) {
    case 1:
      return { unit: "meter", toMm: 1000 };
    case 2:
      return { unit: "mm", toMm: 1 };
    case 3:
      return { unit: "micron", toMm: 0.001 };
    default:
      return { unit: "unknown", toMm: 1 };
  }
}

/** Temporal unit in xyzt_units (bits 3-5). */
export function temporalUnit(xyztUnits: number): "unknown" | "sec" | "msec" | "usec" | "hz" | "ppm" | "rads" {
  switch (xyztUnits & 0x38) {
    case 8:
      return "sec";
    case 16:
      return "msec";
    case 24:
      return "usec";
    case 32:
      return "hz";
    case 40:
      return "ppm";
    case 48:
      return "rads";
    default:
      return "unknown";
  }
}

/** Multiplies the first three rows (rotation/zoom and translation) by s. */
export function scaleWorld(m: Mat4, s: number): number[] {
  return m.map((v, i) => (i < 12 ? v * s : v));
}
