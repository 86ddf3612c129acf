// The demo end to end on a synthetic brain, its prepared data set and a tiny random-weight model:
// every file is written; the LR input is the data set's held-out LR; the baselines are the LR
// resampled as `baseline` does; the autoencoder-only row is the same pipeline with steps 0; the summary's
// and metrics.json's numbers equal metrics computed here independently from the written files, brain
// first; the latent diagnostics are recorded and printed. (--whole: run_whole.test.ts.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { readNifti, toVolume } from "../../src/nifti/index.js";
import { openSliceDataset } from "../../src/data/dataset.js";
import { extractCondition, sliceGeometry } from "../../src/data/slicing.js";
import { regionsFromMask, volumeAndRegionMetrics } from "../../src/metrics/regions.js";
import { resample } from "../../src/volume/resample.js";
import { dataRange, type Volume } from "../../src/volume/volume.js";
import { runDemo, type DemoResult } from "../../src/demo/run.js";
import { contextRange, cropGrid, cropVolume } from "../../src/demo/slab.js";
import { loadSource } from "../../src/demo/source.js";
import { fmtDelta, fmtHfen, fmtPsnr, fmtRmse, fmtSsim } from "../../src/demo/summary.js";
import { enhanceVolume } from "../../src/inference/enhance.js";
import { MoEDiffSRPipeline } from "../../src/inference/pipeline.js";
import { METHODS } from "../../src/demo/score.js";
import { tempDir } from "../data/phantom.js";
import { assertThrowsMatching } from "../helpers.js";
import { demoFixture, type DemoFixture } from "./fixture.js";

let dir: string;
let cleanup: () => void;
let fx: DemoFixture;
let run: DemoResult;
let out: string;
const logged: string[] = [];

const load = (path: string): Volume => toVolume(readNifti(path));

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-demo-"));
  fx = await demoFixture(dir, { title: "Held-out comparison", columns: ["model", "PSNR dB"], rows: [["tiny", 12.5]] });
  const tensors = T.memory().numTensors;
  run = await runDemo({ modelDir: fx.modelDir, out: join(dir, "out"), steps: 2, log: (l) => logged.push(l) });
  assert.equal(T.memory().numTensors, tensors, "the demo leaves no tensor behind");
  out = run.out;
});
after(() => cleanup());

test("every output file is written, and metrics.json is the returned record", () => {
  const expected = [
    "lr.nii.gz",
    "reference.nii.gz",
    ...METHODS.map((m) => `${m.key}.nii.gz`),
    ...[1, 2, 3].flatMap((k) => [`explain/expert_E${k}.nii.gz`, `explain/gate_E${k}.nii.gz`]),
    "explain/explain.json",
    "regions/brain.nii.gz",
    "panel.png",
    "experts.png",
    "gates.png",
    "metrics.json",
    "summary.md",
    "summary.html",
  ];
  for (const f of expected) assert.ok(run.report.files.includes(f), `${f} is listed`);
  for (const f of run.report.files) assert.ok(existsSync(join(out, f)), `${f} exists`);
  for (const png of ["panel.png", "experts.png", "gates.png"]) assert.deepEqual([...readFileSync(join(out, png)).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  const json = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
  assert.equal(json.format, "moediff-sr-demo");
  assert.equal(json.evaluations[0].methods[1].volume.psnr, run.report.evaluations[0]?.methods[1]?.volume.psnr);
  assert.equal(run.report.regions.method, "segment", "the synthetic brain segments, so the region rows are there");
  assert.ok(run.report.regions.names.includes("wm"));
  assert.equal(run.report.heldout.simulation.reproducesRecord, true);
  assert.equal(run.report.enhance.inputScale, run.report.enhance.wholeVolumeScale, "the slab is normalised by the whole acquisition's divisor, as in training");
  assert.deepEqual(run.report.warnings, []);
  for (const stage of ["simulate", "regions", "enhance", "baselines", "evaluate", "figures", "total"]) assert.ok((run.report.timings[stage] as number) >= 0, stage);
  assert.ok(logged.some((l) => l.startsWith("enhancing z slices")));
  const html = readFileSync(join(out, "summary.html"), "utf8");
  for (const png of ["panel.png", "experts.png", "gates.png"]) assert.match(html, new RegExp(`<img src="${png}"`));
  assert.match(html, /Held-out comparison/);
});

test("lr.nii.gz is the data set's held-out LR: on the HR grid and normalised as prepare did, it gives the test slices' conditions", () => {
  const pair = fx.manifest.pairs.find((p) => p.hr.path === fx.hrPath)!;
  const slab = run.report.heldout.slab;
  const [c0, c1] = contextRange(slab.first, slab.last, pair.grid.dims[2]);
  const context = cropGrid({ dims: pair.grid.dims, affine: pair.grid.affine }, 2, c0, c1);
  const onHr = resample(load(join(out, "lr.nii.gz")), context, { interpolation: "bspline", fill: 0 });
  const norm: Volume = { ...onHr, data: onHr.data.map((x) => Math.min(1, Math.max(0, x / pair.scale.lr))) };
  const ds = openSliceDataset(fx.dataDir);
  try {
    assert.equal(ds.size("test"), slab.last - slab.first + 1);
    const geo = sliceGeometry(norm.dims, "z", ds.height, ds.width);
    let worst = 0;
    for (let i = 0; i < ds.size("test"); i++) {
      const s = ds.getSlice("test", i);
      const c = extractCondition(norm, geo, s.meta.index - c0);
      for (let q = 0; q < c.length; q++) worst = Math.max(worst, Math.abs((c[q] as number) - (s.cond[q] as number)));
    }
    assert.ok(worst < 1e-5, `the conditions differ by up to ${worst}`);
  } finally {
    ds.close();
  }
});

test("the reference is the HR slab; the baselines are the LR resampled onto it; all share its grid", () => {
  const slab = run.report.heldout.slab;
  const ref = load(join(out, "reference.nii.gz"));
  const hr = cropVolume(load(fx.hrPath), 2, slab.first, slab.last);
  assert.deepEqual(ref.dims, hr.dims);
  assert.deepEqual(Array.from(ref.data), Array.from(hr.data));
  ref.affine.forEach((v, i) => assert.ok(Math.abs(v - (hr.affine[i] as number)) < 1e-5));
  const lr = load(join(out, "lr.nii.gz"));
  for (const [key, interpolation] of [["input", "nearest"], ["trilinear", "trilinear"], ["bspline", "bspline"]] as const) {
    const expected = resample(lr, { dims: ref.dims, affine: Array.from(ref.affine) }, { interpolation, fill: 0 });
    assert.deepEqual(Array.from(load(join(out, `${key}.nii.gz`)).data), Array.from(expected.data), key);
  }
  const enhanced = load(join(out, "enhanced.nii.gz"));
  assert.deepEqual(enhanced.dims, ref.dims);
  assert.ok(enhanced.data.some((v) => v > 0) && enhanced.data.every((v) => Number.isFinite(v) && v >= 0));
  const gates = [1, 2, 3].map((k) => load(join(out, `explain/gate_E${k}.nii.gz`)));
  for (let q = 0; q < ref.data.length; q += 97) {
    const sum = gates.reduce((a, g) => a + (g.data[q] as number), 0);
    assert.ok(sum === 0 || Math.abs(sum - 1) < 1e-4, `gate weights sum to ${sum} at voxel ${q}`);
  }
});

test("the summary's and metrics.json's numbers equal metrics computed independently from the files", () => {
  const ref = load(join(out, "reference.nii.gz"));
  const brain = load(join(out, "regions/brain.nii.gz"));
  const [lo, hi] = dataRange(ref.data);
  const md = readFileSync(join(out, "summary.md"), "utf8");
  const json = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
  const scope = json.evaluations[0];
  assert.equal(scope.scope, "slab");
  const bsplineBrain = volumeAndRegionMetrics(load(join(out, "bspline.nii.gz")).data, ref.data, ref.dims, hi - lo, [regionsFromMask(brain.data, "brain")]).regions[0]![0]!.psnr;
  assert.ok(md.indexOf("Inside the brain mask") < md.indexOf("Whole grid"), "the brain table first");
  assert.equal(scope.note, null, "the slab is thick enough for evaluate's 3-D SSIM");
  assert.ok(scope.dims[2] >= 11);
  assert.equal(scope.dataRange, hi - lo);
  for (const [i, m] of METHODS.entries()) {
    const pred = load(join(out, `${m.key}.nii.gz`));
    const mine = volumeAndRegionMetrics(pred.data, ref.data, ref.dims, hi - lo, [regionsFromMask(brain.data, "brain")]);
    const v = mine.volume;
    const b = mine.regions[0]![0]!;
    const rec = scope.methods[i];
    assert.equal(rec.method, m.key);
    for (const k of ["psnr", "ssim", "hfen", "rmse"] as const) {
      assert.ok(Math.abs(rec.volume[k] - v[k]) <= 1e-12 * Math.max(1, Math.abs(v[k])), `${m.key} ${k}: ${rec.volume[k]} vs ${v[k]}`);
      const recBrain = rec.regions.find((r: { name: string }) => r.name === "brain");
      assert.ok(Math.abs(recBrain[k] - b[k]) <= 1e-12 * Math.max(1, Math.abs(b[k])), `${m.key} brain ${k}`);
    }
    const row = `| ${m.label} | ${fmtPsnr(v.psnr)} | ${fmtSsim(v.ssim)} | ${fmtSsim(rec.sliceMeans.ssim)} | ${fmtHfen(v.hfen)} | ${fmtRmse(v.rmse)} |`;
    assert.ok(md.includes(row), `summary.md lacks the row ${row}`);
    const brainRow = `| ${m.label} | ${fmtPsnr(b.psnr)} | ${fmtSsim(b.ssim)} | ${fmtHfen(b.hfen)} | ${fmtDelta(b.psnr - bsplineBrain).replace("+", "\\+")} | ${fmtRmse(b.rmse)} |`;
    assert.ok(md.includes(brainRow), `summary.md lacks the brain row ${brainRow}`);
    const printed = run.table.split("\n").find((l) => l.trimStart().startsWith(m.label)) ?? assert.fail(`no printed row for ${m.label}`);
    assert.deepEqual(printed.trim().slice(m.label.length).trim().split(/\s+/), [fmtPsnr(b.psnr), fmtSsim(b.ssim), fmtHfen(b.hfen), fmtDelta(b.psnr - bsplineBrain), fmtPsnr(v.psnr), fmtSsim(v.ssim), fmtHfen(v.hfen)], `printed row of ${m.label}`);
  }
});

test("the autoencoder-only row is the same pipeline on the same input with steps 0; the latent diagnostics are recorded", async () => {
  const r = run.report;
  const slab = r.heldout.slab;
  const pair = fx.manifest.pairs.find((p) => p.hr.path === fx.hrPath)!;
  const [c0, c1] = contextRange(slab.first, slab.last, pair.grid.dims[2]);
  const grid = cropGrid({ dims: pair.grid.dims, affine: pair.grid.affine }, 2, c0, c1);
  const pipe = MoEDiffSRPipeline.fromDir(fx.modelDir);
  try {
    const lr = load(join(out, "lr.nii.gz"));
    const ae = await enhanceVolume(pipe, lr, { steps: 0, inputScale: r.enhance.wholeVolumeScale, like: grid, axes: ["z"] });
    assert.deepEqual(ae.stats.evaluations, [0, 0, 0], "no expert ran");
    const written = load(join(out, "autoencoder.nii.gz"));
    assert.deepEqual(Array.from(written.data), Array.from(cropVolume(ae.output, 2, slab.first - c0, slab.last - c0).data));
    assert.ok(written.data.some((v) => v > 0));
    const enhanced = load(join(out, "enhanced.nii.gz"));
    assert.ok(enhanced.data.some((v, i) => Math.abs(v - (written.data[i] as number)) > 1e-3), "the diffusion changed the image");
  } finally {
    pipe.dispose();
  }
  const l = r.latent.measured ?? assert.fail(`no latent diagnostics: ${r.latent.note}`);
  assert.deepEqual(l.slices, Array.from({ length: slab.last - slab.first + 1 }, (_, i) => slab.first + i), "every slab slice, as HR indices");
  assert.ok(l.decodedVsOutput !== null && l.decodedVsOutput < 1e-5, `z_out decodes to the output within ${l.decodedVsOutput}`);
  assert.ok(Number.isFinite(l.rho) && l.rho > 0 && Math.abs(l.cos) <= 1);
  assert.equal(JSON.parse(readFileSync(join(out, "metrics.json"), "utf8")).latent.measured.rho, l.rho);
  assert.match(run.table, new RegExp(`\\nlatent \\(MoEDiff-SR, ${l.slices.length} slab slices\\): rho = .* = ${l.rho.toFixed(3)}, cos.* = ${l.cos.toFixed(3)}$`));
  assert.ok(logged.some((s) => s.startsWith("latent: rho")));
  // steps 0 would make the model's row the autoencoder row: refused before any work, saying so.
  await assert.rejects(runDemo({ modelDir: fx.modelDir, out: join(dir, "steps0"), steps: 0 }), /steps 0 is the autoencoder alone, which the demo already shows/);
  assert.equal(existsSync(join(dir, "steps0")), false);
});

test("the source: a missing Colin27 names the package; a different file is a warning", () => {
  const spec = { path: "/usr/share/mricron/templates/missing.nii.gz", sha256: "0".repeat(64), subject: "x" };
  assertThrowsMatching(() => loadSource(spec), /does not exist/, /apt-get install mricron-data/);
  const other = loadSource({ path: fx.hrPath, sha256: "0".repeat(64), subject: "brain" });
  assert.equal(other.sha256Matches, false);
  assert.match(other.warnings[0] ?? "", /not the 0{64} the model's data set was built from/);
});
