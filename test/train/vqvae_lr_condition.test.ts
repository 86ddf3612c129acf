// train-vqvae with the LR-conditioned decoder (model.lrCondition "cfw", "cfw-residual") on a tiny phantom data set: the
// crops of x, target and the 3T condition line up; a resumed run repeats the uninterrupted one; a run
// written before the switch existed (no lrCondition in config.json or the checkpoint) loads as a plain
// model and resumes, and switching the decoder on over its checkpoint is refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { randomCrop, trainVqvae } from "../../src/train/vqvae_trainer.js";
import { loadVqvae } from "../../src/models/vqvae/load.js";
import { resolveVqvaeRunConfig, type VqvaeRunConfig } from "../../src/models/vqvae/run_config.js";
import { TrainingInterrupt } from "../../src/train/loop.js";
import { JsonlLog } from "../../src/train/jsonl_log.js";
import { tempDir } from "../data/phantom.js";
import { tinyDataset } from "./fixture.js";

let dir: string;
let cleanup: () => void;
let data: string;
const quiet = (): void => {};

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-vqvae-lr-"));
  data = await tinyDataset(dir);
});
after(() => cleanup());

function config(steps: number, lrCondition: "none" | "cfw" | "cfw-residual"): VqvaeRunConfig {
  return resolveVqvaeRunConfig("cpu-small", {
    model: { baseChannels: 8, channelMult: [1, 2], embedDim: 4, codebookSize: 32, lrCondition },
    training: { steps, batchSize: 2, lr: 2e-3, warmupSteps: 1, logEvery: 1, checkpointEvery: 1000, cropSize: 32, evalSlices: 2 },
  });
}

const stepLosses = (run: string): { step: number; loss: number }[] =>
  JsonlLog.read(join(run, "log.jsonl")).filter((r) => typeof r.loss === "number") as { step: number; loss: number }[];

/** Trains `steps` steps into `run`, stopping after step `stopAt`. */
async function interrupted(run: string, c: VqvaeRunConfig, stopAt: number): Promise<void> {
  const interrupt = new TrainingInterrupt();
  const r = await trainVqvae(data, run, {
    config: c,
    handleSignals: false,
    say: quiet,
    interrupt,
    afterStep: (s) => {
      if (s === stopAt) interrupt.requested = true;
    },
  });
  assert.equal(r.interrupted, true);
  assert.equal(r.stepsDone, stopAt);
}

test("randomCrop cuts the same window from x, the target and the condition", () => {
  const g = new T.Generator({ seed: 3 });
  T.tidy(() => {
    const a = T.arange(2 * 64 * 64).reshape(2, 1, 64, 64).to("float32");
    const x = T.cat([a, a, a], 1);
    const cond = T.cat([a.mul(2), a.mul(3), a.mul(4)], 1);
    for (let i = 0; i < 5; i++) {
      const [cx, ct, cc] = randomCrop([x, a, cond], 32, g);
      assert.deepEqual(cc!.shape, [2, 3, 32, 32]);
      assert.deepEqual(cc!.narrow(1, 1, 1).toArray(), ct!.mul(3).toArray());
      assert.deepEqual(cx!.narrow(1, 0, 1).toArray(), ct!.toArray());
    }
  });
  g.dispose();
});

test("a conditioned VQ-VAE trains, reports held-out metrics through its conditioned decoder, and resumes exactly", async () => {
  const n = 6;
  const straight = join(dir, "cfw-straight");
  const r = await trainVqvae(data, straight, { config: config(n, "cfw-residual"), handleSignals: false, say: quiet });
  assert.equal(r.stepsDone, n);
  assert.ok(r.metrics !== undefined && Number.isFinite(r.metrics.psnr) && r.metrics.ssim > 0, `held-out metrics ${JSON.stringify(r.metrics)}`);
  const split = join(dir, "cfw-split");
  await interrupted(split, config(n, "cfw-residual"), n / 2);
  await trainVqvae(data, split, { config: config(n, "cfw-residual"), resume: true, handleSignals: false, say: quiet });
  const a = stepLosses(straight);
  const b = stepLosses(split);
  assert.deepEqual(b.map((s) => s.step), a.map((s) => s.step));
  a.forEach((s, i) => assert.ok(Math.abs(s.loss - b[i]!.loss) <= 1e-6 * Math.max(1, s.loss), `step ${s.step}: straight ${s.loss}, resumed ${b[i]!.loss}`));
  const ma = loadVqvae(straight);
  const mb = loadVqvae(split);
  assert.equal(ma.model.lrConditioned, true);
  assert.equal(ma.config.model.lrCondition, "cfw-residual");
  const fa = ma.model.namedParameters();
  const fb = new Map(mb.model.namedParameters());
  assert.ok(fa.some(([k]) => k.startsWith("decoder.lr_encoder.")));
  for (const [k, p] of fa) assert.deepEqual(fb.get(k)!.toArray(), p.toArray(), k);
  // the fusion left zero: the decoder learnt to use the 3T slices
  const fuse = fa.filter(([k]) => k.includes(".fuse.weight")).map(([, p]) => T.tidy(() => p.abs().sum().item()));
  assert.ok(fuse.length === 2 && fuse.every((s) => s > 0), `fusion weights |w| ${fuse.join(", ")}`);
  ma.model.dispose();
  mb.model.dispose();
});

test("a run from before the switch (no lrCondition saved) loads as a plain model and resumes; turning the decoder's LR input on over it is refused", async () => {
  const run = join(dir, "old");
  await interrupted(run, config(4, "none"), 2);
  // as an older train-vqvae wrote them: no model.lrCondition in config.json or the checkpoint state
  for (const file of [join(run, "config.json"), join(run, "checkpoint", "state.json")]) {
    const j = JSON.parse(readFileSync(file, "utf8")) as { model?: Record<string, unknown>; config?: { model: Record<string, unknown> } };
    const model = j.model ?? j.config!.model;
    assert.equal(model.lrCondition, "none", file);
    delete model.lrCondition;
    writeFileSync(file, JSON.stringify(j));
  }
  await assert.rejects(
    () => trainVqvae(data, run, { config: config(4, "cfw-residual"), resume: true, handleSignals: false, say: quiet }),
    /another config.*model\.lrCondition: "none" -> "cfw-residual"/s,
  );
  const r = await trainVqvae(data, run, { config: config(4, "none"), resume: true, handleSignals: false, say: quiet });
  assert.equal(r.stepsDone, 4);
  const { model } = loadVqvae(run);
  assert.equal(model.lrConditioned, false);
  model.dispose();
});
