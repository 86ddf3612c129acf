// gzip for .nii.gz, with node:zlib rather than fflate (which nifti-reader-js brings
// along): zlib is built into Node (no extra code to trust), native and several times
// faster on 100 MB volumes, reads multi-member gzip (pigz, bgzip), and its error
// codes tell corruption (Z_DATA_ERROR) from truncation (Z_BUF_ERROR), which lets
// the reader say how many bytes a cut-short .nii.gz is missing.
import { constants, gunzipSync, gzipSync } from "node:zlib";
import { NiftiError } from "./errors.js";

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export interface Gunzipped {
  bytes: Uint8Array;
  /** False when the compressed stream ended early; `bytes` then holds what could be decompressed. */
  complete: boolean;
}

function zlibCode(e: unknown): string | undefined {
  return e !== null && typeof e === "object" && "code" in e && typeof e.code === "string" ? e.code : undefined;
}

/** Decompresses a gzip file's bytes (never modifies them); corruption is a NiftiError naming `source`. */
export function gunzip(bytes: Uint8Array, source: string): Gunzipped {
  try {
    const out = gunzipSync(bytes);
    return { bytes: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), complete: true };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (zlibCode(e) === "Z_BUF_ERROR") {
      try {
        const part = gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
        return { bytes: new Uint8Array(part.buffer, part.byteOffset, part.byteLength), complete: false };
      } catch {
        // fall through to the corruption message
      }
    }
    throw new NiftiError(
      source,
      `the gzip data is corrupt (${msg}); the file is damaged: get a fresh copy (gzip -t tests a .gz file)`,
      { cause: e },
    );
  }
}

export function gzip(bytes: Uint8Array, level: number): Uint8Array {
  const out = gzipSync(bytes, { level });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
