// The reader against nibabel: every fixture written by test/fixtures/make_nifti_fixtures.py
// is read here and compared with what nibabel read from it (expected.json).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { orientationCode, parseNifti, readNifti, toVolume, voxelSizes } from "../../src/nifti/index.js";
import { assertClose } from "../helpers.js";
import { expectedCase, expectedCases, fixture, flat, type ExpectedCase } from "./util.js";

const cases = expectedCases();

/** The affine we must read: nibabel's, except in the two places where we differ on purpose. */
function expectedAffine(c: ExpectedCase): number[] {
  if (c.sform_code === 0 && c.qform_code === 0) {
    // NIfTI "method 1": diag(pixdim), origin at voxel 0 (nibabel centres and flips x instead).
    const [dx, dy, dz] = c.zooms as [number, number, number];
    return [dx, 0, 0, 0, 0, dy, 0, 0, 0, 0, dz, 0, 0, 0, 0, 1];
  }
  return toMm(flat(c.affine), c);
}

/** nibabel keeps the file's spatial unit; we convert to mm. */
function toMm(m: number[], c: ExpectedCase): number[] {
  const s = c.xyzt_units[0] === "meter" ? 1000 : c.xyzt_units[0] === "micron" ? 0.001 : 1;
  return m.map((v, i) => (i < 12 ? v * s : v));
}

test("the fixtures cover every required case", () => {
  const files = cases.map((c) => c.file);
  for (const dt of ["uint8", "int8", "int16", "uint16", "int32", "float32", "float64"]) {
    assert.ok(cases.some((c) => c.dtype === dt), `a ${dt} fixture`);
  }
  assert.ok(files.some((f) => f.endsWith(".nii.gz")), ".nii.gz");
  assert.ok(cases.some((c) => c.version === 2), "NIfTI-2");
  assert.ok(cases.some((c) => c.endianness === "big" && c.version === 1), "big-endian NIfTI-1");
  assert.ok(cases.some((c) => c.endianness === "big" && c.version === 2), "big-endian NIfTI-2");
  assert.ok(cases.some((c) => c.sform_code > 0 && c.qform_code === 0), "sform only");
  assert.ok(cases.some((c) => c.sform_code === 0 && c.qform_code > 0 && c.qfac === -1), "qform only, qfac -1");
  assert.ok(cases.some((c) => c.sform_code === 0 && c.qform_code === 0), "neither");
  assert.ok(cases.some((c) => c.slope !== 1 && c.inter !== 0), "scl_slope/inter");
  assert.ok(cases.some((c) => c.shape.length === 4), "4-D");
  assert.ok(cases.some((c) => c.xyzt_units[0] === "meter"), "meters");
});

for (const c of cases) {
  test(`${c.file}: header, affine, orientation and data match nibabel`, () => {
    const im = readNifti(fixture(c.file));
    assert.equal(im.version, c.version);
    assert.equal(im.littleEndian, c.endianness === "little");
    assert.equal(im.compressed, c.file.endsWith(".gz"));
    assert.deepEqual([...im.dims], c.shape);
    assert.equal(im.datatype, c.dtype);
    assert.equal(im.datatypeCode, c.datatype_code);
    assert.equal(im.qformCode, c.qform_code);
    assert.equal(im.sformCode, c.sform_code);
    assert.equal(im.description, c.description);
    assert.equal(im.affineSource, c.sform_code > 0 ? "sform" : c.qform_code > 0 ? "qform" : "pixdim");
    if (c.qform_code > 0) assert.equal(im.qfac, c.qfac < 0 ? -1 : 1);

    const want = expectedAffine(c);
    assertClose(im.affine, want, { atol: 1e-5, rtol: 1e-6, message: "affine" });
    assertClose(im.voxelSize, voxelSizes(want), { atol: 1e-6, rtol: 1e-6, message: "voxel size" });
    if (c.qform_code > 0) assertClose(im.qform ?? [], toMm(flat(c.qform), c), { atol: 1e-5, rtol: 1e-6, message: "qform" });
    else assert.equal(im.qform, null);
    if (c.sform_code > 0) assertClose(im.sform ?? [], toMm(flat(c.sform), c), { atol: 1e-5, rtol: 1e-6, message: "sform" });
    else assert.equal(im.sform, null);
    // nibabel's orientation of the same affine (method 1 differs on purpose: diag(pixdim) is RAS).
    assert.equal(orientationCode(im.affine), c.sform_code === 0 && c.qform_code === 0 ? "RAS" : c.axcodes);

    assert.equal(im.scaled, c.slope !== 1 || c.inter !== 0);
    // float32 holds every expected value to ~6e-8 relative (int32 extremes included).
    assertClose(im.data, c.data, { atol: 0, rtol: 1e-7, message: "data" });
  });
}

test("n1_no_xform.nii: method 1 has nibabel's voxel sizes, not its centred origin", () => {
  const c = expectedCase("n1_no_xform.nii");
  const im = readNifti(fixture(c.file));
  assert.deepEqual(im.affine, [2, 0, 0, 0, 0, 1.5, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1]);
  assertClose(voxelSizes(flat(c.affine)), im.voxelSize);
  assert.notDeepEqual(im.affine, flat(c.affine));
});

test("n1_meters.nii: the affine is converted from metres to mm", () => {
  const im = readNifti(fixture("n1_meters.nii"));
  assert.equal(im.spatialUnit, "meter");
  assertClose(im.voxelSize, [2, 2.5, 3], { rtol: 1e-6 });
  assertClose([im.affine[3]!, im.affine[7]!, im.affine[11]!], [40, -50, -20], { rtol: 1e-6 });
});

test("n1_slope_zero.nii: scl_slope 0 means no scaling (the intercept is ignored)", () => {
  const im = readNifti(fixture("n1_slope_zero.nii"));
  assert.equal(im.sclSlope, 0);
  assert.equal(im.sclInter, 5);
  assert.equal(im.scaled, false);
  assert.equal(im.data[0], 0);
  assert.equal(im.data[1], 255);
});

test("n1_scaled_int16.nii: value * scl_slope + scl_inter", () => {
  const im = readNifti(fixture("n1_scaled_int16.nii"));
  assert.equal(im.scaled, true);
  assert.equal(im.data[0], -32768 * 0.5 - 10);
  assert.equal(im.data[1], 32767 * 0.5 - 10);
});

test("4-D: dims, TR and frames as Volumes", () => {
  const c = expectedCase("n1_4d.nii.gz");
  const im = readNifti(fixture(c.file));
  assert.deepEqual([...im.dims], [5, 4, 3, 2]);
  assert.equal(im.temporalUnit, "sec");
  assertClose(im.pixdim[3]!, 2.5);
  const v0 = toVolume(im, 0);
  const v1 = toVolume(im, 1);
  assert.deepEqual(v0.dims, [5, 4, 3]);
  assert.equal(v0.affine, im.affine);
  assertClose(v0.data, c.data.slice(0, 60), { atol: 0, rtol: 1e-7 });
  assertClose(v1.data, c.data.slice(60), { atol: 0, rtol: 1e-7 });
  assert.throws(() => toVolume(im, 2), /frame 2 does not exist: the image has 2 frames \(0 to 1\)/);
  assert.throws(() => toVolume(im, -1), /frame -1 does not exist/);
});

test("toVolume of a 3-D image is its data with dims [nx, ny, nz]", () => {
  const im = readNifti(fixture("n1_int16.nii"));
  const v = toVolume(im);
  assert.deepEqual(v.dims, [5, 4, 3]);
  assert.equal(v.data.length, 60);
  assert.deepEqual([...v.data], [...im.data]);
  assert.throws(() => toVolume(im, 1), /frame 1 does not exist: the image has 1 frame \(0 to 0\)/);
});

test("gzip is recognised by content, not by name", () => {
  const a = readNifti(fixture("n1_float32.nii.gz"));
  const b = parseNifti(readFileSync(fixture("n1_float32.nii.gz")), { name: "renamed.nii" });
  assert.equal(b.compressed, true);
  assert.deepEqual([...b.data], [...a.data]);
  assert.equal(b.source, "renamed.nii");
});

test("parseNifti never modifies its argument (big-endian data, Buffer and Uint8Array inputs)", () => {
  for (const name of ["n1_be_int16.nii", "n2_be_float64.nii", "n1_float32.nii.gz"]) {
    const buf = readFileSync(fixture(name));
    const before = Buffer.from(buf);
    const im = parseNifti(buf);
    assert.ok(before.equals(buf), `${name}: the Buffer was modified`);
    const u8 = new Uint8Array(before);
    const again = parseNifti(u8);
    assert.ok(before.equals(Buffer.from(u8)), `${name}: the Uint8Array was modified`);
    assert.deepEqual([...again.data], [...im.data]);
    // The image owns its data: writing to it does not reach the input.
    im.data.fill(7);
    assert.ok(before.equals(buf));
  }
});

test("the raw header fields are available", () => {
  const im = readNifti(fixture("n2_be_float64.nii"));
  assert.equal(im.header.sizeofHdr, 540);
  assert.equal(im.header.voxOffset, 544);
  assert.deepEqual(im.header.dim, [3, 5, 4, 3, 1, 1, 1, 1]);
  assert.equal(im.header.bitpix, 64);
  assert.equal(im.header.srow.length, 12);
});
