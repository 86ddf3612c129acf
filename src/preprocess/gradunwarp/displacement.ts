// The gradient-nonlinearity displacement field u on a volume's world grid, from .grad coefficients.
//
// Convention (gradunwarp's, see siemens_field.ts): the field is evaluated at the UNDISTORTED positions
// p (the voxel centres of the output grid), and u(p) is where the distortion moves the object point p:
// the acquired (distorted) image shows at p + u(p) the object at p. Unwarping samples the acquired
// image at p + u(p) (unwarp.ts).
//
// Frames: NIfTI world coordinates (RAS, mm) are taken to be the scanner's, with the gradient isocentre
// at world `isocenter` (default the world origin, as in gradunwarp, which uses the image affine as
// is; scanner-space DICOM-to-NIfTI conversions put the isocentre at 0). The gradient frame is
// gradunwarp's LAI: g = L (p - isocenter), L = diag(-1, 1, -1); u(p) = L d(g) and
// du/dp = L (dd/dg) L, whose determinant is that of dd/dg. A volume registered to a template (MNI) no
// longer has scanner coordinates; its field is then only as right as the isocentre assumption.
//
// Speed: u is a polynomial of degree nmax in the coordinates, so along a row of voxels (world position
// linear in i) each component of u is a polynomial of degree <= nmax in i, and each entry of du/dp one
// of degree <= nmax - 1. Per row we evaluate the field exactly at nmax + 1 Chebyshev nodes of the row
// and interpolate: Chebyshev interpolation at degree + 1 nodes reproduces a polynomial exactly (up to
// round-off, the Lebesgue constant being ~(2 / pi) log(nmax)), and costs per voxel ~3 (nmax + 1)
// operations per quantity instead of the whole harmonic recurrence.
import { applyToPoint, checkAffine, type Grid, type Vec3 } from "../../volume/affine.js";
import { SiemensField } from "./siemens_field.js";
import type { GradCoefficients } from "./grad_file.js";

/** A displacement field on a grid: world (RAS) components in mm, voxel order of the grid (i fastest). */
export interface DisplacementField {
  readonly grid: Grid;
  readonly ux: Float32Array;
  readonly uy: Float32Array;
  readonly uz: Float32Array;
  /** det(I + du/dp) per voxel, when computed. */
  readonly jacobian?: Float32Array;
}

export interface CoefficientFieldOptions {
  /** World position (RAS mm) of the gradient isocentre. Default [0, 0, 0]. */
  readonly isocenter?: Vec3;
  /** Also compute det(I + du/dp). Default false. */
  readonly jacobian?: boolean;
  /** Called after each slice k (0-based) with the number of slices. */
  readonly onSlice?: (k: number, nz: number) => void;
}

/** The gradient-frame sign flips of gradunwarp's RAS -> LAI (m_ras2lai). */
const L: Vec3 = [-1, 1, -1];

function checkGrid(g: Grid, what: string): void {
  if (g.dims.length !== 3 || g.dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${what}: dims must be 3 positive integers, got [${g.dims.join(", ")}]`);
  }
  checkAffine(g.affine, `${what} affine`);
}

/** det of a row-major 3x3 plus the identity. */
export function detIdentityPlus(j: ArrayLike<number>): number {
  const a = 1 + (j[0] as number);
  const b = j[1] as number;
  const c = j[2] as number;
  const d = j[3] as number;
  const e = 1 + (j[4] as number);
  const f = j[5] as number;
  const g = j[6] as number;
  const h = j[7] as number;
  const k = 1 + (j[8] as number);
  return a * (e * k - f * h) - b * (d * k - f * g) + c * (d * h - e * g);
}

/** u (world mm) and, with jac, du/dp (world, row-major) at one world point. */
export function coefficientDisplacementAt(
  field: SiemensField,
  p: Vec3,
  isocenter: Vec3 = [0, 0, 0],
): { u: [number, number, number]; gradient: number[]; jacobian: number } {
  const d = new Float64Array(3);
  const jac = new Float64Array(9);
  field.evaluate(L[0] * (p[0] - isocenter[0]), L[1] * (p[1] - isocenter[1]), L[2] * (p[2] - isocenter[2]), d, jac);
  const gradient = Array.from(jac, (v, q) => v * L[Math.floor(q / 3)]! * L[q % 3]!);
  return { u: [L[0] * d[0]!, L[1] * d[1]!, L[2] * d[2]!], gradient, jacobian: detIdentityPlus(jac) };
}

/**
 * u (and optionally det(I + du/dp)) at every voxel centre of `grid`, from the coefficients of a .grad
 * file (see the top of this file for the conventions).
 */
export function coefficientDisplacement(coeffs: GradCoefficients, grid: Grid, options: CoefficientFieldOptions = {}): DisplacementField {
  checkGrid(grid, "coefficientDisplacement: grid");
  const iso = options.isocenter ?? [0, 0, 0];
  if (iso.length !== 3 || iso.some((v) => !Number.isFinite(v))) {
    throw new RangeError(`coefficientDisplacement: isocenter must be 3 finite numbers (mm), got [${iso.join(", ")}]`);
  }
  const withJac = options.jacobian === true;
  const field = new SiemensField(coeffs);
  const [nx, ny, nz] = grid.dims;
  const n = nx * ny * nz;
  const ux = new Float32Array(n);
  const uy = new Float32Array(n);
  const uz = new Float32Array(n);
  const det = withJac ? new Float32Array(n) : undefined;
  const nq = withJac ? 12 : 3;
  const degree = Math.max(field.degree, 1);
  const nodes = degree + 1;
  const direct = nx <= nodes; // short rows: evaluate every voxel
  const count = direct ? nx : nodes;
  // Node positions (continuous i) and the cosine table for the Chebyshev coefficients.
  const nodeI = new Float64Array(count);
  const cosTable = new Float64Array(nodes * nodes);
  if (direct) {
    for (let i = 0; i < nx; i++) nodeI[i] = i;
  } else {
    for (let k = 0; k < nodes; k++) {
      const t = Math.cos((Math.PI * (k + 0.5)) / nodes);
      nodeI[k] = ((t + 1) / 2) * (nx - 1);
      for (let j = 0; j < nodes; j++) cosTable[j * nodes + k] = Math.cos((Math.PI * j * (k + 0.5)) / nodes);
    }
  }
  const a = grid.affine;
  const col: Vec3 = [a[0] as number, a[4] as number, a[8] as number];
  const d = new Float64Array(3);
  const jac = new Float64Array(9);
  const values = new Float64Array(count * nq); // per node: u (gradient frame) then du/dg
  const cheb = new Float64Array(nodes * nq);
  const row = new Float64Array(nx * nq); // quantity q of voxel i at q * nx + i
  const jrow = new Float64Array(9);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const start = applyToPoint(a, [0, j, k]);
      for (let s = 0; s < count; s++) {
        const t = nodeI[s] as number;
        field.evaluate(
          L[0] * (start[0] + col[0] * t - iso[0]),
          L[1] * (start[1] + col[1] * t - iso[1]),
          L[2] * (start[2] + col[2] * t - iso[2]),
          d,
          withJac ? jac : null,
        );
        const o = s * nq;
        values[o] = d[0] as number;
        values[o + 1] = d[1] as number;
        values[o + 2] = d[2] as number;
        if (withJac) for (let q = 0; q < 9; q++) values[o + 3 + q] = jac[q] as number;
      }
      if (direct) {
        for (let i = 0; i < nx; i++) for (let q = 0; q < nq; q++) row[q * nx + i] = values[i * nq + q] as number;
      } else {
        chebyshevCoefficients(values, nq, nodes, cosTable, cheb);
        for (let q = 0; q < nq; q++) clenshawRow(cheb, q, nq, nodes, nx, row);
      }
      const base = nx * (j + ny * k);
      for (let i = 0; i < nx; i++) {
        const o = base + i;
        ux[o] = L[0] * (row[i] as number);
        uy[o] = L[1] * (row[nx + i] as number);
        uz[o] = L[2] * (row[2 * nx + i] as number);
        if (det) {
          for (let q = 0; q < 9; q++) jrow[q] = row[(3 + q) * nx + i] as number;
          det[o] = detIdentityPlus(jrow);
        }
      }
    }
    options.onSlice?.(k, nz);
  }
  const out: DisplacementField = { grid: { dims: [nx, ny, nz], affine: Array.from(grid.affine) }, ux, uy, uz };
  return det ? { ...out, jacobian: det } : out;
}

/** c[j * nq + q] = (2 / N) sum_k f_k cos(pi j (k + 1/2) / N), with c_0 halved (so f = sum_j c_j T_j). */
function chebyshevCoefficients(values: Float64Array, nq: number, nodes: number, cosTable: Float64Array, out: Float64Array): void {
  const scale = 2 / nodes;
  for (let j = 0; j < nodes; j++) {
    for (let q = 0; q < nq; q++) {
      let s = 0;
      for (let k = 0; k < nodes; k++) s += (cosTable[j * nodes + k] as number) * (values[k * nq + q] as number);
      out[j * nq + q] = (j === 0 ? scale / 2 : scale) * s;
    }
  }
}

/** Evaluates the Chebyshev series of quantity q at i = 0..nx-1 (t = 2i / (nx - 1) - 1) by Clenshaw. */
function clenshawRow(c: Float64Array, q: number, nq: number, nodes: number, nx: number, row: Float64Array): void {
  const step = 2 / (nx - 1);
  const off = q * nx;
  for (let i = 0; i < nx; i++) {
    const t = i * step - 1;
    const t2 = 2 * t;
    let b1 = 0;
    let b2 = 0;
    for (let j = nodes - 1; j >= 1; j--) {
      const b0 = (c[j * nq + q] as number) + t2 * b1 - b2;
      b2 = b1;
      b1 = b0;
    }
    row[off + i] = (c[q] as number) + t * b1 - b2;
  }
}

/** |u| per voxel (mm): the g map. */
export function displacementMagnitude(field: DisplacementField): Float32Array {
  const { ux, uy, uz } = field;
  const out = new Float32Array(ux.length);
  for (let i = 0; i < ux.length; i++) out[i] = Math.hypot(ux[i] as number, uy[i] as number, uz[i] as number);
  return out;
}
