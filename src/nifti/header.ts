// Parsing and checking the fixed NIfTI-1 (348 bytes) and NIfTI-2 (540 bytes) header.
//
// The fields are decoded by nifti-reader-js (NIFTI1/NIFTI2.readHeader), given a
// copy of exactly the header bytes so that it never parses extensions or touches
// the caller's buffer. We decode ourselves what it does not give us in the form we
// need:
//   - srow_x/y/z: it exposes them only when it picks the sform, and it picks by its
//     own precedence (qform when sform_code < qform_code), not the standard one;
//   - NIfTI-2's 64-bit dims and vox_offset: its big-endian int64 decoding mixes up
//     the halves' signs;
//   - the description: it drops NUL bytes instead of stopping at the first one;
//   - the magic string, which it does not check.
// Byte order is detected from sizeof_hdr (348 or 540 in one of the two orders), as
// nifti-reader-js does.
import { NIFTI1, NIFTI2 } from "nifti-reader-js";
import { NiftiError } from "./errors.js";

/** The fields of a NIfTI header that this package uses, as stored (no units applied). */
export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** 348 or 540. */
  sizeofHdr: number;
  /** dim[0..7] as stored. */
  dim: number[];
  datatypeCode: number;
  bitpix: number;
  /** pixdim[0..7] as stored (pixdim[0] is qfac). */
  pixdim: number[];
  /** Byte offset of the voxel data (0 in a NIfTI-1 header is read as 352). */
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  calMin: number;
  calMax: number;
  xyztUnits: number;
  intentCode: number;
  intentName: string;
  description: string;
  qformCode: number;
  sformCode: number;
  quaternB: number;
  quaternC: number;
  quaternD: number;
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z (12 numbers). */
  srow: number[];
}

const NIFTI1_SIZE = 348;
const NIFTI2_SIZE = 540;
const NIFTI2_MAGIC_TAIL = [0x0d, 0x0a, 0x1a, 0x0a];

function ascii(b: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) {
    const c = b[i] as number;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function cString(b: Uint8Array, start: number, end: number): string {
  let stop = start;
  while (stop < end && b[stop] !== 0) stop++;
  return new TextDecoder("utf-8").decode(b.subarray(start, stop));
}

function printable(s: string): string {
  return JSON.stringify(s);
}

/** Which header the first bytes announce, or a NiftiError saying why they do not. */
function detect(bytes: Uint8Array, source: string): { version: 1 | 2; littleEndian: boolean } {
  if (bytes.length < 4) {
    throw new NiftiError(source, `not a NIfTI file: it is only ${bytes.length} bytes long; check the path`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = dv.getInt32(0, true);
  const be = dv.getInt32(0, false);
  if (le === NIFTI1_SIZE || be === NIFTI1_SIZE) return { version: 1, littleEndian: le === NIFTI1_SIZE };
  if (le === NIFTI2_SIZE || be === NIFTI2_SIZE) return { version: 2, littleEndian: le === NIFTI2_SIZE };
  throw new NiftiError(
    source,
    `not a NIfTI file: sizeof_hdr (the first 4 bytes) is ${le} little-endian / ${be} big-endian, ` +
      `expected 348 (NIfTI-1) or 540 (NIfTI-2); check that this is a .nii or .nii.gz image`,
  );
}

function checkMagic(bytes: Uint8Array, version: 1 | 2, source: string): void {
  const at = version === 1 ? 344 : 4;
  const magic = ascii(bytes, at, at + 4);
  const want = `n+${version}`;
  if (magic === `ni${version}`) {
    throw new NiftiError(
      source,
      `this is the header of a NIfTI-${version} .hdr/.img pair (magic "ni${version}"), which is not supported; ` +
        `convert the pair to a single .nii file (e.g. fslchfiletype NIFTI_GZ, or nibabel)`,
    );
  }
  if (magic !== want) {
    throw new NiftiError(
      source,
      `not a NIfTI-${version} file: the magic string is ${printable(magic)}, expected "${want}"` +
        (version === 1 ? " (an Analyze 7.5 header has sizeof_hdr 348 but no magic; convert it to NIfTI first)" : ""),
    );
  }
  if (version === 2 && NIFTI2_MAGIC_TAIL.some((v, i) => bytes[8 + i] !== v)) {
    throw new NiftiError(
      source,
      `the NIfTI-2 magic string is damaged (bytes 8-11 should be \\r\\n\\x1a\\n): the file was probably altered ` +
        `by a text-mode transfer that converted line endings; transfer it again in binary mode`,
    );
  }
}

/**
 * Parses the fixed header at the start of `bytes` (an uncompressed NIfTI file).
 * Checks the size, byte order, magic and dims; does not look at the voxel data.
 * `bytes` is only read.
 */
export function parseHeader(bytes: Uint8Array, source: string): NiftiHeader {
  const { version, littleEndian } = detect(bytes, source);
  const size = version === 1 ? NIFTI1_SIZE : NIFTI2_SIZE;
  if (bytes.length < size) {
    throw new NiftiError(
      source,
      `truncated: the file is ${bytes.length} bytes, shorter than its NIfTI-${version} header (${size} bytes; ` +
        `${size - bytes.length} bytes missing); the file was cut short, get a complete copy`,
    );
  }
  checkMagic(bytes, version, source);

  const headerCopy = new Uint8Array(bytes.subarray(0, size)).buffer; // a copy of exactly the header: no extension parsing
  let lib: NIFTI1 | NIFTI2;
  try {
    lib = version === 1 ? new NIFTI1() : new NIFTI2();
    lib.readHeader(headerCopy);
  } catch (e) {
    throw new NiftiError(source, `cannot parse the NIfTI-${version} header: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (lib.littleEndian !== littleEndian) {
    throw new NiftiError(source, `internal error: byte order detection disagrees with nifti-reader-js`);
  }

  const dv = new DataView(bytes.buffer, bytes.byteOffset, size);
  const srow: number[] = [];
  let dim: number[];
  let voxOffset: number;
  let description: string;
  if (version === 1) {
    for (let i = 0; i < 12; i++) srow.push(dv.getFloat32(280 + 4 * i, littleEndian));
    dim = lib.dims.slice(0, 8);
    voxOffset = lib.vox_offset;
    description = cString(bytes, 148, 228);
  } else {
    for (let i = 0; i < 12; i++) srow.push(dv.getFloat64(400 + 8 * i, littleEndian));
    dim = [];
    for (let i = 0; i < 8; i++) dim.push(Number(dv.getBigInt64(16 + 8 * i, littleEndian)));
    voxOffset = Number(dv.getBigInt64(168, littleEndian));
    description = cString(bytes, 240, 320);
  }

  const h: NiftiHeader = {
    version,
    littleEndian,
    sizeofHdr: size,
    dim,
    datatypeCode: lib.datatypeCode,
    bitpix: lib.numBitsPerVoxel,
    pixdim: lib.pixDims.slice(0, 8),
    voxOffset,
    sclSlope: lib.scl_slope,
    sclInter: lib.scl_inter,
    calMin: lib.cal_min,
    calMax: lib.cal_max,
    xyztUnits: lib.xyzt_units,
    intentCode: lib.intent_code,
    intentName: lib.intent_name,
    description,
    qformCode: lib.qform_code,
    sformCode: lib.sform_code,
    quaternB: lib.quatern_b,
    quaternC: lib.quatern_c,
    quaternD: lib.quatern_d,
    qoffset: [lib.qoffset_x, lib.qoffset_y, lib.qoffset_z],
    srow,
  };
  checkDims(h, source);
  checkVoxOffset(h, source);
  return h;
}

/** dim[0] in 1..7, dim[1..dim[0]] >= 1, at most 4 dimensions larger than 1. */
function checkDims(h: NiftiHeader, source: string): void {
  const n = h.dim[0] as number;
  const shown = `dim = [${h.dim.join(", ")}]`;
  if (!Number.isInteger(n) || n < 1 || n > 7) {
    throw new NiftiError(source, `dim[0] (the number of dimensions) is ${n}, must be 1 to 7 (${shown}); the header is damaged`);
  }
  for (let i = 1; i <= n; i++) {
    const d = h.dim[i] as number;
    if (!Number.isInteger(d) || d < 1) {
      throw new NiftiError(
        source,
        `dim[${i}] is ${d}: every dimension must be at least 1 (${shown}); the header is damaged or the image is empty`,
      );
    }
  }
  for (let i = 5; i <= n; i++) {
    if (h.dim[i] !== 1) {
      throw new NiftiError(
        source,
        `a ${n}-D image with dim[${i}] = ${h.dim[i]} is not supported (${shown}); only 3-D and 4-D images are: ` +
          `split it into 4-D files first (e.g. with fslsplit)`,
      );
    }
  }
}

function checkVoxOffset(h: NiftiHeader, source: string): void {
  const min = h.sizeofHdr + 4; // header + the 4-byte extension flag
  if (h.voxOffset === 0) {
    // Some writers leave vox_offset 0 in single-file NIfTI; nibabel and nifti1_io read it as the minimum.
    h.voxOffset = min;
    return;
  }
  if (!Number.isInteger(h.voxOffset) || h.voxOffset < min) {
    throw new NiftiError(
      source,
      `vox_offset is ${h.voxOffset}: the voxel data of a single-file NIfTI-${h.version} must start at byte ${min} or later; the header is damaged`,
    );
  }
}
