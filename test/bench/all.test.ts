// The pure parts of `npm run bench` (bench/all*.ts): the command line and its errors, reading a child
// benchmark's last JSON line, per-slice times and step counts from an enhancement run's batches, the
// headline figures and their targets, the printed table, the acquisition and slab choices, the
// enhancement child's spec check (its settings come from the pipeline's defaultOptions, tested in
// test/inference/pipeline.test.ts). The
// timed runs themselves need a trained model and minutes of CPU, so they live in the bench only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  formatFigures,
  headlineFigures,
  lastJsonLine,
  numberField,
  parseAllArgs,
  passMap,
  perSliceSeconds,
  roundFigure,
  runSecondsPerSlice,
  stepsPerTile,
  targetStatus,
  HEADLINE,
} from "../../bench/all_report.js";
import { benchAcquisition, centredSlab, slabInput } from "../../bench/all_input.js";
import { parseEnhanceRunSpec, type EnhanceRunReport, type EnhanceRunSpec } from "../../bench/all_enhance.js";
import { PREPARE_DEFAULTS } from "../../src/data/prepare_options.js";
import { checkAcquisitionParams } from "../../src/simulate/simulate.js";
import { applyToPoint } from "../../src/volume/affine.js";
import type { HeldoutSpec } from "../../src/model_dir/heldout.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { withRoot } from "./bench_root.js";

test("parseAllArgs: defaults, the default model, MOEDIFF_NUM_THREADS and explicit options", () => {
  withRoot((root) => {
    assert.deepEqual(parseAllArgs([], root, {}, 3), {
      model: join(root, "models", "default"),
      quick: false,
      threads: 3,
      skipParity: false,
      skipEngine: false,
      slab: 12,
      trainSteps: 5,
      trainWarmup: 2,
    });
    assert.equal(parseAllArgs([], root, { MOEDIFF_NUM_THREADS: "1" }, 3).threads, 1);
    const o = parseAllArgs(
      ["--model", root, "--quick", "--threads", "2", "--skip-parity", "--skip-engine", "--slab", "4", "--train-steps", "3", "--train-warmup", "0"],
      root,
      { MOEDIFF_NUM_THREADS: "1" },
      3,
    );
    assert.deepEqual(o, { model: root, quick: true, threads: 2, skipParity: true, skipEngine: true, slab: 4, trainSteps: 3, trainWarmup: 0 });
  }, true);
});

test("parseAllArgs: a missing model, bad values and unknown options are refused clearly", () => {
  withRoot((root) => {
    assertThrowsMatching(() => parseAllArgs([], root, {}, 1), /no --model DIR given/, /models[/\\]default does not exist/);
    assertThrowsMatching(() => parseAllArgs(["--model", join(root, "nope")], root, {}, 1), /the model directory .*nope does not exist/);
    assertThrowsMatching(() => parseAllArgs(["--model", root, "--slab", "0"], root, {}, 1), /--slab expects an integer >= 1, got '0'/);
    assertThrowsMatching(() => parseAllArgs(["--model", root, "--threads", "1.5"], root, {}, 1), /--threads expects an integer >= 1, got '1.5'/);
    assertThrowsMatching(() => parseAllArgs(["--model", root, "--train-warmup", "-1"], root, {}, 1), /--train-warmup expects an integer >= 0, got '-1'/);
    assertThrowsMatching(() => parseAllArgs(["--model", root, "--slab", "--quick"], root, {}, 1), /--slab needs a value/);
    assertThrowsMatching(() => parseAllArgs(["--model", root, "--fast"], root, {}, 1), /unknown option '--fast'/, /--quick/);
    assertThrowsMatching(() => parseAllArgs(["--model"], root, {}, 1), /--model needs a value/);
    assertThrowsMatching(() => parseAllArgs(["--model", root], root, { MOEDIFF_NUM_THREADS: "two" }, 1), /MOEDIFF_NUM_THREADS must be a positive integer, got 'two'/);
  }, false);
});

test("lastJsonLine: the last non-empty line as an object, else null", () => {
  assert.deepEqual(lastJsonLine('table\n{"a":1}\n{"ratio":1.05,"x":[1]}\n\n'), { ratio: 1.05, x: [1] });
  assert.equal(lastJsonLine('{"a":1}\nthen a message'), null);
  assert.equal(lastJsonLine("[1,2]\n"), null);
  assert.equal(lastJsonLine("42"), null);
  assert.equal(lastJsonLine(""), null);
  assert.equal(numberField({ ratio: 0.9, s: "1", n: null }, "ratio"), 0.9);
  assert.equal(numberField({ s: "1" }, "s"), null);
  assert.equal(numberField(null, "ratio"), null);
});

const batches = (...xs: [number, number][]) => xs.map(([tiles, seconds]) => ({ tiles, seconds }));

test("perSliceSeconds: full batches only when there are any, scaled to tiles per slice", () => {
  // Batches of 4 tiles; the last one short (2 tiles) is left out.
  assert.deepEqual(perSliceSeconds(batches([4, 8], [4, 6], [2, 5]), 4, 1), [2, 1.5]);
  // Two tiles per slice: a slice costs two tiles.
  assert.deepEqual(perSliceSeconds(batches([4, 8], [4, 6]), 4, 2), [4, 3]);
  // No full batch (fewer tiles than the batch size): every batch counts.
  assert.deepEqual(perSliceSeconds(batches([3, 6]), 4, 1), [2]);
  assertThrowsMatching(() => perSliceSeconds([], 4, 1), /recorded no batch/);
  assertThrowsMatching(() => perSliceSeconds(batches([4, 1]), 4, 0), /tiles per slice must be > 0/);
});

function report(label: string, b: [number, number][], evaluations: number[], extra: Partial<EnhanceRunReport> = {}): EnhanceRunReport {
  const bs = batches(...b);
  const tiles = bs.reduce((a, x) => a + x.tiles, 0);
  return {
    label,
    seconds: bs.reduce((a, x) => a + x.seconds, 0),
    loadSeconds: 0.2,
    batches: bs,
    slices: tiles,
    slicesRun: tiles,
    tilesRun: tiles,
    evaluations,
    targetDims: [8, 8, tiles],
    peakRssMb: 1000,
    threads: 2,
    ...extra,
  };
}

test("runSecondsPerSlice and stepsPerTile read an enhancement run", () => {
  // The first batch carries the warm-up; the median of three full batches ignores it.
  const r = report("slab joint", [[4, 40], [4, 20], [4, 24], [1, 9]], [40, 40, 40]);
  assert.equal(runSecondsPerSlice(r, 4), 6);
  assert.deepEqual(stepsPerTile(r), [10, 10, 10]);
  assert.deepEqual(stepsPerTile(report("slab async", [[4, 1], [4, 1]], [6, 20, 10])), [3, 10, 5]);
  assertThrowsMatching(() => stepsPerTile(report("odd", [[4, 1], [4, 1]], [3, 20, 10])), /odd run made 3 evaluations of expert 0 in 2 batches/);
  assertThrowsMatching(() => runSecondsPerSlice({ ...r, slicesRun: 0 }, 4), /no slice of the run had signal/);
});

test("targetStatus: the issue's targets, strict and inclusive bounds, unmeasured and untargeted figures", () => {
  assert.equal(targetStatus("enhance_volume_s", 60), "pass", "at most 60 s is inclusive");
  assert.equal(targetStatus("enhance_volume_s", 60.1), "FAIL");
  assert.equal(targetStatus("enhance_peak_rss_mb", 2047), "pass");
  assert.equal(targetStatus("enhance_peak_rss_mb", 2048), "FAIL", "under 2 GB is strict");
  assert.equal(targetStatus("enhance_efficiency", 0.35), "pass", "at least 0.35 is inclusive");
  assert.equal(targetStatus("enhance_efficiency", 0.349), "FAIL");
  assert.equal(targetStatus("forward_time_ratio", 1), "pass");
  assert.equal(targetStatus("forward_time_ratio", 1.01), "FAIL");
  assert.equal(targetStatus("pytorch_time_ratio", 1.15), "pass", "parity's bound is inclusive");
  assert.equal(targetStatus("pytorch_time_ratio", 1.2), "FAIL");
  assert.equal(targetStatus("async_flops_ratio", 1), "FAIL");
  assert.equal(targetStatus("async_time_ratio", 0.7), "pass");
  assert.equal(targetStatus("enhance_volume_s", null), "n/a");
  assert.equal(targetStatus("train_samples_per_s", 3), "");
  // A lower bound (the slab's memory for the volume's) can fail but not pass.
  assert.equal(targetStatus("enhance_peak_rss_mb", 1000, true), "n/a");
  assert.equal(targetStatus("enhance_peak_rss_mb", 5000, true), "FAIL");
});

test("passMap: true/false per targeted figure, null when unmeasured or only bounded", () => {
  const figures = {
    enhance_efficiency: null,
    enhance_s_per_slice: 1.5,
    enhance_volume_s: null,
    enhance_peak_rss_mb: 2000,
    train_samples_per_s: 4,
    async_flops_ratio: 0.7,
    async_time_ratio: 1.1,
    engine_ratio: 1.01,
    pytorch_time_ratio: 1.0,
    forward_time_ratio: 0.9,
  };
  assert.deepEqual(passMap(figures), {
    enhance_efficiency: null,
    enhance_volume_s: null,
    enhance_peak_rss_mb: true,
    async_flops_ratio: true,
    async_time_ratio: false,
    pytorch_time_ratio: true,
    forward_time_ratio: true,
  });
  assert.equal(passMap(figures, new Set(["enhance_peak_rss_mb"])).enhance_peak_rss_mb, null);
});

test("headlineFigures: ratios from the two slab runs and the FLOPs; the slab's memory when the volume was skipped", () => {
  const slabJoint = report("slab joint", [[4, 40], [4, 40], [4, 44]], [30, 30, 30], { peakRssMb: 1400 });
  const slabAsync = report("slab async", [[4, 20], [4, 24], [4, 24]], [9, 30, 15], { peakRssMb: 1300 });
  const base = { batch: 4, slabJoint, slabAsync, trainSamplesPerSecond: 0.5, flops: { joint: 100e9, async: 70e9 }, engineRatio: 1.02, engineGflops: 250, pytorchTimeRatio: null, forwardTimeRatio: 0.95 };
  const quick = headlineFigures({ ...base, volume: null });
  assert.equal(quick.enhance_s_per_slice, 10);
  assert.equal(quick.enhance_volume_s, null);
  assert.equal(quick.enhance_peak_rss_mb, 1400);
  assert.equal(quick.async_time_ratio, 0.6);
  assert.equal(quick.async_flops_ratio, 0.7);
  assert.equal(quick.train_samples_per_s, 0.5);
  assert.equal(quick.engine_ratio, 1.02);
  assert.equal(quick.pytorch_time_ratio, null);
  assert.equal(quick.forward_time_ratio, 0.95);
  assert.equal(quick.enhance_efficiency, null, "no whole-volume run, no efficiency");
  const volume = report("volume", [[4, 30], [4, 30]], [20, 20, 20], { peakRssMb: 2100, seconds: 61.5 });
  const full = headlineFigures({ ...base, volume });
  assert.equal(full.enhance_volume_s, 61.5);
  assert.equal(full.enhance_peak_rss_mb, 2100);
  // 100 GFLOPs a tile x the volume's tiles over its seconds, against the engine's 250 GFLOP/s.
  assert.ok(Math.abs((full.enhance_efficiency as number) - (100 * volume.tilesRun) / 61.5 / 250) < 1e-12);
  assert.deepEqual(Object.keys(full), [...HEADLINE]);
});

test("roundFigure and formatFigures: four significant digits, a row per figure with target and status, the notes", () => {
  assert.equal(roundFigure(12.34567), 12.35);
  assert.equal(roundFigure(0.000123456), 0.0001235);
  assert.equal(roundFigure(1234.6), 1235);
  assert.equal(roundFigure(null), null);
  assert.equal(roundFigure(Number.NaN), null);
  const figures = {
    enhance_efficiency: 0.2,
    enhance_s_per_slice: 1.5,
    enhance_volume_s: 320,
    enhance_peak_rss_mb: 2000,
    train_samples_per_s: 4,
    async_flops_ratio: 0.7,
    async_time_ratio: 0.8,
    engine_ratio: 1.01,
    pytorch_time_ratio: null,
    forward_time_ratio: 1.2,
  };
  const text = formatFigures(figures, { pytorch_time_ratio: "no python torch" });
  const lines = text.split("\n");
  assert.match(lines[0] as string, /^figure\s+value\s+unit\s+target\s+status$/);
  const row = (name: string): string => lines.find((l) => l.startsWith(`${name} `)) ?? assert.fail(`no row for ${name}`);
  assert.match(row("enhance_volume_s"), /320\s+s\s+<= 60\s+FAIL$/);
  assert.match(row("enhance_peak_rss_mb"), /2000\s+MiB\s+< 2048\s+pass$/);
  assert.match(row("enhance_efficiency"), /0\.2\s+of engine\s+>= 0\.35\s+FAIL$/);
  assert.match(row("forward_time_ratio"), /1\.2\s+ours\/PyTorch\s+<= 1\s+FAIL$/);
  assert.match(row("pytorch_time_ratio"), /null\s+ours\/PyTorch\s+<= 1\.15\s+n\/a$/);
  assert.match(row("train_samples_per_s"), /4\s+samples\/s\s+-$/);
  assert.equal(lines.filter((l) => HEADLINE.some((h) => l.startsWith(`${h} `))).length, HEADLINE.length);
  assert.deepEqual(lines.slice(-2), ["notes:", "  pytorch_time_ratio: no python torch"]);
  const bounded = formatFigures(figures, {}, new Set(["enhance_peak_rss_mb"])).split("\n");
  assert.match(bounded.find((l) => l.startsWith("enhance_peak_rss_mb ")) as string, /< 2048\s+n\/a$/);
  assert.ok(!bounded.includes("notes:"), "no notes section without notes");
});

test("benchAcquisition: heldout.json's acquisition, else the middle of prepare's default ranges with seed 1", () => {
  const heldout = {
    source: { path: "/x.nii.gz", sha256: "0".repeat(64), subject: "x" },
    acquisition: { voxelSize: 1.639, snr: 31.877, bias: 0.088, gradwarp: 0.091, seed: 4076130350, wmMean: 108.8, sigma: 3.41 },
    slab: { axis: "z", first: 101, last: 113 },
  } as HeldoutSpec;
  const a = benchAcquisition(heldout);
  assert.equal(a.source, "heldout.json");
  assert.deepEqual(a.params, { voxelSize: 1.639, snr: 31.877, bias: 0.088, gradwarp: 0.091, seed: 4076130350 });
  const d = benchAcquisition(null);
  assert.equal(d.source, "prepare defaults");
  const r = PREPARE_DEFAULTS.ranges;
  assert.deepEqual(d.params, { voxelSize: (r.voxel[0] + r.voxel[1]) / 2, snr: (r.snr[0] + r.snr[1]) / 2, bias: (r.bias[0] + r.bias[1]) / 2, gradwarp: (r.gradwarp[0] + r.gradwarp[1]) / 2, seed: 1 });
  assert.deepEqual(checkAcquisitionParams(d.params), d.params, "the simulator accepts it");
});

test("centredSlab: count slices in the middle of the volume", () => {
  assert.deepEqual(centredSlab(181, 12), [84, 95]);
  assert.deepEqual(centredSlab(10, 3), [3, 5]);
  assert.deepEqual(centredSlab(4, 4), [0, 3]);
  assertThrowsMatching(() => centredSlab(10, 11), /11 slices asked of a volume with 10/);
  assertThrowsMatching(() => centredSlab(10, 0), /count must be a positive integer/);
});

test("slabInput: the HR slab's grid and the LR slices that cover it, at the same world positions", () => {
  // HR: 1 mm, 12 x 10 x 40; LR: 2 mm over the same field of view (20 slices along z).
  const hrGrid = { dims: [12, 10, 40] as [number, number, number], affine: [1, 0, 0, -6, 0, 1, 0, -5, 0, 0, 1, -20, 0, 0, 0, 1] };
  const lrAffine = [2, 0, 0, -5.5, 0, 2, 0, -4.5, 0, 0, 2, -19.5, 0, 0, 0, 1];
  const lrDims: [number, number, number] = [6, 5, 20];
  const data = new Float32Array(6 * 5 * 20).map((_, i) => Math.floor(i / 30)); // value = LR z index
  const s = slabInput({ data, dims: lrDims, affine: lrAffine }, hrGrid, 2, 18, 21);
  assert.deepEqual(s.like.dims, [12, 10, 4]);
  // The slab's first voxel is HR voxel (0, 0, 18) in world space.
  assert.deepEqual(applyToPoint(s.like.affine, [0, 0, 0]), applyToPoint(hrGrid.affine, [0, 0, 18]));
  // The LR cut covers the slab with the B-spline support and prefilter margin (here: all 20 slices
  // fit: HR z 18..21 are LR z 8.75..10.25, widened by 2 + 12 and clipped to 0..19).
  assert.deepEqual(s.lr.dims, [6, 5, 20]);
  const s2 = slabInput({ data, dims: lrDims, affine: lrAffine }, hrGrid, 2, 0, 0);
  // HR z 0 is LR z -0.25: floor -1 - 2 - 12 -> 0 .. ceil(-0.25) + 2 + 12 = 14.
  assert.deepEqual(s2.lr.dims, [6, 5, 15]);
  assertClose(s2.lr.data[s2.lr.data.length - 1] as number, 14, { atol: 0 });
  assertThrowsMatching(() => slabInput({ data, dims: lrDims, affine: lrAffine }, hrGrid, 2, 38, 40), /slices 38..40 are not inside 0..39/);
});

const goodSpec: EnhanceRunSpec = {
  label: "slab joint",
  model: "/m",
  lr: "/lr.nii",
  like: { dims: [4, 4, 2], affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] },
  inputScale: 120,
  mode: "joint",
  steps: 10,
  start: 0.4,
  snapToCodebook: false,
  eta: 0,
  seed: 0,
  batch: 4,
  overlap: 32,
  axes: ["z"],
};

test("parseEnhanceRunSpec: a good spec passes; each bad field is named", () => {
  assert.deepEqual(parseEnhanceRunSpec(JSON.parse(JSON.stringify(goodSpec)), "spec.json"), goodSpec);
  assert.deepEqual(parseEnhanceRunSpec({ ...goodSpec, like: null, inputScale: null }, "s"), { ...goodSpec, like: null, inputScale: null });
  const bad = (patch: Record<string, unknown>, re: RegExp): void => assertThrowsMatching(() => parseEnhanceRunSpec({ ...goodSpec, ...patch }, "spec.json"), /^spec\.json: /, re);
  bad({ mode: "both" }, /mode must be "joint" or "async", got "both"/);
  bad({ steps: 0 }, /steps must be an integer >= 1, got 0/);
  bad({ start: 0 }, /start must be a fraction in \(0, 1\], got 0/);
  bad({ batch: 2.5 }, /batch must be an integer >= 1/);
  bad({ axes: ["w"] }, /axes must be a non-empty list/);
  bad({ like: { dims: [1, 2] } }, /like must be null or a grid/);
  bad({ inputScale: -1 }, /inputScale must be null or a positive number/);
  bad({ model: "" }, /model must be a non-empty string/);
  assertThrowsMatching(() => parseEnhanceRunSpec([1], "spec.json"), /the spec must be a JSON object/);
});

