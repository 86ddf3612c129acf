// `moediff-sr model-info`: on a tiny model directory written here (config, weights,
// autoencoder, card), the JSON holds the counted components and the enhancement
// totals for the card's reference volume; the table names every component and the
// counting convention; options and bad input.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Command } from "commander";
import * as T from "../../src/torch/index.js";
import { FLOP_CONVENTION, formatModelInfo, modelInfo, parseStepList, registerModelInfo, type ModelInfo } from "../../src/cli/commands/model_info.js";
import { MoEDiffSR } from "../../src/models/moediff/moediff.js";
import { resolveVQVAEConfig, VQVAE } from "../../src/models/vqvae/index.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";
import { tinyMoEConfig, tinyVqvaeConfig } from "../train/fixture.js";
import { tempDir } from "../data/phantom.js";
import { assertThrowsMatching } from "../helpers.js";

let dir: string;
let cleanup: () => void;
let run: string;

before(() => {
  ({ dir, cleanup } = tempDir("moediff-model-info-"));
  run = writeTinyModelDir(join(dir, "run"));
});
after(() => cleanup());

/** Runs `model-info ARGS` in-process and returns what it printed. */
async function cli(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerModelInfo(program);
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    await program.parseAsync(["node", "moediff-sr", "model-info", ...args]);
  } finally {
    console.log = log;
  }
  return lines.join("\n");
}

test("--json: counted components and joint/async totals for the card's reference volume (24 slices, DDIM 50)", async () => {
  const before = T.memory().numTensors;
  const j = JSON.parse(await cli(["--model", run, "--json"])) as ModelInfo & { model: string; device: string };
  assert.equal(T.memory().numTensors, before, "the command frees the models");
  assert.equal(j.model, run);
  assert.equal(j.device, "cpu");
  assert.deepEqual(j.slice, { height: 64, width: 64 });
  assert.deepEqual(j.latent, { height: 16, width: 16, channels: 4 });
  assert.deepEqual(
    j.components.map((c) => c.name),
    ["vq_encoder", "condition_encoder", "gating", "expert_E1", "expert_E2", "expert_E3", "vq_decoder"],
  );
  const e = j.enhancement;
  assert.deepEqual([e.slices, e.tilesPerSlice, e.tiles, e.steps], [24, 1, 24, 50]);
  assert.deepEqual(e.asyncSteps, { E1: 13, E2: 50, E3: 25 }); // T = 500, 2000, 1000
  const f = Object.fromEntries(j.components.map((c) => [c.name, c.flops])) as Record<string, number>;
  const once = (f.vq_encoder ?? 0) + (f.condition_encoder ?? 0) + (f.gating ?? 0) + (f.vq_decoder ?? 0);
  const [e1, e2, e3] = [f.expert_E1 ?? 0, f.expert_E2 ?? 0, f.expert_E3 ?? 0];
  assert.equal(e.joint, 24 * (once + 50 * (e1 + e2 + e3)));
  assert.equal(e.async, 24 * (once + 13 * e1 + 50 * e2 + 25 * e3));
  assert.ok(e.saved > 0 && e.saved < 1);
  assert.equal(j.convention, FLOP_CONVENTION);
});

test("options: size, steps, async steps, slices and tiles; the table names every component and the convention", async () => {
  const j = JSON.parse(
    await cli(["--model", run, "--json", "--height", "128", "--width", "64", "--steps", "10", "--async-steps", "2,10,0", "--slices", "3", "--tiles-per-slice", "2"]),
  ) as ModelInfo;
  assert.deepEqual(j.latent, { height: 32, width: 16, channels: 4 });
  assert.deepEqual(j.enhancement.asyncSteps, { E1: 2, E2: 10, E3: 0 });
  assert.equal(j.enhancement.tiles, 6);
  const text = await cli(["--model", run]);
  for (const name of ["vq_encoder", "condition_encoder", "gating", "expert_E1", "expert_E2", "expert_E3", "vq_decoder", "total"]) {
    assert.match(text, new RegExp(`^${name} `, "m"));
  }
  assert.match(text, /24 slices x 1 tile\(s\) = 24 tiles; DDIM 50 steps \(asynchronous: E1 13, E2 50, E3 25\)/);
  assert.match(text, /^ {2}saved +\d+\.\d %$/m);
  assert.ok(text.includes(FLOP_CONVENTION));
});

test("per slice without a slice count; bad --async-steps and a missing model directory are refused clearly", async () => {
  T.manualSeed(1);
  const vqvae = new VQVAE(resolveVQVAEConfig(tinyVqvaeConfig(1).model));
  const model = new MoEDiffSR(tinyMoEConfig(1, { model: { experts: [2, 3] } }).model, 4);
  const info = modelInfo({ model, vqvae }, { height: 64, width: 64, steps: 20, slices: null, tilesPerSlice: 1 });
  assert.deepEqual(info.enhancement.asyncSteps, { E2: 20, E3: 10 });
  assert.equal(info.enhancement.tiles, 1);
  assert.match(formatModelInfo(info, "tiny"), /per slice \(1 tile\(s\)\)/);
  assertThrowsMatching(() => modelInfo({ model, vqvae }, { height: 64, width: 64, steps: 20, asyncSteps: [1, 2, 3], slices: null, tilesPerSlice: 1 }), /one count per expert \(E2, E3\)/);
  model.dispose();
  vqvae.dispose();
  assert.deepEqual(parseStepList("13, 50,0"), [13, 50, 0]);
  assertThrowsMatching(() => parseStepList("13,x"), /--async-steps expects comma-separated integers/);
  await assert.rejects(cli(["--model", join(dir, "nowhere")]), /does not exist/);
});
