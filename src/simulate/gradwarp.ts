// A smooth displacement field standing in for gradient nonlinearity in simulated acquisitions.
//
// Model: u(p) (mm, world axes) = sum over monomials q^t of total degree 2 and 3 of C[d][t] q^t, for each
// world component d, with q = (p - centre) / R, centre the reference FOV centre and R half the FOV
// diagonal (so |q| <= 1 in the FOV). Terms of degree 0 and 1 are left out: u and its gradient vanish at
// the centre (the linear part of a gradient is what calibration removes), and |u| grows away from it,
// as gradient nonlinearity does. Coefficients are N(0, 1), times 0.5 for degree 2 (real gradient coils
// are dominated by odd, third-order terms), then scaled so that max |u| over a 65^3 lattice spanning
// the FOV box (faces included) equals the requested maximum displacement in mm.
//
// Warp (pull-back, intensity conserving): I'(x) = I(x + u(x)) * det(I + grad u(x)). The image shows
// at x what lies at x + u(x), and the Jacobian factor keeps the total signal: the integral of I' over
// the FOV equals the integral of I over the warped FOV (change of variables). I is sampled with
// cubic B-splines (bspline.ts, mirror boundary); points outside the FOV read 0. A field that folds the
// FOV (det <= 0 on the lattice) is rejected.
//
// Maps: the displacement components, its magnitude |u| in mm (this is the g map the model's encoder
// receives) and det(I + grad u); all analytic, so they can be evaluated on any grid.
import type { Random } from "../util/random.js";
import { applyToPoint, checkAffine, invert, type Grid, type Vec3 } from "../volume/affine.js";
import { BSplineSampler, prefilterBSpline } from "../volume/bspline.js";
import { checkVolume, type Volume } from "../volume/volume.js";

/** Exponents (a, b, c) of the monomials qx^a qy^b qz^c, total degree 2 and 3, in a fixed order. */
export const GRADWARP_TERMS: readonly (readonly [number, number, number])[] = (() => {
  const t: [number, number, number][] = [];
  for (let d = 2; d <= 3; d++) {
    for (let a = d; a >= 0; a--) for (let b = d - a; b >= 0; b--) t.push([a, b, d - a - b]);
  }
  return t;
})();
const NT = GRADWARP_TERMS.length;
const LATTICE = 65;
/** Tolerance (voxels) on the FOV faces when sampling the warped image. */
const EDGE_EPS = 1e-6;

export interface GradwarpField {
  /** max |u| (mm) over the FOV lattice; 0 means no displacement. */
  readonly maxDisplacement: number;
  readonly reference: Grid;
  /** World position (mm) where u = 0 and grad u = 0: the reference FOV centre. */
  readonly centre: Vec3;
  /** R (mm): half the FOV diagonal. */
  readonly radius: number;
  /** C[d][t] in mm, component d (world x, y, z) major: C[d * GRADWARP_TERMS.length + t]. */
  readonly coefficients: Float64Array;
}

/** Displacement and Jacobian at one point. */
export interface GradwarpSample {
  readonly u: [number, number, number];
  /** det(I + grad u). */
  readonly jacobian: number;
}

export interface GradwarpMaps {
  /** World x, y, z components of u (mm). */
  readonly displacement: readonly [Volume, Volume, Volume];
  /** |u| (mm): the g map. */
  readonly magnitude: Volume;
  /** det(I + grad u). */
  readonly jacobian: Volume;
}

function checkGrid(g: Grid, what: string): void {
  if (g.dims.length !== 3 || g.dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${what}: dims must be 3 positive integers, got [${g.dims.join(", ")}]`);
  }
  checkAffine(g.affine, `${what} affine`);
}

/**
 * Evaluates u and (when jac is given) grad u at q (normalised), into u[0..2] and jac[0..8] (row d, column e:
 * du_d/dq_e). `pw` is 12 values of scratch.
 */
function evalField(c: Float64Array, q0: number, q1: number, q2: number, u: Float64Array, jac: Float64Array | null, pw: Float64Array): void {
  pw[0] = 1;
  pw[1] = q0;
  pw[2] = q0 * q0;
  pw[3] = pw[2] * q0;
  pw[4] = 1;
  pw[5] = q1;
  pw[6] = q1 * q1;
  pw[7] = pw[6] * q1;
  pw[8] = 1;
  pw[9] = q2;
  pw[10] = q2 * q2;
  pw[11] = pw[10] * q2;
  u[0] = u[1] = u[2] = 0;
  if (jac) jac.fill(0);
  for (let t = 0; t < NT; t++) {
    const [a, b, cc] = GRADWARP_TERMS[t] as readonly [number, number, number];
    const x = pw[a] as number;
    const y = pw[4 + b] as number;
    const z = pw[8 + cc] as number;
    const m = x * y * z;
    const c0 = c[t] as number;
    const c1 = c[NT + t] as number;
    const c2 = c[2 * NT + t] as number;
    u[0] = (u[0] as number) + c0 * m;
    u[1] = (u[1] as number) + c1 * m;
    u[2] = (u[2] as number) + c2 * m;
    if (jac) {
      const dx = a > 0 ? a * (pw[a - 1] as number) * y * z : 0;
      const dy = b > 0 ? b * x * (pw[4 + b - 1] as number) * z : 0;
      const dz = cc > 0 ? cc * x * y * (pw[8 + cc - 1] as number) : 0;
      jac[0] = (jac[0] as number) + c0 * dx;
      jac[1] = (jac[1] as number) + c0 * dy;
      jac[2] = (jac[2] as number) + c0 * dz;
      jac[3] = (jac[3] as number) + c1 * dx;
      jac[4] = (jac[4] as number) + c1 * dy;
      jac[5] = (jac[5] as number) + c1 * dz;
      jac[6] = (jac[6] as number) + c2 * dx;
      jac[7] = (jac[7] as number) + c2 * dy;
      jac[8] = (jac[8] as number) + c2 * dz;
    }
  }
}

/** det(I + J / R) for J = du/dq (3x3 row-major). */
function detIdentityPlus(j: Float64Array, invR: number): number {
  const a = 1 + (j[0] as number) * invR;
  const b = (j[1] as number) * invR;
  const c = (j[2] as number) * invR;
  const d = (j[3] as number) * invR;
  const e = 1 + (j[4] as number) * invR;
  const f = (j[5] as number) * invR;
  const g = (j[6] as number) * invR;
  const h = (j[7] as number) * invR;
  const k = 1 + (j[8] as number) * invR;
  return a * (e * k - f * h) - b * (d * k - f * g) + c * (d * h - e * g);
}

/** Calls visit(world point) for every point of a LATTICE^3 lattice spanning the reference FOV box. */
function forLattice(reference: Grid, visit: (p: Vec3) => void): void {
  const [nx, ny, nz] = reference.dims;
  const s = (n: number, t: number) => -0.5 + (n * t) / (LATTICE - 1);
  for (let k = 0; k < LATTICE; k++) {
    for (let j = 0; j < LATTICE; j++) {
      for (let i = 0; i < LATTICE; i++) visit(applyToPoint(reference.affine, [s(nx, i), s(ny, j), s(nz, k)]));
    }
  }
}

/**
 * Draws a random field over the reference FOV with max |u| = maxDisplacement mm (0: no displacement).
 * Throws when the field would fold the FOV (Jacobian determinant <= 0 somewhere on the lattice).
 */
export function randomGradwarpField(reference: Grid, maxDisplacement: number, rng: Random): GradwarpField {
  checkGrid(reference, "randomGradwarpField: reference");
  if (typeof maxDisplacement !== "number" || !Number.isFinite(maxDisplacement) || maxDisplacement < 0) {
    throw new RangeError(`randomGradwarpField: maxDisplacement must be a finite number of mm >= 0, got ${maxDisplacement}`);
  }
  const [nx, ny, nz] = reference.dims;
  const centre = applyToPoint(reference.affine, [(nx - 1) / 2, (ny - 1) / 2, (nz - 1) / 2]);
  const corner = applyToPoint(reference.affine, [-0.5, -0.5, -0.5]);
  const opposite = applyToPoint(reference.affine, [nx - 0.5, ny - 0.5, nz - 0.5]);
  const radius = Math.hypot(opposite[0] - corner[0], opposite[1] - corner[1], opposite[2] - corner[2]) / 2;
  const c = new Float64Array(3 * NT);
  for (let d = 0; d < 3; d++) {
    for (let t = 0; t < NT; t++) {
      const [a, b, cc] = GRADWARP_TERMS[t] as readonly [number, number, number];
      c[d * NT + t] = rng.normal() * (a + b + cc === 2 ? 0.5 : 1);
    }
  }
  const field = {
    maxDisplacement,
    reference: { dims: [nx, ny, nz] as const, affine: Array.from(reference.affine) },
    centre,
    radius,
    coefficients: c,
  };
  if (maxDisplacement === 0) {
    c.fill(0);
    return field;
  }
  const u = new Float64Array(3);
  const pw = new Float64Array(12);
  let max = 0;
  forLattice(reference, (p) => {
    evalField(c, (p[0] - centre[0]) / radius, (p[1] - centre[1]) / radius, (p[2] - centre[2]) / radius, u, null, pw);
    max = Math.max(max, Math.sqrt((u[0] as number) ** 2 + (u[1] as number) ** 2 + (u[2] as number) ** 2));
  });
  if (!(max > 0)) throw new Error("randomGradwarpField: the drawn field is zero on the FOV (draw again with another seed)");
  for (let q = 0; q < c.length; q++) c[q] = ((c[q] as number) * maxDisplacement) / max;
  const jac = new Float64Array(9);
  let minDet = Infinity;
  forLattice(reference, (p) => {
    evalField(c, (p[0] - centre[0]) / radius, (p[1] - centre[1]) / radius, (p[2] - centre[2]) / radius, u, jac, pw);
    minDet = Math.min(minDet, detIdentityPlus(jac, 1 / radius));
  });
  if (!(minDet > 0)) {
    throw new RangeError(
      `gradwarp: a maximum displacement of ${maxDisplacement} mm folds this ${(2 * radius).toFixed(0)} mm field of view ` +
        `(Jacobian determinant down to ${minDet.toFixed(3)}); use a smaller value (a few mm at most)`,
    );
  }
  return field;
}

/** u and det(I + grad u) at one world point (mm). */
export function gradwarpAt(field: GradwarpField, p: Vec3): GradwarpSample {
  const u = new Float64Array(3);
  const jac = new Float64Array(9);
  const { centre, radius } = field;
  evalField(field.coefficients, (p[0] - centre[0]) / radius, (p[1] - centre[1]) / radius, (p[2] - centre[2]) / radius, u, jac, new Float64Array(12));
  return { u: [u[0] as number, u[1] as number, u[2] as number], jacobian: detIdentityPlus(jac, 1 / radius) };
}

/**
 * Evaluates u and det(I + grad u) along grid rows. Along a row the world point is linear in i, so each
 * component of u (degree 3 in q) and of grad u (degree 2) is a cubic in i: it is sampled exactly at
 * i = 0..3 and stepped by forward differences (three additions per value per voxel instead of the full
 * polynomial; round-off grows like i^3 * 1e-16).
 */
class RowEvaluator {
  readonly #field: GradwarpField;
  readonly #grid: Grid;
  readonly #nq: number;
  readonly #u = new Float64Array(3);
  readonly #jac = new Float64Array(9);
  readonly #pw = new Float64Array(12);
  readonly #v: Float64Array;
  readonly #f: Float64Array;
  readonly #d1: Float64Array;
  readonly #d2: Float64Array;
  readonly #d3: Float64Array;
  /** u components of the current row: ux[i], uy[i], uz[i]. */
  readonly ux: Float64Array;
  readonly uy: Float64Array;
  readonly uz: Float64Array;
  /** det(I + grad u) of the current row (when withJacobian). */
  readonly det: Float64Array;

  constructor(field: GradwarpField, grid: Grid, readonly withJacobian: boolean) {
    this.#field = field;
    this.#grid = grid;
    const nq = withJacobian ? 12 : 3;
    this.#nq = nq;
    this.#v = new Float64Array(4 * nq);
    this.#f = new Float64Array(nq);
    this.#d1 = new Float64Array(nq);
    this.#d2 = new Float64Array(nq);
    this.#d3 = new Float64Array(nq);
    const nx = grid.dims[0];
    this.ux = new Float64Array(nx);
    this.uy = new Float64Array(nx);
    this.uz = new Float64Array(nx);
    this.det = new Float64Array(nx);
  }

  /** World position of voxel (0, j, k). */
  rowStart(j: number, k: number): [number, number, number] {
    const a = this.#grid.affine;
    return [
      (a[1] as number) * j + (a[2] as number) * k + (a[3] as number),
      (a[5] as number) * j + (a[6] as number) * k + (a[7] as number),
      (a[9] as number) * j + (a[10] as number) * k + (a[11] as number),
    ];
  }

  /** Fills ux, uy, uz (and det) for row (j, k). */
  row(j: number, k: number): void {
    const a = this.#grid.affine;
    const nx = this.#grid.dims[0];
    const { centre, radius, coefficients } = this.#field;
    const invR = 1 / radius;
    const [bx, by, bz] = this.rowStart(j, k);
    const [a0, a4, a8] = [a[0] as number, a[4] as number, a[8] as number];
    const nq = this.#nq;
    const u = this.#u;
    const jac = this.#jac;
    const v = this.#v;
    const wj = this.withJacobian;
    for (let s = 0; s < 4; s++) {
      evalField(coefficients, (bx + a0 * s - centre[0]) * invR, (by + a4 * s - centre[1]) * invR, (bz + a8 * s - centre[2]) * invR, u, wj ? jac : null, this.#pw);
      for (let q = 0; q < 3; q++) v[s * nq + q] = u[q] as number;
      if (wj) for (let q = 0; q < 9; q++) v[s * nq + 3 + q] = jac[q] as number;
    }
    const f = this.#f;
    const d1 = this.#d1;
    const d2 = this.#d2;
    const d3 = this.#d3;
    for (let q = 0; q < nq; q++) {
      const v0 = v[q] as number;
      const v1 = v[nq + q] as number;
      const v2 = v[2 * nq + q] as number;
      const v3 = v[3 * nq + q] as number;
      f[q] = v0;
      d1[q] = v1 - v0;
      d2[q] = v2 - 2 * v1 + v0;
      d3[q] = v3 - 3 * v2 + 3 * v1 - v0;
    }
    for (let i = 0; i < nx; i++) {
      this.ux[i] = f[0] as number;
      this.uy[i] = f[1] as number;
      this.uz[i] = f[2] as number;
      if (wj) {
        for (let q = 0; q < 9; q++) jac[q] = f[3 + q] as number;
        this.det[i] = detIdentityPlus(jac, invR);
      }
      for (let q = 0; q < nq; q++) {
        f[q] = (f[q] as number) + (d1[q] as number);
        d1[q] = (d1[q] as number) + (d2[q] as number);
        d2[q] = (d2[q] as number) + (d3[q] as number);
      }
    }
  }
}

/** The displacement components, |u| and det(I + grad u) at every voxel centre of `grid`. */
export function gradwarpMaps(field: GradwarpField, grid: Grid): GradwarpMaps {
  checkGrid(grid, "gradwarpMaps: grid");
  const dims: [number, number, number] = [grid.dims[0], grid.dims[1], grid.dims[2]];
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  const make = (data: Float32Array): Volume => ({ data, dims: [...dims], affine: Array.from(grid.affine) });
  const ux = new Float32Array(n);
  const uy = new Float32Array(n);
  const uz = new Float32Array(n);
  const mag = new Float32Array(n);
  const det = new Float32Array(n);
  if (field.maxDisplacement === 0) {
    det.fill(1);
  } else {
    const rows = new RowEvaluator(field, grid, true);
    let o = 0;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        rows.row(j, k);
        for (let i = 0; i < nx; i++, o++) {
          const x = rows.ux[i] as number;
          const y = rows.uy[i] as number;
          const z = rows.uz[i] as number;
          ux[o] = x;
          uy[o] = y;
          uz[o] = z;
          mag[o] = Math.sqrt(x * x + y * y + z * z);
          det[o] = rows.det[i] as number;
        }
      }
    }
  }
  return { displacement: [make(ux), make(uy), make(uz)], magnitude: make(mag), jacobian: make(det) };
}

/**
 * The warped volume on its own grid: I'(x) = I(x + u(x)) * det(I + grad u(x)), cubic B-spline sampling,
 * 0 outside the FOV. With maxDisplacement 0 it returns a copy.
 */
export function warpVolume(volume: Volume, field: GradwarpField): Volume {
  checkVolume(volume, "warpVolume: volume");
  checkAffine(volume.affine, "warpVolume: volume affine");
  const dims: [number, number, number] = [volume.dims[0], volume.dims[1], volume.dims[2]];
  if (field.maxDisplacement === 0) return { data: new Float32Array(volume.data), dims, affine: Array.from(volume.affine) };
  const [nx, ny, nz] = dims;
  const inv = invert(volume.affine, "warpVolume: volume affine");
  const out = new Float32Array(volume.data.length);
  const spline = new BSplineSampler(prefilterBSpline(volume));
  const inside = (x: number, n: number) => x >= -0.5 - EDGE_EPS && x <= n - 0.5 + EDGE_EPS;
  const rows = new RowEvaluator(field, volume, true);
  const a = volume.affine;
  const [a0, a4, a8] = [a[0] as number, a[4] as number, a[8] as number];
  let o = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      rows.row(j, k);
      const [bx, by, bz] = rows.rowStart(j, k);
      for (let i = 0; i < nx; i++, o++) {
        // Source voxel coordinates of x + u(x).
        const qx = bx + a0 * i + (rows.ux[i] as number);
        const qy = by + a4 * i + (rows.uy[i] as number);
        const qz = bz + a8 * i + (rows.uz[i] as number);
        const sx = (inv[0] as number) * qx + (inv[1] as number) * qy + (inv[2] as number) * qz + (inv[3] as number);
        const sy = (inv[4] as number) * qx + (inv[5] as number) * qy + (inv[6] as number) * qz + (inv[7] as number);
        const sz = (inv[8] as number) * qx + (inv[9] as number) * qy + (inv[10] as number) * qz + (inv[11] as number);
        if (!inside(sx, nx) || !inside(sy, ny) || !inside(sz, nz)) {
          out[o] = 0;
          continue;
        }
        out[o] = spline.at(sx, sy, sz) * (rows.det[i] as number);
      }
    }
  }
  return { data: out, dims, affine: Array.from(volume.affine) };
}
