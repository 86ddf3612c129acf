// Cubic B-spline interpolation (Unser 1999; Thevenaz, Blu & Unser 2000, "Interpolation revisited").
//
// The data are not the spline's coefficients: interpolating them directly would blur. A prefilter
// (the inverse of the sampled cubic B-spline, (1/6)[1 4 1]) turns samples into coefficients c so that
// sum_k c[k] beta3(x - k) passes through every sample. It is a causal then an anticausal first-order
// recursive filter with pole z = sqrt(3) - 2, applied separably along each axis.
//
// Boundary condition: whole-sample mirror, c[-k] = c[k] and c[n-1+k] = c[n-1-k], for both the prefilter
// and the evaluation, so that a function symmetric about the boundary samples is reproduced there.
import { checkVolume, type Volume } from "./volume.js";
import type { Dims3 } from "./affine.js";

/** The pole of the cubic B-spline prefilter. */
export const POLE = Math.sqrt(3) - 2;
/** Causal initialisation uses a truncated sum once z^k falls below this. */
const TOLERANCE = 1e-12;
const HORIZON = Math.ceil(Math.log(TOLERANCE) / Math.log(Math.abs(POLE)));

/** B-spline coefficients of a volume: same dims and layout as the volume (i fastest). */
export interface BSplineCoefficients {
  readonly coefficients: Float32Array;
  readonly dims: Dims3;
}

/** Mirror index into 0..n-1 (whole-sample symmetric, period 2n - 2). */
export function mirrorIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n - 2;
  let m = Math.abs(i) % period;
  if (m >= n) m = period - m;
  return m;
}

/**
 * The four cubic B-spline weights for fractional offset t in [0, 1), for the coefficients at
 * floor(x) - 1, floor(x), floor(x) + 1, floor(x) + 2. Written into out[pos .. pos + 3]; they sum to 1.
 */
export function cubicWeights(t: number, out: Float64Array, pos = 0): void {
  const u = 1 - t;
  const t2 = t * t;
  const t3 = t2 * t;
  out[pos] = (u * u * u) / 6;
  out[pos + 1] = (3 * t3 - 6 * t2 + 4) / 6;
  out[pos + 2] = (-3 * t3 + 3 * t2 + 3 * t + 1) / 6;
  out[pos + 3] = t3 / 6;
}

/**
 * Prefilters a volume into cubic B-spline coefficients (float64 arithmetic, float32 storage).
 * Do this once per volume, then evaluate as often as needed. The input is not modified.
 */
export function prefilterBSpline(volume: Volume): BSplineCoefficients {
  checkVolume(volume, "prefilterBSpline: volume");
  const [nx, ny, nz] = volume.dims;
  const c = new Float32Array(volume.data);
  // x: each line is contiguous; y and z: filter nx lines at once, rows of nx contiguous values.
  if (nx > 1) {
    const buf = new Float64Array(nx);
    const acc = new Float64Array(1);
    for (let line = 0; line < ny * nz; line++) {
      const off = line * nx;
      for (let i = 0; i < nx; i++) buf[i] = c[off + i] as number;
      filterRows(buf, nx, 1, acc);
      for (let i = 0; i < nx; i++) c[off + i] = buf[i] as number;
    }
  }
  if (ny > 1) {
    const buf = new Float64Array(ny * nx);
    const acc = new Float64Array(nx);
    for (let k = 0; k < nz; k++) {
      const off = k * nx * ny;
      for (let q = 0; q < nx * ny; q++) buf[q] = c[off + q] as number;
      filterRows(buf, ny, nx, acc);
      for (let q = 0; q < nx * ny; q++) c[off + q] = buf[q] as number;
    }
  }
  if (nz > 1) {
    const slab = nx * ny;
    const buf = new Float64Array(nz * nx);
    const acc = new Float64Array(nx);
    for (let j = 0; j < ny; j++) {
      for (let k = 0; k < nz; k++) {
        const src = nx * j + slab * k;
        for (let i = 0; i < nx; i++) buf[k * nx + i] = c[src + i] as number;
      }
      filterRows(buf, nz, nx, acc);
      for (let k = 0; k < nz; k++) {
        const dst = nx * j + slab * k;
        for (let i = 0; i < nx; i++) c[dst + i] = buf[k * nx + i] as number;
      }
    }
  }
  return { coefficients: c, dims: [nx, ny, nz] };
}

/**
 * Filters `w` independent signals of length n >= 2 stored as n rows of w values (row r at buf[r*w ..]):
 * gain, causal pass with mirror initialisation, anticausal pass.
 */
function filterRows(buf: Float64Array, n: number, w: number, acc: Float64Array): void {
  const z = POLE;
  const len = n * w;
  const gain = (1 - z) * (1 - 1 / z);
  for (let q = 0; q < len; q++) buf[q] = (buf[q] as number) * gain;
  // Causal initial value c+[0] = sum_k z^k c[k] over the mirrored infinite signal.
  acc.fill(0);
  if (n > HORIZON) {
    let zk = 1;
    for (let r = 0; r < HORIZON; r++) {
      const o = r * w;
      for (let q = 0; q < w; q++) acc[q] = (acc[q] as number) + zk * (buf[o + q] as number);
      zk *= z;
    }
  } else {
    // Exact: (c[0] + z^(n-1) c[n-1] + sum_{k=1}^{n-2} (z^k + z^(2n-2-k)) c[k]) / (1 - z^(2n-2)).
    const zn1 = z ** (n - 1);
    const last = (n - 1) * w;
    for (let q = 0; q < w; q++) acc[q] = (buf[q] as number) + zn1 * (buf[last + q] as number);
    for (let r = 1; r < n - 1; r++) {
      const f = z ** r + z ** (2 * n - 2 - r);
      const o = r * w;
      for (let q = 0; q < w; q++) acc[q] = (acc[q] as number) + f * (buf[o + q] as number);
    }
    const d = 1 - zn1 * zn1;
    for (let q = 0; q < w; q++) acc[q] = (acc[q] as number) / d;
  }
  for (let q = 0; q < w; q++) buf[q] = acc[q] as number;
  for (let r = 1; r < n; r++) {
    const o = r * w;
    const p = o - w;
    for (let q = 0; q < w; q++) buf[o + q] = (buf[o + q] as number) + z * (buf[p + q] as number);
  }
  // Anticausal initial value for the mirror boundary: c-[n-1] = z / (z^2 - 1) * (c+[n-1] + z c+[n-2]).
  const last = (n - 1) * w;
  const f = z / (z * z - 1);
  for (let q = 0; q < w; q++) buf[last + q] = f * ((buf[last + q] as number) + z * (buf[last - w + q] as number));
  for (let r = n - 2; r >= 0; r--) {
    const o = r * w;
    const nx = o + w;
    for (let q = 0; q < w; q++) buf[o + q] = z * ((buf[nx + q] as number) - (buf[o + q] as number));
  }
}

/**
 * Evaluates the spline at continuous voxel coordinates (x, y, z), mirror boundary everywhere (no fill:
 * callers decide what lies outside the field of view). Convenience for single points; resample()
 * evaluates whole grids without per-point allocation.
 */
export function interpolateBSpline(c: BSplineCoefficients, x: number, y: number, z: number): number {
  const [nx, ny, nz] = c.dims;
  const wx = new Float64Array(4);
  const wy = new Float64Array(4);
  const wz = new Float64Array(4);
  const fx = Math.floor(x);
  const fy = Math.floor(y);
  const fz = Math.floor(z);
  cubicWeights(x - fx, wx);
  cubicWeights(y - fy, wy);
  cubicWeights(z - fz, wz);
  let s = 0;
  for (let c2 = 0; c2 < 4; c2++) {
    const kz = mirrorIndex(fz - 1 + c2, nz);
    for (let c1 = 0; c1 < 4; c1++) {
      const ky = mirrorIndex(fy - 1 + c1, ny);
      const row = nx * (ky + ny * kz);
      const wyz = (wz[c2] as number) * (wy[c1] as number);
      for (let c0 = 0; c0 < 4; c0++) {
        const kx = mirrorIndex(fx - 1 + c0, nx);
        s += wyz * (wx[c0] as number) * (c.coefficients[row + kx] as number);
      }
    }
  }
  return s;
}

/**
 * Evaluates the spline at many points without allocating: the buffers live in the sampler (one per
 * loop, not shared between threads of work). Same values as interpolateBSpline; interior points skip
 * the mirror lookups.
 */
export class BSplineSampler {
  readonly #c: Float32Array;
  readonly #dims: readonly [number, number, number];
  readonly #w = [new Float64Array(4), new Float64Array(4), new Float64Array(4)] as const;
  readonly #idx = [new Int32Array(4), new Int32Array(4), new Int32Array(4)] as const;

  constructor(c: BSplineCoefficients) {
    this.#c = c.coefficients;
    this.#dims = c.dims;
  }

  #taps(x: number, n: number, stride: number, idx: Int32Array, w: Float64Array): void {
    const f = Math.floor(x);
    cubicWeights(x - f, w, 0);
    if (f >= 1 && f + 2 < n) for (let t = 0; t < 4; t++) idx[t] = (f - 1 + t) * stride;
    else for (let t = 0; t < 4; t++) idx[t] = mirrorIndex(f - 1 + t, n) * stride;
  }

  /** The spline at continuous voxel coordinates (x, y, z), mirror boundary. */
  at(x: number, y: number, z: number): number {
    const [nx, ny, nz] = this.#dims;
    const [wx, wy, wz] = this.#w;
    const [ix, iy, iz] = this.#idx;
    const c = this.#c;
    this.#taps(x, nx, 1, ix, wx);
    this.#taps(y, ny, nx, iy, wy);
    this.#taps(z, nz, nx * ny, iz, wz);
    let s = 0;
    for (let c2 = 0; c2 < 4; c2++) {
      for (let c1 = 0; c1 < 4; c1++) {
        const row = (iz[c2] as number) + (iy[c1] as number);
        const inner =
          (wx[0] as number) * (c[row + (ix[0] as number)] as number) +
          (wx[1] as number) * (c[row + (ix[1] as number)] as number) +
          (wx[2] as number) * (c[row + (ix[2] as number)] as number) +
          (wx[3] as number) * (c[row + (ix[3] as number)] as number);
        s += (wz[c2] as number) * (wy[c1] as number) * inner;
      }
    }
    return s;
  }
}
