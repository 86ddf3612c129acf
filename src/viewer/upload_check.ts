// Checks of an uploaded file before it is queued for enhancement, so a wrong file gets its message at
// once instead of after the jobs ahead of it:
//   sniffNifti: the first bytes (as they arrive) look like NIfTI-1/2 or gzip;
//   inspectNifti: the whole file reads as a 3-D NIfTI volume with signal (run in a worker thread by
//   src/viewer/inspect_worker.ts, as reading a large .nii.gz takes a moment).
import { NiftiError, readNifti, toVolume } from "../nifti/index.js";
import { isNiftiName } from "./sessions.js";

export class UploadError extends Error {
  constructor(
    message: string,
    /** The HTTP status that says it: 400 bad file, 413 too large. */
    readonly status: number = 400,
  ) {
    super(message);
    this.name = "UploadError";
  }
}

/** Checks the file name the page sent. */
export function checkUploadName(name: string | null): string {
  if (name === null || name.trim() === "") throw new UploadError("the upload has no file name; choose a .nii or .nii.gz file");
  const base = name.replace(/^.*[\\/]/, "");
  if (!isNiftiName(base)) throw new UploadError(`${base} is not a NIfTI file: choose a .nii or .nii.gz file (convert DICOM with dcm2niix first)`);
  if (!/^[\w.\- ()+]+$/.test(base)) return base.replace(/[^\w.\-]/g, "_");
  return base;
}

function sizeofHdr(b: Uint8Array, little: boolean): number {
  return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, little);
}

/**
 * Whether the first bytes of a file can start a NIfTI file: gzip magic, or sizeof_hdr 348 (NIfTI-1)
 * or 540 (NIfTI-2) in either byte order. Throws an UploadError naming what the bytes look like.
 */
export function sniffNifti(first: Uint8Array, name: string): void {
  if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) return;
  if (first.length >= 4) {
    for (const little of [true, false]) {
      const n = sizeofHdr(first, little);
      if (n === 348 || n === 540) return;
    }
  }
  throw new UploadError(`${name} is not a NIfTI file (${describeStart(first)}); choose a .nii or .nii.gz volume`);
}

function describeStart(b: Uint8Array): string {
  if (b.length === 0) return "it is empty";
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "it is a PNG image";
  if (b[0] === 0xff && b[1] === 0xd8) return "it is a JPEG image";
  if (b[0] === 0x50 && b[1] === 0x4b) return "it is a zip archive";
  if (b.length > 132 && String.fromCharCode(...b.subarray(128, 132)) === "DICM") return "it is a DICOM file: convert it with dcm2niix first";
  const text = b.subarray(0, Math.min(b.length, 64)).every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127));
  if (text) return "it is text";
  return "its header size is neither 348 nor 540 bytes";
}

export interface Inspected {
  dims: [number, number, number];
  voxelSize: [number, number, number];
}

/** Reads the whole file as the worker will; throws an UploadError that says what is wrong. */
export function inspectNifti(path: string, name: string): Inspected {
  let im;
  try {
    im = readNifti(path, { nonFinite: "error" });
  } catch (e) {
    const why = e instanceof NiftiError ? e.problem : e instanceof Error ? e.message.replace(path, name) : String(e);
    throw new UploadError(`${name} could not be read as NIfTI: ${why}`);
  }
  const frames = im.dims[3] ?? 1;
  if (frames > 1) throw new UploadError(`${name} is 4-D with ${frames} frames; upload one 3-D volume (\`fslroi IN OUT 0 1\` extracts the first), or run \`moediff-sr enhance --volume-index N\` on the command line`);
  const [nx, ny, nz] = im.dims as [number, number, number];
  if (Math.min(nx, ny, nz) < 3) throw new UploadError(`${name} is ${nx}x${ny}x${nz}: a volume needs at least 3 voxels along each axis (2.5D condition slices k-1, k, k+1)`);
  const v = toVolume(im);
  let max = -Infinity;
  for (const x of v.data) if (x > max) max = x;
  if (!(max > 0)) throw new UploadError(`${name} has no signal (its largest value is ${max}); upload a T1-weighted brain volume`);
  return { dims: [nx, ny, nz], voxelSize: [...im.voxelSize] as [number, number, number] };
}
