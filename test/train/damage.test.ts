// No silent corruption (issue 21.1): weights holding NaN are refused where they are loaded (checkpoint,
// model directory, --vqvae, U-Net directory), naming the file and the tensor; checkpoints record a
// SHA-256 per file, checked on --resume; training stops at the first non-finite loss and keeps the
// last good checkpoint; a checkpoint holding NaN is never written.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { loadCheckpoint, saveCheckpoint } from "../../src/train/checkpoint.js";
import { JsonlLog } from "../../src/train/jsonl_log.js";
import { runTrainingLoop, TrainingDiverged, TrainingInterrupt } from "../../src/train/loop.js";
import { trainVqvae } from "../../src/train/vqvae_trainer.js";
import { trainUNet } from "../../src/train/unet_trainer.js";
import { trainMoE } from "../../src/train/moe_trainer.js";
import { loadModelDir } from "../../src/model_dir/load.js";
import { loadVqvaeDir } from "../../src/model_dir/vqvae_dir.js";
import { loadUNetModel } from "../../src/inference/unet_enhance.js";
import { resolveUNetRunConfig } from "../../src/models/unet/config.js";
import { tempDir } from "../data/phantom.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";
import { tinyDataset, tinyMoEConfig, tinyVqvaeConfig } from "./fixture.js";
import { injectNaN } from "./inject_nan.js";

let dir: string;
let cleanup: () => void;
let data: string;
const quiet = (): void => {};

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-damage-"));
  data = await tinyDataset(dir);
});
after(() => cleanup());

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Rewrites state.json's recorded SHA-256 of `file` to match the file as it is now. */
function rehash(ckpt: string, file: string): void {
  const state = JSON.parse(readFileSync(join(ckpt, "state.json"), "utf8")) as { files: Record<string, string> };
  state.files[file] = sha256(join(ckpt, file));
  writeFileSync(join(ckpt, "state.json"), JSON.stringify(state));
}

test("a checkpoint records each file's SHA-256; a changed file, or NaN weights, are refused naming the file (and tensor)", () => {
  const ckpt = join(dir, "ck", "checkpoint");
  T.tidy(() => saveCheckpoint(ckpt, { kind: "x", step: 3 }, { model: { "enc.weight": T.ones([4, 3]), "enc.bias": T.zeros([4]) }, optimizer: { n: T.ones([2]) } }));
  const state = JSON.parse(readFileSync(join(ckpt, "state.json"), "utf8")) as { files: Record<string, string> };
  assert.deepEqual(Object.keys(state.files).sort(), ["model.safetensors", "optimizer.safetensors"]);
  assert.equal(state.files["model.safetensors"], sha256(join(ckpt, "model.safetensors")));
  const ok = loadCheckpoint(ckpt, "x").tensors("model");
  assert.equal(ok.size, 2);
  for (const t of ok.values()) t.dispose();

  const name = injectNaN(join(ckpt, "model.safetensors"), "enc.weight");
  assert.equal(name, "enc.weight");
  assert.throws(
    () => loadCheckpoint(ckpt, "x"),
    (e: Error) => /^checkpoint .*checkpoint: model\.safetensors does not match the SHA-256 recorded in state\.json .*; move .* away and train again without --resume$/.test(e.message) && !e.message.includes("\n"),
  );
  // as if written so (by a version without the NaN guard): the hash matches, the tensor is refused
  rehash(ckpt, "model.safetensors");
  const ck = loadCheckpoint(ckpt, "x");
  assert.throws(() => ck.tensors("model"), /model\.safetensors: tensor 'enc\.weight' holds 1 NaN and 0 Inf values \(of 12\); move .* away and train again without --resume/);
  // a listed file emptied, or gone
  const other = join(dir, "ck2", "checkpoint");
  T.tidy(() => saveCheckpoint(other, { kind: "x", step: 1 }, { model: { w: T.ones([2]) }, ema: { w: T.ones([2]) } }));
  writeFileSync(join(other, "ema.safetensors"), "");
  assert.throws(() => loadCheckpoint(other), /ema\.safetensors does not match the SHA-256/);
  rmSync(join(other, "ema.safetensors"));
  assert.throws(() => loadCheckpoint(other), /ema\.safetensors is missing \(state\.json lists it\)/);
});

test("a checkpoint holding NaN or Inf is not written; the previous one stays as it was", () => {
  const ckpt = join(dir, "keep", "checkpoint");
  T.tidy(() => saveCheckpoint(ckpt, { kind: "x", step: 2 }, { model: { w: T.ones([3]) } }));
  const before = readFileSync(join(ckpt, "state.json"), "utf8");
  assert.throws(
    () => T.tidy(() => saveCheckpoint(ckpt, { kind: "x", step: 4 }, { model: { w: T.tensor([1, Number.POSITIVE_INFINITY, Number.NaN]) } })),
    /not written: model\.safetensors: tensor 'w' holds 1 NaN and 1 Inf values \(of 3\); the previous checkpoint is kept/,
  );
  assert.equal(readFileSync(join(ckpt, "state.json"), "utf8"), before);
  assert.deepEqual(readdirSync(join(dir, "keep")), ["checkpoint"], "no temporary directory is left");
});

test("the loop stops at the first non-finite loss or gradient norm: that step is logged, no checkpoint follows, the message names the last good one", async () => {
  const log = new JsonlLog(join(dir, "loop.jsonl"));
  const written: number[] = [];
  await assert.rejects(
    () =>
      runTrainingLoop({
        label: "t",
        startStep: 0,
        totalSteps: 10,
        log,
        logEvery: 1,
        checkpointEvery: 2,
        handleSignals: false,
        checkpointDir: "RUN/checkpoint",
        step: (s) => ({ loss: s === 4 ? Number.NaN : 1 / (s + 1), gradNorm: 1 }),
        checkpoint: (n) => written.push(n),
      }),
    (e: Error) =>
      e instanceof TrainingDiverged &&
      e.message === "step 5: loss is NaN; training stopped, the last good checkpoint (step 4) is kept in RUN/checkpoint; train again with a lower config.training.lr (or gradClip) to get past it",
  );
  assert.deepEqual(written, [2, 4]);
  const lines = JsonlLog.read(join(dir, "loop.jsonl"));
  assert.deepEqual(lines.map((r) => r.step), [1, 2, 3, 4, 5]);
  assert.equal(lines.at(-1)!.stopped, "loss is NaN");
  // a gradient norm of Inf stops it too; a new run that has written nothing says so
  await assert.rejects(
    () =>
      runTrainingLoop({
        label: "t",
        startStep: 0,
        totalSteps: 10,
        log,
        handleSignals: false,
        step: () => ({ loss: 1, gradNorm: Number.POSITIVE_INFINITY }),
        checkpoint: (n) => written.push(n),
      }),
    /step 1: gradNorm is Infinity; training stopped, no checkpoint was written yet;/,
  );
  assert.deepEqual(written, [2, 4]);
  // other numbers may be NaN (a single expert's gating temperature)
  const r = await runTrainingLoop({ label: "t", startStep: 0, totalSteps: 3, log, handleSignals: false, step: () => ({ loss: 1, gradNorm: 1, temperature: Number.NaN }), checkpoint: () => {} });
  assert.equal(r.stepsDone, 3);
});

test("train-vqvae: a diverging run stops with one line and keeps its last checkpoint; NaN bytes in the checkpoint are refused on --resume", async () => {
  const run = join(dir, "vq-diverge");
  const config = tinyVqvaeConfig(30);
  const wild = { ...config, training: { ...config.training, lr: 1e30, warmupSteps: 0, checkpointEvery: 1, gradClip: 1e30 } };
  const err = await trainVqvae(data, run, { config: wild, handleSignals: false, say: quiet }).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof TrainingDiverged, `expected TrainingDiverged, got ${String(err)}`);
  assert.ok(!err.message.includes("\n"));
  assert.equal(existsSync(join(run, "model.safetensors")), false, "no final weights");
  assert.equal(err.step, 2);
  assert.match(err.message, /^step 2: loss is NaN; training stopped, the last good checkpoint \(step 1\) is kept in .*vq-diverge.checkpoint;/);
  const state = JSON.parse(readFileSync(join(run, "checkpoint", "state.json"), "utf8")) as { step: number };
  assert.equal(state.step, 1, "the checkpoint of step 1 was not overwritten");
  for (const t of loadCheckpoint(join(run, "checkpoint")).tensors("model").values()) t.dispose(); // finite, or this throws

  // the case: 4 NaN bytes written into checkpoint/model.safetensors of an interrupted run
  const vq = join(dir, "vq-nan");
  const interrupt = new TrainingInterrupt();
  const r = await trainVqvae(data, vq, { config: tinyVqvaeConfig(4), handleSignals: false, say: quiet, interrupt, afterStep: (s) => (interrupt.requested = s === 2) });
  assert.equal(r.interrupted, true);
  const ckpt = join(vq, "checkpoint");
  const tensor = injectNaN(join(ckpt, "model.safetensors"));
  await assert.rejects(() => trainVqvae(data, vq, { config: tinyVqvaeConfig(4), resume: true, handleSignals: false, say: quiet }), /model\.safetensors does not match the SHA-256 recorded in state\.json/);
  rehash(ckpt, "model.safetensors");
  await assert.rejects(
    () => trainVqvae(data, vq, { config: tinyVqvaeConfig(4), resume: true, handleSignals: false, say: quiet }),
    new RegExp(`model\\.safetensors: tensor '${tensor.replace(/\./g, "\\.")}' holds 1 NaN and 0 Inf values`),
  );
  const log = JsonlLog.read(join(vq, "log.jsonl"));
  assert.deepEqual(log.map((l) => l.step), [1, 2], "a refused resume changes nothing");
});

test("NaN weights are refused on load: model directory, --vqvae, U-Net directory, MoE checkpoint (file and tensor named)", async () => {
  const run = writeTinyModelDir(join(dir, "model"));
  const bad = join(dir, "model-nan");
  cpSync(run, bad, { recursive: true });
  const t1 = injectNaN(join(bad, "model.safetensors"));
  assert.throws(() => loadModelDir(bad), (e: Error) => e.name === "ModelDirError" && e.message.startsWith(`${join(bad, "model.safetensors")}: tensor '${t1}' holds 1 NaN`) && !e.message.includes("\n"));
  loadModelDir(run).dispose();

  const vqBad = join(dir, "vq-bad");
  cpSync(join(run, "vqvae"), vqBad, { recursive: true });
  const t2 = injectNaN(join(vqBad, "model.safetensors"));
  assert.throws(() => loadVqvaeDir(vqBad, "cpu"), (e: Error) => e.name === "VqvaeDirError" && e.message.startsWith(`${join(vqBad, "model.safetensors")}: tensor '${t2}' holds 1 NaN`));
  await assert.rejects(() => trainMoE(data, join(dir, "moe-on-bad"), { config: tinyMoEConfig(2), vqvaeDir: vqBad, handleSignals: false, say: quiet }), /tensor '.*' holds 1 NaN/);
  assert.equal(existsSync(join(dir, "moe-on-bad")), false);

  const unet = join(dir, "unet");
  const unetConfig = resolveUNetRunConfig("cpu-small", { model: { baseChannels: 8, channelMult: [1, 2] }, training: { steps: 2, batchSize: 4, cropSize: 32, warmupSteps: 1, logEvery: 1 } });
  await trainUNet(data, unet, { config: unetConfig, handleSignals: false, say: quiet });
  loadUNetModel(unet).dispose();
  const t3 = injectNaN(join(unet, "model.safetensors"));
  assert.throws(() => loadUNetModel(unet), new RegExp(`model\\.safetensors: tensor '${t3.replace(/\./g, "\\.")}' holds 1 NaN`));

  // MoE: an interrupted run's checkpoint with NaN bytes (hash matching, as if written so)
  const moe = join(dir, "moe");
  const interrupt = new TrainingInterrupt();
  await trainMoE(data, moe, { config: tinyMoEConfig(4), vqvaeDir: join(run, "vqvae"), handleSignals: false, say: quiet, interrupt, afterStep: (s) => (interrupt.requested = s === 2) });
  injectNaN(join(moe, "checkpoint", "ema.safetensors"));
  rehash(join(moe, "checkpoint"), "ema.safetensors");
  await assert.rejects(() => trainMoE(data, moe, { config: tinyMoEConfig(4), vqvaeDir: join(run, "vqvae"), resume: true, handleSignals: false, say: quiet }), /ema\.safetensors: tensor '.*' holds 1 NaN/);
});
