// DICOM where a NIfTI volume is expected: a .dcm file, a file with the DICM magic at byte 128, a
// directory of them (or of a series one level down) each get the hint to convert with dcm2niix; an
// empty directory and NIfTI files are not mistaken for DICOM. Also through the CLI, one line.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { dicomKind, hasDicomMagic, readNifti } from "../../src/nifti/index.js";
import { checkPairFiles } from "../../src/data/pairs_manifest.js";
import { phantom, tempDir, writeVolume } from "../data/phantom.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const HINT = /this is a (DICOM file|directory of DICOM files), not a NIfTI volume; convert it to NIfTI first with dcm2niix \(Debian package dcm2niix\): dcm2niix -z y -o OUTDIR DICOM_DIR, then give the \.nii\.gz it writes$/;
let dir: string;
let cleanup: () => void;
let run: string;

/** 128 bytes of preamble, "DICM", and a little more: a DICOM Part 10 file's start. */
const dicomBytes = (): Uint8Array => {
  const b = new Uint8Array(200);
  b.set([0x44, 0x49, 0x43, 0x4d], 128);
  return b;
};

before(() => {
  ({ dir, cleanup } = tempDir("moediff-dicom-"));
  writeFileSync(join(dir, "scan.dcm"), "anything");
  writeFileSync(join(dir, "IM0001"), dicomBytes());
  mkdirSync(join(dir, "series"));
  writeFileSync(join(dir, "series", "IM0001"), dicomBytes());
  mkdirSync(join(dir, "study", "T1"), { recursive: true });
  writeFileSync(join(dir, "study", "T1", "1.2.840.1.dcm"), "x");
  mkdirSync(join(dir, "empty"));
  run = writeTinyModelDir(join(dir, "run"));
});
after(() => cleanup());

test("readNifti: a .dcm file, the DICM magic, a series directory and a study directory get the dcm2niix hint", () => {
  assert.equal(hasDicomMagic(dicomBytes()), true);
  assert.equal(hasDicomMagic(new Uint8Array(200)), false);
  for (const [p, kind] of [["scan.dcm", "a DICOM file"], ["IM0001", "a DICOM file"], ["series", "a directory of DICOM files"], ["study", "a directory of DICOM files"]] as const) {
    assert.equal(dicomKind(join(dir, p)), kind, p);
    assert.throws(() => readNifti(join(dir, p)), (e: unknown) => e instanceof Error && HINT.test(e.message) && e.message.includes(join(dir, p)), p);
  }
  assert.equal(dicomKind(join(dir, "empty")), null);
  assert.throws(() => readNifti(join(dir, "empty")), /cannot read the file: it is a directory$/);
  const nii = writeVolume(join(dir, "ok.nii.gz"), phantom([6, 6, 6]));
  assert.equal(dicomKind(nii), null);
  assert.deepEqual(readNifti(nii).dims, [6, 6, 6]);
});

test("a pairs manifest naming a DICOM directory gets the hint", () => {
  const nii = writeVolume(join(dir, "hr.nii.gz"), phantom([6, 6, 6]));
  assert.throws(() => checkPairFiles([{ subject: "s1", lr: join(dir, "series"), hr: nii, where: "row 2" } as never], "m.csv"), /row 2: lr file .*series is a directory of DICOM files; convert it to NIfTI first with dcm2niix/);
});

test("the CLI: info, baseline and enhance given DICOM say so in one line", () => {
  for (const args of [["info", join(dir, "series")], ["baseline", join(dir, "scan.dcm"), "--method", "trilinear", "--voxel", "1", "-o", join(dir, "b.nii.gz")], ["enhance", join(dir, "study"), "-o", join(dir, "e.nii.gz"), "--model", run]]) {
    const r = spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] as string, HINT);
  }
});
