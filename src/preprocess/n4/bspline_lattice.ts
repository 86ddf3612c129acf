// A uniform cubic B-spline control-point lattice over a volume's voxel grid: the smooth log bias field
// of N4 (Tustison et al. 2010).
//
// Geometry (per axis, in the full-resolution voxel index x): the domain is the span of voxel centres
// [0, n - 1], cut into `spans` equal knot intervals of knotSpacing = (n - 1) / spans voxels (1 / spans for
// an axis of one voxel); t = x / knotSpacing. There are spans + 3 control points per axis; control
// point i sits at t = i - 1, so f(t) = sum_i c_i beta(t - i + 1) with beta the centred cubic B-spline.
// On span s (s <= t < s + 1, u = t - s) the four control points s .. s + 3 act with weights
// (1-u)^3/6, (3u^3 - 6u^2 + 4)/6, (-3u^3 + 3u^2 + 3u + 1)/6, u^3/6. Points outside the domain use
// the end span's cubic.
// Design choice: the knot spacing is fitted to the domain (spans = ceil(extent / splineDistance), the
// actual distance is extent / spans <= the requested one) instead of padding the domain as ANTs does;
// either way a lattice of 1 span has 4 control points per axis.
// Refinement (multi-resolution, as N4 does between levels): halving the knot spacing represents the
// same function exactly, using beta(x) = sum_k h_k beta(2x - k), h = [1, 4, 6, 4, 1] / 8:
//   c'_{2m} = (c_m + c_{m+1}) / 2,   c'_{2m+1} = (c_m + 6 c_{m+1} + c_{m+2}) / 8.
import type { Dims3 } from "../../volume/affine.js";

export type Triple = readonly [number, number, number];

export interface Lattice {
  /** Knot intervals per axis. */
  readonly spans: Triple;
  /** Control points per axis (spans + 3). */
  readonly size: Triple;
  /** Voxels per knot interval, per axis. */
  readonly knotSpacing: Triple;
  /** Control-point values, x fastest: index a + size0 * (b + size1 * c). */
  readonly coefficients: Float64Array;
}

/** Knot intervals per axis for a control-point distance in mm: ceil(extent / distance), at least 1. */
export function latticeSpans(dims: Dims3, voxelSize: Triple, splineDistance: number): [number, number, number] {
  if (!(Number.isFinite(splineDistance) && splineDistance > 0)) throw new RangeError(`latticeSpans: the spline distance must be a positive number of mm, got ${splineDistance}`);
  return [0, 1, 2].map((d) => Math.max(1, Math.ceil((((dims[d] as number) - 1) * (voxelSize[d] as number)) / splineDistance - 1e-9))) as [number, number, number];
}

/** A lattice of zeros with the given spans over a grid of `dims` voxels. */
export function createLattice(dims: Dims3, spans: Triple): Lattice {
  for (let d = 0; d < 3; d++) {
    const s = spans[d] as number;
    if (!Number.isInteger(s) || s < 1) throw new RangeError(`createLattice: spans must be positive integers, got [${spans.join(", ")}]`);
    if (!Number.isInteger(dims[d]) || (dims[d] as number) < 1) throw new RangeError(`createLattice: dims must be positive integers, got [${dims.join(", ")}]`);
  }
  const size = spans.map((s) => s + 3) as unknown as Triple;
  const knotSpacing = [0, 1, 2].map((d) => Math.max((dims[d] as number) - 1, 1) / (spans[d] as number)) as unknown as Triple;
  return { spans: [spans[0], spans[1], spans[2]], size, knotSpacing, coefficients: new Float64Array(size[0] * size[1] * size[2]) };
}

/**
 * Span index and the four weights at voxel coordinate x on one axis: writes the weights into
 * out[pos .. pos + 3] and returns the span (the first of the four control points).
 */
export function axisWeights(x: number, knotSpacing: number, spans: number, out: Float64Array, pos: number): number {
  const t = x / knotSpacing;
  const s = Math.min(Math.max(Math.floor(t), 0), spans - 1);
  const u = t - s;
  const u2 = u * u;
  const u3 = u2 * u;
  const v = 1 - u;
  out[pos] = (v * v * v) / 6;
  out[pos + 1] = (3 * u3 - 6 * u2 + 4) / 6;
  out[pos + 2] = (-3 * u3 + 3 * u2 + 3 * u + 1) / 6;
  out[pos + 3] = u3 / 6;
  return s;
}

/** The lattice's value at one voxel coordinate (x, y, z). */
export function evaluateAt(lattice: Lattice, x: number, y: number, z: number): number {
  const w = new Float64Array(12);
  const sx = axisWeights(x, lattice.knotSpacing[0], lattice.spans[0], w, 0);
  const sy = axisWeights(y, lattice.knotSpacing[1], lattice.spans[1], w, 4);
  const sz = axisWeights(z, lattice.knotSpacing[2], lattice.spans[2], w, 8);
  const [l0, l1] = lattice.size;
  const c = lattice.coefficients;
  let f = 0;
  for (let k = 0; k < 4; k++) {
    for (let j = 0; j < 4; j++) {
      const row = sx + l0 * (sy + j + l1 * (sz + k));
      const wjk = (w[4 + j] as number) * (w[8 + k] as number);
      for (let i = 0; i < 4; i++) f += (w[i] as number) * wjk * (c[row + i] as number);
    }
  }
  return f;
}

/** Per-voxel spans and weights along one axis of n voxels. */
function axisTable(n: number, knotSpacing: number, spans: number): { span: Int32Array; w: Float64Array } {
  const span = new Int32Array(n);
  const w = new Float64Array(4 * n);
  for (let i = 0; i < n; i++) span[i] = axisWeights(i, knotSpacing, spans, w, 4 * i);
  return { span, w };
}

/**
 * The lattice evaluated at every voxel centre of a grid of `dims` (the grid the lattice was made for),
 * separably: along x, then y, then z (about 4 multiply-adds per voxel and pass).
 */
export function evaluateOnGrid(lattice: Lattice, dims: Dims3): Float64Array {
  const [nx, ny, nz] = dims;
  const [l0, l1, l2] = lattice.size;
  const tx = axisTable(nx, lattice.knotSpacing[0], lattice.spans[0]);
  const ty = axisTable(ny, lattice.knotSpacing[1], lattice.spans[1]);
  const tz = axisTable(nz, lattice.knotSpacing[2], lattice.spans[2]);
  const c = lattice.coefficients;
  // t1[i, b, cc] = sum_a Bx(i, a) C[a, b, cc]
  const t1 = new Float64Array(nx * l1 * l2);
  for (let row = 0; row < l1 * l2; row++) {
    for (let i = 0; i < nx; i++) {
      const s = (tx.span[i] as number) + l0 * row;
      let v = 0;
      for (let a = 0; a < 4; a++) v += (tx.w[4 * i + a] as number) * (c[s + a] as number);
      t1[i + nx * row] = v;
    }
  }
  // t2[i, j, cc] = sum_b By(j, b) t1[i, b, cc]
  const t2 = new Float64Array(nx * ny * l2);
  for (let cc = 0; cc < l2; cc++) {
    for (let j = 0; j < ny; j++) {
      const s = ty.span[j] as number;
      const out = nx * (j + ny * cc);
      for (let b = 0; b < 4; b++) {
        const wb = ty.w[4 * j + b] as number;
        const src = nx * (s + b + l1 * cc);
        for (let i = 0; i < nx; i++) t2[out + i] = (t2[out + i] as number) + wb * (t1[src + i] as number);
      }
    }
  }
  // out[i, j, k] = sum_cc Bz(k, cc) t2[i, j, cc]
  const plane = nx * ny;
  const out = new Float64Array(plane * nz);
  for (let k = 0; k < nz; k++) {
    const s = tz.span[k] as number;
    const o = plane * k;
    for (let q = 0; q < 4; q++) {
      const wq = tz.w[4 * k + q] as number;
      const src = plane * (s + q);
      for (let p = 0; p < plane; p++) out[o + p] = (out[o + p] as number) + wq * (t2[src + p] as number);
    }
  }
  return out;
}

/** Refines one axis: coefficients along `axis` go from spans + 3 to 2 spans + 3 (exact). */
function refineAxis(c: Float64Array, size: Triple, axis: 0 | 1 | 2): { c: Float64Array; size: [number, number, number] } {
  const n = size[axis];
  const spans = n - 3;
  const m = 2 * spans + 3;
  const newSize: [number, number, number] = [size[0], size[1], size[2]];
  newSize[axis] = m;
  const out = new Float64Array(newSize[0] * newSize[1] * newSize[2]);
  const strideOld = axis === 0 ? 1 : axis === 1 ? size[0] : size[0] * size[1];
  const strideNew = axis === 0 ? 1 : axis === 1 ? newSize[0] : newSize[0] * newSize[1];
  // Iterate over all lines along `axis`.
  const other = [0, 1, 2].filter((d) => d !== axis) as [number, number];
  const [d0, d1] = other;
  for (let q1 = 0; q1 < (size[d1] as number); q1++) {
    for (let q0 = 0; q0 < (size[d0] as number); q0++) {
      const pos = [0, 0, 0];
      pos[d0] = q0;
      pos[d1] = q1;
      const baseOld = (pos[0] as number) + size[0] * ((pos[1] as number) + size[1] * (pos[2] as number));
      const baseNew = (pos[0] as number) + newSize[0] * ((pos[1] as number) + newSize[1] * (pos[2] as number));
      const at = (i: number): number => c[baseOld + strideOld * i] as number;
      for (let j = 0; j < m; j++) {
        const h = j >> 1;
        const v = (j & 1) === 0 ? (at(h) + at(h + 1)) / 2 : (at(h) + 6 * at(h + 1) + at(h + 2)) / 8;
        out[baseNew + strideNew * j] = v;
      }
    }
  }
  return { c: out, size: newSize };
}

/** The same function on a lattice with twice the spans per axis (the next N4 level). */
export function refineLattice(lattice: Lattice): Lattice {
  let c = lattice.coefficients;
  let size: Triple = lattice.size;
  for (const axis of [0, 1, 2] as const) ({ c, size } = refineAxis(c, size, axis));
  return {
    spans: [lattice.spans[0] * 2, lattice.spans[1] * 2, lattice.spans[2] * 2],
    size,
    knotSpacing: [lattice.knotSpacing[0] / 2, lattice.knotSpacing[1] / 2, lattice.knotSpacing[2] / 2],
    coefficients: c,
  };
}
