// A run killed part-way (issue 21.2 and 21.3): the next run in its directory removes the debris of the
// killed writes and recovers a half-renamed checkpoint; the log reads as one run (cut back to the
// checkpoint's step on --resume, started afresh by a new run); a finished run's --resume changes nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { trainVqvae } from "../../src/train/vqvae_trainer.js";
import { trainMoE } from "../../src/train/moe_trainer.js";
import { trainUNet } from "../../src/train/unet_trainer.js";
import { TrainingInterrupt } from "../../src/train/loop.js";
import { JsonlLog } from "../../src/train/jsonl_log.js";
import { resolveUNetRunConfig } from "../../src/models/unet/config.js";
import { tempDir } from "../data/phantom.js";
import { tinyDataset, tinyMoEConfig, tinyVqvaeConfig } from "./fixture.js";

let dir: string;
let cleanup: () => void;
let data: string;
let vqvae: string;
let dead: number;
const quiet = (): void => {};

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-recovery-"));
  data = await tinyDataset(dir);
  vqvae = join(dir, "vqvae");
  await trainVqvae(data, vqvae, { config: tinyVqvaeConfig(4), handleSignals: false, say: quiet });
  dead = spawnSync(process.execPath, ["-e", ""]).pid!;
});
after(() => cleanup());

const steps = (run: string): unknown[] => JsonlLog.read(join(run, "log.jsonl")).map((r) => (r.eval !== undefined ? "eval" : r.step));

/** Snapshot of every file's bytes and mtime under `d`. */
function snapshot(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string): void => {
    for (const name of readdirSync(p)) {
      const full = join(p, name);
      const s = statSync(full);
      if (s.isDirectory()) walk(full, join(rel, name));
      else out[join(rel, name)] = `${s.mtimeMs} ${readFileSync(full).toString("base64")}`;
    }
  };
  walk(d, "");
  return out;
}

test("train-vqvae after a kill -9 mid-checkpoint: debris removed, the half-renamed checkpoint recovered, the run finishes as if never stopped", async () => {
  const straight = join(dir, "vq-straight");
  await trainVqvae(data, straight, { config: tinyVqvaeConfig(6), handleSignals: false, say: quiet });
  const run = join(dir, "vq-killed");
  const interrupt = new TrainingInterrupt();
  await trainVqvae(data, run, { config: tinyVqvaeConfig(6), handleSignals: false, say: quiet, interrupt, afterStep: (s) => (interrupt.requested = s === 3) });
  // as saveCheckpoint leaves it when killed between its two renames, and a final write cut short
  renameSync(join(run, "checkpoint"), join(run, `.checkpoint.${dead}.0badc0de.old`));
  mkdirSync(join(run, `.checkpoint.${dead}.00c0ffee.tmp`));
  writeFileSync(join(run, `.checkpoint.${dead}.00c0ffee.tmp`, "model.safetensors"), "partial");
  writeFileSync(join(run, `.model.safetensors.${dead}.0123456789ab.tmp`), "partial");
  appendFileSync(join(run, "log.jsonl"), '{"step":4,"time":1,"loss":0.5}\n{"step":5,"ti'); // logged past the checkpoint, then cut
  const said: string[] = [];
  const r = await trainVqvae(data, run, { config: tinyVqvaeConfig(6), resume: true, handleSignals: false, say: (l) => said.push(l) });
  assert.equal(r.stepsDone, 6);
  assert.ok(said.some((l) => /^recovered .*checkpoint from \.checkpoint\.\d+\.0badc0de\.old \(a checkpoint write was cut short\)$/.test(l)), said.join("\n"));
  assert.ok(said.some((l) => l.startsWith("resuming from step 3")));
  assert.deepEqual(readdirSync(run).filter((f) => f.startsWith(".")), [], "no debris left");
  assert.ok(readFileSync(join(run, "model.safetensors")).equals(readFileSync(join(straight, "model.safetensors"))), "same weights as the straight run");
  assert.deepEqual(steps(run), [1, 2, 3, 4, 5, 6, "eval"]);
});

test("a new run where a killed one wrote no checkpoint starts its log afresh (steps 1-3 are not repeated)", async () => {
  const run = join(dir, "vq-fresh");
  mkdirSync(run);
  // a run killed before its first checkpoint: config.json and three log lines, no checkpoint/
  writeFileSync(join(run, "log.jsonl"), '{"step":1,"loss":1}\n{"step":2,"loss":1}\n{"step":3,"loss":1}\n');
  mkdirSync(join(run, `.checkpoint.${dead}.00c0ffee.tmp`));
  await trainVqvae(data, run, { config: tinyVqvaeConfig(4), handleSignals: false, say: quiet });
  assert.deepEqual(steps(run), [1, 2, 3, 4, "eval"]);
  assert.deepEqual(readdirSync(run).filter((f) => f.startsWith(".")), []);
});

test("--resume of a finished run changes nothing (VQ-VAE, MoE, U-Net)", async () => {
  const vq = join(dir, "vq-done");
  await trainVqvae(data, vq, { config: tinyVqvaeConfig(3), handleSignals: false, say: quiet });
  const moe = join(dir, "moe-done");
  await trainMoE(data, moe, { config: tinyMoEConfig(3), vqvaeDir: vqvae, handleSignals: false, say: quiet });
  const unet = join(dir, "unet-done");
  const unetConfig = resolveUNetRunConfig("cpu-small", { model: { baseChannels: 8, channelMult: [1, 2] }, training: { steps: 3, batchSize: 4, cropSize: 32, warmupSteps: 1, logEvery: 1 } });
  await trainUNet(data, unet, { config: unetConfig, handleSignals: false, say: quiet });
  const before = [snapshot(vq), snapshot(moe), snapshot(unet)];
  for (let i = 0; i < 2; i++) {
    const said: string[] = [];
    const say = (l: string): void => void said.push(l);
    const a = await trainVqvae(data, vq, { config: tinyVqvaeConfig(3), resume: true, handleSignals: false, say });
    const b = await trainMoE(data, moe, { config: tinyMoEConfig(3), vqvaeDir: vqvae, resume: true, handleSignals: false, say });
    const c = await trainUNet(data, unet, { config: unetConfig, resume: true, handleSignals: false, say });
    assert.deepEqual([a.stepsDone, b.stepsDone, c.stepsDone], [3, 3, 3]);
    assert.deepEqual([a.interrupted, b.interrupted, c.interrupted], [false, false, false]);
    assert.deepEqual(said, [vq, moe, unet].map((d) => `${d} has finished (step 3 of 3); nothing to do`));
  }
  assert.deepEqual([snapshot(vq), snapshot(moe), snapshot(unet)], before);
  assert.deepEqual(steps(moe), [1, 2, 3, "eval"]);
});

test("a run killed after its last checkpoint but before its evaluation finishes on --resume with one eval line", async () => {
  const run = join(dir, "moe-noeval");
  await trainMoE(data, run, { config: tinyMoEConfig(3), vqvaeDir: vqvae, handleSignals: false, say: quiet });
  // as if killed while evaluating: final weights written, metrics.json not yet (and a stale eval line)
  for (const f of ["metrics.json"]) renameSync(join(run, f), join(dir, `moe-noeval-${f}`));
  const r = await trainMoE(data, run, { config: tinyMoEConfig(3), vqvaeDir: vqvae, resume: true, handleSignals: false, say: quiet });
  assert.ok(r.metrics !== undefined);
  assert.deepEqual(steps(run), [1, 2, 3, "eval"]);
  assert.equal(readFileSync(join(run, "metrics.json"), "utf8"), readFileSync(join(dir, "moe-noeval-metrics.json"), "utf8"));
});
