// Sampling the mixture of experts (src/inference/moe_sampler.ts): determinism and batch
// independence with real (random-weight) experts; exact recovery of a known latent with oracle
// experts in joint and asynchronous mode; the timesteps each expert is asked for; skipping.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { MoEDiffSR } from "../../src/models/moediff/moediff.js";
import type { ExpertInput } from "../../src/models/experts/config.js";
import { asyncStepCounts } from "../../src/diffusion/async_steps.js";
import { perSampleNoise, referenceSchedule, sampleMoE, mixSeed, type MoEConditioning } from "../../src/inference/moe_sampler.js";
import { tinyMoEConfig } from "../train/fixture.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

const C = 4;
const maxAbsDiff = (a: T.Tensor, b: T.Tensor): number => T.tidy(() => a.sub(b).abs().amax().item());

function tinyModel(timesteps: number[], seed = 1, target: { target?: "latent" | "residual"; residualScale?: number } = {}): MoEDiffSR {
  T.manualSeed(seed);
  const m = new MoEDiffSR(tinyMoEConfig(1, { model: { timesteps, ...target } }).model, C);
  m.eval();
  return m;
}

/** Conditioning for b samples of an 8x8 latent, drawn from `seed`, with the model's own routing. */
function conditioning(model: MoEDiffSR, b: number, seed: number): MoEConditioning {
  const g = new T.Generator({ seed });
  return T.noGrad(() =>
    T.tidy(() => {
      const y = T.rand([b, 3, 64, 64], { generator: g });
      const condLatent = T.randn([b, C, 8, 8], { generator: g });
      const { zc, grids } = model.encodeCondition(y);
      const gates = model.usedGates(model.route(zc, grids), [8, 8], false);
      return { condLatent: T.keep(condLatent), zc: T.keep(zc), gates: T.keep(gates) };
    }),
  );
}

function disposeCond(c: MoEConditioning): void {
  [c.condLatent, c.zc, c.gates].forEach((t) => t.dispose());
}

function rows(c: MoEConditioning, i: number): MoEConditioning {
  return { condLatent: c.condLatent.narrow(0, i, 1), zc: c.zc.narrow(0, i, 1), gates: c.gates.narrow(0, i, 1) };
}

test("same seeds, same samples; another seed, other samples; a sample does not depend on its batch", () => {
  const model = tinyModel([10, 40, 20]);
  const c = conditioning(model, 2, 3);
  for (const mode of ["joint", "async"] as const) {
    const run = (cc: MoEConditioning, seeds: number[]): T.Tensor =>
      sampleMoE(model, cc, { mode, sampler: "ddim", steps: 4, eta: 0.5, z0Clip: 5, noise: perSampleNoise(seeds) }).z0;
    const a = run(c, [11, 12]);
    const b = run(c, [11, 12]);
    assert.equal(maxAbsDiff(a, b), 0, `${mode}: not deterministic`);
    const other = run(c, [13, 12]);
    assert.ok(maxAbsDiff(a.narrow(0, 0, 1), other.narrow(0, 0, 1)) > 1e-3, `${mode}: the seed has no effect`);
    assert.ok(maxAbsDiff(a.narrow(0, 1, 1), other.narrow(0, 1, 1)) < 1e-5, `${mode}: sample 1 changed with sample 0's seed`);
    const alone = run(rows(c, 1), [12]);
    assert.ok(maxAbsDiff(a.narrow(0, 1, 1), alone) < 1e-4, `${mode}: batch changes the result by ${maxAbsDiff(a.narrow(0, 1, 1), alone)}`);
    [a, b, other, alone].forEach((t) => t.dispose());
  }
  disposeCond(c);
  model.dispose();
});

/**
 * Golden sums and means of z0 for a fixed model, conditioning and seeds (2 x 4 x 8 x 8 = 512 values),
 * recorded before the samplers became scheduler classes; the refactor reproduced them bit for bit.
 */
const GOLDEN: { target: "latent" | "residual"; mode: "joint" | "async"; sampler: "ddpm" | "ddim"; steps?: number; eta?: number; start: number; sum: number; mean: number; evaluations: number[] }[] = [
  { target: "latent", mode: "joint", sampler: "ddpm", start: 1, sum: -300.00474924594164, mean: -0.5859467758709798, evaluations: [40, 40, 40] },
  { target: "latent", mode: "joint", sampler: "ddim", steps: 6, eta: 0, start: 1, sum: -62.540465116500854, mean: -0.12214934593066573, evaluations: [6, 6, 6] },
  { target: "latent", mode: "joint", sampler: "ddim", steps: 4, eta: 0.5, start: 0.4, sum: -70.63038858538494, mean: -0.13794997770582995, evaluations: [4, 4, 4] },
  { target: "latent", mode: "async", sampler: "ddpm", start: 1, sum: -210.22954800724983, mean: -0.41060458595165983, evaluations: [10, 40, 20] },
  { target: "latent", mode: "async", sampler: "ddim", steps: 8, eta: 1, start: 1, sum: -209.74630059674382, mean: -0.4096607433530153, evaluations: [2, 8, 4] },
  { target: "latent", mode: "async", sampler: "ddim", steps: 4, eta: 0.5, start: 0.4, sum: -118.81520891934633, mean: -0.2320609549205983, evaluations: [1, 4, 2] },
  { target: "residual", mode: "joint", sampler: "ddim", steps: 4, eta: 0.5, start: 0.4, sum: -47.897929940372705, mean: -0.09355064441479044, evaluations: [4, 4, 4] },
  { target: "residual", mode: "async", sampler: "ddim", steps: 6, eta: 0, start: 1, sum: -52.97306388616562, mean: -0.10346301540266722, evaluations: [2, 6, 3] },
];

test("golden sums and means: both modes, both samplers, partial starts, both targets, fixed seeds", () => {
  for (const target of ["latent", "residual"] as const) {
    const model = tinyModel([10, 40, 20], 1, target === "residual" ? { target, residualScale: 2.5 } : { target });
    const c = conditioning(model, 2, 3);
    for (const g of GOLDEN.filter((x) => x.target === target)) {
      const what = `${g.target} ${g.mode} ${g.sampler} steps ${String(g.steps)} eta ${String(g.eta)} start ${g.start}`;
      const r = sampleMoE(model, c, {
        mode: g.mode,
        sampler: g.sampler,
        ...(g.steps === undefined ? {} : { steps: g.steps }),
        ...(g.eta === undefined ? {} : { eta: g.eta }),
        start: g.start,
        z0Clip: 5,
        noise: perSampleNoise([11, 12]),
        ...(g.mode === "async" ? { skipBelow: 0.2 } : {}),
      });
      const sum = T.tidy(() => r.z0.to("float64").sum().item());
      const mean = sum / r.z0.numel;
      assertClose(sum, g.sum, { atol: 1e-3, rtol: 1e-5, message: `${what}: sum` });
      assertClose(mean, g.mean, { atol: 2e-6, rtol: 1e-5, message: `${what}: mean` });
      assert.deepEqual(r.evaluations, g.evaluations, what);
      [r.z0, r.weights].forEach((t) => t.dispose());
    }
    disposeCond(c);
    model.dispose();
  }
});

test("asynchronous chains that start part-way count the evaluations they make (DDPM from 0.4: 5, 17 and 9 of 10, 40, 20)", () => {
  const model = tinyModel([10, 40, 20], 1, { target: "latent" });
  const c = conditioning(model, 2, 3);
  let calls = 0;
  const r = sampleMoE(model, c, { mode: "async", sampler: "ddpm", start: 0.4, z0Clip: 5, noise: perSampleNoise([11, 12]), onEvaluation: (done, total) => ((calls = done), assert.equal(total, 31)) });
  assert.deepEqual(r.evaluations, [5, 17, 9]);
  assert.equal(calls, 31);
  [r.z0, r.weights].forEach((t) => t.dispose());
  disposeCond(c);
  model.dispose();
});

/**
 * Replaces every expert by the exact noise predictor for the clean latent z0 (on its own schedule), for
 * the model's diffusion target (z0 itself or the scaled residual against the conditioning latent).
 */
function useOracles(model: MoEDiffSR, z0: T.Tensor, calls: number[][]): void {
  model.experts.forEach((e, i) => {
    const s = model.schedules[i]!;
    (e as unknown as { forward: (x: ExpertInput) => T.Tensor }).forward = (x) => {
      const ts = x.t.toArray() as number[];
      calls[i]!.push(ts[0] as number);
      const ab = s.alphaBar(ts[0] as number);
      return T.tidy(() => x.zt.sub(model.toTarget(z0, x.cond).mul(Math.sqrt(ab))).div(Math.sqrt(1 - ab)));
    };
  });
}

test("oracle experts: joint sampling recovers z0 exactly when the schedules agree (DDIM and DDPM)", () => {
  const model = tinyModel([20, 20, 20]);
  const c = conditioning(model, 2, 4);
  const z0 = T.tidy(() => T.randn([2, C, 8, 8], { generator: new T.Generator({ seed: 8 }) }).mul(0.8));
  const calls: number[][] = [[], [], []];
  useOracles(model, z0, calls);
  for (const [sampler, steps] of [["ddim", 5], ["ddpm", undefined]] as const) {
    const r = sampleMoE(model, c, { mode: "joint", sampler, ...(steps === undefined ? {} : { steps }), z0Clip: 0, noise: perSampleNoise([1, 2]) });
    assert.ok(maxAbsDiff(r.z0, z0) < 1e-4, `${sampler}: ${maxAbsDiff(r.z0, z0)}`);
    assert.deepEqual(r.evaluations, [steps ?? 20, steps ?? 20, steps ?? 20]);
    r.z0.dispose();
    r.weights.dispose();
  }
  z0.dispose();
  disposeCond(c);
  model.dispose();
});

test("joint sampling asks each expert for the timestep of its own schedule matching the shared noise level", () => {
  const model = tinyModel([10, 40, 20]);
  assert.equal(referenceSchedule(model.schedules), 1);
  const c = conditioning(model, 1, 5);
  const z0 = T.zeros([1, C, 8, 8]);
  const calls: number[][] = [[], [], []];
  useOracles(model, z0, calls);
  const r = sampleMoE(model, c, { mode: "joint", sampler: "ddim", steps: 6, z0Clip: 5, noise: perSampleNoise([3]), keepExperts: true });
  const ref = model.schedules[1]!;
  const visited = [39, 31, 23, 16, 8, 0];
  assert.deepEqual(calls[1], visited);
  assert.deepEqual(calls[0], visited.map((t) => model.schedules[0]!.matchTimestep(ref, t)));
  assert.deepEqual(calls[2], visited.map((t) => model.schedules[2]!.matchTimestep(ref, t)));
  assert.equal(r.experts?.length, 3);
  [r.z0, r.weights, ...(r.experts ?? []), z0].forEach((t) => t.dispose());
  disposeCond(c);
  model.dispose();
});

test("oracle experts: asynchronous chains (own schedules, own step counts) each recover z0", () => {
  const model = tinyModel([10, 40, 20]);
  const c = conditioning(model, 2, 6);
  const z0 = T.tidy(() => T.randn([2, C, 8, 8], { generator: new T.Generator({ seed: 9 }) }));
  const calls: number[][] = [[], [], []];
  useOracles(model, z0, calls);
  const r = sampleMoE(model, c, { mode: "async", sampler: "ddim", steps: 8, eta: 1, z0Clip: 0, noise: perSampleNoise([1, 2]), keepExperts: true });
  assert.deepEqual(r.evaluations, asyncStepCounts(8, [10, 40, 20]));
  assert.deepEqual(r.evaluations, [2, 8, 4]);
  assert.deepEqual(calls.map((x) => x.length), [2, 8, 4]);
  r.experts?.forEach((e, i) => assert.ok(maxAbsDiff(e, z0) < 1e-4, `expert ${i}`));
  assert.ok(maxAbsDiff(r.z0, z0) < 1e-4);
  [r.z0, r.weights, ...(r.experts ?? []), z0].forEach((t) => t.dispose());
  disposeCond(c);
  model.dispose();
});

test("residual target and partial starts: oracle experts recover z0 in both modes; the chain starts from the noised condition", () => {
  // joint sampling is exact with oracles only when the schedules agree (see the test above)
  const timesteps = { joint: [20, 20, 20], async: [10, 40, 20] };
  for (const target of [{ target: "residual" as const, residualScale: 2.5 }, { target: "latent" as const }]) {
    for (const mode of ["joint", "async"] as const) {
      const model = tinyModel(timesteps[mode], 1, target);
      const c = conditioning(model, 2, 6);
      const z0 = T.tidy(() => T.randn([2, C, 8, 8], { generator: new T.Generator({ seed: 9 }) }));
      for (const start of [1, 0.4]) {
        const calls: number[][] = [[], [], []];
        useOracles(model, z0, calls);
        const r = sampleMoE(model, c, { mode, sampler: "ddim", steps: 8, start, z0Clip: 0, noise: perSampleNoise([1, 2]), keepExperts: true });
        const what = `${target.target}, start ${start}, ${mode}`;
        assert.ok(maxAbsDiff(r.z0, z0) < 1e-4, `${what}: ${maxAbsDiff(r.z0, z0)}`);
        r.experts?.forEach((e, i) => assert.ok(maxAbsDiff(e, z0) < 1e-4, `${what}: expert ${i}`));
        // the first timestep each expert is asked for: round(start (T_i - 1))
        assert.deepEqual(calls.map((x) => x[0]), timesteps[mode].map((n) => Math.round(start * (n - 1))), what);
        [r.z0, r.weights, ...(r.experts ?? [])].forEach((t) => t.dispose());
      }
      z0.dispose();
      disposeCond(c);
      model.dispose();
    }
  }
});

test("a residual model maps targets and latents both ways and refuses a scale of 0", () => {
  const model = tinyModel([10, 40, 20], 1, { target: "residual", residualScale: 4 });
  const z0 = T.randn([1, C, 8, 8]);
  const cond = T.randn([1, C, 8, 8]);
  const x0 = model.toTarget(z0, cond);
  const expect = T.tidy(() => z0.sub(cond).mul(4));
  assert.ok(maxAbsDiff(x0, expect) < 1e-6);
  const back = model.fromTarget(x0, cond);
  assert.ok(maxAbsDiff(back, z0) < 1e-5);
  const unset = tinyModel([10, 40, 20], 1, { target: "residual", residualScale: 0 });
  assertThrowsMatching(() => unset.toTarget(z0, cond), /residualScale is 0/);
  [z0, cond, x0, expect, back].forEach((t) => t.dispose());
  model.dispose();
  unset.dispose();
});

test("async skipping: an expert below the threshold gets weight 0 per sample, runs only when some sample needs it", () => {
  const model = tinyModel([10, 40, 20]);
  const c0 = conditioning(model, 2, 7);
  const withGates = (g: number[]): MoEConditioning => ({ ...c0, gates: T.tensor(g, [2, 3]) });
  const a = withGates([0.8, 0.15, 0.05, 0.3, 0.3, 0.4]);
  const r = sampleMoE(model, a, { mode: "async", sampler: "ddim", steps: 4, z0Clip: 5, noise: perSampleNoise([1, 2]), skipBelow: 0.1 });
  assert.deepEqual(r.evaluations, [1, 4, 2]);
  const w = r.weights.toArray() as number[];
  [0.8 / 0.95, 0.15 / 0.95, 0, 0.3, 0.3, 0.4].forEach((x, i) => assert.ok(Math.abs((w[i] as number) - x) < 1e-6, `weight ${i}: ${w[i]}`));
  const b = withGates([0.8, 0.15, 0.05, 0.7, 0.25, 0.05]);
  const r2 = sampleMoE(model, b, { mode: "async", sampler: "ddim", steps: 4, z0Clip: 5, noise: perSampleNoise([1, 2]), skipBelow: 0.1 });
  assert.deepEqual(r2.evaluations, [1, 4, 0]);
  // Sample 0's result does not depend on whether E3 ran for its batch.
  assert.ok(maxAbsDiff(r.z0.narrow(0, 0, 1), r2.z0.narrow(0, 0, 1)) < 1e-5);
  assertThrowsMatching(() => sampleMoE(model, b, { mode: "async", sampler: "ddim", steps: 4, z0Clip: 5, noise: perSampleNoise([1, 2]), skipBelow: 0.5 }), /skip threshold must be in \[0, 1\/K\]/);
  [r.z0, r.weights, r2.z0, r2.weights, a.gates, b.gates].forEach((t) => t.dispose());
  disposeCond(c0);
  model.dispose();
});

test("spatial gates drive the aggregation per position; wrong shapes are refused; no tensor is left behind", () => {
  const model = tinyModel([10, 40, 20]);
  const c = conditioning(model, 1, 8);
  const before = T.memory().numTensors;
  const spatial = T.tidy(() => T.randn([1, 3, 8, 8]).softmax(1));
  const r = sampleMoE(model, { ...c, gates: spatial }, { mode: "joint", sampler: "ddim", steps: 2, z0Clip: 5, noise: perSampleNoise([1]) });
  assert.deepEqual(r.z0.shape, [1, C, 8, 8]);
  assert.deepEqual(r.weights.shape, [1, 3, 8, 8]);
  [r.z0, r.weights, spatial].forEach((t) => t.dispose());
  assert.equal(T.memory().numTensors, before);
  const bad = T.zeros([1, 2]);
  assertThrowsMatching(() => sampleMoE(model, { ...c, gates: bad }, { mode: "joint", sampler: "ddim", steps: 2, z0Clip: 5, noise: perSampleNoise([1]) }), /gates must be \[1, 3\]/);
  bad.dispose();
  disposeCond(c);
  model.dispose();
  assert.notEqual(mixSeed(1, 0), mixSeed(1, 1));
  assert.notEqual(mixSeed(1, 0), mixSeed(2, 0));
});
