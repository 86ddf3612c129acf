// The U-Net trainer on a tiny phantom data set: 30 steps lower the L1 loss below the B-spline input's,
// the run directory holds what inference needs, memory does not grow across steps, a resumed run
// repeats the uninterrupted one exactly, a --minutes budget becomes a step count that reproduces as
// --steps, and bad requests are refused with what to do.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { secondsPerStep, stepsForBudget, trainUNet } from "../../src/train/unet_trainer.js";
import { TrainingInterrupt } from "../../src/train/loop.js";
import { JsonlLog } from "../../src/train/jsonl_log.js";
import { loadUNet, resolveUNetRunConfig, UNet, type UNetRunConfig } from "../../src/models/unet/index.js";
import { openSliceDataset } from "../../src/data/dataset.js";
import { readModelCard } from "../../src/model_dir/card.js";
import { tempDir } from "../data/phantom.js";
import { tinyDataset } from "./fixture.js";

let dir: string;
let cleanup: () => void;
let data: string;
const quiet = (): void => {};

/** A tiny U-Net recipe for the 64x64 phantom slices. */
export function tinyUNetConfig(steps: number, training: Record<string, unknown> = {}): UNetRunConfig {
  return resolveUNetRunConfig("cpu-small", {
    model: { baseChannels: 8, channelMult: [1, 2] },
    training: { steps, batchSize: 4, cropSize: 32, lr: 3e-3, warmupSteps: 2, logEvery: 1, checkpointEvery: 1000, ...training },
  });
}

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-unet-train-"));
  data = await tinyDataset(dir);
});
after(() => cleanup());

test("30 steps lower the L1 loss below the B-spline input's; the run directory holds config, card, weights, metrics, log, checkpoint", async () => {
  const run = join(dir, "smoke");
  const lines: string[] = [];
  const r = await trainUNet(data, run, { config: tinyUNetConfig(30), handleSignals: false, say: (l) => lines.push(l) });
  assert.equal(r.stepsDone, 30);
  assert.equal(r.interrupted, false);
  const h = r.history;
  const mean = (xs: Record<string, number>[], k: string): number => xs.reduce((s, x) => s + x[k]!, 0) / xs.length;
  const [first, last] = [h.slice(0, 5), h.slice(-5)];
  // At step 1 the output is the B-spline slice (zero-initialised residual): loss = bspline.
  assert.ok(Math.abs(h[0]!.loss! - h[0]!.bspline!) < 1e-6, `step 1: loss ${h[0]!.loss} vs B-spline ${h[0]!.bspline}`);
  assert.ok(mean(last, "loss") < 0.9 * mean(first, "loss"), `loss ${mean(first, "loss")} -> ${mean(last, "loss")}`);
  assert.ok(mean(last, "loss") < mean(last, "bspline"), `the U-Net beats its input on the last batches: ${mean(last, "loss")} vs ${mean(last, "bspline")}`);
  assert.ok(h.at(-1)!.lr! < 0.05 * 3e-3, `cosine ends near 0: ${h.at(-1)!.lr}`);
  for (const f of ["config.json", "card.json", "model.safetensors", "metrics.json", "log.jsonl", "checkpoint/state.json"]) assert.ok(existsSync(join(run, f)), f);
  const state = JSON.parse(readFileSync(join(run, "checkpoint", "state.json"), "utf8")) as { kind: string; step: number };
  assert.deepEqual([state.kind, state.step], ["unet", 30]);
  const card = readModelCard(run);
  assert.deepEqual([card.slice.height, card.slice.width, card.slice.axis], [64, 64, "z"]);
  const m = JSON.parse(readFileSync(join(run, "metrics.json"), "utf8")) as { heldOut: { slices: number; unet: { psnr: number; brainPsnr: number }; bspline: { psnr: number } } };
  assert.ok(m.heldOut.slices > 0);
  assert.ok(m.heldOut.unet.psnr > 10 && m.heldOut.unet.psnr < 100, `held-out PSNR ${m.heldOut.unet.psnr}`);
  assert.ok(Number.isFinite(m.heldOut.unet.brainPsnr) && Number.isFinite(m.heldOut.bspline.psnr));
  assert.match(lines.join("\n"), /held-out \((val|test), \d+ slices\): U-Net PSNR [\d.]+ dB.*B-spline input PSNR/);
  // the saved weights load as a frozen U-Net that differs from the identity
  const { model } = loadUNet(run, "cpu");
  T.tidy(() => {
    const y = T.rand([1, 3, 32, 32]);
    assert.ok(model.residual(y).abs().amax().item() > 0);
  });
  model.dispose();
});

test("memory does not grow across training steps", async () => {
  const counts: number[] = [];
  await trainUNet(data, join(dir, "memory"), {
    config: tinyUNetConfig(8),
    handleSignals: false,
    say: quiet,
    afterStep: () => counts.push(T.memory().numTensors),
  });
  assert.equal(counts.length, 8);
  assert.deepEqual(counts.slice(2), new Array(6).fill(counts[2]), `live tensors per step: ${counts.join(", ")}`);
});

test("resume repeats the uninterrupted run exactly (same losses, same weights)", async () => {
  const n = 8;
  const straight = await trainUNet(data, join(dir, "straight"), { config: tinyUNetConfig(n), handleSignals: false, say: quiet });
  const interrupt = new TrainingInterrupt();
  const part1 = await trainUNet(data, join(dir, "split"), {
    config: tinyUNetConfig(n),
    handleSignals: false,
    say: quiet,
    interrupt,
    afterStep: (s) => {
      if (s === n / 2) interrupt.requested = true;
    },
  });
  assert.equal(part1.interrupted, true);
  assert.equal(part1.stepsDone, n / 2);
  assert.ok(!existsSync(join(dir, "split", "model.safetensors")), "no final weights after an interrupt");
  const part2 = await trainUNet(data, join(dir, "split"), { config: tinyUNetConfig(n), resume: true, handleSignals: false, say: quiet });
  assert.equal(part2.stepsDone, n);
  const resumed = [...part1.history, ...part2.history];
  assert.equal(resumed.length, n);
  for (let i = 0; i < n; i++) {
    for (const key of ["loss", "bspline", "lr", "gradNorm"]) {
      const a = straight.history[i]![key]!;
      const b = resumed[i]![key]!;
      assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a)), `step ${i + 1} ${key}: straight ${a} vs resumed ${b}`);
    }
  }
  const steps = JsonlLog.read(join(dir, "split", "log.jsonl"))
    .filter((r) => typeof r.loss === "number")
    .map((r) => r.step);
  assert.deepEqual(steps, Array.from({ length: n }, (_, i) => i + 1));
  const a = T.io.loadFile(join(dir, "straight", "model.safetensors")).tensors;
  const b = T.io.loadFile(join(dir, "split", "model.safetensors")).tensors;
  for (const [k, t] of a) assert.ok(T.tidy(() => t.sub(b.get(k)!).abs().amax().item()) <= 1e-6, k);
  for (const t of [...a.values(), ...b.values()]) t.dispose();
});

test("stepsForBudget: the steps that fit in what is left of the budget", () => {
  assert.equal(stepsForBudget(60, 5, 0.5), 110);
  assert.equal(stepsForBudget(60, 5, 0.49), 112);
  assert.equal(stepsForBudget(10, 12, 0.5), 0);
  assert.throws(() => stepsForBudget(10, 0, 0), /seconds per step must be > 0, got 0/);
});

test("--minutes: the budget becomes a step count (recorded in config.json) and the run equals one with that --steps", async () => {
  // The step time is given (a busy machine makes measured timings unpredictable); the next test measures one.
  const budgetConfig = (): UNetRunConfig => tinyUNetConfig(1000, { minutes: 0.05 });
  const budget = await trainUNet(data, join(dir, "budget"), { config: budgetConfig(), stepSeconds: 0.25, handleSignals: false, say: quiet });
  const steps = budget.config.training.steps;
  assert.ok(steps >= 2 && steps <= 12, `steps from a 3 s budget at 0.25 s per step, less the time before the first step: ${steps}`);
  assert.equal(budget.stepsDone, steps);
  const saved = JSON.parse(readFileSync(join(dir, "budget", "config.json"), "utf8")) as UNetRunConfig;
  assert.deepEqual([saved.training.minutes, saved.training.steps], [0.05, steps]);
  const fixed = await trainUNet(data, join(dir, "fixed"), { config: tinyUNetConfig(steps), handleSignals: false, say: quiet });
  const last = (r: typeof fixed): number => r.history.at(-1)!.loss!;
  assert.ok(Math.abs(last(budget) - last(fixed)) <= 1e-6, `last loss ${last(budget)} vs ${last(fixed)}`);
  // resuming a finished budget run keeps its step count
  const again = await trainUNet(data, join(dir, "budget"), { config: budgetConfig(), resume: true, handleSignals: false, say: quiet });
  assert.equal(again.totalSteps, steps);
  await assert.rejects(
    () => trainUNet(data, join(dir, "tiny-budget"), { config: tinyUNetConfig(10, { minutes: 0.05 }), stepSeconds: 10, handleSignals: false, say: quiet }),
    /a budget of 0\.05 min fits only 0 steps at 10\.00 s per step \(at least 2 needed: config\.training\.warmupSteps\); give more minutes/,
  );
  assert.ok(!existsSync(join(dir, "tiny-budget")), "a refused run leaves no directory");
});

test("secondsPerStep times whole steps and leaves the weights as they were; a measured budget run trains", async () => {
  const config = tinyUNetConfig(10);
  T.manualSeed(4);
  const model = new UNet(config.model);
  T.nn.init.normal_(model.convOut.weight, 0, 0.05);
  const before = T.tidy(() => model.parameters().map((p) => T.keep(p.detach().clone())));
  const ds = openSliceDataset(data);
  try {
    const s = secondsPerStep(model, ds, config, "cpu");
    assert.ok(s > 0 && s < 60, `${s} s per step`);
    model.parameters().forEach((p, i) => assert.equal(T.tidy(() => p.sub(before[i]!).abs().amax().item()), 0, `parameter ${i} restored`));
  } finally {
    ds.close();
    for (const t of before) t.dispose();
    model.dispose();
  }
  const lines: string[] = [];
  const r = await trainUNet(data, join(dir, "measured"), { config: tinyUNetConfig(1000, { minutes: 0.5, warmupSteps: 0 }), handleSignals: false, say: (l) => lines.push(l) });
  assert.match(lines.join("\n"), /budget 0\.5 min: [\d.]+ s per step measured, \d+ steps/);
  assert.equal(r.stepsDone, r.config.training.steps);
});

test("refusals: an existing run without --resume, a checkpoint from another config, a missing data set, nothing to resume", async () => {
  await assert.rejects(() => trainUNet(data, join(dir, "straight"), { config: tinyUNetConfig(8), handleSignals: false, say: quiet }), /already holds a U-Net run; pass --resume/);
  await assert.rejects(
    () => trainUNet(data, join(dir, "straight"), { config: tinyUNetConfig(8, { lr: 1e-3 }), resume: true, handleSignals: false, say: quiet }),
    /another config; it differs in:\n\s+training\.lr: 0\.003 -> 0\.001/,
  );
  await assert.rejects(() => trainUNet(join(dir, "nowhere"), join(dir, "x"), { config: tinyUNetConfig(8), handleSignals: false, say: quiet }), /data set .*nowhere: the directory does not exist/);
  await assert.rejects(() => trainUNet(data, join(dir, "fresh"), { config: tinyUNetConfig(8), resume: true, handleSignals: false, say: quiet }), /fresh has no checkpoint to resume; start the run without --resume/);
  assert.ok(!existsSync(join(dir, "fresh")), "a refused run leaves no directory");
});
