// Trainers end to end on a tiny phantom data set: the VQ-VAE trains and reports held-out PSNR/SSIM;
// the MoE smoke run lowers its loss with gating weights that stay a probability distribution; a
// resumed run repeats the uninterrupted one exactly; a checkpoint from another config is refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { quantisedLatentStd, trainVqvae } from "../../src/train/vqvae_trainer.js";
import { loadVqvae } from "../../src/models/vqvae/load.js";
import { resolveVqvaeRunConfig } from "../../src/models/vqvae/run_config.js";
import { openSliceDataset } from "../../src/data/dataset.js";
import { trainMoE } from "../../src/train/moe_trainer.js";
import { latentsOf } from "../../src/train/latents.js";
import { applyAblations } from "../../src/models/moediff/config.js";
import { TrainingInterrupt } from "../../src/train/loop.js";
import { JsonlLog } from "../../src/train/jsonl_log.js";
import { tempDir } from "../data/phantom.js";
import { tinyDataset, tinyMoEConfig, tinyVqvaeConfig } from "./fixture.js";

let dir: string;
let cleanup: () => void;
let data: string;
let vqvae: string;
const quiet = (): void => {};

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-train-"));
  data = await tinyDataset(dir);
  vqvae = join(dir, "vqvae");
  await trainVqvae(data, vqvae, { config: tinyVqvaeConfig(60), handleSignals: false, say: quiet });
});
after(() => cleanup());

test("train-vqvae writes weights, config, log and held-out reconstruction metrics", async () => {
  for (const f of ["config.json", "model.safetensors", "metrics.json", "log.jsonl"]) assert.ok(existsSync(join(vqvae, f)), f);
  const m = JSON.parse(readFileSync(join(vqvae, "metrics.json"), "utf8")) as { psnr: number; ssim: number; slices: number };
  assert.ok(m.slices > 0);
  assert.ok(Number.isFinite(m.psnr) && m.psnr > 10, `held-out PSNR ${m.psnr}`);
  assert.ok(m.ssim > 0 && m.ssim <= 1, `SSIM ${m.ssim}`);
  const log = JsonlLog.read(join(vqvae, "log.jsonl")).filter((r) => typeof r.loss === "number") as { loss: number }[];
  const first = log.slice(0, 5).reduce((s, r) => s + r.loss, 0) / 5;
  const last = log.slice(-5).reduce((s, r) => s + r.loss, 0) / 5;
  assert.ok(last < 0.5 * first, `VQ-VAE loss fell from ${first} to ${last}`);
});

test("train-vqvae scales the latent by its std (scaleByStd): the saved scaleFactor is 1 / std of zq on the training slices", () => {
  const cfg = JSON.parse(readFileSync(join(vqvae, "config.json"), "utf8")) as { model: { scaleFactor: number } };
  const m = JSON.parse(readFileSync(join(vqvae, "metrics.json"), "utf8")) as { latentStd: number };
  assert.ok(Math.abs(cfg.model.scaleFactor * m.latentStd - 1) < 1e-5, `scaleFactor ${cfg.model.scaleFactor}, std ${m.latentStd}`);
  const { model, config } = loadVqvae(vqvae);
  const ds = openSliceDataset(data);
  try {
    // Independently: the loaded model's scaled latents have unit standard deviation.
    assert.ok(Math.abs(quantisedLatentStd(model, ds, config, "cpu") * model.scaleFactor - 1) < 1e-4);
    assert.notEqual(model.scaleFactor, tinyVqvaeConfig(1).model.scaleFactor);
  } finally {
    model.dispose();
    ds.close();
  }
});

test("residual target: training sets residualScale = 1 / std of z0 - condition latent and saves it with the checkpoint", async () => {
  const run = join(dir, "residual");
  const config = tinyMoEConfig(4, { model: { target: "residual", residualScale: 0 } });
  const r = await trainMoE(data, run, { config, vqvaeDir: vqvae, handleSignals: false, say: quiet });
  assert.equal(r.stepsDone, 4);
  assert.ok(r.history.every((h) => Number.isFinite(h.loss)));
  const saved = JSON.parse(readFileSync(join(run, "config.json"), "utf8")) as { model: { target: string; residualScale: number } };
  assert.equal(saved.model.target, "residual");
  // independently: the std of z0 - condLatent over every training slice
  const ds = openSliceDataset(data);
  const { model: vq } = loadVqvae(vqvae);
  const n = ds.size("train");
  const std = T.tidy(() => {
    const { z0, condLatent } = latentsOf(vq, ds, "train", Array.from({ length: n }, (_, i) => i), config, T.getDefaultDevice());
    const d = z0.sub(condLatent).to("float64");
    return d.sub(d.mean()).square().mean().sqrt().item();
  });
  vq.dispose();
  assert.ok(Math.abs(saved.model.residualScale * std - 1) < 1e-6, `scale ${saved.model.residualScale}, std ${std}`);
  // the checkpoint holds the same config, so `train --resume` (which reads config.json) matches it
  const state = JSON.parse(readFileSync(join(run, "checkpoint", "state.json"), "utf8")) as { config: { model: { residualScale: number } } };
  assert.equal(state.config.model.residualScale, saved.model.residualScale);
});

test("train-vqvae lrSchedule cosine anneals the learning rate to ~0 at the last step; other values are refused", async () => {
  const config = { ...tinyVqvaeConfig(12), training: { ...tinyVqvaeConfig(12).training, lrSchedule: "cosine" as const } };
  await trainVqvae(data, join(dir, "vq-cosine"), { config, handleSignals: false, say: quiet });
  const log = readFileSync(join(dir, "vq-cosine", "log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { lr?: number });
  const lrs = log.filter((h) => h.lr !== undefined).map((h) => h.lr!);
  assert.equal(lrs.length, 12);
  const peak = Math.max(...lrs);
  assert.ok(Math.abs(peak - 2e-3) < 2e-4, `peak lr ${peak}`);
  assert.ok(lrs.at(-1)! < 0.05 * peak, `last lr ${lrs.at(-1)}`);
  for (let i = lrs.indexOf(peak) + 1; i < lrs.length; i++) assert.ok(lrs[i]! <= lrs[i - 1]!, "lr rises after the peak");
  assert.throws(() => resolveVqvaeRunConfig("cpu-small", { training: { lrSchedule: "step" } }), /lrSchedule must be "constant" or "cosine", got "step"/);
});

test("MoE smoke run: the total loss decreases and gating weights stay a probability distribution", async () => {
  const run = join(dir, "smoke");
  const r = await trainMoE(data, run, { config: tinyMoEConfig(40), vqvaeDir: vqvae, handleSignals: false, say: quiet });
  assert.equal(r.stepsDone, 40);
  const h = r.history;
  const mean = (xs: Record<string, number>[]): number => xs.reduce((s, x) => s + x.loss!, 0) / xs.length;
  assert.ok(mean(h.slice(-8)) < 0.8 * mean(h.slice(0, 8)), `loss ${mean(h.slice(0, 8))} -> ${mean(h.slice(-8))}`);
  for (const rec of h) {
    const g = [rec.gate_E1!, rec.gate_E2!, rec.gate_E3!];
    assert.ok(g.every((v) => v >= 0 && v <= 1), `gates ${g}`);
    assert.ok(Math.abs(g[0]! + g[1]! + g[2]! - 1) < 1e-5, `gates sum to 1: ${g}`);
    const u = [rec.usage_E1!, rec.usage_E2!, rec.usage_E3!];
    assert.ok(Math.abs(u[0]! + u[1]! + u[2]! - 1) < 1e-5, `usage sums to 1: ${u}`);
  }
  assert.equal(h[0]!.uniform, 1);
  assert.equal(h.at(-1)!.uniform, 0);
  for (const f of ["model.safetensors", "model_raw.safetensors", "metrics.json", "vqvae/model.safetensors", "checkpoint/state.json"]) assert.ok(existsSync(join(run, f)), f);
  const m = JSON.parse(readFileSync(join(run, "metrics.json"), "utf8")) as { heldOut: { total: number; gateMean: number[] } };
  assert.ok(Number.isFinite(m.heldOut.total));
});

for (const formulation of ["paper", "resshift"] as const) {
  test(`resume repeats the uninterrupted run exactly (${formulation}): byte-identical weights, checkpoint, metrics and log`, async () => {
    // 4 training slices in batches of 3: each epoch leaves one out, so after resuming mid-run the latent
    // cache (empty again) meets slices in other company than the straight run did; a slice's latents
    // must not depend on that (a batch of 1 and of 3 give latents ~1e-7 apart).
    const n = 6;
    const config = (): ReturnType<typeof tinyMoEConfig> =>
      tinyMoEConfig(n, { training: { batchSize: 3 }, ...(formulation === "resshift" ? { model: { formulation } } : {}) });
    const straightDir = join(dir, `straight-${formulation}`);
    const splitDir = join(dir, formulation === "paper" ? "split" : `split-${formulation}`);
    const straight = await trainMoE(data, straightDir, { config: config(), vqvaeDir: vqvae, handleSignals: false, say: quiet });
    const interrupt = new TrainingInterrupt();
    const part1 = await trainMoE(data, splitDir, {
      config: config(),
      vqvaeDir: vqvae,
      handleSignals: false,
      say: quiet,
      interrupt,
      afterStep: (s) => {
        if (s === n / 2) interrupt.requested = true;
      },
    });
    assert.equal(part1.interrupted, true);
    assert.equal(part1.stepsDone, n / 2);
    const part2 = await trainMoE(data, splitDir, { config: config(), vqvaeDir: vqvae, resume: true, handleSignals: false, say: quiet });
    assert.equal(part2.stepsDone, n);
    assert.deepEqual([...part1.history, ...part2.history], straight.history);
    for (const f of ["model.safetensors", "model_raw.safetensors", "metrics.json", "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors", "checkpoint/ema.safetensors"]) {
      assert.ok(readFileSync(join(splitDir, f)).equals(readFileSync(join(straightDir, f))), `${f} differs between the straight and the resumed run`);
    }
    // the log reads as one run, the same as the straight run's but for the wall-clock times
    const lines = (d: string): string[] => JsonlLog.read(join(d, "log.jsonl")).map(({ time: _time, ...r }) => JSON.stringify(r));
    assert.deepEqual(lines(splitDir), lines(straightDir));
    assert.deepEqual(
      JsonlLog.read(join(splitDir, "log.jsonl")).map((r) => r.step),
      [...Array.from({ length: n }, (_, i) => i + 1), n],
    );
  });
}

test("a checkpoint from another config is refused, saying what differs", async () => {
  const other = tinyMoEConfig(6, { model: { gating: { mode: "spatial" } } });
  await assert.rejects(
    () => trainMoE(data, join(dir, "split"), { config: other, vqvaeDir: vqvae, resume: true, handleSignals: false, say: quiet }),
    /another config.*\n.*model\.gating\.mode: "global" -> "spatial"/s,
  );
  await assert.rejects(() => trainMoE(data, join(dir, "split"), { config: tinyMoEConfig(6), vqvaeDir: vqvae, handleSignals: false, say: quiet }), /already holds a training run; pass --resume/);
  await assert.rejects(() => trainMoE(data, join(dir, "x"), { config: tinyMoEConfig(6), vqvaeDir: join(dir, "nope"), handleSignals: false, say: quiet }), /not a trained VQ-VAE directory/);
});

test("ablation switches: single expert, spatial gating, no b/g, no diversity, no frequency term", async () => {
  const base = tinyMoEConfig(3);
  const single = applyAblations(base, { experts: [2], noBias: true, noGradwarp: true });
  assert.deepEqual(single.model.experts, [2]);
  assert.equal(single.inputs.useBias, false);
  assert.equal(single.inputs.useGradwarp, false);
  const r1 = await trainMoE(data, join(dir, "single"), { config: single, vqvaeDir: vqvae, handleSignals: false, say: quiet });
  for (const rec of r1.history) {
    assert.equal(rec.gate_E2, 1);
    assert.equal(rec.gating, 0, "no gating loss with one expert");
    assert.equal(rec.diffusion_E1, undefined);
  }
  const spatial = applyAblations(base, { gating: "spatial", noDiversity: true, noFrequency: true });
  assert.equal(spatial.model.gating.mode, "spatial");
  assert.equal(spatial.model.gating.gamma, 0);
  assert.equal(spatial.losses.diversity, false);
  const r2 = await trainMoE(data, join(dir, "spatial"), { config: spatial, vqvaeDir: vqvae, handleSignals: false, say: quiet });
  for (const rec of r2.history) {
    assert.equal(rec.gatingDiversity, 0);
    const g = [rec.gate_E1!, rec.gate_E2!, rec.gate_E3!];
    assert.ok(Math.abs(g[0]! + g[1]! + g[2]! - 1) < 1e-5, `spatial gates average to a distribution: ${g}`);
  }
  assert.throws(() => applyAblations(base, { experts: [4] }), /model\.experts must be a non-empty list of distinct expert kinds/);
});
