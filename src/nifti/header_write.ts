// Laying out a NIfTI-1 (348 bytes) or NIfTI-2 (540 bytes) header, little-endian,
// followed by the 4-byte extension flag (all zero: no extensions). The voxel data
// starts right after: vox_offset 352 (NIfTI-1) or 544 (NIfTI-2).
//
// Field offsets are those of nifti1.h / nifti2.h; test/nifti/write.test.ts checks
// them byte by byte.

/** What the writer puts in a header; every field not listed here is written as 0. */
export interface HeaderFields {
  version: 1 | 2;
  /** dim[0..7]. */
  dim: readonly number[];
  datatypeCode: number;
  bitpix: number;
  /** pixdim[0..7]; pixdim[0] is qfac. */
  pixdim: readonly number[];
  sclSlope: number;
  sclInter: number;
  xyztUnits: number;
  /** At most 80 bytes of UTF-8. */
  description: Uint8Array;
  qformCode: number;
  sformCode: number;
  quatern: readonly [number, number, number];
  qoffset: readonly [number, number, number];
  /** srow_x, srow_y, srow_z: 12 numbers. */
  srow: readonly number[];
}

export const NIFTI1_VOX_OFFSET = 352;
export const NIFTI2_VOX_OFFSET = 544;

export function voxOffsetFor(version: 1 | 2): number {
  return version === 1 ? NIFTI1_VOX_OFFSET : NIFTI2_VOX_OFFSET;
}

function putAscii(b: Uint8Array, at: number, s: string): void {
  for (let i = 0; i < s.length; i++) b[at + i] = s.charCodeAt(i);
}

/** The header and extension flag: exactly voxOffsetFor(version) bytes. */
export function encodeHeader(f: HeaderFields): Uint8Array {
  const out = new Uint8Array(voxOffsetFor(f.version));
  const dv = new DataView(out.buffer);
  const LE = true;
  if (f.version === 1) {
    dv.setInt32(0, 348, LE); // sizeof_hdr
    out[38] = 0x72; // regular = 'r' (Analyze 7.5 legacy)
    for (let i = 0; i < 8; i++) dv.setInt16(40 + 2 * i, f.dim[i] ?? 0, LE);
    dv.setInt16(70, f.datatypeCode, LE);
    dv.setInt16(72, f.bitpix, LE);
    for (let i = 0; i < 8; i++) dv.setFloat32(76 + 4 * i, f.pixdim[i] ?? 0, LE);
    dv.setFloat32(108, NIFTI1_VOX_OFFSET, LE);
    dv.setFloat32(112, f.sclSlope, LE);
    dv.setFloat32(116, f.sclInter, LE);
    out[123] = f.xyztUnits;
    out.set(f.description.subarray(0, 80), 148);
    dv.setInt16(252, f.qformCode, LE);
    dv.setInt16(254, f.sformCode, LE);
    for (let i = 0; i < 3; i++) dv.setFloat32(256 + 4 * i, f.quatern[i] as number, LE);
    for (let i = 0; i < 3; i++) dv.setFloat32(268 + 4 * i, f.qoffset[i] as number, LE);
    for (let i = 0; i < 12; i++) dv.setFloat32(280 + 4 * i, f.srow[i] as number, LE);
    putAscii(out, 344, "n+1\0");
  } else {
    dv.setInt32(0, 540, LE);
    putAscii(out, 4, "n+2\0\r\n\x1a\n");
    dv.setInt16(12, f.datatypeCode, LE);
    dv.setInt16(14, f.bitpix, LE);
    for (let i = 0; i < 8; i++) dv.setBigInt64(16 + 8 * i, BigInt(f.dim[i] ?? 0), LE);
    for (let i = 0; i < 8; i++) dv.setFloat64(104 + 8 * i, f.pixdim[i] ?? 0, LE);
    dv.setBigInt64(168, BigInt(NIFTI2_VOX_OFFSET), LE);
    dv.setFloat64(176, f.sclSlope, LE);
    dv.setFloat64(184, f.sclInter, LE);
    out.set(f.description.subarray(0, 80), 240);
    dv.setInt32(344, f.qformCode, LE);
    dv.setInt32(348, f.sformCode, LE);
    for (let i = 0; i < 3; i++) dv.setFloat64(352 + 8 * i, f.quatern[i] as number, LE);
    for (let i = 0; i < 3; i++) dv.setFloat64(376 + 8 * i, f.qoffset[i] as number, LE);
    for (let i = 0; i < 12; i++) dv.setFloat64(400 + 8 * i, f.srow[i] as number, LE);
    dv.setInt32(500, f.xyztUnits, LE);
  }
  return out;
}
