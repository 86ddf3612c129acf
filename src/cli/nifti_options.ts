// Option parsers shared by the NIfTI commands (info, convert).
import { NIFTI_DTYPES, isNiftiDtype, type NiftiDtype } from "../nifti/index.js";

export function parseNonFinite(v: string): "error" | "zero" {
  if (v !== "error" && v !== "zero") throw new Error(`--non-finite must be "error" or "zero", got '${v}'`);
  return v;
}

export function parseDtype(v: string): NiftiDtype {
  if (!isNiftiDtype(v)) throw new Error(`--dtype must be one of ${NIFTI_DTYPES.join(", ")}, got '${v}'`);
  return v;
}

const XFORM_NAMES = ["unknown", "scanner", "aligned", "talairach", "mni_152", "template_other"];

/** "2 (aligned)". */
export function xformCodeText(code: number): string {
  return `${code} (${XFORM_NAMES[code] ?? "invalid"})`;
}
