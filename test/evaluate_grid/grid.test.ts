// evaluate-grid end to end on a synthetic brain and a tiny random-weight model, 2 held-out subjects x
// 2 cells (and a tiny U-Net): results.json, results.md and heatmap.png are written; every number is finite; the B-spline
// row equals `evaluate --planar --mask` run on the written stacks, and the B-spline stack equals the LR
// simulated again here from the documented parameters and resampled; the model's slices equal a full
// enhance run; the held-out subjects draw from their own stream namespace.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readNifti, toVolume } from "../../src/nifti/index.js";
import { runEvaluate } from "../../src/evaluate/evaluate.js";
import { sourceFromVolumes, drawSubject, SubjectGenerator, type RandomiseSource } from "../../src/data/randomise/subject.js";
import { drawHeldoutSubject, HELDOUT_SEED } from "../../src/data/randomise/heldout.js";
import { RANDOMISE_DEFAULTS } from "../../src/data/randomise/ranges.js";
import { simulateAcquisition } from "../../src/simulate/simulate.js";
import { resample } from "../../src/volume/resample.js";
import { enhanceVolume } from "../../src/inference/enhance.js";
import { MoEDiffSRPipeline } from "../../src/inference/pipeline.js";
import { brainScores, chooseSlices, runGrid, stackSlices, type GridResults } from "../../src/evaluate_grid/run.js";
import { gridCells, parseAcquisitions, GRID_ACQUISITIONS } from "../../src/evaluate_grid/cells.js";
import { formatMarkdown, heatmapFigure, writeGridOutputs } from "../../src/evaluate_grid/report.js";
import { tempDir } from "../data/phantom.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";
import { writeTinyUNetDir } from "../models/unet/tiny_unet.js";
import { syntheticBrain } from "../demo/fixture.js";

let dir: string;
let cleanup: () => void;
let modelDir: string;
let source: RandomiseSource;
let results: GridResults;
let files: { json: string; md: string; png: string };
const acquisitions = parseAcquisitions("2.0,1x1x3");

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-grid-"));
  modelDir = writeTinyModelDir(join(dir, "model"));
  const image = syntheticBrain();
  // The synthetic brain's levels are 0, 30, 70, 110 (+-3): background, CSF, GM, WM.
  const labels = Uint8Array.from(image.data, (v) => (v <= 0 ? 0 : v < 50 ? 1 : v < 90 ? 2 : 3));
  source = sourceFromVolumes("synthetic", image, labels, false);
  const unetDir = writeTinyUNetDir(join(dir, "unet"), { perturb: true });
  results = await runGrid({ modelDir, unetDir, source, subjects: 2, slices: 2, acquisitions, snrs: [30], biases: [0.4], enhance: { steps: 1 }, keepVolumes: join(dir, "volumes") });
  files = await writeGridOutputs(dir, results);
});
after(() => cleanup());

test("results.json, results.md and heatmap.png are written, with finite numbers for every subject, cell and method", () => {
  const json = JSON.parse(readFileSync(files.json, "utf8")) as GridResults;
  assert.equal(json.format, "moediff-sr-evaluate-grid");
  assert.deepEqual(json.methods, ["bspline", "trilinear", "unet", "model"]);
  assert.match(json.unet?.hash ?? "", /^[0-9a-f]{12}$/);
  assert.deepEqual(json.cells.map((c) => c.key), ["2.0-snr30-bias0.4", "1x1x3-snr30-bias0.4"]);
  assert.equal(json.perSubject.length, 4);
  for (const r of json.perSubject) {
    for (const m of json.methods) {
      const s = r.methods[m];
      assert.ok(s !== undefined && Number.isFinite(s.psnr) && Number.isFinite(s.ssim), `${r.subject} ${r.cell} ${m}: ${JSON.stringify(s)}`);
      assert.ok(s.ssim > 0 && s.ssim <= 1, `${m} SSIM ${s.ssim}`);
    }
  }
  for (const c of json.cells) assert.ok(Number.isFinite(c.modelMinusBspline) && Number.isFinite(c.unetMinusBspline ?? Number.NaN), c.key);
  assert.ok(Number.isFinite(json.mean.modelMinusBspline));
  const md = readFileSync(files.md, "utf8");
  assert.match(md, /\| 2\.0 mm isotropic \| 30 \| 0\.4 \| \d+\.\d\d \| \d+\.\d\d \| \d+\.\d\d \| [+-]?\d+\.\d\d \|/);
  assert.match(md, /\| 1 x 1 x 3 mm axial stack \| 30 \| 0\.4 \|/);
  assert.match(md, /\*\*mean over cells\*\*/);
  assert.equal(md, formatMarkdown(results));
  const png = readFileSync(files.png);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
});

test("the B-spline row equals `evaluate --planar --mask` of the written stacks, and the stack equals the LR simulated again and resampled", () => {
  for (const [i, subject] of results.subjects.entries()) {
    const params = drawHeldoutSubject(i);
    const gen = new SubjectGenerator(source, params);
    const hr = gen.hrOf("brain");
    const wm = [...gen.labels.keys()].filter((q) => gen.labels[q] === 3);
    const wmMean = wm.reduce((s, q) => s + (hr.data[q] as number), 0) / wm.length;
    assert.deepEqual(subject.slices, chooseSlices(gen.labels, hr.dims, 2, i));
    for (const cell of gridCells(acquisitions, [30], [0.4])) {
      const d = join(dir, "volumes", subject.id, cell.key);
      const report = runEvaluate({ pred: join(d, "bspline.nii.gz"), ref: join(d, "reference.nii.gz"), mask: join(d, "brain.nii.gz"), planar: true });
      const brain = report.regions.find((g) => g.set === "mask");
      const row = results.perSubject.find((r) => r.subject === subject.id && r.cell === cell.key);
      assert.ok(brain !== undefined && row !== undefined);
      assert.equal(row.methods.bspline?.psnr, brain.psnr, `${subject.id} ${cell.key} PSNR`);
      assert.equal(row.methods.bspline?.ssim, brain.ssim, `${subject.id} ${cell.key} SSIM`);
      assert.equal(row.dataRange, report.dataRange);
      // Independently: the acquisition from the documented parameters, resampled with cubic B-splines.
      const a = cell.acquisition;
      const sim = simulateAcquisition(hr, { voxelSize: [...a.voxelSize] as [number, number, number], snr: 30, bias: 0.4, gradwarp: 0, seed: params.acquisition.brain.seed }, {
        wmMean,
        ...(a.sliceProfile !== undefined ? { sliceProfile: a.sliceProfile } : {}),
      });
      const bspline = resample(sim.image, { dims: hr.dims, affine: Array.from(hr.affine) }, { interpolation: "bspline", fill: 0 });
      const mine = stackSlices(bspline, subject.slices, subject.crop);
      const written = toVolume(readNifti(join(d, "bspline.nii.gz")));
      assert.deepEqual(written.dims, mine.dims);
      let worst = 0;
      for (let q = 0; q < mine.data.length; q++) worst = Math.max(worst, Math.abs((mine.data[q] as number) - (written.data[q] as number)));
      assert.equal(worst, 0, `${subject.id} ${cell.key}: B-spline stack differs by ${worst}`);
      // The crop to the brain (+8 voxels) changes no brain figure: whole slices give the same.
      const maskAll = { data: Float32Array.from(gen.labels, (l) => (l !== 0 ? 1 : 0)), dims: hr.dims, affine: hr.affine };
      const whole = brainScores(stackSlices(bspline, subject.slices), stackSlices(hr, subject.slices), stackSlices(maskAll, subject.slices), row.dataRange);
      assert.ok(Math.abs(whole.psnr - brain.psnr) < 1e-9 && Math.abs(whole.ssim - brain.ssim) < 1e-12, `whole slices ${JSON.stringify(whole)} vs cropped ${brain.psnr}, ${brain.ssim}`);
    }
  }
  const c0 = results.cells[0];
  assert.ok(c0 !== undefined);
  const rows = results.perSubject.filter((r) => r.cell === c0.key);
  assert.ok(Math.abs((c0.methods.bspline?.psnr as number) - rows.reduce((s, r) => s + (r.methods.bspline?.psnr as number), 0) / rows.length) < 1e-12);
});

test("the model's evaluated slices equal the same slices of a full enhance run", async () => {
  const subject = results.subjects[0];
  assert.ok(subject !== undefined);
  const params = drawHeldoutSubject(0);
  const hr = new SubjectGenerator(source, params).hrOf("brain");
  const grid = { dims: hr.dims, affine: Array.from(hr.affine) };
  const a = GRID_ACQUISITIONS.find((x) => x.key === "2.0");
  assert.ok(a !== undefined);
  const lr = simulateAcquisition(hr, { voxelSize: 2, snr: 30, bias: 0.4, gradwarp: 0, seed: 1 }).image;
  const pipe = MoEDiffSRPipeline.fromDir(modelDir);
  try {
    const full = await enhanceVolume(pipe, lr, { like: grid, axes: ["z"], steps: 1 });
    const some = await enhanceVolume(pipe, lr, { like: grid, axes: ["z"], steps: 1, slices: subject.slices });
    const plane = hr.dims[0] * hr.dims[1];
    for (let k = 0; k < hr.dims[2]; k++) {
      const chosen = subject.slices.includes(k);
      for (let q = 0; q < plane; q++) {
        const got = some.output.data[k * plane + q] as number;
        assert.equal(got, chosen ? (full.output.data[k * plane + q] as number) : 0, `slice ${k}, voxel ${q}`);
      }
    }
    assert.equal(some.stats.slicesRun, subject.slices.length);
  } finally {
    pipe.dispose();
  }
});

test("held-out subjects draw from their own namespace, not from any training stream", () => {
  const test0 = drawHeldoutSubject(0);
  const train0 = drawSubject(HELDOUT_SEED, 0, 0, "x", RANDOMISE_DEFAULTS);
  assert.notDeepEqual(test0.anatomy, train0.anatomy);
  assert.deepEqual(drawHeldoutSubject(0), test0, "fixed: the same subject every time");
  assert.equal(test0.subject, "test-00");
});

test("the heat map colours a gain red and a loss blue", () => {
  const fake: GridResults = {
    ...results,
    cells: results.cells.map((c, i) => ({ ...c, modelMinusBspline: i === 0 ? 1 : -1, unetMinusBspline: i === 0 ? 0.5 : -0.5 })),
  };
  const fig = heatmapFigure(fake);
  assert.equal(fig.cells.length, 2, "a panel for the model and one for the U-Net");
  const box = (c: number) => fig.cells[0]?.[c === 0 ? 0 : 1]?.[0];
  const at = (b: { x: number; y: number } | undefined) => {
    assert.ok(b !== undefined);
    return fig.canvas.pixel(b.x + 3, b.y + 3);
  };
  // Rows are acquisitions (2.0 first, then 1x1x3), one column (SNR 30, bias 0.4).
  assert.deepEqual(at(box(0)), [255, 0, 0]);
  assert.deepEqual(at(box(1)), [0, 0, 255]);
});
