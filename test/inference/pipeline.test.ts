// The MoEDiff-SR pipeline on a tiny random-weight model: its defaults come from the model's config and
// are `enhance`'s, options are checked in one place, and sampleTiles is the encode -> route -> gates ->
// sample -> decode sequence, per tile independent of the batch.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Command } from "commander";
import * as T from "../../src/torch/index.js";
import { ENHANCE_DEFAULTS, EnhanceError, MoEDiffSRPipeline } from "../../src/inference/pipeline.js";
import { mixSeed, perSampleNoise, sampleMoE } from "../../src/inference/moe_sampler.js";
import { conditionEncoderInput } from "../../src/models/vqvae/encoder_input.js";
import { registerEnhance } from "../../src/cli/commands/enhance.js";
import { tempDir } from "../data/phantom.js";
import { writeTinyModelDir } from "./tiny_model.js";

let dir: string;
let cleanup: () => void;
let pipe: MoEDiffSRPipeline;

before(() => {
  ({ dir, cleanup } = tempDir("moediff-pipeline-"));
  pipe = MoEDiffSRPipeline.fromDir(writeTinyModelDir(join(dir, "run"), { moe: { sampling: { steps: 3, start: 0.5, snapToCodebook: false } } }));
});
after(() => {
  pipe.dispose();
  cleanup();
});

test("defaultOptions: the config's sampling section, enhance's defaults for the rest", () => {
  const d = pipe.defaultOptions();
  assert.deepEqual(
    { steps: d.steps, start: d.start, snapToCodebook: d.snapToCodebook },
    { steps: 3, start: 0.5, snapToCodebook: false },
  );
  for (const [k, v] of Object.entries(ENHANCE_DEFAULTS)) assert.equal(d[k as keyof typeof d], v, k);
  // The command line shows and uses the same defaults.
  const program = new Command();
  registerEnhance(program);
  const cmd = program.commands.find((c) => c.name() === "enhance") ?? assert.fail("no enhance command");
  const def = (flag: string): unknown => (cmd.options.find((o) => o.long === flag) ?? assert.fail(`no ${flag}`)).defaultValue;
  assert.deepEqual(
    [def("--sampler"), def("--eta"), def("--seed"), def("--batch"), def("--overlap"), def("--skip-below"), def("--async")],
    ["ddim", 0, 0, 2, 32, 0, undefined],
  );
});

test("resolveOptions: undefined leaves the default, bad values are refused with what is wrong", () => {
  const r = pipe.resolveOptions({ steps: undefined, seed: 7, batch: 2 });
  assert.equal(r.steps, 3);
  assert.equal(r.seed, 7);
  assert.equal(r.batch, 2);
  const extra = { seed: 1, inputScale: 3, axes: ["z"] } as Parameters<MoEDiffSRPipeline["resolveOptions"]>[0];
  assert.deepEqual(Object.keys(pipe.resolveOptions(extra)).sort(), Object.keys(pipe.defaultOptions()).sort(), "the settings only");
  const refused = (o: Parameters<MoEDiffSRPipeline["resolveOptions"]>[0], re: RegExp): void =>
    assert.throws(() => pipe.resolveOptions(o), (e: unknown) => e instanceof EnhanceError && re.test(e.message));
  refused({ batch: 0 }, /batch must be a positive integer, got 0/);
  refused({ sampler: "euler" as "ddim" }, /unknown sampler 'euler'; known samplers: ddim, ddpm/);
  refused({ steps: 1.5 }, /steps must be a positive integer/);
  refused({ start: 0 }, /start must be in \(0, 1\], got 0/);
  refused({ eta: -1 }, /eta must be >= 0/);
  refused({ overlap: 64 }, /overlap must be an integer in \[0, 64\)/);
  refused({ skipBelow: 0.1 }, /needs asynchronous mode/);
  refused({ mode: "async", skipBelow: 0.5 }, /skip threshold must be in \[0, 1\/3\]/);
  assert.equal(pipe.describeSampler(pipe.defaultOptions()), "DDIM 3 steps, eta 0, from 0.5 of the schedule");
  assert.equal(pipe.describeSampler({ ...pipe.defaultOptions(), sampler: "ddpm", start: 1 }), "DDPM (every timestep)");
});

test("sampleTiles: the encode, route, gates, sample, decode sequence; a tile's result does not depend on its batch", () => {
  T.manualSeed(11);
  const y = T.rand([3, 3, 64, 64]);
  const seeds = [mixSeed(1, 0), mixSeed(1, 1), mixSeed(1, 2)];
  const o = { ...pipe.defaultOptions(), explain: true };
  const before = T.memory().numTensors;
  const r = pipe.sampleTiles(y, seeds, o);
  assert.equal(T.memory().numTensors, before, "sampleTiles leaves no tensor behind");
  assert.equal(r.images.length, 3 * 64 * 64);
  assert.equal(r.experts.length, 3);
  assert.equal(r.gates?.length, 3 * 3 * 64 * 64);
  assert.deepEqual(r.evaluations, [3, 3, 3]);

  // The same sequence written out by hand gives the same numbers.
  const byHand = T.tidy(() =>
    T.noGrad(() => {
      const { model, vqvae } = pipe;
      const condLatent = vqvae.encodeLatent(conditionEncoderInput(y));
      const { zc, grids } = model.encodeCondition(y);
      const gates = model.usedGates(model.route(zc, grids), [condLatent.size(2), condLatent.size(3)], false);
      const s = sampleMoE(model, { condLatent, zc, gates }, { ...o, z0Clip: pipe.config.losses.z0HatClip, noise: perSampleNoise(seeds), keepExperts: false });
      return vqvae.decodeLatent(s.z0, { quantize: false, lr: y }).narrow(1, 0, 1).contiguous().data() as Float32Array;
    }),
  );
  assert.deepEqual(r.images, byHand);

  // The forward passes run under inference mode.
  const seen: boolean[] = [];
  const expert = pipe.model.experts[0] as (typeof pipe.model.experts)[number];
  const forward = expert.forward.bind(expert);
  expert.forward = (input) => (seen.push(T.isInferenceMode()), forward(input));
  try {
    T.tidy(() => pipe.sampleTiles(y.narrow(0, 0, 1), [seeds[0] as number], o));
  } finally {
    expert.forward = forward;
  }
  assert.ok(seen.length > 0 && seen.every((x) => x), `inference mode in the expert's forward: ${seen.join(", ")}`);
  assert.equal(T.isInferenceMode(), false, "and off again after");

  // Tile 1 alone gives what it gave in the batch of three.
  const one = T.tidy(() => pipe.sampleTiles(y.narrow(0, 1, 1), [seeds[1] as number], o).images);
  const hw = 64 * 64;
  let worst = 0;
  for (let i = 0; i < hw; i++) worst = Math.max(worst, Math.abs((one[i] as number) - (r.images[hw + i] as number)));
  assert.ok(worst < 1e-4, `tile 1 alone differs by ${worst}`);
  y.dispose();
  T.tidy(() => {
    assert.throws(() => pipe.sampleTiles(T.zeros([1, 1, 64, 64]), [0], o), /y must be \[B, 3, H, W\]/);
    assert.throws(() => pipe.sampleTiles(T.zeros([1, 3, 64, 64]), [0, 1], o), /2 seeds for 1 tiles/);
  });
});

test("steps 0: no diffusion step, the condition latent decoded, decode(encode(LR)); explain is refused", () => {
  T.manualSeed(12);
  const y = T.rand([2, 3, 64, 64]);
  try {
    const o = { ...pipe.resolveOptions({ steps: 0 }), explain: false };
    assert.equal(o.steps, 0);
    assert.equal(pipe.describeSampler(o), "no diffusion step (steps 0): the autoencoder alone, decode(encode(LR))");
    assert.throws(() => pipe.resolveOptions({ steps: 0, explain: true }), (e: unknown) => e instanceof EnhanceError && /steps 0 runs the autoencoder alone/.test(e.message));
    const before = T.memory().numTensors;
    const r = pipe.sampleTiles(y, [1, 2], { ...o, returnLatent: true });
    assert.equal(T.memory().numTensors, before, "no tensor left behind");
    assert.deepEqual(r.evaluations, [0, 0, 0]);
    assert.deepEqual(r.experts, []);
    assert.equal(r.gates, null);
    const byHand = T.tidy(() =>
      T.noGrad(() => {
        const z = pipe.vqvae.encodeLatent(conditionEncoderInput(y));
        return { image: pipe.vqvae.decodeLatent(z, { quantize: o.snapToCodebook, lr: y }).narrow(1, 0, 1).contiguous().data() as Float32Array, z: z.contiguous().data() as Float32Array };
      }),
    );
    assert.deepEqual(r.images, byHand.image);
    assert.ok(r.images.some((v) => v !== 0));
    // Its latent is z_LR itself.
    assert.deepEqual(r.latents?.final, byHand.z);
    assert.deepEqual(r.latents?.condition, byHand.z);
    // The seeds do not matter: nothing is sampled.
    assert.deepEqual(pipe.sampleTiles(y, [7, 8], o).images, r.images);
  } finally {
    y.dispose();
  }
});

test("returnLatent: the sampler's final latent (its decoding is the image) and the condition latent, only when asked", () => {
  T.manualSeed(13);
  const y = T.rand([2, 3, 64, 64]);
  try {
    const o = pipe.defaultOptions();
    const plain = pipe.sampleTiles(y, [3, 4], o);
    assert.equal(plain.latents, undefined, "not returned unless asked");
    const r = pipe.sampleTiles(y, [3, 4], { ...o, returnLatent: true });
    assert.deepEqual(r.images, plain.images, "asking for the latent changes nothing else");
    const l = r.latents ?? assert.fail("no latents");
    const [b, c, h, w] = l.shape;
    assert.equal(b, 2);
    assert.equal(l.final.length, b * c * h * w);
    assert.equal(l.condition.length, b * c * h * w);
    const byHand = T.tidy(() =>
      T.noGrad(() => {
        const zLr = pipe.vqvae.encodeLatent(conditionEncoderInput(y));
        const zOut = T.tensor(l.final, [b, c, h, w]);
        return {
          zLr: zLr.contiguous().data() as Float32Array,
          image: pipe.vqvae.decodeLatent(zOut, { quantize: o.snapToCodebook, lr: y }).narrow(1, 0, 1).contiguous().data() as Float32Array,
        };
      }),
    );
    assert.deepEqual(l.condition, byHand.zLr);
    let worst = 0;
    r.images.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (byHand.image[i] as number)))));
    assert.ok(worst < 1e-5, `decoding the returned final latent differs from the image by ${worst}`);
    assert.ok(l.final.some((v, i) => v !== l.condition[i]), "the chain moved the latent");
  } finally {
    y.dispose();
  }
});
