// Recognising DICOM given where a NIfTI volume is expected, to say how to convert it instead of
// "not a NIfTI file: sizeof_hdr ...". A DICOM file is recognised by its name (.dcm, .ima, .dicom) or
// by the "DICM" magic after its 128-byte preamble (PS3.10 section 7.1); a directory by holding such
// files (its first entries, one level of subdirectories deep, as a series exported from a scanner).
import { closeSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join } from "node:path";

/** What to do with DICOM, for the end of a message. */
export const DICOM_ADVICE = "convert it to NIfTI first with dcm2niix (Debian package dcm2niix): dcm2niix -z y -o OUTDIR DICOM_DIR, then give the .nii.gz it writes";

const DICOM_NAME = /\.(dcm|ima|dicom)$/i;
/** How many entries of a directory (and of each subdirectory) are looked at. */
const SCAN_LIMIT = 64;

/** True when `bytes` hold "DICM" at offset 128. */
export function hasDicomMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

function fileHasDicomMagic(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const head = new Uint8Array(132);
    return readSync(fd, head, 0, 132, 0) === 132 && hasDicomMagic(head);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function isDicomFile(path: string): boolean {
  return DICOM_NAME.test(path) || fileHasDicomMagic(path);
}

function directoryHoldsDicom(dir: string, depth: number): boolean {
  let names: string[];
  try {
    names = readdirSync(dir).sort().slice(0, SCAN_LIMIT);
  } catch {
    return false;
  }
  for (const name of names) {
    const p = join(dir, name);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isFile() && isDicomFile(p)) return true;
    if (st.isDirectory() && depth > 0 && directoryHoldsDicom(p, depth - 1)) return true;
  }
  return false;
}

/**
 * "a DICOM file" or "a directory of DICOM files" when `path` is one, else null. `bytes`, when given,
 * are the file's content already read (for its magic).
 */
export function dicomKind(path: string, bytes?: Uint8Array): string | null {
  let st;
  try {
    st = statSync(path);
  } catch {
    return DICOM_NAME.test(path) ? "a DICOM file" : null;
  }
  if (st.isDirectory()) return directoryHoldsDicom(path, 1) ? "a directory of DICOM files" : null;
  if (DICOM_NAME.test(path) || (bytes !== undefined ? hasDicomMagic(bytes) : fileHasDicomMagic(path))) return "a DICOM file";
  return null;
}
