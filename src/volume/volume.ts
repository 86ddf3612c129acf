// A scalar volume in world space: the unit every volume algorithm works on.
// NIfTI files convert to and from it (src/nifti/); algorithms take and return it.

/** 4x4 matrix, row-major: m[4*r + c]. */
export type Mat4 = readonly number[];

/** A 3-D scalar volume. Voxel (i, j, k) sits at world position affine * [i, j, k, 1] (mm, RAS+ as NIfTI's scanner space). */
export interface Volume {
  /** Voxel values with i fastest (NIfTI order): index = i + nx * (j + ny * k). */
  readonly data: Float32Array;
  /** [nx, ny, nz]. */
  readonly dims: readonly [number, number, number];
  /** Voxel-to-world transform (mm). */
  readonly affine: Mat4;
}

export function voxelCount(dims: readonly [number, number, number]): number {
  return dims[0] * dims[1] * dims[2];
}

/** Checks that data length matches dims and the affine is 4x4 and invertible-looking; throws naming `what`. */
export function checkVolume(v: Volume, what = "volume"): Volume {
  const [nx, ny, nz] = v.dims;
  for (const d of v.dims) {
    if (!Number.isInteger(d) || d < 1) throw new RangeError(`${what}: dims must be positive integers, got [${v.dims.join(", ")}]`);
  }
  if (v.data.length !== nx * ny * nz) {
    throw new RangeError(`${what}: data has ${v.data.length} values, dims [${v.dims.join(", ")}] need ${nx * ny * nz}`);
  }
  if (v.affine.length !== 16 || v.affine.some((x) => !Number.isFinite(x))) {
    throw new RangeError(`${what}: affine must be 16 finite numbers (4x4 row-major)`);
  }
  return v;
}

/** Minimum and maximum of the values ([Infinity, -Infinity] when empty). */
export function dataRange(data: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}
