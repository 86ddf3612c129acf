// Which voxel-to-world affine a header means.
//
// Precedence (as nifti1_io's "best" transform and nibabel's `img.affine`):
//   1. sform_code > 0: the sform rows srow_x, srow_y, srow_z ("METHOD 3");
//   2. else qform_code > 0: the quaternion qform ("METHOD 2"):
//        R(quatern_b, c, d) * diag(pixdim[1], pixdim[2], qfac * pixdim[3]) + qoffset,
//      with qfac = -1 when pixdim[0] < 0 and 1 otherwise;
//   3. else nifti1.h's "METHOD 1": diag(pixdim[1], pixdim[2], pixdim[3]), origin at
//      voxel (0, 0, 0). nibabel differs here: it centres the grid and flips x
//      (Analyze-style, its get_base_affine); we follow the NIfTI standard.
// In methods 1 and 2, pixdim[1..3] that are not positive and finite count as 1
// (nifti1_io does the same for the qform).
// The result is converted to millimetres with the spatial unit of xyzt_units
// (meters x 1000, microns x 0.001; unknown units are taken as mm). nibabel does not
// convert units; for an image in mm the two agree.
import { mat4FromRows, quaternToMat4, scaleWorld, spatialUnit } from "./affine.js";
import { NiftiError } from "./errors.js";
import type { NiftiHeader } from "./header.js";

export type AffineSource = "sform" | "qform" | "pixdim";

export interface HeaderTransforms {
  /** The voxel-to-world affine by the precedence above, in mm. */
  affine: number[];
  affineSource: AffineSource;
  /** The qform matrix in mm, or null when qform_code is 0. */
  qform: number[] | null;
  /** The sform matrix in mm, or null when sform_code is 0. */
  sform: number[] | null;
  qfac: 1 | -1;
}

function positive(v: number | undefined): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : 1;
}

export function headerTransforms(h: NiftiHeader, source: string): HeaderTransforms {
  const { toMm } = spatialUnit(h.xyztUnits);
  const qfac: 1 | -1 = (h.pixdim[0] ?? 1) < 0 ? -1 : 1;
  let sform: number[] | null = null;
  if (h.sformCode > 0) {
    if (h.srow.some((v) => !Number.isFinite(v))) {
      throw new NiftiError(source, `sform_code is ${h.sformCode} but the sform rows contain NaN or Inf (${h.srow.join(", ")}); the header is damaged`);
    }
    sform = scaleWorld(mat4FromRows(h.srow.slice(0, 4), h.srow.slice(4, 8), h.srow.slice(8, 12)), toMm);
  }
  let qform: number[] | null = null;
  if (h.qformCode > 0) {
    const fields = [h.quaternB, h.quaternC, h.quaternD, ...h.qoffset];
    if (fields.some((v) => !Number.isFinite(v))) {
      throw new NiftiError(source, `qform_code is ${h.qformCode} but the quaternion or offsets contain NaN or Inf (${fields.join(", ")}); the header is damaged`);
    }
    qform = scaleWorld(
      quaternToMat4({
        b: h.quaternB,
        c: h.quaternC,
        d: h.quaternD,
        offset: h.qoffset,
        pixdim: [positive(h.pixdim[1]), positive(h.pixdim[2]), positive(h.pixdim[3])],
        qfac,
      }),
      toMm,
    );
  }
  if (sform !== null) return { affine: sform, affineSource: "sform", qform, sform, qfac };
  if (qform !== null) return { affine: qform, affineSource: "qform", qform, sform, qfac };
  const s = [positive(h.pixdim[1]), positive(h.pixdim[2]), positive(h.pixdim[3])].map((v) => v * toMm);
  const affine = [s[0]!, 0, 0, 0, 0, s[1]!, 0, 0, 0, 0, s[2]!, 0, 0, 0, 0, 1];
  return { affine, affineSource: "pixdim", qform, sform, qfac };
}
