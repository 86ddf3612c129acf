// The demo with --whole on the synthetic brain and a tiny model: whole-volume rows after the slab
// rows, the slab rows from slab cuts of the whole output, the whole volume normalised as the training
// data were; with regions off, the brain mask alone; the latent diagnostics on the slab's slices.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readNifti, toVolume } from "../../src/nifti/index.js";
import { runDemo } from "../../src/demo/run.js";
import { cropVolume } from "../../src/demo/slab.js";
import type { Volume } from "../../src/volume/volume.js";
import { tempDir } from "../data/phantom.js";
import { BRAIN_DIMS, demoModelOnly } from "./fixture.js";

let dir: string;
let cleanup: () => void;
let modelDir: string;

const load = (path: string): Volume => toVolume(readNifti(path));

before(() => {
  ({ dir, cleanup } = tempDir("moediff-demo-whole-"));
  ({ modelDir } = demoModelOnly(dir, { first: 16, last: 27 }));
});
after(() => cleanup());

test("--whole: whole-volume rows after the slab rows, and the slab rows from slab cuts of the whole output", async () => {
  const r = await runDemo({ modelDir, out: join(dir, "whole"), steps: 1, whole: true, regions: false });
  assert.deepEqual(r.report.evaluations.map((s) => s.scope), ["slab", "volume"]);
  assert.equal(r.report.regions.method, "brain-mask");
  assert.equal(r.report.heldout.simulation.reproducesRecord, null, "nothing recorded, nothing to compare");
  for (const f of ["slab/reference.nii.gz", "slab/enhanced.nii.gz", "slab/regions/brain.nii.gz", "regions/brain.nii.gz", "lr.nii.gz"]) assert.ok(r.report.files.includes(f), f);
  assert.deepEqual(load(join(r.out, "lr.nii.gz")).dims, [26, 30, 22], "the whole acquisition at 2 mm");
  const slab = r.report.heldout.slab;
  const [slabScope, volumeScope] = r.report.evaluations;
  assert.deepEqual(volumeScope!.dims, BRAIN_DIMS);
  assert.equal(slabScope!.dims[2], slab.last - slab.first + 1);
  const whole = load(join(r.out, "enhanced.nii.gz"));
  const cut = load(join(r.out, "slab/enhanced.nii.gz"));
  assert.deepEqual(Array.from(cut.data), Array.from(cropVolume(whole, 2, slab.first, slab.last).data));
  assert.equal(r.report.enhance.inputScale, r.report.enhance.wholeVolumeScale, "the whole volume is normalised as the training data were");
  assert.match(readFileSync(join(r.out, "summary.md"), "utf8"), /## Whole volume \(it includes the slices the model was trained on\)/);
  // The latent diagnostics run on the slab's slices of the whole volume, and z_out is the output's latent there.
  const l = r.report.latent.measured ?? assert.fail(`no latent diagnostics: ${r.report.latent.note}`);
  assert.ok(l.slices.length > 0 && l.slices.every((k) => k >= slab.first && k <= slab.last), `slices ${l.slices.join(", ")}`);
  assert.ok(l.decodedVsOutput !== null && l.decodedVsOutput < 1e-5, `z_out decodes to the output within ${l.decodedVsOutput}`);
  assert.deepEqual(load(join(r.out, "slab/autoencoder.nii.gz")).dims, slabScope!.dims, "the autoencoder row on the slab too");
});
