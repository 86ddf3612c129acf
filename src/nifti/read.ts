// Reading NIfTI-1 and NIfTI-2 images (.nii and .nii.gz, either byte order) into
// float32 voxel data with a voxel-to-world affine in mm.
//
// Checks, each failing with a NiftiError that names the file, the problem and what
// to do: DICOM (a .dcm file, the DICM magic, a directory of them: convert with
// dcm2niix; dicom.ts), not NIfTI (sizeof_hdr, magic), truncated header or data (with the number of
// bytes missing), more data than the header's dims account for, dims < 1,
// unsupported datatype, corrupt gzip, non-finite scaling, and NaN/Inf voxels (an
// error unless `nonFinite: "zero"`). bitpix is not checked: the datatype code
// decides the voxel size, as in nibabel.
//
// scl_slope/scl_inter are applied (value * slope + inter, in double precision)
// unless the slope is 0 or not finite, which means "no scaling" (nibabel's rule).
import { readFileSync } from "node:fs";
import type { Volume } from "../volume/volume.js";
import { spatialUnit, temporalUnit, voxelSizes, type Mat4 } from "./affine.js";
import { NIFTI_DTYPES, datatypeName, decodeVoxels, dtypeBytes, dtypeFromCode, type NiftiDtype } from "./datatype.js";
import { NiftiError } from "./errors.js";
import { gunzip, isGzip } from "./gzip.js";
import { parseHeader, type NiftiHeader } from "./header.js";
import { headerTransforms, type AffineSource } from "./xform.js";
import { DICOM_ADVICE, dicomKind } from "./dicom.js";

export interface ReadOptions {
  /** NaN and +-Inf voxels: "error" (the default) throws with their count; "zero" sets them to 0. */
  nonFinite?: "error" | "zero";
}

export interface ParseOptions extends ReadOptions {
  /** Names the bytes in error messages (default "buffer"). */
  name?: string;
}

/** A NIfTI image as read: the header fields that matter, the affine in mm, and float32 voxels. */
export interface NiftiImage {
  /** The path read, or the name given to parseNifti(). */
  readonly source: string;
  readonly version: 1 | 2;
  readonly littleEndian: boolean;
  /** The file was gzip-compressed. */
  readonly compressed: boolean;
  /** [nx, ny, nz] or [nx, ny, nz, nt]; 1-D and 2-D images get size-1 trailing axes. */
  readonly dims: readonly number[];
  /** pixdim[1..dims.length] as stored (header units). */
  readonly pixdim: readonly number[];
  /** Voxel size in mm along i, j, k: the column norms of `affine`. */
  readonly voxelSize: readonly [number, number, number];
  readonly spatialUnit: "unknown" | "meter" | "mm" | "micron";
  readonly temporalUnit: ReturnType<typeof temporalUnit>;
  /** The on-disk datatype. */
  readonly datatype: NiftiDtype;
  readonly datatypeCode: number;
  /** Voxel-to-world transform in mm (see xform.ts for the sform > qform > pixdim precedence). */
  readonly affine: Mat4;
  readonly affineSource: AffineSource;
  /** The qform in mm when qform_code > 0, else null. */
  readonly qform: Mat4 | null;
  /** The sform in mm when sform_code > 0, else null. */
  readonly sform: Mat4 | null;
  readonly qformCode: number;
  readonly sformCode: number;
  readonly qfac: 1 | -1;
  /** scl_slope and scl_inter as stored; `scaled` tells whether they were applied. */
  readonly sclSlope: number;
  readonly sclInter: number;
  readonly scaled: boolean;
  readonly description: string;
  /** How many NaN/Inf voxels were set to 0 (only with nonFinite: "zero"). */
  readonly nonFiniteZeroed: number;
  /** Voxel values after scaling, i fastest, then j, k, and the frame. */
  readonly data: Float32Array;
  /** Every parsed header field, as stored. */
  readonly header: Readonly<NiftiHeader>;
}

/** Reads a .nii or .nii.gz file (gzip is recognised by its content, not its name). */
export function readNifti(path: string, options: ReadOptions = {}): NiftiImage {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = e !== null && typeof e === "object" && "code" in e ? String(e.code) : "";
    const dicom = code === "EISDIR" ? dicomKind(path) : null;
    if (dicom !== null) throw new NiftiError(path, `this is ${dicom}, not a NIfTI volume; ${DICOM_ADVICE}`, { cause: e });
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : e instanceof Error ? e.message : String(e);
    throw new NiftiError(path, `cannot read the file: ${why}`, { cause: e });
  }
  const dicom = dicomKind(path, bytes);
  if (dicom !== null) throw new NiftiError(path, `this is ${dicom}, not a NIfTI volume; ${DICOM_ADVICE}`);
  return parseNifti(bytes, { ...options, name: path });
}

function describeDims(dims: readonly number[], dtype: NiftiDtype): string {
  return `${dims.join("x")} ${dtype} (${dtypeBytes(dtype)} byte${dtypeBytes(dtype) === 1 ? "" : "s"} each)`;
}

/** Parses the bytes of a NIfTI file (.nii, or gzip-compressed). `bytes` is only read. */
export function parseNifti(bytes: Uint8Array, options: ParseOptions = {}): NiftiImage {
  const source = options.name ?? "buffer";
  const nonFinite = options.nonFinite ?? "error";
  if (nonFinite !== "error" && nonFinite !== "zero") {
    throw new NiftiError(source, `nonFinite must be "error" or "zero", got ${JSON.stringify(nonFinite)}`);
  }

  const compressed = isGzip(bytes);
  let raw = bytes;
  let complete = true;
  if (compressed) ({ bytes: raw, complete } = gunzip(bytes, source));

  let h: NiftiHeader;
  try {
    h = parseHeader(raw, source);
  } catch (e) {
    if (!complete) {
      throw new NiftiError(
        source,
        `truncated: the gzip stream ends early, after ${raw.length} decompressed bytes, before the end of the NIfTI header; ` +
          `the file was cut short, get a complete copy`,
        { cause: e },
      );
    }
    throw e;
  }

  const dtype = dtypeFromCode(h.datatypeCode);
  if (dtype === undefined) {
    throw new NiftiError(
      source,
      `unsupported datatype ${h.datatypeCode} (${datatypeName(h.datatypeCode)}); supported: ${NIFTI_DTYPES.join(", ")}; ` +
        `convert the image first (e.g. fslmaths IN OUT -odt float)`,
    );
  }

  const ndim = h.dim[0] as number;
  const dims = h.dim.slice(1, 1 + Math.min(ndim, 4));
  while (dims.length < 3) dims.push(1);
  const count = dims.reduce((a, b) => a * b, 1);
  const need = count * dtypeBytes(dtype);
  const have = raw.length - h.voxOffset;
  if (!complete || have < need) {
    const missing = need - have; // counts a cut-off extension flag too
    const where = compressed ? (complete ? "the decompressed file" : "the gzip stream ends early: what it holds") : "the file";
    throw new NiftiError(
      source,
      `truncated: ${describeDims(dims, dtype)} need ${need} bytes of voxel data from byte ${h.voxOffset}, ` +
        `${where} has ${Math.max(have, 0)}` +
        (missing > 0 ? ` (${missing} bytes missing)` : " but the gzip end marker and checksum are missing") +
        `; the file was cut short while copying or downloading, get a complete copy`,
    );
  }
  if (have > need) {
    throw new NiftiError(
      source,
      `the header's dims and datatype do not match the data length: ${describeDims(dims, dtype)} need ${need} bytes ` +
        `after vox_offset ${h.voxOffset}, the ${compressed ? "decompressed " : ""}file has ${have} (${have - need} extra); ` +
        `the header is wrong or the file is damaged: re-export it from the original`,
    );
  }

  let scale: { slope: number; inter: number } | undefined;
  const slopeUsable = Number.isFinite(h.sclSlope) && h.sclSlope !== 0;
  if (slopeUsable) {
    if (!Number.isFinite(h.sclInter)) {
      throw new NiftiError(source, `scl_slope is ${h.sclSlope} but scl_inter is ${h.sclInter}; the header is damaged (set scl_inter to 0)`);
    }
    if (h.sclSlope !== 1 || h.sclInter !== 0) scale = { slope: h.sclSlope, inter: h.sclInter };
  }

  const data = decodeVoxels(raw.subarray(h.voxOffset, h.voxOffset + need), dtype, h.littleEndian, scale);
  const nonFiniteZeroed = handleNonFinite(data, nonFinite, source);

  const xf = headerTransforms(h, source);
  const units = spatialUnit(h.xyztUnits);
  return {
    source,
    version: h.version,
    littleEndian: h.littleEndian,
    compressed,
    dims,
    pixdim: h.pixdim.slice(1, 1 + dims.length),
    voxelSize: voxelSizes(xf.affine),
    spatialUnit: units.unit,
    temporalUnit: temporalUnit(h.xyztUnits),
    datatype: dtype,
    datatypeCode: h.datatypeCode,
    affine: xf.affine,
    affineSource: xf.affineSource,
    qform: xf.qform,
    sform: xf.sform,
    qformCode: h.qformCode,
    sformCode: h.sformCode,
    qfac: xf.qfac,
    sclSlope: h.sclSlope,
    sclInter: h.sclInter,
    scaled: scale !== undefined,
    description: h.description,
    nonFiniteZeroed,
    data,
    header: h,
  };
}

/** Counts NaN/Inf; throws ("error") or zeroes them in place ("zero", in our own decoded copy). */
function handleNonFinite(data: Float32Array, mode: "error" | "zero", source: string): number {
  let nan = 0;
  let inf = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v - v !== 0) {
      // NaN or +-Inf
      if (Number.isNaN(v)) nan++;
      else inf++;
      if (first < 0) first = i;
      if (mode === "zero") data[i] = 0;
    }
  }
  const n = nan + inf;
  if (n > 0 && mode === "error") {
    throw new NiftiError(
      source,
      `${n} of ${data.length} voxels are not finite (${nan} NaN, ${inf} Inf; the first at voxel index ${first}); ` +
        `read with {nonFinite: "zero"} (command line: --non-finite zero) to set them to 0, or fix the file`,
    );
  }
  return n;
}

/** Frame `frame` of an image as a Volume. The data is a view of the image's data (no copy). */
export function toVolume(image: NiftiImage, frame = 0): Volume {
  const [nx, ny, nz] = image.dims as [number, number, number];
  const frames = image.dims[3] ?? 1;
  if (!Number.isInteger(frame) || frame < 0 || frame >= frames) {
    throw new NiftiError(image.source, `frame ${frame} does not exist: the image has ${frames} frame${frames === 1 ? "" : "s"} (0 to ${frames - 1})`);
  }
  const n = nx * ny * nz;
  return { data: image.data.subarray(frame * n, (frame + 1) * n), dims: [nx, ny, nz], affine: image.affine };
}
