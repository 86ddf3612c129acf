// A smooth multiplicative bias field (coil sensitivity / B1 inhomogeneity) for simulated acquisitions.
//
// Model: log b(p) = (s / 2) * f(q(p)), where s >= 0 is the strength, p a world point (mm) and q(p) in
// [-1, 1]^3 its position in the reference field of view: the reference grid's voxel coordinates x mapped
// so that the outer faces of the boundary voxels (x = -0.5 and n - 0.5) go to -1 and +1. f is a random
// polynomial: a sum over Legendre products P_a(q0) P_b(q1) P_c(q2) of total degree 1 to 3 (19 terms;
// coefficients N(0, 1) scaled by 0.5^(degree - 1) so that the field is mostly low order), divided by its
// largest |value| on a 65^3 lattice spanning the FOV box (faces included), so that max |f| = 1 and b lies in
// [exp(-s/2), exp(s/2)], touching one of the bounds. f is clamped to [-1, 1] when evaluated: this only acts
// between lattice points (by well under 1%) or outside the FOV (an LR grid can reach a fraction of a voxel
// beyond it), and keeps b within the stated bounds everywhere.
// No constant term: the Legendre products are orthogonal to 1 over the box, so the mean of log b over the
// FOV is 0 and the field does not change the overall intensity scale.
// The field is a function of world position, so the same field can be evaluated on the HR grid (to apply
// it) and on the LR or any other grid (the b map the encoder receives).
import type { Random } from "../util/random.js";
import { checkAffine, invert, multiply, type Grid, type Vec3 } from "../volume/affine.js";
import { checkVolume, type Mat4, type Volume } from "../volume/volume.js";

export const BIAS_MAX_DEGREE = 3;
/** Exponents (a, b, c) of the Legendre products, total degree 1 .. 3, in a fixed order. */
export const BIAS_TERMS: readonly (readonly [number, number, number])[] = (() => {
  const t: [number, number, number][] = [];
  for (let d = 1; d <= BIAS_MAX_DEGREE; d++) {
    for (let a = d; a >= 0; a--) for (let b = d - a; b >= 0; b--) t.push([a, b, d - a - b]);
  }
  return t;
})();
const LATTICE = 65;

export interface BiasField {
  /** s: log b = (s / 2) f with |f| <= 1. */
  readonly strength: number;
  /** The grid whose field of view defines the normalised coordinates. */
  readonly reference: Grid;
  /** Coefficients of f for BIAS_TERMS, already normalised (max |f| = 1 over the FOV lattice). */
  readonly coefficients: Float64Array;
}

/** Legendre polynomials P0..P3 at x, written into out[pos .. pos + 3]. */
function legendre(x: number, out: Float64Array, pos: number): void {
  const x2 = x * x;
  out[pos] = 1;
  out[pos + 1] = x;
  out[pos + 2] = 1.5 * x2 - 0.5;
  out[pos + 3] = (2.5 * x2 - 1.5) * x;
}

/** f at normalised coordinates (unclamped), using `p` (12 values) as scratch. */
function evalPolynomial(c: Float64Array, q0: number, q1: number, q2: number, p: Float64Array): number {
  legendre(q0, p, 0);
  legendre(q1, p, 4);
  legendre(q2, p, 8);
  let f = 0;
  for (let t = 0; t < BIAS_TERMS.length; t++) {
    const [a, b, cc] = BIAS_TERMS[t] as readonly [number, number, number];
    f += (c[t] as number) * (p[a] as number) * (p[4 + b] as number) * (p[8 + cc] as number);
  }
  return f;
}

function checkGrid(g: Grid, what: string): void {
  if (g.dims.length !== 3 || g.dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${what}: dims must be 3 positive integers, got [${g.dims.join(", ")}]`);
  }
  checkAffine(g.affine, `${what} affine`);
}

/** The affine from `grid` voxel coordinates to the reference's normalised coordinates [-1, 1]^3. */
function normalisedFrom(reference: Grid, grid: Mat4): number[] {
  const n = reference.dims;
  // x -> (2 x + 1) / n - 1 per axis.
  const norm = [2 / n[0], 0, 0, 1 / n[0] - 1, 0, 2 / n[1], 0, 1 / n[1] - 1, 0, 0, 2 / n[2], 1 / n[2] - 1, 0, 0, 0, 1];
  return multiply(norm, multiply(invert(reference.affine, "bias field: reference affine"), grid));
}

/** Draws a random field over the reference FOV with strength s >= 0 (s = 0 gives b = 1 everywhere). */
export function randomBiasField(reference: Grid, strength: number, rng: Random): BiasField {
  checkGrid(reference, "randomBiasField: reference");
  if (typeof strength !== "number" || !Number.isFinite(strength) || strength < 0) {
    throw new RangeError(`randomBiasField: strength must be a finite number >= 0, got ${strength}`);
  }
  const c = Float64Array.from(BIAS_TERMS, ([a, b, cc]) => rng.normal() * 0.5 ** (a + b + cc - 1));
  const p = new Float64Array(12);
  let max = 0;
  for (let k = 0; k < LATTICE; k++) {
    const q2 = -1 + (2 * k) / (LATTICE - 1);
    for (let j = 0; j < LATTICE; j++) {
      const q1 = -1 + (2 * j) / (LATTICE - 1);
      for (let i = 0; i < LATTICE; i++) {
        const v = Math.abs(evalPolynomial(c, -1 + (2 * i) / (LATTICE - 1), q1, q2, p));
        if (v > max) max = v;
      }
    }
  }
  if (!(max > 0)) throw new Error("randomBiasField: the drawn polynomial is zero on the FOV (draw again with another seed)");
  for (let t = 0; t < c.length; t++) c[t] = (c[t] as number) / max;
  return { strength, reference: { dims: [reference.dims[0], reference.dims[1], reference.dims[2]], affine: Array.from(reference.affine) }, coefficients: c };
}

/** b at one world point (mm). */
export function biasAt(field: BiasField, point: Vec3): number {
  const m = normalisedFrom(field.reference, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  const q = [0, 1, 2].map((r) => (m[4 * r] as number) * point[0] + (m[4 * r + 1] as number) * point[1] + (m[4 * r + 2] as number) * point[2] + (m[4 * r + 3] as number));
  const f = evalPolynomial(field.coefficients, q[0] as number, q[1] as number, q[2] as number, new Float64Array(12));
  return Math.exp((field.strength / 2) * Math.max(-1, Math.min(1, f)));
}

/** b evaluated at every voxel centre of `grid` (float32 volume on that grid). */
export function biasFieldOnGrid(field: BiasField, grid: Grid): Volume {
  checkGrid(grid, "biasFieldOnGrid: grid");
  const [nx, ny, nz] = grid.dims;
  const out = new Float32Array(nx * ny * nz);
  if (field.strength === 0) {
    out.fill(1);
    return { data: out, dims: [nx, ny, nz], affine: Array.from(grid.affine) };
  }
  const m = normalisedFrom(field.reference, grid.affine);
  const half = field.strength / 2;
  const p = new Float64Array(12);
  const [m0, m4, m8] = [m[0] as number, m[4] as number, m[8] as number];
  let o = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const b0 = (m[1] as number) * j + (m[2] as number) * k + (m[3] as number);
      const b1 = (m[5] as number) * j + (m[6] as number) * k + (m[7] as number);
      const b2 = (m[9] as number) * j + (m[10] as number) * k + (m[11] as number);
      // Along the row q is linear in i, so f is a cubic in i: exact samples at i = 0..3, then forward
      // differences (round-off grows like i^3 * 1e-16).
      const v = [0, 1, 2, 3].map((s) => evalPolynomial(field.coefficients, b0 + m0 * s, b1 + m4 * s, b2 + m8 * s, p)) as [number, number, number, number];
      let f = v[0];
      let d1 = v[1] - v[0];
      let d2 = v[2] - 2 * v[1] + v[0];
      const d3 = v[3] - 3 * v[2] + 3 * v[1] - v[0];
      for (let i = 0; i < nx; i++) {
        out[o++] = Math.exp(half * (f > 1 ? 1 : f < -1 ? -1 : f));
        f += d1;
        d1 += d2;
        d2 += d3;
      }
    }
  }
  return { data: out, dims: [nx, ny, nz], affine: Array.from(grid.affine) };
}

/** volume * b, on the volume's own grid. */
export function applyBiasField(volume: Volume, field: BiasField): Volume {
  checkVolume(volume, "applyBiasField: volume");
  const b = biasFieldOnGrid(field, volume);
  const out = new Float32Array(volume.data.length);
  for (let i = 0; i < out.length; i++) out[i] = (volume.data[i] as number) * (b.data[i] as number);
  return { data: out, dims: [volume.dims[0], volume.dims[1], volume.dims[2]], affine: Array.from(volume.affine) };
}
