// enhanceVolume on a tiny random-weight model: the output grid and affine, tiling of slices larger
// than the model's, background slices left at 0, determinism and batch independence, explain
// outputs, --like onto a non-RAS grid, and the refusals (no signal, mismatched weights, no card).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { loadModelDir, ModelDirError } from "../../src/model_dir/load.js";
import { MoEDiffSRPipeline } from "../../src/inference/pipeline.js";
import { enhanceVolume, hasSignal, MIN_SIGNAL_MM2, prepareInput, SIGNAL_LEVEL, type EnhanceOptions } from "../../src/inference/enhance.js";
import { gridFor } from "../../src/volume/affine.js";
import { reorient } from "../../src/volume/reorient.js";
import { phantom, tempDir } from "../data/phantom.js";
import { writeTinyModelDir } from "./tiny_model.js";
import { modelCardFromManifest } from "../../src/model_dir/card.js";
import type { DatasetManifest } from "../../src/data/manifest.js";

let dir: string;
let cleanup: () => void;
let pipe: MoEDiffSRPipeline;
// 2 mm LR phantom; the model's 1 mm target grid is 60 x 72 x 36: 72 > 64 rows, so two tiles per
// slice. Its first and last 4 slices are empty.
const lr = phantom([30, 36, 18], [2, 0, 0, -29, 0, 2, 0, -35, 0, 0, 2, -17, 0, 0, 0, 1]);
lr.data.fill(0, 0, 4 * 30 * 36);
lr.data.fill(0, 14 * 30 * 36);
const base: EnhanceOptions = { sampler: "ddim", steps: 2, eta: 0, mode: "joint", skipBelow: 0, seed: 3, batch: 4, overlap: 32, snapToCodebook: true, explain: false };

before(() => {
  ({ dir, cleanup } = tempDir("moediff-enhance-"));
  pipe = MoEDiffSRPipeline.fromDir(writeTinyModelDir(join(dir, "run")));
});
after(() => {
  pipe.dispose();
  cleanup();
});

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);

test("output on the target grid (the input's field of view at the card's voxel size), two tiles per slice, background slices 0", async () => {
  const before = T.memory().numTensors;
  const r = await enhanceVolume(pipe, lr, base);
  const grid = gridFor(reorient(lr, "RAS"), 1);
  assert.deepEqual(r.output.dims, [60, 72, 36]);
  assert.deepEqual(r.output.dims, grid.dims);
  r.output.affine.forEach((v, i) => assert.ok(Math.abs(v - (grid.affine[i] as number)) < 1e-9));
  assert.equal(r.stats.tilesPerSlice, 2);
  assert.ok(r.output.data.every((v) => Number.isFinite(v) && v >= 0));
  // Slices without input signal (less than MIN_SIGNAL_MM2 of 1 mm pixels above SIGNAL_LEVEL) are
  // skipped and written as 0; the others are not all 0.
  const { norm } = prepareInput(lr, {}, pipe.card);
  const plane = 60 * 72;
  let empty = 0;
  for (let k = 0; k < 36; k++) {
    const inp = norm.data.subarray(k * plane, (k + 1) * plane);
    const out = r.output.data.subarray(k * plane, (k + 1) * plane);
    const above = inp.reduce((n, v) => n + (v > SIGNAL_LEVEL ? 1 : 0), 0);
    assert.ok(above === 0 || above >= 2 * MIN_SIGNAL_MM2, `slice ${k}: ${above} pixels with signal, so either of its two tiles could decide`);
    if (above === 0) {
      empty++;
      assert.ok(out.every((v) => v === 0), `slice ${k}`);
    } else assert.ok(out.some((v) => v > 0), `slice ${k} has signal but an empty output`);
  }
  assert.ok(empty >= 2, "the phantom has empty end slices");
  assert.equal(r.stats.slicesRun, 36 - empty);
  assert.deepEqual(r.stats.evaluations, [2, 2, 2].map((s) => s * Math.ceil((r.stats.tilesRun) / 4)));
  assert.equal(T.memory().numTensors, before, "no tensor is left behind");
});

test("hasSignal counts values above SIGNAL_LEVEL in the range it is given", () => {
  const v = new Float32Array(20).fill(SIGNAL_LEVEL); // at the level is not above it
  assert.equal(hasSignal(v, 0, 20, 1), false);
  v[3] = 0.2;
  v[12] = 0.11;
  assert.equal(hasSignal(v, 0, 20, 2), true);
  assert.equal(hasSignal(v, 0, 20, 3), false);
  assert.equal(hasSignal(v, 5, 15, 1), true);
  assert.equal(hasSignal(v, 5, 15, 2), false);
});

test("a Rician-like background (above the 5% brain level, under SIGNAL_LEVEL) is skipped and written as 0", async () => {
  const { scale } = prepareInput(lr, {}, pipe.card);
  const noisy = { ...lr, data: Float32Array.from(lr.data) };
  const rows = 30 * 36;
  let state = 7;
  const uniform = (): number => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const [from, to] of [[0, 4], [14, 18]] as const) for (let i = from * rows; i < to * rows; i++) noisy.data[i] = (0.065 + 0.01 * uniform()) * scale;
  const { norm } = prepareInput(noisy, { inputScale: scale }, pipe.card);
  const plane = 60 * 72;
  const background = [0, 1, 2, 3, 4, 5, 32, 33, 34, 35];
  for (const k of background) {
    const inp = norm.data.subarray(k * plane, (k + 1) * plane);
    assert.ok(inp.filter((v) => v > 0.05).length > plane / 2, `slice ${k} passes the 5% brain level`);
    assert.ok(inp.every((v) => v <= SIGNAL_LEVEL), `slice ${k} stays under SIGNAL_LEVEL`);
  }
  const clean = await enhanceVolume(pipe, lr, { ...base, inputScale: scale });
  const r = await enhanceVolume(pipe, noisy, { ...base, inputScale: scale });
  assert.equal(r.stats.slicesRun, clean.stats.slicesRun);
  for (const k of background) assert.ok(r.output.data.subarray(k * plane, (k + 1) * plane).every((v) => v === 0), `slice ${k}`);
});

test("a slice smaller than the model's slice runs on a fitted tile (a multiple of 64 here); --full-tiles pads it", async () => {
  const big = MoEDiffSRPipeline.fromDir(writeTinyModelDir(join(dir, "run-128"), { card: { slice: { height: 128, width: 128, axis: "z" } } }));
  try {
    // 72 rows x 60 columns: one tile of 128 x 64 (rows, columns), or 128 x 128 padded.
    const fitted = await enhanceVolume(big, lr, base);
    const full = await enhanceVolume(big, lr, { ...base, fitTiles: false });
    assert.deepEqual(fitted.stats.tileSize, [128, 64]);
    assert.deepEqual(full.stats.tileSize, [128, 128]);
    assert.equal(fitted.stats.tilesPerSlice, 1);
    assert.equal(fitted.stats.slicesRun, full.stats.slicesRun);
    for (const r of [fitted, full]) assert.ok(r.output.data.some((v) => v > 0) && r.output.data.every((v) => Number.isFinite(v) && v >= 0));
    assert.ok(maxDiff(fitted.output.data, full.output.data) > 0, "the padding the model sees differs");
  } finally {
    big.dispose();
  }
});

test("same seed, same volume; --batch does not change it; another seed does", async () => {
  const a = await enhanceVolume(pipe, lr, { ...base, mode: "async", eta: 1, steps: 4 });
  const b = await enhanceVolume(pipe, lr, { ...base, mode: "async", eta: 1, steps: 4, batch: 3 });
  const c = await enhanceVolume(pipe, lr, { ...base, mode: "async", eta: 1, steps: 4, seed: 4 });
  assert.ok(maxDiff(a.output.data, b.output.data) < 1e-3 * a.output.data.reduce((m, v) => Math.max(m, v), 0), `batch changed the output by ${maxDiff(a.output.data, b.output.data)}`);
  assert.ok(maxDiff(a.output.data, c.output.data) > 1e-3);
  const again = await enhanceVolume(pipe, lr, { ...base, mode: "async", eta: 1, steps: 4 });
  assert.equal(maxDiff(a.output.data, again.output.data), 0);
});

test("the output is scaled by the input's divisor times the card's hrToLrScale; the card takes it from the pairs", async () => {
  const scaled = MoEDiffSRPipeline.fromDir(writeTinyModelDir(join(dir, "run-ratio"), { card: { hrToLrScale: 0.9 } }));
  try {
    const a = await enhanceVolume(pipe, lr, { ...base, seed: 5 });
    const b = await enhanceVolume(scaled, lr, { ...base, seed: 5 });
    const peak = a.output.data.reduce((m, v) => Math.max(m, v), 0);
    assert.ok(peak > 0);
    assert.ok(maxDiff(Float32Array.from(a.output.data, (v) => v * 0.9), b.output.data) < 1e-5 * peak);
  } finally {
    scaled.dispose();
  }
  const pair = (hr: number, lr: number) => ({ grid: { dims: [4, 4, 4], affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] }, scale: { hr, lr } });
  const manifest = { settings: { height: 8, width: 8, axis: "z", normalisePercentile: 99.5 }, counts: {}, pairs: [pair(120, 122), pair(100, 125), pair(90, 90)] };
  const card = modelCardFromManifest(manifest as unknown as DatasetManifest, "data");
  assert.equal(card.hrToLrScale, 120 / 122);
});

test("explain: one estimate and one gate map per expert on the output grid; gates sum to 1 where the model ran", async () => {
  const r = await enhanceVolume(pipe, lr, { ...base, explain: true });
  assert.equal(r.experts?.length, 3);
  assert.equal(r.gates?.length, 3);
  const n = r.output.data.length;
  let ran = 0;
  for (let i = 0; i < n; i++) {
    const s = r.gates!.reduce((acc, g) => acc + (g.data[i] as number), 0);
    if (s > 0) {
      ran++;
      assert.ok(Math.abs(s - 1) < 1e-4, `voxel ${i}: gates sum to ${s}`);
    }
  }
  assert.ok(ran > n / 4);
  r.experts!.forEach((e) => assert.deepEqual(e.dims, r.output.dims));
});

test("--like a non-RAS grid: the output lies exactly on that grid", async () => {
  const ras = gridFor(reorient(lr, "RAS"), 1.5);
  // An LAS grid of the same voxels: flip the first axis.
  const a = [...ras.affine];
  a[3] = (a[3] as number) + (a[0] as number) * (ras.dims[0] - 1);
  a[0] = -(a[0] as number);
  const like = { dims: ras.dims, affine: a };
  const r = await enhanceVolume(pipe, lr, { ...base, like });
  assert.deepEqual(r.output.dims, like.dims);
  r.output.affine.forEach((v, i) => assert.ok(Math.abs(v - (a[i] as number)) < 1e-9, `affine[${i}]`));
});

test("refusals: an empty input, an input with no brain signal, bad options", async () => {
  const zeros = { ...lr, data: new Float32Array(lr.data.length) };
  await assert.rejects(enhanceVolume(pipe, zeros, base), /no usable signal: .*empty/);
  const speck = { ...lr, data: new Float32Array(lr.data.length) };
  speck.data[9 * 30 * 36 + 18 * 30 + 15] = 100;
  await assert.rejects(enhanceVolume(pipe, speck, base), /no brain signal/);
  await assert.rejects(enhanceVolume(pipe, lr, { ...base, skipBelow: 0.1 }), /needs asynchronous mode/);
  await assert.rejects(enhanceVolume(pipe, lr, { ...base, mode: "async", skipBelow: 0.5 }), /skip threshold must be in \[0, 1\/3\]/);
  await assert.rejects(enhanceVolume(pipe, lr, { ...base, overlap: 64 }), /overlap must be an integer in \[0, 64\)/);
});

test("loadModelDir refuses weights that do not fit the config, a missing card and a missing directory", () => {
  const run = writeTinyModelDir(join(dir, "bad"));
  const cfg = JSON.parse(readFileSync(join(run, "config.json"), "utf8")) as { model: { expert: { baseChannels: number } } };
  cfg.model.expert.baseChannels = 12;
  writeFileSync(join(run, "config.json"), JSON.stringify(cfg));
  const before = T.memory().numTensors;
  assert.throws(() => loadModelDir(run), (e: unknown) => e instanceof ModelDirError && /does not match .*config\.json[\s\S]*size mismatch/.test(e.message));
  assert.equal(T.memory().numTensors, before, "a failed load frees what it made");
  rmSync(join(run, "card.json"));
  assert.throws(() => loadModelDir(run), /has no card\.json .*moediff-sr card/);
  assert.throws(() => loadModelDir(join(dir, "nowhere")), /does not exist/);
  rmSync(join(run, "model.safetensors"));
  assert.throws(() => loadModelDir(run), /missing model\.safetensors/);
});
