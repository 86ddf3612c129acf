// Cutting the held-out slab and the LR data it needs, as index ranges along one voxel axis.
//
// - The reference is HR slices first..last (inclusive) along the slab axis.
// - The model sees each slice with its neighbours (the 2.5D condition k-1, k, k+1; the edge slice is
//   repeated at the ends of a volume), so the slab's edge slices get their true neighbours only if the
//   enhanced grid reaches one slice further on each side: the "context" grid is first-1..last+1
//   (clipped to the volume), and its extra slices are dropped after enhancement.
// - The LR acquisition is cut to the LR slices whose cubic B-spline support reaches that context grid,
//   plus PREFILTER_MARGIN slices each side: the B-spline prefilter is a recursive filter over the
//   whole line, and a boundary's influence decays as |sqrt(3) - 2|^d = 0.268^d at d slices; 12 slices
//   (1.4e-7) make the cut LR interpolate the slab as the whole LR volume does, to float32 rounding.
import { applyToPoint, invert, multiply, type Grid } from "../volume/affine.js";
import type { Volume } from "../volume/volume.js";

export const CONTEXT_SLICES = 1;
export const PREFILTER_MARGIN = 12;
/** Half-width of the cubic B-spline's support, in voxels (it reads floor(x) - 1 .. floor(x) + 2). */
const SUPPORT = 2;

export type Dim = 0 | 1 | 2;

function translateIndex(affine: readonly number[], dim: Dim, offset: number): number[] {
  const shift = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  shift[4 * dim + 3] = offset;
  return multiply(affine, shift);
}

/** Voxels first..last (inclusive) of `grid` along `dim`, with the affine shifted so world positions are kept. */
export function cropGrid(grid: Grid, dim: Dim, first: number, last: number): Grid {
  const n = grid.dims[dim];
  if (!(Number.isInteger(first) && Number.isInteger(last) && first >= 0 && last >= first && last < n)) {
    throw new RangeError(`cropGrid: slices ${first}..${last} are not inside 0..${n - 1} along voxel axis ${dim}`);
  }
  const dims: [number, number, number] = [grid.dims[0], grid.dims[1], grid.dims[2]];
  dims[dim] = last - first + 1;
  return { dims, affine: translateIndex(grid.affine, dim, first) };
}

/** The slices first..last of any voxel array laid out on `dims` (i fastest). */
export function cropData<A extends Float32Array | Uint8Array>(data: A, dims: readonly [number, number, number], dim: Dim, first: number, last: number): A {
  const [nx, ny, nz] = dims;
  if (!(Number.isInteger(first) && Number.isInteger(last) && first >= 0 && last >= first && last < dims[dim])) {
    throw new RangeError(`cropData: slices ${first}..${last} are not inside 0..${dims[dim] - 1} along voxel axis ${dim}`);
  }
  if (data.length !== nx * ny * nz) throw new RangeError(`cropData: ${data.length} values do not fill dims [${dims.join(", ")}]`);
  const size = [nx, ny, nz];
  size[dim] = last - first + 1;
  const n = size[0]! * size[1]! * size[2]!;
  const result = (data instanceof Uint8Array ? new Uint8Array(n) : new Float32Array(n)) as A;
  let q = 0;
  const [i0, i1] = dim === 0 ? [first, last] : [0, nx - 1];
  const [j0, j1] = dim === 1 ? [first, last] : [0, ny - 1];
  const [k0, k1] = dim === 2 ? [first, last] : [0, nz - 1];
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      const row = (k * ny + j) * nx;
      if (dim !== 0) {
        result.set(data.subarray(row, row + nx), q);
        q += nx;
      } else {
        result.set(data.subarray(row + i0, row + i1 + 1), q);
        q += i1 - i0 + 1;
      }
    }
  }
  return result;
}

/** Voxels first..last of a volume along `dim`. */
export function cropVolume(v: Volume, dim: Dim, first: number, last: number): Volume {
  const g = cropGrid({ dims: [v.dims[0], v.dims[1], v.dims[2]], affine: Array.from(v.affine) }, dim, first, last);
  return { data: cropData(v.data, v.dims, dim, first, last), dims: g.dims as [number, number, number], affine: g.affine };
}

/** The context range: first-1..last+1 clipped to 0..n-1 (CONTEXT_SLICES each side). */
export function contextRange(first: number, last: number, n: number): [number, number] {
  return [Math.max(0, first - CONTEXT_SLICES), Math.min(n - 1, last + CONTEXT_SLICES)];
}

/**
 * The LR slices along `dim` (of the LR grid) to keep so that interpolating them onto `target` (a box
 * of HR voxels) equals interpolating the whole LR volume: the continuous LR index range of the
 * target's corners, widened by the cubic support and `margin`, clipped to the LR volume. The LR grid
 * must have its `dim` axis parallel to the target's slab axis (both come from the same RAS volume).
 */
export function lrRangeFor(lr: Grid, target: Grid, dim: Dim, margin = PREFILTER_MARGIN): [number, number] {
  const toLr = multiply(invert(lr.affine, "lrRangeFor: LR affine"), target.affine);
  let lo = Infinity;
  let hi = -Infinity;
  for (const ci of [0, target.dims[0] - 1]) {
    for (const cj of [0, target.dims[1] - 1]) {
      for (const ck of [0, target.dims[2] - 1]) {
        const x = applyToPoint(toLr, [ci, cj, ck])[dim];
        lo = Math.min(lo, x);
        hi = Math.max(hi, x);
      }
    }
  }
  const n = lr.dims[dim];
  const first = Math.max(0, Math.floor(lo) - SUPPORT - margin);
  const last = Math.min(n - 1, Math.ceil(hi) + SUPPORT + margin);
  if (last < first) throw new RangeError(`lrRangeFor: the target lies outside the LR volume along voxel axis ${dim}`);
  return [first, last];
}
