// Test helpers for volume algorithms: analytic volumes, rotations, and brute-force references written
// independently of src/volume (Cramer's rule instead of Gauss-Jordan, the closed-form beta3 instead of
// the four-weight formulas, dense solves instead of recursive filters).
import type { Mat4, Volume } from "../../src/volume/volume.js";

export type Dims = readonly [number, number, number];

/** A volume whose voxel (i, j, k) holds f(world position) (or f of voxel coords with `voxelSpace`). */
export function analytic(dims: Dims, affine: Mat4, f: (x: number, y: number, z: number) => number): Volume {
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  let o = 0;
  for (let k = 0; k < dims[2]; k++) {
    for (let j = 0; j < dims[1]; j++) {
      for (let i = 0; i < dims[0]; i++) {
        const [x, y, z] = world(affine, i, j, k);
        data[o++] = f(x, y, z);
      }
    }
  }
  return { data, dims: [dims[0], dims[1], dims[2]], affine: Array.from(affine) };
}

export function world(a: Mat4, i: number, j: number, k: number): [number, number, number] {
  const g = (r: number): number => (a[4 * r] as number) * i + (a[4 * r + 1] as number) * j + (a[4 * r + 2] as number) * k + (a[4 * r + 3] as number);
  return [g(0), g(1), g(2)];
}

/** Affine from a 3x3 (row-major, 9 numbers) and a translation. */
export function affineFrom(m: readonly number[], t: readonly [number, number, number]): number[] {
  return [m[0]!, m[1]!, m[2]!, t[0], m[3]!, m[4]!, m[5]!, t[1], m[6]!, m[7]!, m[8]!, t[2], 0, 0, 0, 1];
}

/** Rotation (row-major 3x3) Rz(c) * Ry(b) * Rx(a), angles in degrees. */
export function rotation(aDeg: number, bDeg: number, cDeg: number): number[] {
  const [a, b, c] = [aDeg, bDeg, cDeg].map((d) => (d * Math.PI) / 180) as [number, number, number];
  const rx = [1, 0, 0, 0, Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a)];
  const ry = [Math.cos(b), 0, Math.sin(b), 0, 1, 0, -Math.sin(b), 0, Math.cos(b)];
  const rz = [Math.cos(c), -Math.sin(c), 0, Math.sin(c), Math.cos(c), 0, 0, 0, 1];
  return mul3(rz, mul3(ry, rx));
}

export function mul3(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) out.push(a[3 * r]! * b[c]! + a[3 * r + 1]! * b[3 + c]! + a[3 * r + 2]! * b[6 + c]!);
  return out;
}

/** 3x3 part times diag(s). */
export function scaleColumns(m: readonly number[], s: readonly [number, number, number]): number[] {
  return m.map((v, q) => v * s[q % 3]!);
}

/** Source voxel coordinates of a world point, by Cramer's rule on the affine. */
export function worldToVoxel(a: Mat4, p: readonly [number, number, number]): [number, number, number] {
  const m = (r: number, c: number): number => a[4 * r + c] as number;
  const b = [p[0] - m(0, 3), p[1] - m(1, 3), p[2] - m(2, 3)] as const;
  const det3 = (c0: readonly number[], c1: readonly number[], c2: readonly number[]): number =>
    c0[0]! * (c1[1]! * c2[2]! - c1[2]! * c2[1]!) - c1[0]! * (c0[1]! * c2[2]! - c0[2]! * c2[1]!) + c2[0]! * (c0[1]! * c1[2]! - c0[2]! * c1[1]!);
  const col = (c: number): number[] => [m(0, c), m(1, c), m(2, c)];
  const d = det3(col(0), col(1), col(2));
  return [det3(b, col(1), col(2)) / d, det3(col(0), b, col(2)) / d, det3(col(0), col(1), b) / d];
}

export function at(v: Volume, i: number, j: number, k: number): number {
  return v.data[i + v.dims[0] * (j + v.dims[1] * k)] as number;
}

/** Mirror by repeated reflection (deliberately not the modulo formula). */
export function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  for (;;) {
    if (i < 0) i = -i;
    else if (i > n - 1) i = 2 * (n - 1) - i;
    else return i;
  }
}

/** Closed-form cubic B-spline. */
export function beta3(t: number): number {
  const a = Math.abs(t);
  if (a < 1) return 2 / 3 - a * a + (a * a * a) / 2;
  if (a < 2) return (2 - a) ** 3 / 6;
  return 0;
}

/** Inverse of a dense n x n matrix (Gaussian elimination), row-major. */
function denseInverse(m: number[][]): number[][] {
  const n = m.length;
  const a = m.map((row, r) => [...row, ...Array.from({ length: n }, (_, c) => (c === r ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    [a[c], a[p]] = [a[p]!, a[c]!];
    const pv = a[c]![c]!;
    a[c] = a[c]!.map((v) => v / pv);
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      a[r] = a[r]!.map((v, q) => v - f * a[c]![q]!);
    }
  }
  return a.map((row) => row.slice(n));
}

/** Matrix S (n x n) with samples = S * coefficients for the mirrored cubic B-spline; returns S^-1. */
export function bsplineSolve1D(n: number): number[][] {
  const s = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let k = 0; k < n; k++) for (let d = -1; d <= 1; d++) s[k]![reflect(k + d, n)]! += beta3(d);
  return denseInverse(s);
}

/** B-spline coefficients by dense solves along each axis (float64). */
export function bsplineCoefficientsDense(v: Volume): Float64Array {
  const [nx, ny, nz] = v.dims;
  const c = Float64Array.from(v.data);
  const strides = [1, nx, nx * ny];
  for (let axis = 0; axis < 3; axis++) {
    const n = v.dims[axis]!;
    const inv = bsplineSolve1D(n);
    const stride = strides[axis]!;
    for (let q = 0; q < nx * ny * nz; q++) {
      // q is the start of a line when its coordinate along `axis` is 0.
      if (Math.floor(q / stride) % n !== 0) continue;
      const line = Array.from({ length: n }, (_, t) => c[q + t * stride]!);
      for (let t = 0; t < n; t++) c[q + t * stride] = inv[t]!.reduce((s, w, u) => s + w * line[u]!, 0);
    }
  }
  return c;
}

/** Brute-force sample of a volume at continuous voxel coordinates; NaN outside [-0.5, n-0.5]. */
export function sampleReference(v: Volume, coeffs: Float64Array | null, kind: "nearest" | "trilinear" | "bspline", p: readonly [number, number, number]): number {
  const n = v.dims;
  for (let a = 0; a < 3; a++) if (!(p[a]! >= -0.5 - 1e-6 && p[a]! <= n[a]! - 0.5 + 1e-6)) return Number.NaN;
  if (kind === "nearest") {
    const q = p.map((x, a) => Math.min(n[a]! - 1, Math.max(0, Math.round(x))));
    return at(v, q[0]!, q[1]!, q[2]!);
  }
  if (kind === "trilinear") {
    const q = p.map((x, a) => Math.min(n[a]! - 1, Math.max(0, x)));
    let s = 0;
    for (let k = 0; k < n[2]!; k++) {
      for (let j = 0; j < n[1]!; j++) {
        for (let i = 0; i < n[0]!; i++) {
          const w = Math.max(0, 1 - Math.abs(q[0]! - i)) * Math.max(0, 1 - Math.abs(q[1]! - j)) * Math.max(0, 1 - Math.abs(q[2]! - k));
          if (w > 0) s += w * at(v, i, j, k);
        }
      }
    }
    return s;
  }
  if (!coeffs) throw new Error("sampleReference: bspline needs coefficients");
  let s = 0;
  const lo = p.map((x) => Math.ceil(x - 2));
  for (let k = lo[2]!; k <= lo[2]! + 4; k++) {
    for (let j = lo[1]!; j <= lo[1]! + 4; j++) {
      for (let i = lo[0]!; i <= lo[0]! + 4; i++) {
        const w = beta3(p[0]! - i) * beta3(p[1]! - j) * beta3(p[2]! - k);
        if (w === 0) continue;
        s += w * coeffs[reflect(i, n[0]!) + n[0]! * (reflect(j, n[1]!) + n[1]! * reflect(k, n[2]!))]!;
      }
    }
  }
  return s;
}

/** Intensity-weighted centroid of a volume in world coordinates (mm). */
export function worldCentroid(v: Volume): [number, number, number] {
  let s = 0;
  const c = [0, 0, 0];
  for (let k = 0; k < v.dims[2]; k++) {
    for (let j = 0; j < v.dims[1]; j++) {
      for (let i = 0; i < v.dims[0]; i++) {
        const w = at(v, i, j, k);
        if (w === 0) continue;
        const p = world(v.affine, i, j, k);
        for (let a = 0; a < 3; a++) c[a]! += w * p[a]!;
        s += w;
      }
    }
  }
  return [c[0]! / s, c[1]! / s, c[2]! / s];
}

/** Seeded uniform random numbers in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
