// `moediff-sr train` as a user runs it: Ctrl-C (SIGINT) stops after the current step with a
// checkpoint and exit code 130; `--resume` finishes the run; bad switches get clear messages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { trainVqvae } from "../../src/train/vqvae_trainer.js";
import { tempDir } from "../data/phantom.js";
import { tinyDataset, tinyVqvaeConfig } from "../train/fixture.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
let dir: string;
let cleanup: () => void;
let data: string;
let vqvae: string;
let configFile: string;

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-train-cli-"));
  data = await tinyDataset(dir);
  vqvae = join(dir, "vqvae");
  await trainVqvae(data, vqvae, { config: tinyVqvaeConfig(5), handleSignals: false, say: () => {} });
  configFile = join(dir, "tiny.json");
  writeFileSync(
    configFile,
    JSON.stringify({
      model: {
        condition: { dim: 32, depth: 2, numHeads: 2, windowSize: 4, mlpRatio: 2 },
        gating: { hidden: 32 },
        expert: { baseChannels: 8, timeEmbedDim: 32, numHeads: 2 },
      },
      training: { steps: 300, batchSize: 2, warmupSteps: 2, logEvery: 1, checkpointEvery: 1000 },
    }),
  );
});
after(() => cleanup());

/** Runs the CLI and sends SIGINT once the first progress line of training appears. */
function interruptAfterProgress(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [main, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let stdout = "";
  let sent = false;
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
    if (!sent && /train \d+\/300 /.test(stderr)) {
      sent = true;
      child.kill("SIGINT");
    }
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}

test("SIGINT writes a checkpoint and exits 130; --resume continues from it", async () => {
  const run = join(dir, "run");
  const first = await interruptAfterProgress(["train", data, "--vqvae", vqvae, "-o", run, "--config", configFile]);
  const { code, stdout, stderr } = first;
  assert.equal(code, 130, `exit code; stderr:\n${stderr}`);
  assert.match(stdout, /interrupted after step (\d+); continue with --resume/);
  const state = JSON.parse(readFileSync(join(run, "checkpoint", "state.json"), "utf8")) as { step: number; kind: string };
  assert.equal(state.kind, "moediff");
  assert.ok(state.step >= 1 && state.step < 300, `checkpoint at step ${state.step}`);
  assert.ok(!existsSync(join(run, "model.safetensors")), "no final weights after an interrupt");

  // resuming with a different step count is refused as another config
  const r = spawnSync(process.execPath, [main, "train", data, "--vqvae", vqvae, "-o", run, "--resume", "--steps", String(state.step + 3)], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /another config; it differs in:\n\s+training\.steps: 300 -> \d+/);
  // with the same config it continues from the checkpoint (interrupted again here; the API test
  // test/train/training.test.ts checks that a resumed run finishes with the same losses)
  const again = await interruptAfterProgress(["train", data, "--vqvae", vqvae, "-o", run, "--resume", "--config", configFile]);
  assert.equal(again.code, 130, again.stderr);
  assert.match(again.stdout, new RegExp(`resuming from step ${state.step} of 300`));
  const state2 = JSON.parse(readFileSync(join(run, "checkpoint", "state.json"), "utf8")) as { step: number };
  assert.ok(state2.step > state.step && state2.step < 300, `second checkpoint at step ${state2.step} (first ${state.step})`);
});

test("bad switches and missing inputs get one-line errors", () => {
  const cases: [string[], RegExp][] = [
    [["train", data, "--vqvae", vqvae, "-o", join(dir, "x"), "--experts", "4"], /--experts expects a list of 1, 2, 3, got '4'/],
    [["train", data, "--vqvae", vqvae, "-o", join(dir, "x"), "--gating", "local"], /--gating must be global or spatial, got 'local'/],
    [["train", data, "--vqvae", join(dir, "none"), "-o", join(dir, "x")], /not a trained VQ-VAE directory/],
    [["train", data, "--vqvae", vqvae, "-o", join(dir, "x"), "--preset", "huge"], /unknown preset 'huge' \(known: paper, cpu-small\)/],
    [["train-vqvae", data, "-o", join(dir, "y"), "--config", join(dir, "missing.json")], /--config .*missing\.json: no such file/],
  ];
  for (const [args, pattern] of cases) {
    const r = spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});

test("a diverging run exits 1 with one line naming the step and the last good checkpoint, which it keeps", () => {
  const run = join(dir, "diverge");
  const wild = join(dir, "wild.json");
  const t = tinyVqvaeConfig(30);
  writeFileSync(wild, JSON.stringify({ model: t.model, training: { ...t.training, lr: 1e30, warmupSteps: 0, checkpointEvery: 1, gradClip: 1e30 } }));
  const r = spawnSync(process.execPath, [main, "train-vqvae", data, "-o", run, "--config", wild], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 1, r.stderr);
  const last = r.stderr.trim().split(/\r|\n/).at(-1)!;
  assert.match(last, /^moediff-sr: step 2: loss is NaN; training stopped, the last good checkpoint \(step 1\) is kept in .*diverge.checkpoint; train again with a lower config\.training\.lr/);
  assert.equal((JSON.parse(readFileSync(join(run, "checkpoint", "state.json"), "utf8")) as { step: number }).step, 1);
  assert.equal(existsSync(join(run, "model.safetensors")), false);
});
