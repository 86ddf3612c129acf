// Least-squares fit of a cubic B-spline lattice (bspline_lattice.ts) to values at scattered points (the
// shrunken mask voxels), as N4 does each iteration for the residual log bias field.
//
// Minimises  sum_p (f(x_p) - r_p)^2 + lambda * sum_axes sum (second differences of the control
// points along that axis)^2 + eps * |c|^2.
// The smoothness term decides the control points that data do not reach (lattice corners outside a
// brain mask): they continue the fitted field smoothly (its null space is functions linear along
// each axis) instead of dropping to 0. lambda = smoothing * (mean diagonal of A^T A) / (mean diagonal
// of the smoothness matrix), so `smoothing` is relative and independent of the point count; eps
// (1e-12 relative) only makes the system definite when data and smoothness leave a direction free
// (e.g. a single-slice image). N4 itself uses Lee et al.'s scattered-data approximation, which is not
// a least-squares fit; least squares reproduces a field of the spline space exactly (smoothing 0).
// Solver: the normal matrix is sparse with a fixed 7x7x7 stencil (control points interact when their
// supports overlap), stored per control point (n x 343 values) and assembled once per level (the points
// and lattice do not change within a level). It is badly conditioned (the outermost control points only
// reach the domain through the small tails of their basis functions: condition numbers of 1e8..1e10
// are usual), so conjugate gradients converge slowly; it is factorised once per level by a banded
// Cholesky decomposition (control points ordered with the longest lattice axis slowest, so the band is
// 3 (1 + a + a b) wide for the two shorter axes a, b) and each right-hand side costs two triangular
// solves. Lattices whose factorisation would be too costly (very fine lattices: small spline distance,
// many levels) fall back to Jacobi-preconditioned conjugate gradients.
import { axisWeights, type Lattice, type Triple } from "./bspline_lattice.js";
import { BandedCholesky } from "./banded_cholesky.js";

const STENCIL = 343;
/** Largest normal matrix we assemble (n x 343 doubles): about 400 MB. */
const MAX_STENCIL_VALUES = 50_000_000;
/** Banded Cholesky only below these costs (multiply-adds of the factorisation; band values stored). */
const MAX_CHOLESKY_WORK = 4e9;
const MAX_BAND_VALUES = 30_000_000;

/** Points' lattice weights: for point p, control points base[p] + local offsets, weights w[12 p ..] per axis. */
export interface PointWeights {
  readonly count: number;
  readonly size: Triple;
  /** Linear index of the first (lowest) control point of each point's 4x4x4 block. */
  readonly base: Int32Array;
  /** 12 weights per point: 4 along x, 4 along y, 4 along z. */
  readonly w: Float64Array;
}

/** Weights of the points at voxel coordinates (xs, ys, zs) on the lattice. */
export function pointWeights(lattice: Lattice, xs: ArrayLike<number>, ys: ArrayLike<number>, zs: ArrayLike<number>): PointWeights {
  const n = xs.length;
  if (ys.length !== n || zs.length !== n) throw new RangeError(`pointWeights: coordinate arrays differ in length (${n}, ${ys.length}, ${zs.length})`);
  const base = new Int32Array(n);
  const w = new Float64Array(12 * n);
  const [l0, l1] = lattice.size;
  for (let p = 0; p < n; p++) {
    const sx = axisWeights(xs[p] as number, lattice.knotSpacing[0], lattice.spans[0], w, 12 * p);
    const sy = axisWeights(ys[p] as number, lattice.knotSpacing[1], lattice.spans[1], w, 12 * p + 4);
    const sz = axisWeights(zs[p] as number, lattice.knotSpacing[2], lattice.spans[2], w, 12 * p + 8);
    base[p] = sx + l0 * (sy + l1 * sz);
  }
  return { count: n, size: lattice.size, base, w };
}

/** Offsets of the 64 control points of a block from its base, for a lattice of `size`. */
function localOffsets(size: Triple): Int32Array {
  const o = new Int32Array(64);
  for (let c = 0; c < 4; c++) for (let b = 0; b < 4; b++) for (let a = 0; a < 4; a++) o[a + 4 * b + 16 * c] = a + size[0] * (b + size[1] * c);
  return o;
}

/** The 64 tensor-product weights of point p into `out`. */
function blockWeights(pw: PointWeights, p: number, out: Float64Array): void {
  const w = pw.w;
  const o = 12 * p;
  for (let c = 0; c < 4; c++) {
    const wc = w[o + 8 + c] as number;
    for (let b = 0; b < 4; b++) {
      const wbc = (w[o + 4 + b] as number) * wc;
      for (let a = 0; a < 4; a++) out[a + 4 * b + 16 * c] = (w[o + a] as number) * wbc;
    }
  }
}

/** f(x_p) for all points: A c. */
export function evaluateAtPoints(pw: PointWeights, coefficients: Float64Array, out = new Float64Array(pw.count)): Float64Array {
  const local = localOffsets(pw.size);
  const wb = new Float64Array(64);
  for (let p = 0; p < pw.count; p++) {
    blockWeights(pw, p, wb);
    const base = pw.base[p] as number;
    let v = 0;
    for (let q = 0; q < 64; q++) v += (wb[q] as number) * (coefficients[base + (local[q] as number)] as number);
    out[p] = v;
  }
  return out;
}

/** A^T r: the right-hand side of the normal equations. */
export function transposeApply(pw: PointWeights, values: ArrayLike<number>, out: Float64Array): Float64Array {
  if (values.length !== pw.count) throw new RangeError(`transposeApply: ${values.length} values for ${pw.count} points`);
  out.fill(0);
  const local = localOffsets(pw.size);
  const wb = new Float64Array(64);
  for (let p = 0; p < pw.count; p++) {
    blockWeights(pw, p, wb);
    const base = pw.base[p] as number;
    const r = values[p] as number;
    for (let q = 0; q < 64; q++) {
      const i = base + (local[q] as number);
      out[i] = (out[i] as number) + (wb[q] as number) * r;
    }
  }
  return out;
}

export interface SolveStats {
  /** "cholesky" (direct) or "cg" (conjugate gradients). */
  readonly method: "cholesky" | "cg";
  /** CG iterations (0 for the direct solver). */
  readonly iterations: number;
  /** |b - M x| / |b| at the end (0 for b = 0). */
  readonly relativeResidual: number;
}

/** The regularised normal equations of one lattice and point set, ready to solve for many right-hand sides. */
export class SplineSystem {
  readonly size: Triple;
  readonly n: number;
  readonly lambda: number;
  readonly #m: Float64Array;
  readonly #invDiag: Float64Array;
  readonly #cholesky: { factor: BandedCholesky; perm: Int32Array } | undefined;

  /** `solver`: "auto" (default) factorises when affordable, "cg" forces conjugate gradients (for tests). */
  constructor(pw: PointWeights, smoothing: number, solver: "auto" | "cg" = "auto") {
    if (!(Number.isFinite(smoothing) && smoothing >= 0)) throw new RangeError(`SplineSystem: smoothing must be a number >= 0, got ${smoothing}`);
    this.size = pw.size;
    const [l0, l1, l2] = pw.size;
    const n = l0 * l1 * l2;
    this.n = n;
    if (n * STENCIL > MAX_STENCIL_VALUES) {
      throw new RangeError(
        `B-spline fit: the lattice has ${l0}x${l1}x${l2} = ${n} control points, too many for the normal equations in memory; ` +
          "use a larger --spline-distance or fewer levels in --iterations",
      );
    }
    const m = new Float64Array(n * STENCIL);
    // Data term A^T A.
    const local = localOffsets(pw.size);
    const pair = new Int32Array(64 * 64);
    for (let q1 = 0; q1 < 64; q1++) {
      for (let q2 = 0; q2 < 64; q2++) {
        const da = (q2 & 3) - (q1 & 3);
        const db = ((q2 >> 2) & 3) - ((q1 >> 2) & 3);
        const dc = (q2 >> 4) - (q1 >> 4);
        pair[64 * q1 + q2] = da + 3 + 7 * (db + 3 + 7 * (dc + 3));
      }
    }
    const wb = new Float64Array(64);
    for (let p = 0; p < pw.count; p++) {
      blockWeights(pw, p, wb);
      const base = pw.base[p] as number;
      for (let q1 = 0; q1 < 64; q1++) {
        const w1 = wb[q1] as number;
        const row = (base + (local[q1] as number)) * STENCIL;
        const pq = 64 * q1;
        for (let q2 = 0; q2 < 64; q2++) {
          const e = row + (pair[pq + q2] as number);
          m[e] = (m[e] as number) + w1 * (wb[q2] as number);
        }
      }
    }
    const CENTRE = 3 + 7 * (3 + 7 * 3);
    let dataTrace = 0;
    for (let i = 0; i < n; i++) dataTrace += m[i * STENCIL + CENTRE] as number;
    // Smoothness term: sum over axes of D2^T D2 (second differences of consecutive control points).
    const smooth = new Float64Array(n * STENCIL);
    const strides = [1, l0, l0 * l1];
    const codeStep = [1, 7, 49];
    let smoothTrace = 0;
    for (let axis = 0; axis < 3; axis++) {
      const len = pw.size[axis] as number;
      const stride = strides[axis] as number;
      const step = codeStep[axis] as number;
      for (let c = 0; c < n; c++) {
        const pos = axis === 0 ? c % l0 : axis === 1 ? Math.floor(c / l0) % l1 : Math.floor(c / (l0 * l1));
        if (pos < 1 || pos > len - 2) continue;
        // d = c[pos - 1] - 2 c[pos] + c[pos + 1]: add its outer product.
        const idx = [c - stride, c, c + stride];
        const coef = [1, -2, 1];
        for (let u = 0; u < 3; u++) {
          for (let v = 0; v < 3; v++) {
            const e = (idx[u] as number) * STENCIL + CENTRE + (v - u) * step;
            smooth[e] = (smooth[e] as number) + (coef[u] as number) * (coef[v] as number);
          }
        }
      }
    }
    for (let i = 0; i < n; i++) smoothTrace += smooth[i * STENCIL + CENTRE] as number;
    const dataMean = dataTrace / n;
    this.lambda = smoothTrace > 0 ? (smoothing * dataMean) / (smoothTrace / n) : 0;
    const eps = 1e-12 * (dataMean > 0 ? dataMean : 1);
    for (let e = 0; e < m.length; e++) m[e] = (m[e] as number) + this.lambda * (smooth[e] as number);
    this.#invDiag = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const d = (m[i * STENCIL + CENTRE] as number) + eps;
      m[i * STENCIL + CENTRE] = d;
      this.#invDiag[i] = 1 / d;
    }
    this.#m = m;
    this.#cholesky = solver === "auto" ? this.#factorise() : undefined;
  }

  /** Which solver `solve` uses. */
  get method(): "cholesky" | "cg" {
    return this.#cholesky === undefined ? "cg" : "cholesky";
  }

  /** The banded Cholesky factor with the longest axis slowest, or undefined when too costly. */
  #factorise(): { factor: BandedCholesky; perm: Int32Array } | undefined {
    const size = this.size;
    const order = ([0, 1, 2] as const).slice().sort((a, b) => size[a] - size[b]) as [0 | 1 | 2, 0 | 1 | 2, 0 | 1 | 2];
    const s0 = size[order[0]];
    const s1 = size[order[1]];
    const bw = 3 * (1 + s0 + s0 * s1);
    const n = this.n;
    const band = Math.min(bw, n - 1);
    if ((n * band * band) / 2 > MAX_CHOLESKY_WORK || n * (band + 1) > MAX_BAND_VALUES) return undefined;
    const [l0, l1, l2] = size;
    const perm = new Int32Array(n);
    const pos = [0, 0, 0];
    for (pos[2] = 0; (pos[2] as number) < l2; pos[2]++) {
      for (pos[1] = 0; (pos[1] as number) < l1; pos[1]++) {
        for (pos[0] = 0; (pos[0] as number) < l0; pos[0]++) {
          const c = (pos[0] as number) + l0 * ((pos[1] as number) + l1 * (pos[2] as number));
          perm[c] = (pos[order[0]] as number) + s0 * ((pos[order[1]] as number) + s1 * (pos[order[2]] as number));
        }
      }
    }
    const w = band + 1;
    const lower = new Float64Array(n * w);
    const m = this.#m;
    for (let k = 0; k < l2; k++) {
      for (let j = 0; j < l1; j++) {
        for (let i = 0; i < l0; i++) {
          const c = i + l0 * (j + l1 * k);
          const pc = perm[c] as number;
          for (let dz = Math.max(-3, -k); dz <= Math.min(3, l2 - 1 - k); dz++) {
            for (let dy = Math.max(-3, -j); dy <= Math.min(3, l1 - 1 - j); dy++) {
              for (let dx = Math.max(-3, -i); dx <= Math.min(3, l0 - 1 - i); dx++) {
                const pn = perm[c + dx + l0 * (dy + l1 * dz)] as number;
                if (pn > pc) continue;
                lower[pc * w - pc + band + pn] = m[c * STENCIL + dx + 3 + 7 * (dy + 3 + 7 * (dz + 3))] as number;
              }
            }
          }
        }
      }
    }
    return { factor: new BandedCholesky(n, band, lower), perm };
  }

  /** y = M x. */
  multiply(x: Float64Array, y: Float64Array): void {
    const [l0, l1, l2] = this.size;
    const m = this.#m;
    for (let k = 0; k < l2; k++) {
      const dz0 = Math.max(-3, -k);
      const dz1 = Math.min(3, l2 - 1 - k);
      for (let j = 0; j < l1; j++) {
        const dy0 = Math.max(-3, -j);
        const dy1 = Math.min(3, l1 - 1 - j);
        for (let i = 0; i < l0; i++) {
          const dx0 = Math.max(-3, -i);
          const dx1 = Math.min(3, l0 - 1 - i);
          const c = i + l0 * (j + l1 * k);
          const row = c * STENCIL;
          let s = 0;
          for (let dz = dz0; dz <= dz1; dz++) {
            for (let dy = dy0; dy <= dy1; dy++) {
              const xo = c + l0 * (dy + l1 * dz);
              const mo = row + 3 + 7 * (dy + 3 + 7 * (dz + 3));
              for (let dx = dx0; dx <= dx1; dx++) s += (m[mo + dx] as number) * (x[xo + dx] as number);
            }
          }
          y[c] = s;
        }
      }
    }
  }

  /** |b - M x| / |b| (0 for b = 0). */
  relativeResidual(x: Float64Array, b: Float64Array): number {
    const r = new Float64Array(this.n);
    this.multiply(x, r);
    let num = 0;
    let den = 0;
    for (let i = 0; i < this.n; i++) {
      num += ((b[i] as number) - (r[i] as number)) ** 2;
      den += (b[i] as number) ** 2;
    }
    return den === 0 ? 0 : Math.sqrt(num / den);
  }

  /**
   * Solves M x = b: directly with the banded Cholesky factor when there is one, else by
   * Jacobi-preconditioned conjugate gradients from x = 0 until |b - M x| <= tol |b| or maxIterations.
   */
  solve(b: Float64Array, o: { tol?: number; maxIterations?: number } = {}): { x: Float64Array; stats: SolveStats } {
    const n = this.n;
    if (b.length !== n) throw new RangeError(`SplineSystem.solve: right-hand side has ${b.length} values, the lattice ${n}`);
    const ch = this.#cholesky;
    if (ch !== undefined) {
      const pb = new Float64Array(n);
      for (let c = 0; c < n; c++) pb[ch.perm[c] as number] = b[c] as number;
      const px = ch.factor.solve(pb);
      const x = new Float64Array(n);
      for (let c = 0; c < n; c++) x[c] = px[ch.perm[c] as number] as number;
      return { x, stats: { method: "cholesky", iterations: 0, relativeResidual: this.relativeResidual(x, b) } };
    }
    const tol = o.tol ?? 1e-6;
    const maxIterations = o.maxIterations ?? 2000;
    const x = new Float64Array(n);
    const r = Float64Array.from(b);
    const z = new Float64Array(n);
    const p = new Float64Array(n);
    const q = new Float64Array(n);
    let bNorm = 0;
    for (let i = 0; i < n; i++) bNorm += (b[i] as number) ** 2;
    bNorm = Math.sqrt(bNorm);
    if (bNorm === 0) return { x, stats: { method: "cg", iterations: 0, relativeResidual: 0 } };
    const inv = this.#invDiag;
    let rz = 0;
    for (let i = 0; i < n; i++) {
      z[i] = (r[i] as number) * (inv[i] as number);
      p[i] = z[i] as number;
      rz += (r[i] as number) * (z[i] as number);
    }
    let it = 0;
    let rNorm = bNorm;
    while (it < maxIterations && rNorm > tol * bNorm) {
      this.multiply(p, q);
      let pq = 0;
      for (let i = 0; i < n; i++) pq += (p[i] as number) * (q[i] as number);
      if (!(pq > 0)) break;
      const alpha = rz / pq;
      let rr = 0;
      let rzNew = 0;
      for (let i = 0; i < n; i++) {
        x[i] = (x[i] as number) + alpha * (p[i] as number);
        const ri = (r[i] as number) - alpha * (q[i] as number);
        r[i] = ri;
        const zi = ri * (inv[i] as number);
        z[i] = zi;
        rr += ri * ri;
        rzNew += ri * zi;
      }
      const beta = rzNew / rz;
      rz = rzNew;
      for (let i = 0; i < n; i++) p[i] = (z[i] as number) + beta * (p[i] as number);
      rNorm = Math.sqrt(rr);
      it++;
    }
    return { x, stats: { method: "cg", iterations: it, relativeResidual: rNorm / bNorm } };
  }
}

/** One-shot least-squares fit of a lattice to values at points; returns the control points. */
export function fitBSpline(
  pw: PointWeights,
  values: ArrayLike<number>,
  smoothing: number,
  o: { tol?: number; maxIterations?: number; solver?: "auto" | "cg" } = {},
): { coefficients: Float64Array; stats: SolveStats } {
  const system = new SplineSystem(pw, smoothing, o.solver ?? "auto");
  const rhs = transposeApply(pw, values, new Float64Array(system.n));
  const { x, stats } = system.solve(rhs, o);
  return { coefficients: x, stats };
}

