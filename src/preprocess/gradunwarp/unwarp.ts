// Unwarping an acquired (distorted) volume with a gradient-nonlinearity displacement field.
//
// Direction: the distortion moves the object point p to p + u(p), so the acquired image shows at
// x = p + u(p) the object at p. The undistorted image at voxel p is therefore the acquired image
// sampled at p + u(p): the field is evaluated at the undistorted (output) positions, as gradunwarp does
// (unwarp_resample.py samples its input at vxyz + dv for the output grid vxyz).
//
// Intensity: the distortion spreads the signal of a volume element dp over det(I + du/dp) dp, so the
// acquired intensity there is the object's divided by that determinant; unwarping multiplies it back:
//   out(p) = in(p + u(p)) * J(p),  J = min(|det(I + du/dp)|, 10)
// The absolute value and the cap at 10 are gradunwarp's (eval_siemens_jacobian_mult, siemens_max_det);
// det <= 0 means the field folds there (outside the coil's good region) and is counted. With
// `jacobian: false` the factor is 1 (HCP runs gradunwarp with -n and applywarp without modulation).
//
// Sampling: cubic B-spline (prefiltered, mirror boundary; src/volume/bspline.ts) or trilinear; a sample
// point outside the input's field of view (voxel coordinates beyond [-0.5, n - 0.5]) gives 0, as in
// src/volume/resample.ts.
import { invert } from "../../volume/affine.js";
import { BSplineSampler, prefilterBSpline } from "../../volume/bspline.js";
import { checkVolume, type Volume } from "../../volume/volume.js";
import type { DisplacementField } from "./displacement.js";
import { sameGrid } from "./fsl_warp.js";

/** gradunwarp's cap on the Jacobian intensity factor (globals.siemens_max_det). */
export const MAX_JACOBIAN = 10;
/** Tolerance (voxels) on the field-of-view faces. */
const EDGE_EPS = 1e-6;

export type UnwarpInterpolation = "bspline" | "trilinear";

export interface UnwarpOptions {
  /** Default "bspline". */
  readonly interpolation?: UnwarpInterpolation;
  /** Multiply by the Jacobian determinant (default true); needs field.jacobian. */
  readonly jacobian?: boolean;
  /** Called after each output slice k with the number of slices. */
  readonly onSlice?: (k: number, nz: number) => void;
}

export interface UnwarpResult {
  readonly image: Volume;
  /** Voxels where det(I + du/dp) <= 0 (the field folds; |det| is used, as gradunwarp does). */
  readonly folded: number;
  /** Voxels whose sample point p + u(p) lies outside the input's field of view (set to 0). */
  readonly outside: number;
}

/** The undistorted volume on the grid of `distorted` (which must be the field's grid). */
export function unwarpVolume(distorted: Volume, field: DisplacementField, options: UnwarpOptions = {}): UnwarpResult {
  checkVolume(distorted, "unwarpVolume: volume");
  if (!sameGrid(distorted, field.grid)) {
    throw new RangeError(
      `unwarpVolume: the field's grid [${field.grid.dims.join(", ")}] is not the volume's grid [${distorted.dims.join(", ")}]; evaluate or resample the field on the volume's grid first`,
    );
  }
  const interpolation = options.interpolation ?? "bspline";
  if (interpolation !== "bspline" && interpolation !== "trilinear") {
    throw new RangeError(`unwarpVolume: interpolation must be "bspline" or "trilinear", got ${JSON.stringify(interpolation)}`);
  }
  const useJac = options.jacobian ?? true;
  const jac = field.jacobian;
  if (useJac && jac === undefined) {
    throw new RangeError("unwarpVolume: the field has no Jacobian; compute it (jacobian: true) or unwarp with jacobian: false");
  }
  const [nx, ny, nz] = distorted.dims;
  const n = nx * ny * nz;
  if (field.ux.length !== n) throw new RangeError(`unwarpVolume: the field has ${field.ux.length} voxels, the volume ${n}`);
  const src = interpolation === "bspline" ? prefilterBSpline(distorted).coefficients : distorted.data;
  const a = distorted.affine;
  const inv = invert(a, "unwarpVolume: volume affine");
  const out = new Float32Array(n);
  const spline = interpolation === "bspline" ? new BSplineSampler({ coefficients: src, dims: distorted.dims }) : null;
  const inside = (s: number, len: number) => s >= -0.5 - EDGE_EPS && s <= len - 0.5 + EDGE_EPS;
  // Trilinear: between the outermost centre and the FOV face the edge value is held.
  const lo = new Int32Array(3);
  const hi = new Int32Array(3);
  const fr = new Float64Array(3);
  const lin = (s: number, len: number, stride: number, axis: number): void => {
    const c = Math.min(Math.max(s, 0), len - 1);
    const f = Math.min(Math.floor(c), Math.max(len - 2, 0));
    lo[axis] = f * stride;
    hi[axis] = Math.min(f + 1, len - 1) * stride;
    fr[axis] = c - f;
  };
  const trilinear = (sx: number, sy: number, sz: number): number => {
    lin(sx, nx, 1, 0);
    lin(sy, ny, nx, 1);
    lin(sz, nz, nx * ny, 2);
    const tx = fr[0] as number;
    const ty = fr[1] as number;
    const tz = fr[2] as number;
    const x0 = lo[0] as number;
    const x1 = hi[0] as number;
    const y0 = lo[1] as number;
    const y1 = hi[1] as number;
    const z0 = lo[2] as number;
    const z1 = hi[2] as number;
    const c00 = (src[x0 + y0 + z0] as number) * (1 - tx) + (src[x1 + y0 + z0] as number) * tx;
    const c10 = (src[x0 + y1 + z0] as number) * (1 - tx) + (src[x1 + y1 + z0] as number) * tx;
    const c01 = (src[x0 + y0 + z1] as number) * (1 - tx) + (src[x1 + y0 + z1] as number) * tx;
    const c11 = (src[x0 + y1 + z1] as number) * (1 - tx) + (src[x1 + y1 + z1] as number) * tx;
    return (c00 * (1 - ty) + c10 * ty) * (1 - tz) + (c01 * (1 - ty) + c11 * ty) * tz;
  };
  const sample = spline !== null ? (sx: number, sy: number, sz: number): number => spline.at(sx, sy, sz) : trilinear;
  let folded = 0;
  let outside = 0;
  let o = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const bx = (a[1] as number) * j + (a[2] as number) * k + (a[3] as number);
      const by = (a[5] as number) * j + (a[6] as number) * k + (a[7] as number);
      const bz = (a[9] as number) * j + (a[10] as number) * k + (a[11] as number);
      for (let i = 0; i < nx; i++, o++) {
        // World sample point p + u(p), then its voxel coordinates in the input.
        const qx = bx + (a[0] as number) * i + (field.ux[o] as number);
        const qy = by + (a[4] as number) * i + (field.uy[o] as number);
        const qz = bz + (a[8] as number) * i + (field.uz[o] as number);
        const sx = (inv[0] as number) * qx + (inv[1] as number) * qy + (inv[2] as number) * qz + (inv[3] as number);
        const sy = (inv[4] as number) * qx + (inv[5] as number) * qy + (inv[6] as number) * qz + (inv[7] as number);
        const sz = (inv[8] as number) * qx + (inv[9] as number) * qy + (inv[10] as number) * qz + (inv[11] as number);
        let factor = 1;
        if (useJac) {
          const d = (jac as Float32Array)[o] as number;
          if (!(d > 0)) folded++;
          factor = Math.min(Math.abs(d), MAX_JACOBIAN);
        }
        if (!inside(sx, nx) || !inside(sy, ny) || !inside(sz, nz)) {
          outside++;
          out[o] = 0;
          continue;
        }
        out[o] = sample(sx, sy, sz) * factor;
      }
    }
    options.onSlice?.(k, nz);
  }
  return { image: { data: out, dims: [nx, ny, nz], affine: Array.from(a) }, folded, outside };
}
