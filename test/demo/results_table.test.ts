// The comparison table: its arithmetic and layout (brain columns first, the Δ on the brain PSNR against
// the B-spline row, rounding, ρ and cos only for latent rows, LPIPS columns only with LPIPS, rows of
// runs that are not trained), and evaluateDefault end to end on a train:default-shaped directory with
// only the default run trained: the rows in the order (baselines, autoencoder only, the
// regression U-Net's place, single experts, the mixture), every number in results.json the demo's (or,
// for the ceiling, the demo's scoring of the ceiling volume, recomputed here), and DIR/moe/heldout.json
// carries the table.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { readNifti, toVolume } from "../../src/nifti/index.js";
import { regionsFromMask, volumeAndRegionMetrics } from "../../src/metrics/regions.js";
import { dataRange } from "../../src/volume/volume.js";
import { parseHeldout, readHeldout } from "../../src/model_dir/heldout.js";
import { evaluateDefault, RESULT_COLUMNS, RESULT_COLUMNS_LPIPS, resultsMarkdown, resultsTable, rowScores, type EvaluateDefaultResult, type RowScores } from "../../src/demo/results_table.js";
import { tempDir } from "../data/phantom.js";
import { demoFixture } from "./fixture.js";
import { writeTinyUNetDir } from "../models/unet/tiny_unet.js";

/** Brain PSNR 3 dB below the whole grid's (a background that flatters), so the Δ tells them apart. */
const scores = (psnr: number, ssim = 0.9): RowScores => ({
  brainPsnr: psnr - 3,
  brainSsim: ssim - 0.1,
  brainHfen: 0.2345678,
  brainLpips: null,
  psnr,
  ssim,
  ssim2d: ssim - 0.01,
  hfen: 0.123456,
  lpips: null,
  rho: null,
  cos: null,
});

test("the columns lead with the brain: PSNR, SSIM, HFEN, (LPIPS), the brain Δ, then the whole grid, then ρ and cos", () => {
  assert.deepEqual(RESULT_COLUMNS, ["method", "brain PSNR dB", "brain SSIM", "brain HFEN", "Δ brain PSNR vs B-spline dB", "PSNR dB", "SSIM", "SSIM 2-D", "HFEN", "ρ latent", "cos latent"]);
  assert.deepEqual(RESULT_COLUMNS_LPIPS, ["method", "brain PSNR dB", "brain SSIM", "brain HFEN", "brain LPIPS", "Δ brain PSNR vs B-spline dB", "PSNR dB", "SSIM", "SSIM 2-D", "HFEN", "LPIPS", "ρ latent", "cos latent"]);
});

test("resultsTable: the Δ is the brain PSNR's against the B-spline row, fixed rounding, ρ/cos only for latent rows, rows without numbers", () => {
  const r = resultsTable(
    [
      { label: "input (nearest)", scores: scores(25.004) },
      { label: "cubic B-spline", scores: { ...scores(27.5), brainPsnr: 26 } },
      { label: "MoEDiff-SR, 3 experts (default)", scores: { ...scores(28.75678, 0.912345), rho: 0.2842251, cos: 0.0172249 } },
      { label: "E2 only", status: "not trained" },
      { label: "VQ-VAE ceiling", scores: { ...scores(35), brainPsnr: null, brainSsim: Number.NaN, brainHfen: null } },
    ],
    ["a note"],
  );
  assert.deepEqual(r.columns, [...RESULT_COLUMNS]);
  assert.equal(r.command, "npm run train:default");
  // input: brain 22.004 against the B-spline's brain 26: -4 (the whole-grid difference would be -2.5).
  assert.deepEqual(r.rows[0], ["input (nearest)", 22, 0.8, 0.2346, -4, 25, 0.9, 0.89, 0.1235, "", ""]);
  assert.deepEqual(r.rows[1]?.[4], 0);
  assert.deepEqual(r.rows[2], ["MoEDiff-SR, 3 experts (default)", 25.76, 0.8123, 0.2346, -0.24, 28.76, 0.9123, 0.9023, 0.1235, 0.2842, 0.0172]);
  assert.deepEqual(r.rows[3], ["E2 only", "not trained", "", "", "", "", "", "", "", "", ""]);
  assert.deepEqual(r.rows[4]?.slice(1, 5), [null, null, null, null]);
  assert.deepEqual(r.notes, ["a note"]);
  // LPIPS columns appear when a row has LPIPS.
  const withLpips = resultsTable([{ label: "cubic B-spline", scores: { ...scores(27), lpips: 0.31234, brainLpips: 0.123456 } }], []);
  assert.deepEqual(withLpips.columns, [...RESULT_COLUMNS_LPIPS]);
  assert.deepEqual(withLpips.rows[0], ["cubic B-spline", 24, 0.8, 0.2346, 0.1235, 0, 27, 0.9, 0.89, 0.1235, 0.3123, "", ""]);
  // It is a valid heldout.json `results` object, and the Markdown shows every row.
  const spec = parseHeldout(
    { source: { path: "/x.nii.gz", sha256: "0".repeat(64), subject: "s" }, acquisition: { voxelSize: 2, snr: 20, bias: 0.1, gradwarp: 0, seed: 1 }, slab: { axis: "z", first: 1, last: 3 }, results: r },
    "test",
  );
  assert.deepEqual(spec.results, r);
  const md = resultsMarkdown(r);
  assert.ok(md.includes("| MoEDiff-SR, 3 experts (default) | 25.76 | 0.8123 | 0.2346 | -0.24 | 28.76 | 0.9123 | 0.9023 | 0.1235 | 0.2842 | 0.0172 |"), md);
  assert.ok(md.includes("| VQ-VAE ceiling | n/a | n/a | n/a | n/a | 35 | 0.9 | 0.89 | 0.1235 |  |  |"), md);
  assert.ok(md.includes("- a note"));
  // Without a B-spline row there is no Δ.
  assert.equal(resultsTable([{ label: "x", scores: scores(20) }], []).rows[0]?.[4], null);
});

let dir: string;
let cleanup: () => void;
let run: EvaluateDefaultResult;
const logged: string[] = [];

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-results-"));
  await demoFixture(dir); // dir/data and dir/model
  renameSync(join(dir, "model"), join(dir, "moe"));
  writeTinyUNetDir(join(dir, "unet"), { perturb: true });
  const tensors = T.memory().numTensors;
  run = await evaluateDefault({ dir, steps: 2, fullChainSteps: 3, regions: false, log: (l) => logged.push(l) });
  assert.equal(T.memory().numTensors, tensors, "evaluateDefault leaves no tensor behind");
});
after(() => cleanup());

const load = (p: string) => toVolume(readNifti(p));

test("evaluateDefault: the rows are the demo's and the ceiling's numbers; untrained runs say so", () => {
  const json = JSON.parse(readFileSync(join(dir, "eval", "results.json"), "utf8"));
  assert.deepEqual(json, JSON.parse(JSON.stringify(run.results)));
  const rows = run.results.rows;
  assert.deepEqual(
    rows.map((r) => r[0]),
    [
      ...["input (nearest)", "trilinear", "cubic B-spline", "autoencoder only", "regression U-Net"],
      ...["E1 only", "E2 only", "E3 only", "MoEDiff-SR, 3 experts (default)", "3 experts without b and g", "VQ-VAE ceiling"],
      ...["E1 only", "E2 only", "E3 only", "MoEDiff-SR, 3 experts (default)", "3 experts without b and g"].map((l) => `${l}, from noise (3 steps)`),
    ],
  );
  // The regression U-Net: DIR/unet on the demo's input, cut to the slab, scored against the same reference.
  const unetFile = join(dir, "eval", "unet", "unet.nii.gz");
  const unetVol = load(unetFile);
  const refVol = load(join(dir, "eval", "moe", "reference.nii.gz"));
  assert.deepEqual(unetVol.dims, refVol.dims);
  assert.ok(unetVol.data.some((v) => v > 0));
  {
    const brainMask = load(join(dir, "eval", "moe", "regions", "brain.nii.gz"));
    const [lo, hi] = dataRange(refVol.data);
    const mine = volumeAndRegionMetrics(unetVol.data, refVol.data, refVol.dims, hi - lo, [regionsFromMask(brainMask.data, "brain")]);
    assert.equal(rows[4]![1], Number(mine.regions[0]![0]!.psnr.toFixed(2)), "U-Net brain PSNR");
    assert.equal(rows[4]![5], Number(mine.volume.psnr.toFixed(2)), "U-Net PSNR");
    assert.deepEqual(rows[4]!.slice(9), ["", ""], "not a latent model");
  }
  assert.ok(run.results.notes?.some((n) => /^regression U-Net: the plain pixel-space regression baseline .*eval\/unet\/unet\.nii\.gz/.test(n)));
  for (const i of [5, 6, 7, 9, 11, 12, 13, 15]) assert.equal(rows[i]![1], "not trained", String(rows[i]![0]));
  assert.deepEqual(run.runs.map((r) => r.status), ["evaluated", "not trained", "not trained", "not trained", "not trained"]);
  assert.deepEqual(run.fullChain.map((r) => r.status), ["evaluated", "not trained", "not trained", "not trained", "not trained"]);

  // The from-noise row: its own demo, started from pure noise with the asked steps, with its own ρ and cos.
  const noise = JSON.parse(readFileSync(join(dir, "eval", "moe-noise", "metrics.json"), "utf8"));
  assert.equal(noise.enhance.start, 1);
  assert.equal(noise.enhance.steps, 3);
  const noiseModel = noise.evaluations[0].methods.find((x: { method: string }) => x.method === "enhanced");
  const noiseBrain = noiseModel.regions.find((x: { name: string }) => x.name === "brain");
  assert.equal(rows[14]![1], Number(noiseBrain.psnr.toFixed(2)));
  assert.equal(rows[14]![5], Number(noiseModel.volume.psnr.toFixed(2)));
  assert.equal(rows[14]![9], Number(noise.latent.measured.rho.toFixed(4)));
  assert.ok(run.results.notes?.some((n) => /From noise" rows: .*DDIM 3 steps/.test(n)));

  // Baselines, the autoencoder and the model: the demo's metrics.json, rounded, brain first.
  const demo = JSON.parse(readFileSync(join(dir, "eval", "moe", "metrics.json"), "utf8"));
  assert.equal(demo.enhance.seed, 1, "the demo is seeded with 1");
  assert.equal(demo.version, 2);
  const scope = demo.evaluations[0];
  const brainOf = (key: string) => scope.methods.find((x: { method: string }) => x.method === key).regions.find((x: { name: string }) => x.name === "brain");
  for (const [key, i] of [["input", 0], ["trilinear", 1], ["bspline", 2], ["autoencoder", 3], ["enhanced", 8]] as const) {
    const m = scope.methods.find((x: { method: string }) => x.method === key);
    const brain = brainOf(key);
    const row = rows[i]!;
    assert.equal(row[1], Number(brain.psnr.toFixed(2)), `${key} brain PSNR`);
    assert.equal(row[2], Number(brain.ssim.toFixed(4)), `${key} brain SSIM`);
    assert.equal(row[3], Number(brain.hfen.toFixed(4)), `${key} brain HFEN`);
    assert.equal(row[4], Number((brain.psnr - brainOf("bspline").psnr).toFixed(2)), `${key} Δ brain PSNR`);
    assert.equal(row[5], Number(m.volume.psnr.toFixed(2)), `${key} PSNR`);
    assert.equal(row[6], Number(m.volume.ssim.toFixed(4)), `${key} SSIM`);
    assert.equal(row[7], Number(m.sliceMeans.ssim.toFixed(4)), `${key} SSIM 2-D`);
    assert.equal(row[8], Number(m.volume.hfen.toFixed(4)), `${key} HFEN`);
  }
  // ρ and cos: the model's from its demo's latent pass; the autoencoder's ρ is 0; none for the baselines.
  assert.deepEqual(rows[8]!.slice(9), [Number(demo.latent.measured.rho.toFixed(4)), Number(demo.latent.measured.cos.toFixed(4))]);
  assert.deepEqual(rows[3]!.slice(9), [0, ""]);
  for (const i of [0, 1, 2]) assert.deepEqual(rows[i]!.slice(9), ["", ""]);

  // The ceiling: recomputed here from its file against the demo's reference and brain mask.
  const c = run.ceiling!;
  assert.ok(c !== null && existsSync(c.file) && existsSync(c.other.file));
  assert.equal(c.snapToCodebook, true, "the tiny model's config snaps to the codebook (cpu-small preset)");
  const ref = load(join(dir, "eval", "moe", "reference.nii.gz"));
  const pred = load(c.file);
  const brain = load(join(dir, "eval", "moe", "regions", "brain.nii.gz"));
  const [lo, hi] = dataRange(ref.data);
  const mine = volumeAndRegionMetrics(pred.data, ref.data, ref.dims, hi - lo, [regionsFromMask(brain.data, "brain")]);
  const ceilingRow = rows[10]!;
  assert.equal(ceilingRow[5], Number(mine.volume.psnr.toFixed(2)));
  assert.equal(ceilingRow[6], Number(mine.volume.ssim.toFixed(4)));
  assert.equal(ceilingRow[1], Number(mine.regions[0]![0]!.psnr.toFixed(2)));
  assert.equal(ceilingRow[3], Number(mine.regions[0]![0]!.hfen.toFixed(4)));
  assert.ok(run.results.notes?.some((n) => /VQ-VAE ceiling: .*codebook snap off instead: PSNR/.test(n)));
  assert.ok(run.results.notes?.some((n) => /seed 1/.test(n)));

  // The default run's heldout.json carries the table; results.md renders it.
  assert.deepEqual(readHeldout(join(dir, "moe")).results, run.results);
  assert.ok(readFileSync(join(dir, "eval", "results.md"), "utf8").includes("| E1 only | not trained |"));
});

test("evaluateDefault again reuses the seeded demo and gives the same table", async () => {
  const again = await evaluateDefault({ dir, steps: 2, fullChainSteps: 3, regions: false });
  assert.equal(again.runs[0]?.status, "reused");
  assert.equal(again.fullChain[0]?.status, "reused");
  assert.deepEqual(again.results, run.results);
  assert.equal(rowScores(again.runs[0]!.report!.evaluations[0]!.methods[4]!).psnr, rowScores(run.runs[0]!.report!.evaluations[0]!.methods[4]!).psnr);
});
