// The header transforms of an image computed from a NIfTI input onto another grid of the same world
// (enhance's output, a baseline's): the input's sform and qform codes are kept, so an MNI-space input
// (code 4) gives an MNI-space output, and each transform still maps to its own space.
//
// The output affine is in the space of the input's affine (its sform when sform_code > 0, else its
// qform; xform.ts). So:
//   - both codes > 0: the sform is the output affine with the input's sform code; the qform maps to
//     the input's qform space, Q_in · S_in⁻¹ · A_out (the output affine itself when the input's two
//     transforms agree), with the input's qform code;
//   - only the sform (qform_code 0): the qform stays 0;
//   - only the qform (sform_code 0): the qform is the output affine with its code, and the sform
//     stays 0 unless the output affine has shear, which a qform cannot hold (then it gets the qform's
//     code);
//   - neither (a pixdim-only input, world space unknown): the writer's defaults (write.ts).
import type { Mat4 } from "../volume/volume.js";
import { invert, multiply } from "../volume/affine.js";
import { mat4ToQuatern, quaternToMat4 } from "./affine.js";
import type { NiftiImage } from "./read.js";
import type { WriteOptions } from "./write.js";

const maxAbsDiff = (a: Mat4, b: Mat4): number => Math.max(...a.slice(0, 12).map((v, i) => Math.abs(v - (b[i] as number))));
const scaleOf = (a: Mat4): number => Math.max(...a.slice(0, 12).map(Math.abs), 1);

/** True when a qform (rotation, voxel sizes, qfac, offset) cannot represent `affine` (it has shear). */
export function hasShear(affine: Mat4): boolean {
  return maxAbsDiff(quaternToMat4(mat4ToQuatern(affine)), affine) > 1e-5 * scaleOf(affine);
}

type XformSource = Pick<NiftiImage, "sformCode" | "qformCode" | "sform" | "qform">;

/** writeNifti options that keep `source`'s transform codes for an image on `affine` (see the header). */
export function xformOptionsFrom(source: XformSource, affine: Mat4): Pick<WriteOptions, "sformCode" | "qformCode" | "qformAffine"> {
  const { sformCode: s, qformCode: q } = source;
  if (s > 0 && q > 0 && source.sform !== null && source.qform !== null) {
    if (maxAbsDiff(source.sform, source.qform) <= 1e-5 * scaleOf(source.sform)) return { sformCode: s, qformCode: q };
    return { sformCode: s, qformCode: q, qformAffine: multiply(multiply(source.qform, invert(source.sform, "the input's sform")), affine) };
  }
  if (s > 0) return { sformCode: s, qformCode: 0 };
  if (q > 0) return { sformCode: hasShear(affine) ? q : 0, qformCode: q };
  return {};
}
