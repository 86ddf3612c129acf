// Writing a Volume or a NiftiImage as NIfTI-1 (default) or NIfTI-2, .nii or .nii.gz
// (chosen by the file name), little-endian, atomically.
//
// The affine is kept: it is written as the sform (code 2 "aligned" unless told
// otherwise) and, consistently, as a qform made from it (affine.ts mat4ToQuatern:
// column norms as pixdim, qfac from the sign of the determinant, the closest
// rotation by polar decomposition; code 1 "scanner" unless told otherwise). For an
// affine without shear the qform is the same transform; with shear only the sform
// holds it exactly. A NIfTI-1 header stores them as float32 (relative precision
// ~6e-8); NIfTI-2 as float64. pixdim[1..3] are the affine's column norms and the
// spatial unit is mm.
//
// A NiftiImage keeps its own sform/qform codes (where > 0), description, frames, and
// the repetition time pixdim[4] with its unit. An image computed from a NIfTI input
// on another grid keeps the input's codes with output_xform.ts (qformAffine).
//
// Voxels are written as float32 by default; see datatype.ts for the rounding and
// clamping rule of integer types. Scaling is never used on output (scl_slope 1,
// scl_inter 0).
//
// Atomic: the bytes go to a temporary file in the target's directory, which is
// flushed and renamed onto the target. On any failure the temporary file is
// removed and the target is left as it was.
import type { Mat4, Volume } from "../volume/volume.js";
import { mat4ToQuatern, quaternToMat4 } from "./affine.js";
import { NIFTI_DTYPES, dtypeBytes, dtypeCode, encodeVoxels, isNiftiDtype, type NiftiDtype } from "./datatype.js";
import { NiftiError } from "./errors.js";
import { AtomicWriteError, writeFileAtomic } from "../util/atomic_write.js";
import { gzip } from "./gzip.js";
import { encodeHeader, voxOffsetFor } from "./header_write.js";
import type { NiftiImage } from "./read.js";

export interface WriteOptions {
  /** On-disk datatype (default "float32"). */
  dtype?: NiftiDtype;
  /** Up to 80 bytes of UTF-8 (default: the image's own description, else "moediff-sr"). */
  description?: string;
  /** 0 to 5 (nifti1.h NIFTI_XFORM_*); default 2 (aligned), or the image's own when > 0. */
  sformCode?: number;
  /** 0 to 5; default 1 (scanner), or the image's own when > 0. */
  qformCode?: number;
  /**
   * The transform the qform holds when it maps to another space than the sform (e.g. scanner vs MNI;
   * output_xform.ts); default: the image's affine.
   */
  qformAffine?: Mat4;
  /** Header version (default 1; 2 when a dimension exceeds NIfTI-1's 32767). */
  version?: 1 | 2;
  /** gzip level 1-9 for .nii.gz (default 6). */
  compressionLevel?: number;
}

export interface Encoded {
  /** The uncompressed .nii bytes. */
  bytes: Uint8Array;
  version: 1 | 2;
  dtype: NiftiDtype;
  /** Values clamped to an integer type's range. */
  clamped: number;
  /** Values rounded to integers. */
  rounded: number;
}

export interface WriteResult extends Encoded {
  path: string;
  compressed: boolean;
  /** Bytes written to disk. */
  fileBytes: number;
}

/** True for a NiftiImage (as opposed to a plain Volume). */
export function isNiftiImage(x: Volume | NiftiImage): x is NiftiImage {
  return "datatype" in x && "header" in x;
}

function checkCode(name: string, v: number, source: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 5) throw new NiftiError(source, `${name} must be an integer from 0 to 5, got ${v}`);
  return v;
}

/** Builds the bytes of an uncompressed .nii; `name` is used in error messages. */
export function encodeNifti(input: Volume | NiftiImage, options: WriteOptions = {}, name = "buffer"): Encoded {
  const image = isNiftiImage(input) ? input : undefined;
  const dims = [...input.dims];
  if (dims.length !== 3 && dims.length !== 4) throw new NiftiError(name, `can only write 3-D or 4-D images, got dims [${dims.join(", ")}]`);
  for (const d of dims) if (!Number.isInteger(d) || d < 1) throw new NiftiError(name, `dims must be positive integers, got [${dims.join(", ")}]`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (input.data.length !== count) {
    throw new NiftiError(name, `data has ${input.data.length} values, dims [${dims.join(", ")}] need ${count}`);
  }
  if (input.affine.length !== 16 || input.affine.some((v) => !Number.isFinite(v))) {
    throw new NiftiError(name, `the affine must be 16 finite numbers (4x4 row-major), got ${input.affine.length} values`);
  }

  const dtype = options.dtype ?? "float32";
  if (!isNiftiDtype(dtype)) throw new NiftiError(name, `unsupported output dtype ${JSON.stringify(dtype)}; choose one of ${NIFTI_DTYPES.join(", ")}`);

  const tooBig = dims.some((d) => d > 32767);
  const version = options.version ?? (tooBig ? 2 : 1);
  if (version !== 1 && version !== 2) throw new NiftiError(name, `version must be 1 or 2, got ${String(version)}`);
  if (version === 1 && tooBig) {
    throw new NiftiError(name, `dims [${dims.join(", ")}] exceed NIfTI-1's limit of 32767 per axis; write NIfTI-2 (version: 2)`);
  }

  const sformCode = checkCode("sformCode", options.sformCode ?? (image !== undefined && image.sformCode > 0 ? image.sformCode : 2), name);
  const qformCode = checkCode("qformCode", options.qformCode ?? (image !== undefined && image.qformCode > 0 ? image.qformCode : 1), name);
  if (sformCode === 0 && qformCode === 0) {
    throw new NiftiError(name, `sformCode and qformCode are both 0: the affine would be lost; set at least one of them`);
  }

  const affine = input.affine;
  const qAffine = options.qformAffine ?? affine;
  if (qAffine.length !== 16 || qAffine.some((v) => !Number.isFinite(v))) throw new NiftiError(name, `qformAffine must be 16 finite numbers (4x4 row-major)`);
  let q;
  try {
    q = mat4ToQuatern(qAffine);
  } catch (e) {
    throw new NiftiError(name, `cannot write this affine: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (sformCode === 0) {
    const back = quaternToMat4(q);
    const scale = Math.max(...affine.slice(0, 12).map(Math.abs), 1);
    const err = Math.max(...back.slice(0, 12).map((v, i) => Math.abs(v - (affine[i] as number))));
    if (err > 1e-5 * scale) {
      throw new NiftiError(name, `this affine has shear, which a qform cannot represent (error ${err.toExponential(2)}); keep sformCode > 0`);
    }
  }

  const description = new TextEncoder().encode(options.description ?? image?.description ?? "moediff-sr");
  if (description.length > 80) throw new NiftiError(name, `the description is ${description.length} bytes of UTF-8, at most 80 fit`);

  const level = options.compressionLevel ?? 6;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new NiftiError(name, `compressionLevel must be an integer from 1 to 9, got ${level}`);

  let temporal = 0;
  let tr = 1;
  if (dims.length === 4) {
    const TIME_CODES: Record<string, number> = { sec: 8, msec: 16, usec: 24, hz: 32, ppm: 40, rads: 48 };
    temporal = (image !== undefined ? TIME_CODES[image.temporalUnit] : undefined) ?? 8;
    const stored = image?.pixdim[3];
    tr = stored !== undefined && Number.isFinite(stored) && stored > 0 ? stored : 1;
  }

  let voxels;
  try {
    voxels = encodeVoxels(input.data, dtype);
  } catch (e) {
    throw new NiftiError(name, `${e instanceof Error ? e.message : String(e)}; replace NaN/Inf first or write a float dtype`, { cause: e });
  }

  const header = encodeHeader({
    version,
    dim: [dims.length, ...dims, ...new Array<number>(7 - dims.length).fill(1)],
    datatypeCode: dtypeCode(dtype),
    bitpix: 8 * dtypeBytes(dtype),
    pixdim: [q.qfac, ...q.pixdim, ...(dims.length === 4 ? [tr] : []), ...new Array<number>(7 - Math.max(dims.length, 3)).fill(1)],
    sclSlope: 1,
    sclInter: 0,
    xyztUnits: 2 | temporal,
    description,
    qformCode,
    sformCode,
    quatern: version === 1 ? float32Quatern(q.b, q.c, q.d) : [q.b, q.c, q.d],
    qoffset: q.offset,
    srow: affine.slice(0, 12),
  });
  const bytes = new Uint8Array(voxOffsetFor(version) + voxels.bytes.length);
  bytes.set(header, 0);
  bytes.set(voxels.bytes, header.length);
  return { bytes, version, dtype, clamped: voxels.clamped, rounded: voxels.rounded };
}

/**
 * quatern_b/c/d for a float32 (NIfTI-1) header. Readers rebuild a = sqrt(1 - b^2 - c^2 - d^2);
 * near a 180-degree rotation (a^2 < 1e-7, e.g. an oblique image stored with qfac -1)
 * the float32 rounding of b, c, d leaves 1 - |bcd|^2 at +-1e-7, and a reader that
 * takes that at face value (nibabel) gets a ~ 3e-4, a qform off by ~6e-4 of a voxel
 * size. nifti1_io treats a^2 < 1e-7 as a = 0; we round so that |bcd|^2 >= 1 by at
 * most ~1e-7, which every reader then reads as a = 0 (nibabel allows 3 float32 eps).
 */
export function float32Quatern(b: number, c: number, d: number): [number, number, number] {
  const f: [number, number, number] = [Math.fround(b), Math.fround(c), Math.fround(d)];
  if (1 - (b * b + c * c + d * d) >= 1e-7) return f;
  const n = Math.hypot(b, c, d);
  const v: [number, number, number] = [Math.fround(b / n), Math.fround(c / n), Math.fround(d / n)];
  const sum64 = () => v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
  const sum32 = () => Math.fround(Math.fround(Math.fround(v[0] * v[0]) + Math.fround(v[1] * v[1])) + Math.fround(v[2] * v[2]));
  // Grow the largest component one float32 step at a time (each adds ~1e-7 to the sum).
  const k = [0, 1, 2].reduce((best, i) => (Math.abs(v[i]!) > Math.abs(v[best]!) ? i : best), 0);
  for (let step = 0; step < 8 && (sum64() < 1 || sum32() < 1); step++) {
    const x = v[k]!;
    v[k] = Math.fround(x + Math.sign(x) * Math.abs(x) * 2 ** -23);
  }
  return v;
}

/** Writes `input` to `path` (.nii, or .nii.gz compressed) atomically. */
export function writeNifti(path: string, input: Volume | NiftiImage, options: WriteOptions = {}): WriteResult {
  const lower = path.toLowerCase();
  const compressed = lower.endsWith(".nii.gz");
  if (!compressed && !lower.endsWith(".nii")) {
    throw new NiftiError(path, `the output name must end in .nii or .nii.gz`);
  }
  const enc = encodeNifti(input, options, path);
  const out = compressed ? gzip(enc.bytes, options.compressionLevel ?? 6) : enc.bytes;
  writeNiftiFile(path, out);
  return { ...enc, path, compressed, fileBytes: out.length };
}

/** Writes bytes atomically (see src/util/atomic_write.ts), as a NiftiError on failure. */
function writeNiftiFile(path: string, bytes: Uint8Array): void {
  try {
    writeFileAtomic(path, (write) => write(bytes));
  } catch (e) {
    if (!(e instanceof AtomicWriteError)) throw e;
    throw new NiftiError(path, `${e.message}; nothing was written (the temporary file was removed)`, { cause: e.cause });
  }
}
