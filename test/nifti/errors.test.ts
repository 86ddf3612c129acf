// Bad files: each crafted from a good fixture, each read must fail with a NiftiError
// that names the file, the problem and what to do — never a crash or a wrong image.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { NiftiError, parseNifti, readNifti, writeNifti, type ReadOptions } from "../../src/nifti/index.js";
import { fixture, freshDir } from "./util.js";

const dir = freshDir();
let n = 0;

/** Writes bytes to a fresh file and returns its path. */
function craft(bytes: Uint8Array, ext = ".nii"): string {
  const p = join(dir, `bad${n++}${ext}`);
  writeFileSync(p, bytes);
  return p;
}

/** A little-endian NIfTI-1 int16 5x4x3 file (352 + 120 bytes), to patch. */
function good(): Uint8Array {
  return new Uint8Array(readFileSync(fixture("n1_int16.nii")));
}

function patch(b: Uint8Array, f: (dv: DataView) => void): Uint8Array {
  f(new DataView(b.buffer, b.byteOffset, b.byteLength));
  return b;
}

function expectError(path: string, options: ReadOptions, ...patterns: RegExp[]): NiftiError {
  let caught: unknown;
  try {
    readNifti(path, options);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof NiftiError, `expected a NiftiError, got ${String(caught)}`);
  assert.equal(caught.source, path);
  assert.ok(caught.message.startsWith(`nifti: ${path}: `), caught.message);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

test("the good base file reads", () => {
  assert.deepEqual([...readNifti(craft(good())).dims], [5, 4, 3]);
});

test("not a NIfTI file: wrong sizeof_hdr", () => {
  const text = new TextEncoder().encode("subject,lr,hr\nsub-01,a.nii,b.nii\n".repeat(20));
  expectError(craft(text), {}, /not a NIfTI file: sizeof_hdr \(the first 4 bytes\) is \d+ little-endian \/ \d+ big-endian, expected 348 \(NIfTI-1\) or 540 \(NIfTI-2\)/, /check that this is a \.nii or \.nii\.gz image/);
  expectError(craft(new Uint8Array([1, 2])), {}, /not a NIfTI file: it is only 2 bytes long/);
  expectError(craft(new Uint8Array(0)), {}, /not a NIfTI file: it is only 0 bytes long/);
});

test("not a NIfTI file: bad magic (Analyze 7.5, .hdr/.img pair)", () => {
  const analyze = patch(good(), (dv) => dv.setUint32(344, 0));
  expectError(craft(analyze), {}, /not a NIfTI-1 file: the magic string is "", expected "n\+1" \(an Analyze 7\.5 header/);
  const junk = patch(good(), (dv) => dv.setUint32(344, 0x78797a00));
  expectError(craft(junk), {}, /the magic string is "xyz", expected "n\+1"/);
  const pair = patch(good(), (dv) => dv.setUint8(345, 0x69)); // "ni1"
  expectError(craft(pair, ".hdr"), {}, /the header of a NIfTI-1 \.hdr\/\.img pair \(magic "ni1"\), which is not supported; convert the pair to a single \.nii/);
  const n2 = new Uint8Array(readFileSync(fixture("n2_float32.nii")));
  n2[9] = 0x0d; // "\r\n\x1a\n" -> "\r\r\x1a\n": a text-mode transfer
  expectError(craft(n2), {}, /NIfTI-2 magic string is damaged .* text-mode transfer/);
});

test("truncated header", () => {
  expectError(craft(good().subarray(0, 200)), {}, /truncated: the file is 200 bytes, shorter than its NIfTI-1 header \(348 bytes; 148 bytes missing\)/);
});

test("truncated data: says how many bytes are missing", () => {
  const b = good();
  expectError(
    craft(b.subarray(0, b.length - 10)),
    {},
    /truncated: 5x4x3 int16 \(2 bytes each\) need 120 bytes of voxel data from byte 352, the file has 110 \(10 bytes missing\); the file was cut short/,
  );
  expectError(craft(b.subarray(0, 352)), {}, /the file has 0 \(120 bytes missing\)/);
  expectError(craft(b.subarray(0, 350)), {}, /the file has 0 \(122 bytes missing\)/);
});

test("truncated .nii.gz: the gzip stream ends early, with the bytes missing", () => {
  const big = readFileSync(fixture("n1_float64.nii")); // 352 + 480 bytes
  const gz = gzipSync(big);
  expectError(craft(gz.subarray(0, gz.length - 8), ".nii.gz"), {}, /truncated: .* the gzip stream ends early: what it holds has \d+( \(\d+ bytes missing\)| but the gzip end marker and checksum are missing)/);
  const cut = gz.subarray(0, Math.floor(gz.length * 0.6));
  const e = expectError(craft(cut, ".nii.gz"), {}, /truncated: 5x4x3 float64 \(8 bytes each\) need 480 bytes of voxel data from byte 352, the gzip stream ends early: what it holds has \d+ \(\d+ bytes missing\)/);
  const m = /has (\d+) \((\d+) bytes missing\)/.exec(e.message);
  assert.ok(m !== null);
  assert.equal(Number(m[1]) + Number(m[2]), 480);
  expectError(craft(gz.subarray(0, 40), ".nii.gz"), {}, /truncated: the gzip stream ends early, after \d+ decompressed bytes, before the end of the NIfTI header/);
});

test("corrupt gzip", () => {
  const gz = new Uint8Array(gzipSync(readFileSync(fixture("n1_float64.nii"))));
  for (let i = 20; i < 60; i++) gz[i] = (gz[i] as number) ^ 0x5a;
  expectError(craft(gz, ".nii.gz"), {}, /the gzip data is corrupt \(.+\); the file is damaged: get a fresh copy/);
  const crc = new Uint8Array(gzipSync(readFileSync(fixture("n1_float64.nii"))));
  crc[crc.length - 6] = (crc[crc.length - 6] as number) ^ 0xff; // checksum
  expectError(craft(crc, ".nii.gz"), {}, /the gzip data is corrupt \(incorrect data check\)/);
});

test("more data than the header's dims account for", () => {
  const b = good();
  const longer = new Uint8Array(b.length + 24);
  longer.set(b);
  expectError(craft(longer), {}, /the header's dims and datatype do not match the data length: 5x4x3 int16 \(2 bytes each\) need 120 bytes after vox_offset 352, the file has 144 \(24 extra\)/);
  // A datatype that does not match the bytes: uint8 instead of int16.
  const wrongType = patch(good(), (dv) => {
    dv.setInt16(70, 2, true);
    dv.setInt16(72, 8, true);
  });
  expectError(craft(wrongType), {}, /5x4x3 uint8 \(1 byte each\) need 60 bytes .* has 120 \(60 extra\)/);
  // dims that are too large: the data is then "truncated"
  const wrongDims = patch(good(), (dv) => dv.setInt16(46, 4, true));
  expectError(craft(wrongDims), {}, /5x4x4 int16 .* need 160 bytes .* has 120 \(40 bytes missing\)/);
});

test("zero or negative dims, and a bad dim[0]", () => {
  expectError(craft(patch(good(), (dv) => dv.setInt16(44, 0, true))), {}, /dim\[2\] is 0: every dimension must be at least 1 \(dim = \[3, 5, 0, 3, 1, 1, 1, 1\]\)/);
  expectError(craft(patch(good(), (dv) => dv.setInt16(42, -5, true))), {}, /dim\[1\] is -5: every dimension must be at least 1/);
  expectError(craft(patch(good(), (dv) => dv.setInt16(40, 0, true))), {}, /dim\[0\] \(the number of dimensions\) is 0, must be 1 to 7/);
  expectError(craft(patch(good(), (dv) => dv.setInt16(40, 9, true))), {}, /dim\[0\] \(the number of dimensions\) is 9, must be 1 to 7/);
  expectError(
    craft(patch(good(), (dv) => {
      dv.setInt16(40, 5, true);
      dv.setInt16(50, 2, true);
    })),
    {},
    /a 5-D image with dim\[5\] = 2 is not supported/,
  );
});

test("NaN/Inf voxels: an error with their count, or zeroed on request", () => {
  const v = readNifti(fixture("n1_float32.nii"));
  const data = Float32Array.from(v.data);
  data[3] = NaN;
  data[10] = Infinity;
  data[59] = NaN;
  const p = join(dir, "nan.nii");
  writeNifti(p, { data, dims: [5, 4, 3], affine: v.affine });
  expectError(p, {}, /3 of 60 voxels are not finite \(2 NaN, 1 Inf; the first at voxel index 3\); read with \{nonFinite: "zero"\} \(command line: --non-finite zero\) to set them to 0/);
  expectError(p, { nonFinite: "error" }, /3 of 60 voxels are not finite/);
  const im = readNifti(p, { nonFinite: "zero" });
  assert.equal(im.nonFiniteZeroed, 3);
  assert.equal(im.data[3], 0);
  assert.equal(im.data[10], 0);
  assert.equal(im.data[59], 0);
  assert.equal(im.data[4], data[4]);
  expectError(p, { nonFinite: "keep" as "zero" }, /nonFinite must be "error" or "zero", got "keep"/);
});

test("unsupported datatypes are named", () => {
  const cases: [number, string][] = [
    [32, "complex64"],
    [128, "rgb24"],
    [768, "uint32"],
    [1024, "int64"],
    [1, "binary"],
    [0, "unknown"],
    [9999, "unknown"],
  ];
  for (const [code, name] of cases) {
    expectError(
      craft(patch(good(), (dv) => dv.setInt16(70, code, true))),
      {},
      new RegExp(`unsupported datatype ${code} \\(${name}\\); supported: uint8, int8, int16, uint16, int32, float32, float64; convert the image first`),
    );
  }
});

test("damaged transforms and scaling", () => {
  expectError(craft(patch(good(), (dv) => dv.setFloat32(284, NaN, true))), {}, /sform_code is 2 but the sform rows contain NaN or Inf/);
  const q = patch(good(), (dv) => {
    dv.setInt16(254, 0, true); // no sform: the qform is used
    dv.setFloat32(256, Infinity, true);
  });
  expectError(craft(q), {}, /qform_code is 1 but the quaternion or offsets contain NaN or Inf/);
  expectError(
    craft(patch(good(), (dv) => {
      dv.setFloat32(112, 2, true);
      dv.setFloat32(116, NaN, true);
    })),
    {},
    /scl_slope is 2 but scl_inter is NaN; the header is damaged/,
  );
  expectError(craft(patch(good(), (dv) => dv.setFloat32(108, 100, true))), {}, /vox_offset is 100: the voxel data of a single-file NIfTI-1 must start at byte 352 or later/);
  // vox_offset 0 is read as 352, as nibabel and nifti1_io do.
  assert.equal(readNifti(craft(patch(good(), (dv) => dv.setFloat32(108, 0, true)))).data.length, 60);
});

test("a missing file or a directory", () => {
  expectError(join(dir, "nope.nii.gz"), {}, /cannot read the file: no such file/);
  expectError(dir, {}, /cannot read the file: it is a directory/);
});

test("parseNifti names the buffer", () => {
  assert.throws(() => parseNifti(new Uint8Array(10)), /^NiftiError: nifti: buffer: not a NIfTI file/);
  assert.throws(() => parseNifti(new Uint8Array(10), { name: "upload" }), (e: unknown) => e instanceof NiftiError && e.source === "upload");
});
