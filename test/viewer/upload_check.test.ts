// The checks an upload passes before it is queued: its name, its first bytes, and the whole file.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { checkUploadName, inspectNifti, sniffNifti } from "../../src/viewer/upload_check.js";
import { inspectInWorker } from "../../src/viewer/enhance_runner.js";
import { writeNifti } from "../../src/nifti/index.js";
import { phantom, tempDir, writeVolume } from "../data/phantom.js";

let dir: string;
let cleanup: () => void;
let good: string;

before(() => {
  ({ dir, cleanup } = tempDir("moediff-viewer-upload-"));
  good = writeVolume(join(dir, "good.nii.gz"), phantom([10, 12, 6]));
});
after(() => cleanup());

test("checkUploadName: NIfTI names pass (path parts dropped, odd characters replaced); others are refused", () => {
  assert.equal(checkUploadName("C:\\data\\sub-01_T1w.nii.gz"), "sub-01_T1w.nii.gz");
  assert.equal(checkUploadName("scan;rm -rf.nii"), "scan_rm_-rf.nii");
  assert.throws(() => checkUploadName("photo.png"), /photo\.png is not a NIfTI file: choose a \.nii or \.nii\.gz file/);
  assert.throws(() => checkUploadName(null), /no file name/);
});

test("sniffNifti: gzip and both NIfTI header sizes in either byte order pass; PNG, text, DICOM and empty say what they are", () => {
  const raw = gunzipSync(readFileSync(good));
  assert.doesNotThrow(() => sniffNifti(readFileSync(good), "g"));
  assert.doesNotThrow(() => sniffNifti(raw.subarray(0, 132), "r"));
  const big = Buffer.alloc(132);
  big.writeInt32BE(348, 0);
  assert.doesNotThrow(() => sniffNifti(big, "be"));
  big.writeInt32LE(540, 0);
  assert.doesNotThrow(() => sniffNifti(big, "n2"));
  assert.throws(() => sniffNifti(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), "x.nii"), /x\.nii is not a NIfTI file \(it is a PNG image\)/);
  assert.throws(() => sniffNifti(Buffer.from("hello, this is not an image at all"), "t.nii"), /it is text/);
  const dicom = Buffer.alloc(200);
  dicom.write("DICM", 128);
  assert.throws(() => sniffNifti(dicom, "d.nii"), /DICOM file: convert it with dcm2niix/);
  assert.throws(() => sniffNifti(Buffer.alloc(0), "e.nii"), /it is empty/);
});

test("inspectNifti: a good volume's dims; truncated, 4-D, flat-zero and too-thin volumes are refused with the upload's name", () => {
  assert.deepEqual(inspectNifti(good, "good.nii.gz").dims, [10, 12, 6]);
  const bytes = readFileSync(good);
  const cut = join(dir, "cut.nii.gz");
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  assert.throws(() => inspectNifti(cut, "mine.nii.gz"), /mine\.nii\.gz could not be read as NIfTI: .*truncated/);
  const v = phantom([6, 6, 4]);
  const four = join(dir, "four.nii");
  const data = new Float32Array(v.data.length * 2);
  writeNifti(four, { data, dims: [6, 6, 4, 2], affine: v.affine } as never);
  assert.throws(() => inspectNifti(four, "four.nii"), /4-D with 2 frames/);
  const zero = writeVolume(join(dir, "zero.nii"), { ...v, data: new Float32Array(v.data.length) });
  assert.throws(() => inspectNifti(zero, "zero.nii"), /has no signal/);
  const thin = writeVolume(join(dir, "thin.nii"), phantom([6, 6, 2]));
  assert.throws(() => inspectNifti(thin, "thin.nii"), /at least 3 voxels along each axis/);
});

test("inspectInWorker: the same answers from a worker thread", async () => {
  assert.deepEqual((await inspectInWorker(good, "good.nii.gz")).dims, [10, 12, 6]);
  const cut = join(dir, "cut2.nii.gz");
  writeFileSync(cut, readFileSync(good).subarray(0, 100));
  await assert.rejects(inspectInWorker(cut, "cut2.nii.gz"), (e: Error & { status?: number }) => /could not be read as NIfTI/.test(e.message) && e.status === 400);
});
