// HCP's gradient-distortion warp files (*_gdc_warp.nii.gz) and displacement fields on grids.
//
// HCP's GradientDistortionUnwarp.sh runs gradunwarp, then FSL `convertwarp --abs ... --relout` on
// gradunwarp's fullWarp_abs: the result is an FSL RELATIVE warp, 3 frames, in mm, on the grid of the
// acquired image, used as `applywarp --rel -w WARP`: output voxel p takes the input at p + w(p).
// FSL warps live in FSL's scaled-voxel coordinates, not in NIfTI world (RAS) coordinates:
//   fsl = S F v  (+ an offset),  v the voxel index, S = diag(voxel sizes),
//   F = diag(-1, 1, 1) when det of the affine's 3x3 part is > 0 ("neurological" storage: FSL flips i so
//   that its frame is radiological; gradunwarp's m_vox2fsl does the same), F = I otherwise.
// So frame 0 of the warp is along the (possibly flipped) i axis, frames 1 and 2 along j and k, in mm;
// for an image stored RAS-aligned that is (-x, +y, +z) of the world, for LAS storage also (-x, +y, +z).
// The world displacement is u = M F S^-1 w (M the affine's 3x3 part) and w = S F M^-1 u. For an affine
// without shear (M = R S, R a rotation) |u| = |w|, so a |w| computed as if w were x/y/z world mm is
// the right g; the component directions are not.
//
// Voxel sizes are the affine's column norms (FSL reads pixdim; the two agree in files we and
// FSL write).
import { checkAffine, invert, type Grid } from "../../volume/affine.js";
import { resampleLike } from "../../volume/resample.js";
import { detIdentityPlus, type DisplacementField } from "./displacement.js";

/** FSL's scaled-voxel frame of a grid: voxel sizes and whether the i axis is flipped. */
export interface FslFrame {
  readonly sizes: [number, number, number];
  readonly flipX: boolean;
}

function linear(affine: readonly number[]): number[] {
  return [0, 1, 2, 4, 5, 6, 8, 9, 10].map((q) => affine[q] as number);
}

function det3(m: readonly number[]): number {
  const [a, b, c, d, e, f, g, h, k] = m as [number, number, number, number, number, number, number, number, number];
  return a * (e * k - f * h) - b * (d * k - f * g) + c * (d * h - e * g);
}

export function fslFrame(affine: readonly number[]): FslFrame {
  checkAffine(affine, "fslFrame: affine");
  const m = linear(affine);
  const sizes: [number, number, number] = [0, 1, 2].map((c) => Math.hypot(m[c] as number, m[3 + c] as number, m[6 + c] as number)) as [number, number, number];
  return { sizes, flipX: det3(m) > 0 };
}

function checkField(field: DisplacementField, what: string): number {
  const [nx, ny, nz] = field.grid.dims;
  const n = nx * ny * nz;
  for (const [name, a] of [["ux", field.ux], ["uy", field.uy], ["uz", field.uz]] as const) {
    if (a.length !== n) throw new RangeError(`${what}: ${name} has ${a.length} values, the grid [${field.grid.dims.join(", ")}] has ${n}`);
  }
  return n;
}

/** The FSL relative warp (frames x, y, z concatenated: 3 * n values, mm) of a world displacement field. */
export function toFslWarp(field: DisplacementField): Float32Array {
  const n = checkField(field, "toFslWarp");
  const { sizes, flipX } = fslFrame(field.grid.affine);
  const inv = invert(field.grid.affine, "toFslWarp: grid affine");
  const sx = sizes[0] * (flipX ? -1 : 1);
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const x = field.ux[i] as number;
    const y = field.uy[i] as number;
    const z = field.uz[i] as number;
    out[i] = sx * ((inv[0] as number) * x + (inv[1] as number) * y + (inv[2] as number) * z);
    out[n + i] = sizes[1] * ((inv[4] as number) * x + (inv[5] as number) * y + (inv[6] as number) * z);
    out[2 * n + i] = sizes[2] * ((inv[8] as number) * x + (inv[9] as number) * y + (inv[10] as number) * z);
  }
  return out;
}

/** The world displacement field of an FSL relative warp (3 * n values, frames x, y, z) on `grid`. */
export function fromFslWarp(grid: Grid, warp: Float32Array, what = "warp"): DisplacementField {
  checkAffine(grid.affine, `${what}: affine`);
  const [nx, ny, nz] = grid.dims;
  const n = nx * ny * nz;
  if (warp.length !== 3 * n) throw new RangeError(`${what}: ${warp.length} values; a 3-frame warp on [${grid.dims.join(", ")}] has ${3 * n}`);
  const { sizes, flipX } = fslFrame(grid.affine);
  const m = linear(grid.affine);
  const fx = (flipX ? -1 : 1) / sizes[0];
  const ux = new Float32Array(n);
  const uy = new Float32Array(n);
  const uz = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const vx = (warp[i] as number) * fx;
    const vy = (warp[n + i] as number) / sizes[1];
    const vz = (warp[2 * n + i] as number) / sizes[2];
    ux[i] = (m[0] as number) * vx + (m[1] as number) * vy + (m[2] as number) * vz;
    uy[i] = (m[3] as number) * vx + (m[4] as number) * vy + (m[5] as number) * vz;
    uz[i] = (m[6] as number) * vx + (m[7] as number) * vy + (m[8] as number) * vz;
  }
  return { grid: { dims: [nx, ny, nz], affine: Array.from(grid.affine) }, ux, uy, uz };
}

/**
 * det(I + du/dp) of a sampled field: du/dv by central differences along each voxel axis (one-sided on
 * the first and last voxel; 0 along an axis of one voxel), then du/dp = (du/dv) M^-1.
 */
export function finiteDifferenceJacobian(field: DisplacementField): Float32Array {
  const n = checkField(field, "finiteDifferenceJacobian");
  const [nx, ny, nz] = field.grid.dims;
  const inv = invert(field.grid.affine, "finiteDifferenceJacobian: grid affine");
  const minv = linear(inv);
  const comps = [field.ux, field.uy, field.uz];
  const dims = [nx, ny, nz];
  const strides = [1, nx, nx * ny];
  const out = new Float32Array(n);
  const dv = new Float64Array(9); // du_a/dv_c at 3a + c
  const dp = new Float64Array(9);
  let o = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, o++) {
        const idx = [i, j, k];
        for (let c = 0; c < 3; c++) {
          const len = dims[c] as number;
          const s = strides[c] as number;
          const at = idx[c] as number;
          const lo = at > 0 ? o - s : o;
          const hi = at < len - 1 ? o + s : o;
          const span = (at < len - 1 ? 1 : 0) + (at > 0 ? 1 : 0);
          for (let a = 0; a < 3; a++) {
            const u = comps[a] as Float32Array;
            dv[3 * a + c] = span === 0 ? 0 : ((u[hi] as number) - (u[lo] as number)) / span;
          }
        }
        for (let a = 0; a < 3; a++) {
          for (let b = 0; b < 3; b++) {
            dp[3 * a + b] =
              (dv[3 * a] as number) * (minv[b] as number) + (dv[3 * a + 1] as number) * (minv[3 + b] as number) + (dv[3 * a + 2] as number) * (minv[6 + b] as number);
          }
        }
        out[o] = detIdentityPlus(dp);
      }
    }
  }
  return out;
}

/** True when two grids have the same dims and affines within `tol` mm (1e-4 of a voxel by default). */
export function sameGrid(a: Grid, b: Grid, tol = 1e-4): boolean {
  if (a.dims.some((d, i) => d !== b.dims[i])) return false;
  return a.affine.every((v, i) => Math.abs(v - (b.affine[i] as number)) <= tol);
}

/**
 * The field on another grid: each world component resampled trilinearly (outside the field's own field
 * of view: 0, i.e. no displacement); with `jacobian`, det(I + du/dp) by finite differences on the new
 * grid. The same grid returns the field itself (with its Jacobian computed if asked and missing).
 */
export function fieldOnGrid(field: DisplacementField, grid: Grid, jacobian: boolean): DisplacementField {
  checkField(field, "fieldOnGrid");
  let out: DisplacementField = field;
  if (!sameGrid(field.grid, grid)) {
    const comp = (data: Float32Array) => resampleLike({ data, dims: field.grid.dims, affine: field.grid.affine }, grid, { interpolation: "trilinear", fill: 0 }).data;
    out = { grid: { dims: [...grid.dims] as [number, number, number], affine: Array.from(grid.affine) }, ux: comp(field.ux), uy: comp(field.uy), uz: comp(field.uz) };
  }
  if (jacobian && out.jacobian === undefined) out = { ...out, jacobian: finiteDifferenceJacobian(out) };
  return out;
}
