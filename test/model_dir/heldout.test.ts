// heldout.json: the reader accepts the documented layout and refuses every malformed part with the key
// path and the bad value; heldoutFromManifest picks the test slab and the training pair's acquisition.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DatasetManifest } from "../../src/data/manifest.js";
import { formatHeldout, HeldoutError, heldoutFromManifest, parseHeldout, readHeldout } from "../../src/model_dir/heldout.js";
import { assertThrowsMatching } from "../helpers.js";
import { tempDir } from "../data/phantom.js";

const SHA = "592a2d20abdf36eefcb540ca8958428040edffc1bc1a18ba1dcfbabac77c5dd1";

function valid(): Record<string, any> {
  return {
    source: { path: "/usr/share/mricron/templates/ch2bet.nii.gz", sha256: SHA, subject: "ch2bet" },
    acquisition: { voxelSize: 1.639, snr: 31.877, bias: 0.088, gradwarp: 0.091, seed: 4076130350 },
    slab: { axis: "z", first: 101, last: 113 },
    results: { title: "Held-out slices", command: "npm run train:default", columns: ["model", "PSNR dB"], rows: [["3 experts", 29.1], ["B-spline", null]], notes: ["a note"] },
  };
}

function refuses(edit: (j: Record<string, any>) => void, ...patterns: RegExp[]): void {
  const j = valid();
  edit(j);
  assertThrowsMatching(() => parseHeldout(j, "model/heldout.json"), /^model\/heldout\.json: /, ...patterns);
}

test("a valid description is read back as given; results are optional", () => {
  const spec = parseHeldout(valid(), "x");
  assert.deepEqual(spec, valid());
  const { results: _r, ...bare } = valid();
  const b = parseHeldout(bare, "x");
  assert.equal(b.results, undefined);
  assert.deepEqual(parseHeldout(JSON.parse(formatHeldout(spec)), "x"), spec, "formatHeldout round-trips");
  // The recorded wmMean/sigma of a data set's manifest are accepted; a voxel-size triple too.
  const withRecord = valid();
  withRecord.acquisition = { ...withRecord.acquisition, voxelSize: [1.6, 1.6, 2], wmMean: 108.8, sigma: 3.41 };
  assert.deepEqual(parseHeldout(withRecord, "x").acquisition, withRecord.acquisition);
});

test("every malformed part is refused with its key path and the value", () => {
  refuses((j) => delete j.slab, /slab is missing/);
  refuses((j) => (j.extra = 1), /unknown key "extra"/, /known: source, acquisition, slab, results/);
  refuses((j) => (j.source.sha256 = "592a2d20"), /source\.sha256 must be 64 lowercase hex digits/, /"592a2d20"/);
  refuses((j) => (j.source.path = ""), /source\.path must be a non-empty string/);
  refuses((j) => delete j.source.subject, /source\.subject is missing/);
  refuses((j) => (j.acquisition.snr = -3), /acquisition: snr must be a positive number/, /-3/);
  refuses((j) => (j.acquisition.seed = 1.5), /acquisition: .*seed/);
  refuses((j) => (j.acquisition.voxel = 2), /acquisition: unknown key "voxel"/);
  refuses((j) => (j.acquisition.wmMean = "108"), /acquisition\.wmMean must be a positive number/);
  refuses((j) => (j.slab.axis = "axial"), /slab\.axis must be "x", "y" or "z"/, /"axial"/);
  refuses((j) => (j.slab.first = -1), /slab\.first must be a voxel index/);
  refuses((j) => (j.slab.last = 100), /slab\.last \(100\) must be >= slab\.first \(101\)/);
  refuses((j) => (j.results.rows = [["only one cell"]]), /results\.rows\[0\] must be a list of 2 cells/);
  refuses((j) => (j.results.rows = [["x", { psnr: 1 }]]), /results\.rows\[0\]\[1\] must be a string, a finite number or null/);
  refuses((j) => (j.results.columns = []), /results\.columns must be a non-empty list of strings/);
  refuses((j) => (j.results.notes = "text"), /results\.notes must be a list of strings/);
  assertThrowsMatching(() => parseHeldout([1, 2], "h.json"), /heldout must be a JSON object/);
});

test("readHeldout: a missing file and invalid JSON are named", () => {
  const { dir, cleanup } = tempDir("moediff-heldout-");
  try {
    assertThrowsMatching(() => readHeldout(dir), /has no heldout\.json/, /heldoutFromManifest/);
    writeFileSync(join(dir, "heldout.json"), "{ not json");
    assert.throws(() => readHeldout(dir), (e: unknown) => e instanceof HeldoutError && /heldout\.json is not valid JSON/.test(e.message));
    writeFileSync(join(dir, "heldout.json"), formatHeldout(parseHeldout(valid(), "x")));
    assert.equal(readHeldout(dir).slab.first, 101);
  } finally {
    cleanup();
  }
});

function manifest(split: unknown): DatasetManifest {
  const pair = (id: number, subject: string) => ({
    id,
    subject,
    kind: "simulated",
    hr: { path: `/data/${subject}.nii.gz`, bytes: 10, sha256: SHA },
    acquisition: { voxelSize: 1.5 + id, snr: 20, bias: 0.1, gradwarp: 0.2, seed: 7 + id, wmMean: 100, sigma: 5 },
  });
  return { settings: { axis: "y" }, pairs: [pair(0, "a"), pair(1, "b")], split } as unknown as DatasetManifest;
}

test("heldoutFromManifest: the test slab, its subject's first simulated pair and the slice axis", () => {
  const m = manifest({
    method: "two-subjects",
    assignments: [
      { subject: "a", split: "train" },
      { subject: "b", slabs: [{ split: "val", first: 10, last: 20 }, { split: "test", first: 24, last: 33 }] },
    ],
  });
  const spec = heldoutFromManifest(m);
  assert.deepEqual(spec.source, { path: "/data/b.nii.gz", sha256: SHA, subject: "b" });
  assert.deepEqual(spec.acquisition, { voxelSize: 2.5, snr: 20, bias: 0.1, gradwarp: 0.2, seed: 8, wmMean: 100, sigma: 5 });
  assert.deepEqual(spec.slab, { axis: "y", first: 24, last: 33 });
  const bySubject = manifest({ method: "subjects", assignments: [{ subject: "a", split: "train" }, { subject: "b", split: "test" }] });
  assertThrowsMatching(() => heldoutFromManifest(bySubject), /no simulated pair whose subject has a test slab/, /"subjects"/);
});
