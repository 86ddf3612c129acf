// Cholesky factorisation A = L L^T of a symmetric positive definite band matrix, for the B-spline
// normal equations (bspline_fit.ts). Storage: the lower band, row by row: row i holds columns
// i - bandwidth .. i at positions 0 .. bandwidth (entries left of column 0 are unused). Cost
// n * bandwidth^2 / 2 multiply-adds to factorise, 2 n * bandwidth per solve.

export class BandedCholesky {
  readonly n: number;
  readonly bandwidth: number;
  readonly #l: Float64Array;

  /**
   * Factorises in place the lower band `band` (n * (bandwidth + 1) values, see above). Throws when a
   * pivot is not positive (the matrix is not positive definite).
   */
  constructor(n: number, bandwidth: number, band: Float64Array) {
    if (!Number.isInteger(n) || n < 1 || !Number.isInteger(bandwidth) || bandwidth < 0) {
      throw new RangeError(`BandedCholesky: n must be >= 1 and bandwidth >= 0 (integers), got n ${n}, bandwidth ${bandwidth}`);
    }
    const w = bandwidth + 1;
    if (band.length !== n * w) throw new RangeError(`BandedCholesky: band must hold n * (bandwidth + 1) = ${n * w} values, got ${band.length}`);
    this.n = n;
    this.bandwidth = bandwidth;
    const l = band;
    for (let i = 0; i < n; i++) {
      const k0 = Math.max(0, i - bandwidth);
      const ri = i * w - i + bandwidth; // l[ri + col] = L[i, col]
      for (let j = k0; j <= i; j++) {
        const rj = j * w - j + bandwidth;
        let s = l[ri + j] as number;
        for (let k = k0; k < j; k++) s -= (l[ri + k] as number) * (l[rj + k] as number);
        if (j < i) l[ri + j] = s / (l[rj + j] as number);
        else {
          if (!(s > 0)) throw new RangeError(`BandedCholesky: pivot ${i} is ${s}; the matrix is not positive definite`);
          l[ri + j] = Math.sqrt(s);
        }
      }
    }
    this.#l = l;
  }

  /** x with A x = b. */
  solve(b: ArrayLike<number>): Float64Array {
    const { n, bandwidth } = this;
    if (b.length !== n) throw new RangeError(`BandedCholesky.solve: right-hand side has ${b.length} values, the matrix ${n} rows`);
    const w = bandwidth + 1;
    const l = this.#l;
    const x = Float64Array.from(b);
    for (let i = 0; i < n; i++) {
      const ri = i * w - i + bandwidth;
      let s = x[i] as number;
      for (let k = Math.max(0, i - bandwidth); k < i; k++) s -= (l[ri + k] as number) * (x[k] as number);
      x[i] = s / (l[ri + i] as number);
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = x[i] as number;
      const end = Math.min(n - 1, i + bandwidth);
      for (let k = i + 1; k <= end; k++) s -= (l[k * w - k + bandwidth + i] as number) * (x[k] as number);
      x[i] = s / (l[i * w - i + bandwidth + i] as number);
    }
    return x;
  }
}
