// The displacement of a Siemens gradient coil's nonlinearity at a point, from its .grad coefficients,
// in the convention of the HCP gradunwarp tool (github Washington-University/gradunwarp,
// gradunwarp/core/unwarp_resample.py: eval_spherical_harmonics and siemens_B), which we follow so that
// the same file gives the same field:
//
//   d_a(x, y, z) = R0 * sum_{n=0..nmax} sum_{m=0..n} (r / R0)^n * N_nm * P_n^m(cos theta)
//                       * (alpha^a_nm cos(m phi) + beta^a_nm sin(m phi))            (mm)
//
// for each gradient axis a = x, y, z, with (r, theta, phi) the spherical coordinates of the point
// (x, y, z) in mm relative to the gradient isocentre, R0 the file's reference radius (mm), and Siemens'
// normalisation N_n0 = 1, N_nm = (-1)^m sqrt((2n + 1) (n - m)! / (2 (n + m)!)) for m > 0 applied to
// scipy's lpmv(m, n, .), which carries the Condon-Shortley phase (-1)^m: the two signs cancel, so
// N_nm P_n^m = sqrt((2n + 1) (n - m)! / (2 (n + m)!)) * Pbar_n^m with Pbar_n^m the associated Legendre
// function WITHOUT that phase (Pbar_1^1 = +sin theta). d_a is the displacement along axis a itself:
// gradunwarp adds it to the coordinate (there is no separate linear-term removal; the coefficients of a
// .grad file describe the field error).
//
// The frame (x, y, z) is gradunwarp's LAI: x = left, y = anterior, z = inferior, i.e. RAS world
// coordinates with x and z negated (its m_ras2lai = diag(-1, 1, -1)). Converting to world coordinates
// is done in displacement.ts.
//
// Evaluation without angles: r^n Pbar_n^m(cos theta) e^{i m phi} (with r scaled by R0) is the regular
// solid harmonic Q_n^m(X, Y, Z), a homogeneous polynomial of degree n:
//   Q_m^m     = (2m - 1)!! (X + iY)^m
//   Q_{m+1}^m = (2m + 1) Z Q_m^m
//   (n - m) Q_n^m = (2n - 1) Z Q_{n-1}^m - (n + m - 1) (X^2 + Y^2 + Z^2) Q_{n-2}^m
// (the three-term Legendre recurrence times r^n e^{i m phi}). cos(m phi) and sin(m phi) terms are its
// real and imaginary parts. Differentiating the recurrences gives the gradient exactly, for the Jacobian
// of the displacement; no finite differences and no singularity at the isocentre or on the z axis.
import type { AxisCoefficients, GradCoefficients } from "./grad_file.js";

/** sqrt((2n + 1) (n - m)! / (2 (n + m)!)) for m > 0, 1 for m = 0 (see above). */
export function siemensNorm(n: number, m: number): number {
  if (m === 0) return 1;
  let ratio = 1; // (n - m)! / (n + m)!
  for (let k = n - m + 1; k <= n + m; k++) ratio /= k;
  return Math.sqrt(((2 * n + 1) * ratio) / 2);
}

/** For one order m: the highest degree with a non-zero coefficient, and the scaled coefficients. */
interface OrderPlan {
  readonly m: number;
  readonly top: number;
  /** For n = m..top: [ax, bx, ay, by, az, bz] * N_nm at 6 * (n - m). */
  readonly c: Float64Array;
  /** Whether degree n has any non-zero coefficient (skips the accumulation otherwise). */
  readonly used: Uint8Array;
}

/**
 * Evaluates the displacement (mm, gradient frame) and its gradient at points given in mm relative to the
 * isocentre, in the gradient (LAI) frame.
 */
export class SiemensField {
  readonly r0: number;
  readonly nmax: number;
  readonly #plans: OrderPlan[];

  constructor(coeffs: GradCoefficients) {
    if (!(coeffs.r0 > 0)) throw new RangeError(`SiemensField: R0 must be > 0 mm, got ${coeffs.r0}`);
    this.r0 = coeffs.r0;
    this.nmax = coeffs.nmax;
    const stride = coeffs.nmax + 1;
    const axes: AxisCoefficients[] = [coeffs.x, coeffs.y, coeffs.z];
    this.#plans = [];
    for (let m = 0; m <= coeffs.nmax; m++) {
      let top = -1;
      for (let n = m; n <= coeffs.nmax; n++) {
        for (const a of axes) if ((a.alpha[n * stride + m] as number) !== 0 || (m > 0 && (a.beta[n * stride + m] as number) !== 0)) top = n;
      }
      if (top < 0) continue;
      const c = new Float64Array(6 * (top - m + 1));
      const used = new Uint8Array(top - m + 1);
      for (let n = m; n <= top; n++) {
        const norm = siemensNorm(n, m);
        for (let a = 0; a < 3; a++) {
          const ax = axes[a] as AxisCoefficients;
          const al = (ax.alpha[n * stride + m] as number) * norm;
          const be = m > 0 ? (ax.beta[n * stride + m] as number) * norm : 0; // sin(0 phi) = 0
          c[6 * (n - m) + 2 * a] = al;
          c[6 * (n - m) + 2 * a + 1] = be;
          if (al !== 0 || be !== 0) used[n - m] = 1;
        }
      }
      this.#plans.push({ m, top, c, used });
    }
  }

  /** The degree of the displacement as a polynomial in the coordinates (nmax of the non-zero terms). */
  get degree(): number {
    let d = 0;
    for (const p of this.#plans) d = Math.max(d, p.top);
    return d;
  }

  /**
   * Displacement d (mm) at gradient-frame point (x, y, z) (mm from the isocentre) into d[0..2]; with
   * `jac`, also jac[3a + b] = d d_a / d x_b (dimensionless).
   */
  evaluate(x: number, y: number, z: number, d: Float64Array, jac: Float64Array | null): void {
    const inv = 1 / this.r0;
    const X = x * inv;
    const Y = y * inv;
    const Z = z * inv;
    const rho2 = X * X + Y * Y + Z * Z;
    let dx = 0, dy = 0, dz = 0;
    if (jac) jac.fill(0);
    // W^m and W^(m-1) for W = X + iY, advanced as m grows.
    let wr = 1, wi = 0, w1r = 0, w1i = 0;
    let mCur = 0;
    let dfact = 1; // (2m - 1)!!
    for (const plan of this.#plans) {
      const m = plan.m;
      while (mCur < m) {
        w1r = wr;
        w1i = wi;
        const t = wr * X - wi * Y;
        wi = wr * Y + wi * X;
        wr = t;
        mCur++;
        dfact *= 2 * mCur - 1;
      }
      // Q_{n-1} (a*) and Q_{n-2} (b*): value re/im and d/dX, d/dY, d/dZ re/im.
      let ar = dfact * wr, ai = dfact * wi;
      let axr = dfact * m * w1r, axi = dfact * m * w1i;
      let ayr = -dfact * m * w1i, ayi = dfact * m * w1r; // d/dY (X + iY)^m = i m (X + iY)^(m-1)
      let azr = 0, azi = 0;
      let br = 0, bi = 0, bxr = 0, bxi = 0, byr = 0, byi = 0, bzr = 0, bzi = 0;
      const c = plan.c;
      for (let n = m; n <= plan.top; n++) {
        if (n > m) {
          // Q_n from Q_{n-1} (a) and Q_{n-2} (b); for n = m + 1, b = 0.
          const f1 = (2 * n - 1) / (n - m);
          const f2 = (n + m - 1) / (n - m);
          const nr = f1 * Z * ar - f2 * rho2 * br;
          const ni = f1 * Z * ai - f2 * rho2 * bi;
          const nxr = f1 * Z * axr - f2 * (2 * X * br + rho2 * bxr);
          const nxi = f1 * Z * axi - f2 * (2 * X * bi + rho2 * bxi);
          const nyr = f1 * Z * ayr - f2 * (2 * Y * br + rho2 * byr);
          const nyi = f1 * Z * ayi - f2 * (2 * Y * bi + rho2 * byi);
          const nzr = f1 * (ar + Z * azr) - f2 * (2 * Z * br + rho2 * bzr);
          const nzi = f1 * (ai + Z * azi) - f2 * (2 * Z * bi + rho2 * bzi);
          br = ar; bi = ai; bxr = axr; bxi = axi; byr = ayr; byi = ayi; bzr = azr; bzi = azi;
          ar = nr; ai = ni; axr = nxr; axi = nxi; ayr = nyr; ayi = nyi; azr = nzr; azi = nzi;
        }
        if (plan.used[n - m] === 0) continue;
        const o = 6 * (n - m);
        const cxa = c[o] as number, cxb = c[o + 1] as number;
        const cya = c[o + 2] as number, cyb = c[o + 3] as number;
        const cza = c[o + 4] as number, czb = c[o + 5] as number;
        dx += cxa * ar + cxb * ai;
        dy += cya * ar + cyb * ai;
        dz += cza * ar + czb * ai;
        if (jac) {
          jac[0] = (jac[0] as number) + cxa * axr + cxb * axi;
          jac[1] = (jac[1] as number) + cxa * ayr + cxb * ayi;
          jac[2] = (jac[2] as number) + cxa * azr + cxb * azi;
          jac[3] = (jac[3] as number) + cya * axr + cyb * axi;
          jac[4] = (jac[4] as number) + cya * ayr + cyb * ayi;
          jac[5] = (jac[5] as number) + cya * azr + cyb * azi;
          jac[6] = (jac[6] as number) + cza * axr + czb * axi;
          jac[7] = (jac[7] as number) + cza * ayr + czb * ayi;
          jac[8] = (jac[8] as number) + cza * azr + czb * azi;
        }
      }
    }
    // d = R0 * sum; d(d)/dx = R0 * (1 / R0) * d(sum)/dX: the Jacobian sums need no scaling.
    d[0] = dx * this.r0;
    d[1] = dy * this.r0;
    d[2] = dz * this.r0;
  }
}
