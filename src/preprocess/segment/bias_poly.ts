// A smooth log-domain bias field for the tissue EM: log B(x) = sum_t c_t P_a(u) P_b(v) P_c(w), a sum of
// Legendre products of total degree <= D (D = 3: 20 terms, the constant included), where (u, v, w)
// in [-1, 1]^3 are the voxel coordinates scaled over the box [lo, hi] (the brain's bounding box).
// Polynomials of degree D are the same space in voxel or world coordinates (an affine map keeps the
// degree), so voxel coordinates lose nothing; the Legendre basis on the box keeps the normal
// equations well conditioned.
//
// Fit: weighted least squares sum_i w_i (r_i - log B(x_i))^2 + shrink * (sum_i w_i) * sum_{t > 0} c_t^2
// by Cholesky on the normal equations (plus 1e-9 of the mean diagonal for numerical safety). The
// shrinkage leaves the constant free and makes a term whose basis function has weighted mean square
// m over the samples keep about m / (m + shrink) of its least-squares amplitude: higher-order terms
// (smaller m) shrink more, so the field prefers low orders. Evaluation is separable: per
// (j, k) line the coefficients collapse onto the D + 1 polynomials of u.
import type { Dims3 } from "../../volume/affine.js";

export interface PolyBasis {
  readonly degree: number;
  /** Exponents (a, b, c) per term; term 0 is the constant. */
  readonly terms: readonly (readonly [number, number, number])[];
  /** Per axis: P_0..P_D at every voxel coordinate 0..n-1, flattened [coord * (D + 1) + order]. */
  readonly tables: readonly [Float64Array, Float64Array, Float64Array];
}

function legendreAll(x: number, degree: number, out: Float64Array, pos: number): void {
  out[pos] = 1;
  if (degree >= 1) out[pos + 1] = x;
  for (let n = 1; n < degree; n++) {
    // Bonnet: (n + 1) P_{n+1} = (2n + 1) x P_n - n P_{n-1}
    out[pos + n + 1] = ((2 * n + 1) * x * (out[pos + n] as number) - n * (out[pos + n - 1] as number)) / (n + 1);
  }
}

/** The basis of total degree <= `degree` over the voxel box lo..hi (inclusive) of a volume with `dims`. */
export function polyBasis(degree: number, dims: Dims3, lo: readonly number[], hi: readonly number[]): PolyBasis {
  if (!Number.isInteger(degree) || degree < 0 || degree > 8) throw new RangeError(`polyBasis: degree must be an integer from 0 to 8, got ${degree}`);
  const terms: [number, number, number][] = [];
  for (let d = 0; d <= degree; d++) {
    for (let a = d; a >= 0; a--) for (let b = d - a; b >= 0; b--) terms.push([a, b, d - a - b]);
  }
  const m = degree + 1;
  const tables = [0, 1, 2].map((axis) => {
    const n = dims[axis] as number;
    const l = lo[axis] as number;
    const h = hi[axis] as number;
    const centre = (l + h) / 2;
    const half = Math.max((h - l) / 2, 0.5);
    const t = new Float64Array(n * m);
    for (let c = 0; c < n; c++) legendreAll((c - centre) / half, degree, t, c * m);
    return t;
  }) as [Float64Array, Float64Array, Float64Array];
  return { degree, terms, tables };
}

/** Basis values at voxel (i, j, k) into out[0 .. terms.length). */
export function basisAt(basis: PolyBasis, i: number, j: number, k: number, out: Float64Array): void {
  const m = basis.degree + 1;
  const [tx, ty, tz] = basis.tables;
  for (let t = 0; t < basis.terms.length; t++) {
    const [a, b, c] = basis.terms[t] as readonly [number, number, number];
    out[t] = (tx[i * m + a] as number) * (ty[j * m + b] as number) * (tz[k * m + c] as number);
  }
}

/** The basis values at the voxels `index` (i fastest in a volume of `dims`): row s holds the terms at index[s]. */
export function designMatrix(basis: PolyBasis, dims: Dims3, index: Int32Array): Float64Array {
  const T = basis.terms.length;
  const out = new Float64Array(index.length * T);
  const phi = new Float64Array(T);
  const [nx, ny] = dims;
  for (let s = 0; s < index.length; s++) {
    const idx = index[s] as number;
    basisAt(basis, idx % nx, Math.floor(idx / nx) % ny, Math.floor(idx / (nx * ny)), phi);
    out.set(phi, s * T);
  }
  return out;
}

/**
 * Weighted least-squares coefficients (with the shrinkage of the file header) for the rows of a
 * design matrix with T columns, targets r and weights w (w <= 0 drops a row). Throws when the weights
 * leave the system singular (e.g. fewer weighted rows than terms).
 */
export function solveWeighted(design: Float64Array, T: number, r: Float64Array, w: Float64Array, shrink = 0): Float64Array {
  if (!(Number.isFinite(shrink) && shrink >= 0)) throw new RangeError(`fitPoly: shrink must be a number >= 0, got ${shrink}`);
  const rows = r.length;
  if (design.length !== rows * T || w.length !== rows) throw new RangeError(`fitPoly: design has ${design.length} values, expected ${rows} rows x ${T} terms`);
  const A = new Float64Array(T * T);
  const rhs = new Float64Array(T);
  let used = 0;
  let wsum = 0;
  for (let s = 0; s < rows; s++) {
    const wi = w[s] as number;
    if (!(wi > 0)) continue;
    used++;
    wsum += wi;
    const row = s * T;
    const ri = r[s] as number;
    for (let a = 0; a < T; a++) {
      const wa = wi * (design[row + a] as number);
      rhs[a] = (rhs[a] as number) + wa * ri;
      const base = a * T;
      for (let b = 0; b <= a; b++) A[base + b] = (A[base + b] as number) + wa * (design[row + b] as number);
    }
  }
  if (used < T) throw new RangeError(`fitPoly: ${used} weighted samples for ${T} polynomial terms; lower the bias degree or check the mask`);
  let trace = 0;
  for (let a = 0; a < T; a++) trace += A[a * T + a] as number;
  const ridge = (1e-9 * trace) / T;
  for (let a = 0; a < T; a++) A[a * T + a] = (A[a * T + a] as number) + ridge + (a > 0 ? shrink * wsum : 0);
  // Cholesky A = L L^T in the lower triangle.
  for (let a = 0; a < T; a++) {
    for (let b = 0; b <= a; b++) {
      let s = A[a * T + b] as number;
      for (let c = 0; c < b; c++) s -= (A[a * T + c] as number) * (A[b * T + c] as number);
      if (a === b) {
        if (!(s > 0)) throw new RangeError("fitPoly: the weighted normal equations are singular; lower the bias degree or check the mask");
        A[a * T + a] = Math.sqrt(s);
      } else {
        A[a * T + b] = s / (A[b * T + b] as number);
      }
    }
  }
  const y = new Float64Array(T);
  for (let a = 0; a < T; a++) {
    let s = rhs[a] as number;
    for (let c = 0; c < a; c++) s -= (A[a * T + c] as number) * (y[c] as number);
    y[a] = s / (A[a * T + a] as number);
  }
  const coef = new Float64Array(T);
  for (let a = T - 1; a >= 0; a--) {
    let s = y[a] as number;
    for (let c = a + 1; c < T; c++) s -= (A[c * T + a] as number) * (coef[c] as number);
    coef[a] = s / (A[a * T + a] as number);
  }
  return coef;
}

/** Weighted least-squares coefficients for the samples at voxel indices `index` (designMatrix + solveWeighted). */
export function fitPoly(basis: PolyBasis, dims: Dims3, index: Int32Array, r: Float64Array, w: Float64Array, shrink = 0): Float64Array {
  return solveWeighted(designMatrix(basis, dims, index), basis.terms.length, r, w, shrink);
}

/** log B at the voxels `index` (increasing voxel indices make this fast: one collapse per (j, k) line). */
export function evalPoly(basis: PolyBasis, coef: Float64Array, dims: Dims3, index: Int32Array, out: Float64Array): void {
  const [nx, ny] = dims;
  const m = basis.degree + 1;
  const [tx, ty, tz] = basis.tables;
  const g = new Float64Array(m);
  let line = -1;
  for (let s = 0; s < index.length; s++) {
    const idx = index[s] as number;
    const jk = Math.floor(idx / nx);
    if (jk !== line) {
      line = jk;
      const j = jk % ny;
      const k = Math.floor(jk / ny);
      g.fill(0);
      for (let t = 0; t < basis.terms.length; t++) {
        const [a, b, c] = basis.terms[t] as readonly [number, number, number];
        g[a] = (g[a] as number) + (coef[t] as number) * (ty[j * m + b] as number) * (tz[k * m + c] as number);
      }
    }
    const i = idx - jk * nx;
    let v = 0;
    for (let a = 0; a < m; a++) v += (g[a] as number) * (tx[i * m + a] as number);
    out[s] = v;
  }
}
