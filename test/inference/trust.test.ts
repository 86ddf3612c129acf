// The input checks of enhance (src/inference/trust.ts) on Colin27 (ch2bet from mricron-data, which
// scripts/setup.sh installs) at 2 mm: a T1 acquisition inside the trained ranges draws no warning and its
// SNR estimate is near the truth; the same brain with inverted contrast (T2-like) warns about contrast;
// a 3 mm acquisition warns about the voxel size; an oblique header warns about orientation; a card
// without training data (an older card) checks nothing and says so in one line; the card records the
// training data from a manifest.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readNifti, toVolume } from "../../src/nifti/index.js";
import { gridFor } from "../../src/volume/affine.js";
import { reorient } from "../../src/volume/reorient.js";
import { resample } from "../../src/volume/resample.js";
import type { Volume } from "../../src/volume/volume.js";
import { simulateAcquisition } from "../../src/simulate/simulate.js";
import { DEFAULT_HR_CANDIDATES } from "../../src/data/prepare_options.js";
import { MODEL_CARD_FORMAT, modelCardFromManifest, type ModelCard } from "../../src/model_dir/card.js";
import { testCard } from "../model_dir/card_fixture.js";
import type { DatasetManifest } from "../../src/data/manifest.js";
import { assessInput, checkInput, measureInput } from "../../src/inference/trust.js";

const card: ModelCard = testCard({
  reference: { dims: [181, 217, 181], slices: 181 },
  trainingData: { lrVoxelSize: [1.4, 2.1], lrAnisotropy: 1, snr: [15, 40], contrast: "T1", fieldOfViewMm: { min: [181, 217, 181], max: [181, 217, 181] }, orientationDeg: 0 },
  dataset: { path: "test", counts: {} },
});

let brain: Volume;
const acquire = (hr: Volume, voxel: number, snr: number): Volume => simulateAcquisition(hr, { voxelSize: voxel, snr, bias: 0.2, gradwarp: 0, seed: 3 }, { wmMean: 110 }).image;

before(() => {
  // Colin27's brain on a 1.4 mm grid: small enough for a few seconds, fine enough to acquire at 2 and 3 mm.
  const bet = reorient(toVolume(readNifti(DEFAULT_HR_CANDIDATES[0])), "RAS");
  brain = resample(bet, gridFor(bet, 1.4), { interpolation: "bspline", fill: 0 });
  for (let i = 0; i < brain.data.length; i++) brain.data[i] = Math.max(0, brain.data[i] as number);
});

const items = (r: ReturnType<typeof checkInput>, status: string): string[] => r.checks.filter((c) => c.status === status).map((c) => c.item);

test("a T1 acquisition inside the trained ranges: no warning, and the SNR estimate is near the simulated SNR", () => {
  const r = assessInput(acquire(brain, 2, 25), card);
  assert.deepEqual(r.warnings, [], r.warnings.join("\n"));
  assert.deepEqual(items(r, "ok"), ["voxel size", "SNR", "contrast", "field of view", "orientation"]);
  assert.equal(r.unchecked, null);
  const n = r.measured.noise;
  assert.ok("snr" in n && n.snr > 25 / 1.4 && n.snr < 25 * 1.4, JSON.stringify(n));
});

test("a T2-like (inverted contrast) input warns about contrast", () => {
  let max = 0;
  for (const x of brain.data) max = Math.max(max, x);
  // Inside the brain (above 5% of the maximum; the B-spline leaves faint ringing outside) max - x + 1, 0 elsewhere.
  const inverted: Volume = { ...brain, data: Float32Array.from(brain.data, (x) => (x > 0.05 * max ? max - x + 1 : 0)) };
  const r = assessInput(acquire(inverted, 2, 25), card);
  assert.ok(items(r, "warning").includes("contrast"), JSON.stringify(r.checks));
  assert.match(r.warnings.join("\n"), /does not look T1-weighted: white matter .* is the darkest of three intensity classes/);
  const t = r.measured.tissue;
  assert.ok(!("error" in t) && t.whiteMatter === 0 && !t.t1Like);
});

test("a 3 mm input warns about the voxel size (and only about it, of the geometry)", () => {
  const r = assessInput(acquire(brain, 3, 25), card);
  assert.ok(items(r, "warning").includes("voxel size"), JSON.stringify(r.checks));
  assert.match(r.warnings.join("\n"), /input voxel 3 x 3 x 3 mm is outside the training inputs' 1\.4–2\.1 mm/);
  assert.ok(!items(r, "warning").includes("field of view") && !items(r, "warning").includes("orientation"));
  assert.ok(!items(r, "warning").includes("contrast"));
});

test("an oblique header warns about orientation; an anisotropic stack about the voxel size", () => {
  const lr = acquire(brain, 2, 25);
  // The same voxels with a header rotated 30 degrees about z.
  const c = Math.cos(Math.PI / 6);
  const s = Math.sin(Math.PI / 6);
  const a = lr.affine;
  const rotated = [c * a[0]! - s * a[4]!, c * a[1]! - s * a[5]!, 0, a[3]!, s * a[0]! + c * a[4]!, s * a[1]! + c * a[5]!, 0, a[7]!, 0, 0, a[10]!, a[11]!, 0, 0, 0, 1];
  const oblique = assessInput({ ...lr, affine: rotated }, card);
  assert.ok(Math.abs(oblique.measured.obliqueDeg - 30) < 1e-6, String(oblique.measured.obliqueDeg));
  assert.match(oblique.warnings.join("\n"), /30° off the world axes; the brain lay within 0° of them in training/);
  const m = measureInput(lr);
  const stack = checkInput({ ...m, voxelSize: [1.4, 1.4, 2.1], anisotropy: 1.5 }, card);
  assert.match(stack.warnings.join("\n"), /anisotropic \(1\.5:1\), the training inputs isotropic/);
});

test("an older card without training data: nothing is checked, and one line says so", () => {
  const { trainingData: _t, ...old } = card;
  const r = checkInput(measureInput(acquire(brain, 3, 25)), old);
  assert.deepEqual(r.warnings, []);
  assert.equal(r.unchecked, "the model card does not record its training inputs (an older card): voxel size, SNR, contrast, field of view, orientation not checked");
  assert.deepEqual(items(r, "unchecked"), ["voxel size", "SNR", "contrast", "field of view", "orientation"]);
});

test("the card records the training inputs from a simulated data set's manifest", () => {
  const pair = (voxelSize: number, snr: number) => ({
    grid: { dims: [181, 217, 181], affine: [1, 0, 0, -90, 0, 1, 0, -126, 0, 0, 1, -72, 0, 0, 0, 1] },
    scale: { hr: 1, lr: 1 },
    acquisition: { voxelSize, snr, bias: 0, gradwarp: 0, seed: 1, wmMean: 100, sigma: 100 / snr },
  });
  const manifest = { source: { kind: "simulate" }, settings: { height: 8, width: 8, axis: "z", normalisePercentile: 99.5 }, counts: {}, pairs: [pair(1.6, 30), pair(2, 18)] };
  const t = modelCardFromManifest(manifest as unknown as DatasetManifest, "data").trainingData;
  assert.deepEqual(t, { lrVoxelSize: [1.6, 2], lrAnisotropy: 1, snr: [18, 30], contrast: "T1", fieldOfViewMm: { min: [181, 217, 181], max: [181, 217, 181] }, orientationDeg: 0 });
});
