import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  NIFTI_DTYPES,
  NiftiError,
  encodeNifti,
  mat4ToQuatern,
  quaternToMat4,
  readNifti,
  writeNifti,
  type NiftiDtype,
} from "../../src/nifti/index.js";
import type { Volume } from "../../src/volume/volume.js";
import { float32Quatern } from "../../src/nifti/write.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { fixture, freshDir } from "./util.js";

// An oblique, left-handed affine with shear: only an sform holds it exactly.
const SHEARED = [-1.1, 0.2, 0.15, 91.5, 0.3, 0.95, -0.4, -126.25, 0.05, 0.35, 2.4, -72.125, 0, 0, 0, 1];
// Left-handed without shear (x flipped, rotated 30 degrees about x): a qform holds it too.
const C = Math.cos(Math.PI / 6);
const S = Math.sin(Math.PI / 6);
const LEFT_RIGID = [-2, 0, 0, 90, 0, 2 * C, -1.5 * S, -126, 0, 2 * S, 1.5 * C, -72, 0, 0, 0, 1];

const RANGES: Record<NiftiDtype, [number, number]> = {
  uint8: [0, 255],
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  float32: [-1e30, 1e30],
  float64: [-1e300, 1e300],
};

/** 60 values representable in dtype (and in float32), including its extremes. */
function valuesFor(dtype: NiftiDtype, n = 60): Float32Array {
  const [lo, hi] = RANGES[dtype];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = ((i * 37) % n) / (n - 1);
    out[i] = dtype.startsWith("float") ? (t - 0.5) * 2000 + 0.123 * i : Math.round(Math.max(lo, Math.min(hi, lo + t * (Math.min(hi, 1e6) - lo))));
  }
  out[0] = dtype === "float64" ? -3.4e38 : lo === -2147483648 ? -2147483648 : Math.fround(lo);
  out[1] = dtype === "float64" ? 3.4e38 : hi === 2147483647 ? 2147483520 : Math.fround(hi);
  return out;
}

function vol(data: Float32Array, dims: [number, number, number] = [5, 4, 3], affine: number[] = SHEARED): Volume {
  return { data, dims, affine };
}

function tmpLeftovers(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith(".tmp"));
}

for (const dtype of NIFTI_DTYPES) {
  test(`round trip ${dtype}: data, affine and datatype`, () => {
    const dir = freshDir();
    const data = valuesFor(dtype);
    const before = Float32Array.from(data);
    const r = writeNifti(join(dir, "a.nii"), vol(data), { dtype });
    assert.deepEqual(data, before, "the input was modified");
    assert.equal(r.clamped, 0);
    assert.equal(r.rounded, 0);
    const im = readNifti(join(dir, "a.nii"));
    assert.equal(im.datatype, dtype);
    assert.deepEqual([...im.dims], [5, 4, 3]);
    assert.deepEqual([...im.data], [...data]);
    assert.deepEqual([...im.affine], SHEARED.map((v, i) => (i < 12 ? Math.fround(v) : v)));
  });
}

test("the affine is kept exactly: float32 in NIfTI-1, float64 in NIfTI-2", () => {
  const dir = freshDir();
  const data = valuesFor("float32");
  writeNifti(join(dir, "v1.nii"), vol(data));
  writeNifti(join(dir, "v2.nii"), vol(data), { version: 2 });
  const v1 = readNifti(join(dir, "v1.nii"));
  const v2 = readNifti(join(dir, "v2.nii"));
  assert.equal(v1.version, 1);
  assert.equal(v2.version, 2);
  assert.deepEqual([...v1.affine], SHEARED.map(Math.fround));
  assert.deepEqual([...v2.affine], SHEARED);
  assert.equal(v1.affineSource, "sform");
  assert.equal(v1.sformCode, 2);
  assert.equal(v1.qformCode, 1);
});

test("the qform written from a shear-free affine is the same transform (qfac -1 included)", () => {
  const dir = freshDir();
  for (const version of [1, 2] as const) {
    const p = join(dir, `q${version}.nii`);
    writeNifti(p, vol(valuesFor("float32"), [5, 4, 3], LEFT_RIGID), { version });
    const im = readNifti(p);
    assert.equal(im.qfac, -1);
    assertClose(im.qform ?? [], LEFT_RIGID, { atol: version === 1 ? 2e-6 : 1e-12, rtol: 0 });
    // Written with the qform only, the affine still comes back.
    const p0 = join(dir, `qonly${version}.nii`);
    writeNifti(p0, vol(valuesFor("float32"), [5, 4, 3], LEFT_RIGID), { version, sformCode: 0 });
    const q = readNifti(p0);
    assert.equal(q.affineSource, "qform");
    assertClose(q.affine, LEFT_RIGID, { atol: version === 1 ? 2e-6 : 1e-12, rtol: 0 });
  }
});

test("near 180 degrees, the float32 quaternion reads back as a = 0 in every reader", () => {
  // LEFT_RIGID with qfac -1 is a 180-degree rotation about a tilted axis: a = 0 exactly.
  const q = mat4ToQuatern(LEFT_RIGID);
  const [b, c, d] = float32Quatern(q.b, q.c, q.d);
  for (const v of [b, c, d]) assert.equal(v, Math.fround(v));
  const sum64 = b * b + c * c + d * d;
  const sum32 = Math.fround(Math.fround(Math.fround(b * b) + Math.fround(c * c)) + Math.fround(d * d));
  // >= 1: a reader's 1 - sum is <= 0, so a = 0; within nibabel's tolerance of 3 float32 eps.
  assert.ok(sum64 >= 1 && sum64 <= 1 + 3 * 2 ** -23, `sum64 ${sum64}`);
  assert.ok(sum32 >= 1 && sum32 <= 1 + 3 * 2 ** -23, `sum32 ${sum32}`);
  const back = quaternToMat4({ ...q, b, c, d });
  assertClose(back, LEFT_RIGID, { atol: 2e-6, rtol: 0 });
  // Away from 180 degrees the values are just rounded.
  assert.deepEqual(float32Quatern(0.1, 0.2, 0.3), [Math.fround(0.1), Math.fround(0.2), Math.fround(0.3)]);
});

test("pixdim are the affine's column norms; the unit is mm", () => {
  const dir = freshDir();
  writeNifti(join(dir, "a.nii"), vol(valuesFor("float32")));
  const im = readNifti(join(dir, "a.nii"));
  const norms = [0, 1, 2].map((c) => Math.hypot(SHEARED[c]!, SHEARED[4 + c]!, SHEARED[8 + c]!));
  assertClose(im.pixdim, norms, { rtol: 1e-7 });
  assert.equal(im.spatialUnit, "mm");
});

test("integer output: round half away from zero, then clamp; counts reported", () => {
  const dir = freshDir();
  const data = new Float32Array([2.5, -2.5, 1.5, -0.5, 0.4, 40000, -40000, 7, 32767.4, -32768.6, 0, 0]);
  const r = writeNifti(join(dir, "a.nii"), vol(data, [3, 2, 2]), { dtype: "int16" });
  assert.equal(r.clamped, 3);
  assert.equal(r.rounded, 7);
  const im = readNifti(join(dir, "a.nii"));
  assert.deepEqual([...im.data], [3, -3, 2, -1, 0, 32767, -32768, 7, 32767, -32768, 0, 0]);

  const u8 = writeNifti(join(dir, "b.nii"), vol(new Float32Array([-3, 255.5, 254.5, 0.5]), [2, 2, 1]), { dtype: "uint8" });
  assert.equal(u8.clamped, 2);
  assert.deepEqual([...readNifti(join(dir, "b.nii")).data], [0, 255, 255, 1]);
});

test("NaN or Inf cannot be written as an integer type; float types keep them", () => {
  const dir = freshDir();
  const data = new Float32Array([1, 2, NaN, 4]);
  assertThrowsMatching(
    () => writeNifti(join(dir, "a.nii"), vol(data, [2, 2, 1]), { dtype: "uint16" }),
    /^nifti: .*a\.nii: value NaN at voxel index 2 cannot be stored as uint16; replace NaN\/Inf first or write a float dtype$/,
  );
  assert.equal(existsSync(join(dir, "a.nii")), false);
  writeNifti(join(dir, "f.nii"), vol(data, [2, 2, 1]));
  const im = readNifti(join(dir, "f.nii"), { nonFinite: "zero" });
  assert.equal(im.nonFiniteZeroed, 1);
});

test("4-D images round trip with every frame, the TR and its unit", () => {
  const dir = freshDir();
  const src = readNifti(fixture("n1_4d.nii.gz"));
  for (const dtype of ["float32", "float64", "int32"] as const) {
    const p = join(dir, `4d_${dtype}.nii.gz`);
    const r = writeNifti(p, src, { dtype });
    const im = readNifti(p);
    assert.deepEqual([...im.dims], [5, 4, 3, 2]);
    assert.equal(im.temporalUnit, "sec");
    assertClose(im.pixdim[3]!, 2.5);
    if (dtype === "int32") {
      assert.ok(r.rounded > 0);
      assert.deepEqual([...im.data], [...src.data].map((v) => (v < 0 ? -Math.round(-v) : Math.round(v)) + 0));
    } else {
      assert.deepEqual([...im.data], [...src.data]);
    }
    assert.deepEqual([...im.affine], [...src.affine]);
  }
});

test("an image keeps its own sform/qform codes and description unless told otherwise", () => {
  const dir = freshDir();
  const src = readNifti(fixture("n1_sform_and_qform.nii")); // sform 4 (MNI), qform 1
  writeNifti(join(dir, "keep.nii"), src);
  const kept = readNifti(join(dir, "keep.nii"));
  assert.equal(kept.sformCode, 4);
  assert.equal(kept.qformCode, 1);
  assert.deepEqual([...kept.affine], [...src.affine]);
  writeNifti(join(dir, "set.nii"), src, { sformCode: 3, qformCode: 0, description: "über brain" });
  const set = readNifti(join(dir, "set.nii"));
  assert.equal(set.sformCode, 3);
  assert.equal(set.qformCode, 0);
  assert.equal(set.qform, null);
  assert.equal(set.description, "über brain");
  const fromVolume = readNifti(writeNifti(join(dir, "v.nii"), vol(valuesFor("float32"))).path);
  assert.equal(fromVolume.description, "moediff-sr");
});

test(".nii.gz is chosen by the file name", () => {
  const dir = freshDir();
  const r = writeNifti(join(dir, "a.nii.gz"), vol(valuesFor("int16")), { dtype: "int16" });
  assert.equal(r.compressed, true);
  const bytes = readFileSync(join(dir, "a.nii.gz"));
  assert.equal(bytes[0], 0x1f);
  assert.equal(bytes[1], 0x8b);
  assert.equal(r.fileBytes, bytes.length);
  assert.deepEqual(new Uint8Array(gunzipSync(bytes)), r.bytes);
  const upper = writeNifti(join(dir, "B.NII.GZ"), vol(valuesFor("int16")));
  assert.equal(upper.compressed, true);
  const plain = writeNifti(join(dir, "c.nii"), vol(valuesFor("int16")));
  assert.equal(plain.compressed, false);
  assert.equal(readFileSync(join(dir, "c.nii")).length, 352 + 60 * 4);
});

// ---------------------------------------------------------------------------
// The header layout, byte by byte (nifti1.h / nifti2.h offsets).

/** Asserts that every byte outside the given [start, end) ranges is zero. */
function assertZeroExcept(b: Uint8Array, end: number, used: [number, number][]): void {
  for (let i = 0; i < end; i++) {
    if (used.some(([s, e]) => i >= s && i < e)) continue;
    assert.equal(b[i], 0, `byte ${i} should be 0`);
  }
}

test("NIfTI-1 header fields, byte by byte", () => {
  const data = new Float32Array(60).map((_, i) => i - 30);
  const enc = encodeNifti(vol(data, [5, 4, 3], LEFT_RIGID), { dtype: "int16", description: "layout test" });
  const b = enc.bytes;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const q = mat4ToQuatern(LEFT_RIGID);
  assert.equal(b.length, 352 + 120);
  assert.equal(dv.getInt32(0, true), 348, "sizeof_hdr");
  assert.equal(b[38], 0x72, "regular = 'r'");
  assert.equal(b[39], 0, "dim_info");
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => dv.getInt16(40 + 2 * i, true)), [3, 5, 4, 3, 1, 1, 1, 1], "dim");
  assert.equal(dv.getInt16(68, true), 0, "intent_code");
  assert.equal(dv.getInt16(70, true), 4, "datatype int16");
  assert.equal(dv.getInt16(72, true), 16, "bitpix");
  const pixdim = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => dv.getFloat32(76 + 4 * i, true));
  assert.deepEqual(pixdim, [-1, ...q.pixdim, 1, 1, 1, 1].map(Math.fround), "pixdim (qfac first)");
  assertClose(pixdim.slice(1, 4), [2, 2, 1.5], { rtol: 1e-7 });
  assert.equal(dv.getFloat32(108, true), 352, "vox_offset");
  assert.equal(dv.getFloat32(112, true), 1, "scl_slope");
  assert.equal(dv.getFloat32(116, true), 0, "scl_inter");
  assert.equal(b[123], 2, "xyzt_units = mm");
  assert.equal(new TextDecoder().decode(b.subarray(148, 148 + 11)), "layout test");
  assert.equal(b[148 + 11], 0, "description NUL-terminated");
  assert.equal(dv.getInt16(252, true), 1, "qform_code");
  assert.equal(dv.getInt16(254, true), 2, "sform_code");
  assert.deepEqual([0, 1, 2].map((i) => dv.getFloat32(256 + 4 * i, true)), float32Quatern(q.b, q.c, q.d), "quatern_b/c/d");
  assertClose(float32Quatern(q.b, q.c, q.d), [q.b, q.c, q.d], { atol: 3e-7, rtol: 0 });
  assert.deepEqual([0, 1, 2].map((i) => dv.getFloat32(268 + 4 * i, true)), [90, -126, -72], "qoffset");
  const srow = Array.from({ length: 12 }, (_, i) => dv.getFloat32(280 + 4 * i, true));
  assert.deepEqual(srow, LEFT_RIGID.slice(0, 12).map(Math.fround), "srow_x/y/z");
  assert.equal(new TextDecoder().decode(b.subarray(344, 348)), "n+1\0", "magic");
  assert.deepEqual([...b.subarray(348, 352)], [0, 0, 0, 0], "no extensions");
  assertZeroExcept(b, 352, [
    [0, 4],
    [38, 39],
    [40, 56],
    [70, 124],
    [148, 159],
    [252, 348],
  ]);
  assert.deepEqual(Array.from({ length: 60 }, (_, i) => dv.getInt16(352 + 2 * i, true)), [...data], "voxels, little-endian int16");
});

test("NIfTI-2 header fields, byte by byte", () => {
  const data = new Float32Array(120).map((_, i) => i / 4);
  const image4d = { ...readNifti(fixture("n1_4d.nii.gz")), data, description: "" };
  const enc = encodeNifti(image4d, { version: 2, dtype: "float64" });
  const b = enc.bytes;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const q = mat4ToQuatern(image4d.affine);
  assert.equal(b.length, 544 + 120 * 8);
  assert.equal(dv.getInt32(0, true), 540, "sizeof_hdr");
  assert.deepEqual([...b.subarray(4, 12)], [0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], "magic n+2\\0\\r\\n\\x1a\\n");
  assert.equal(dv.getInt16(12, true), 64, "datatype float64");
  assert.equal(dv.getInt16(14, true), 64, "bitpix");
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => Number(dv.getBigInt64(16 + 8 * i, true))), [4, 5, 4, 3, 2, 1, 1, 1], "dim");
  const pixdim = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => dv.getFloat64(104 + 8 * i, true));
  assert.deepEqual(pixdim, [1, ...q.pixdim, 2.5, 1, 1, 1], "pixdim");
  assert.equal(Number(dv.getBigInt64(168, true)), 544, "vox_offset");
  assert.equal(dv.getFloat64(176, true), 1, "scl_slope");
  assert.equal(dv.getFloat64(184, true), 0, "scl_inter");
  assert.equal(dv.getInt32(344, true), 1, "qform_code");
  assert.equal(dv.getInt32(348, true), 2, "sform_code");
  assert.deepEqual([0, 1, 2].map((i) => dv.getFloat64(352 + 8 * i, true)), [q.b, q.c, q.d], "quatern_b/c/d");
  assert.deepEqual([0, 1, 2].map((i) => dv.getFloat64(376 + 8 * i, true)), q.offset, "qoffset");
  const srow = Array.from({ length: 12 }, (_, i) => dv.getFloat64(400 + 8 * i, true));
  assert.deepEqual(srow, image4d.affine.slice(0, 12), "srow");
  assert.equal(dv.getInt32(500, true), 2 | 8, "xyzt_units = mm + sec");
  assertZeroExcept(b, 544, [
    [0, 16],
    [16, 80],
    [104, 192],
    [344, 496],
    [500, 504],
  ]);
  assert.deepEqual(Array.from({ length: 120 }, (_, i) => dv.getFloat64(544 + 8 * i, true)), [...data], "voxels");
});

// ---------------------------------------------------------------------------
// Atomic writes and bad requests

test("atomic write: an existing file is replaced whole; no temporary file is left", () => {
  const dir = freshDir();
  const p = join(dir, "a.nii");
  writeFileSync(p, "old contents");
  writeNifti(p, vol(valuesFor("float32")));
  assert.equal(readNifti(p).data.length, 60);
  assert.deepEqual(tmpLeftovers(dir), []);
});

test("atomic write: a failure leaves the target as it was and removes the temporary file", () => {
  const dir = freshDir();
  // The target is a non-empty directory: the final rename fails after the data was written.
  const target = join(dir, "busy.nii");
  mkdirSync(target);
  writeFileSync(join(target, "keep"), "x");
  assertThrowsMatching(
    () => writeNifti(target, vol(valuesFor("float32"))),
    /^nifti: .*busy\.nii: could not rename the temporary file .*\.tmp onto the target: .*; nothing was written \(the temporary file was removed\)$/,
  );
  assert.deepEqual(tmpLeftovers(dir), []);
  assert.deepEqual(readdirSync(target), ["keep"]);

  // A failing encode (NaN as int16) never touches an existing file.
  const p = join(dir, "a.nii");
  writeNifti(p, vol(valuesFor("float32")));
  const before = readFileSync(p);
  assert.throws(() => writeNifti(p, vol(new Float32Array(60).fill(NaN)), { dtype: "int16" }), NiftiError);
  assert.ok(before.equals(readFileSync(p)));
  assert.deepEqual(tmpLeftovers(dir), []);

  // A missing directory: a clear error, nothing created.
  assertThrowsMatching(
    () => writeNifti(join(dir, "no", "such", "dir.nii"), vol(valuesFor("float32"))),
    /could not create a temporary file in .*no\/such: ENOENT/,
  );
});

test("bad write requests get clear errors", () => {
  const dir = freshDir();
  const v = vol(valuesFor("float32"));
  assertThrowsMatching(() => writeNifti(join(dir, "a.img"), v), /the output name must end in \.nii or \.nii\.gz/);
  assertThrowsMatching(() => writeNifti(join(dir, "a.nii"), v, { sformCode: 0, qformCode: 0 }), /both 0: the affine would be lost/);
  assertThrowsMatching(() => writeNifti(join(dir, "a.nii"), v, { sformCode: 0 }), /this affine has shear, which a qform cannot represent/);
  assertThrowsMatching(() => writeNifti(join(dir, "a.nii"), v, { sformCode: 7 }), /sformCode must be an integer from 0 to 5, got 7/);
  assertThrowsMatching(() => writeNifti(join(dir, "a.nii"), v, { dtype: "complex64" as NiftiDtype }), /unsupported output dtype "complex64"; choose one of uint8, int8/);
  assertThrowsMatching(() => writeNifti(join(dir, "a.nii"), v, { description: "x".repeat(81) }), /the description is 81 bytes of UTF-8, at most 80 fit/);
  assertThrowsMatching(() => writeNifti(join(dir, "a.nii"), vol(new Float32Array(59))), /data has 59 values, dims \[5, 4, 3\] need 60/);
  assertThrowsMatching(() => writeNifti(join(dir, "a.nii"), vol(new Float32Array(0), [0, 4, 3])), /dims must be positive integers, got \[0, 4, 3\]/);
  assertThrowsMatching(
    () => writeNifti(join(dir, "a.nii"), vol(valuesFor("float32"), [5, 4, 3], [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])),
    /cannot write this affine: the affine is singular/,
  );
  assertThrowsMatching(() => writeNifti(join(dir, "a.nii"), vol(valuesFor("float32"), [5, 4, 3], [1, 2, 3])), /the affine must be 16 finite numbers/);
  assertThrowsMatching(
    () => writeNifti(join(dir, "a.nii"), vol(new Float32Array(40000), [40000, 1, 1], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), { version: 1 }),
    /exceed NIfTI-1's limit of 32767 per axis; write NIfTI-2/,
  );
  const big = writeNifti(join(dir, "big.nii"), vol(new Float32Array(40000), [40000, 1, 1], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]));
  assert.equal(big.version, 2);
  assert.deepEqual([...readNifti(join(dir, "big.nii")).dims], [40000, 1, 1]);
  assert.deepEqual(tmpLeftovers(dir), []);
});
