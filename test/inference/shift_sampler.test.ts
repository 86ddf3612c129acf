// Sampling the mixture in the resshift formulation (src/inference/shift_sampler.ts through sampleMoE):
// oracle experts recover the HR latent exactly (joint and async, deterministic and stochastic), every
// expert is asked for the shared level, chain lengths set the async step counts, and real experts
// sample deterministically per seed and independently of the batch.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { MoEDiffSR } from "../../src/models/moediff/moediff.js";
import type { ExpertInput } from "../../src/models/experts/config.js";
import { perSampleNoise, sampleMoE, type MoEConditioning } from "../../src/inference/moe_sampler.js";
import { tinyMoEConfig } from "../train/fixture.js";

const C = 4;
const maxAbsDiff = (a: T.Tensor, b: T.Tensor): number => T.tidy(() => a.sub(b).abs().amax().item());

function shiftModel(seed = 1): MoEDiffSR {
  T.manualSeed(seed);
  const m = new MoEDiffSR(tinyMoEConfig(1, { model: { target: "residual", residualScale: 2, formulation: "resshift", gating: { mode: "spatial" } } }).model, C);
  m.eval();
  return m;
}

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

/**
 * Experts whose preconditioned estimate c_skip x_t + c_out F is the true residual target of z0
 * (F = (x0 - c_skip x_t) / c_out), recording the time labels they are given.
 */
function useOracles(model: MoEDiffSR, z0: T.Tensor, labels: number[][]): void {
  const finest = model.shiftSchedules[1]!;
  model.experts.forEach((e, i) => {
    (e as unknown as { forward: (x: ExpertInput) => T.Tensor }).forward = (x) => {
      const label = (x.t.toArray() as number[])[0] as number;
      labels[i]!.push(label);
      const { cSkip, cOut } = finest.skipCoefficients((label / 1000) * (finest.numTimesteps - 1));
      return T.tidy(() => model.toTarget(z0, x.cond).sub(x.zt.mul(cSkip)).div(cOut));
    };
  });
}

test("a resshift model walks the finest chain: 17 levels by default, one shared label per step for every expert", () => {
  const model = shiftModel();
  assert.equal(model.formulation, "resshift");
  assert.deepEqual(model.shiftSchedules.map((s) => s.numTimesteps), [5, 17, 9]);
  const c = conditioning(model, 2, 3);
  const z0 = T.tidy(() => T.randn([2, C, 8, 8], { generator: new T.Generator({ seed: 4 }) }));
  const labels: number[][] = [[], [], []];
  useOracles(model, z0, labels);
  for (const eta of [0, 1]) {
    labels.forEach((l) => (l.length = 0));
    const r = sampleMoE(model, c, { mode: "joint", sampler: "ddim", steps: 5, eta, z0Clip: 0, noise: perSampleNoise([1, 2]) });
    assert.ok(maxAbsDiff(r.z0, z0) < 1e-4, `eta ${eta}: oracle experts give back z0 (off by ${maxAbsDiff(r.z0, z0)})`);
    assert.deepEqual(r.evaluations, [5, 5, 5]);
    assert.deepEqual(labels[0], [1000, 750, 500, 250, 0], "levels 16, 12, 8, 4, 0 of 17 as labels 1000 u");
    assert.deepEqual(labels[1], labels[0]);
    assert.deepEqual(labels[2], labels[0]);
    r.z0.dispose();
    r.weights.dispose();
  }
  assert.throws(() => sampleMoE(model, c, { mode: "joint", sampler: "ddim", steps: 18, z0Clip: 0, noise: perSampleNoise([1, 2]) }), /at most 17/);
});

test("async: each expert runs its own chain length in the 5:17:9 proportion and recovers z0", () => {
  const model = shiftModel();
  const c = conditioning(model, 2, 5);
  const z0 = T.tidy(() => T.randn([2, C, 8, 8], { generator: new T.Generator({ seed: 6 }) }));
  const labels: number[][] = [[], [], []];
  useOracles(model, z0, labels);
  const r = sampleMoE(model, c, { mode: "async", sampler: "ddim", steps: 8, eta: 1, z0Clip: 0, noise: perSampleNoise([1, 2]), keepExperts: true });
  assert.deepEqual(r.evaluations, [2, 8, 4]);
  assert.deepEqual(labels[0], [1000, 0]);
  r.experts?.forEach((e, i) => assert.ok(maxAbsDiff(e, z0) < 1e-4, `expert ${i}`));
  assert.ok(maxAbsDiff(r.z0, z0) < 1e-4);
});

test("real experts: same seeds same sample, another seed another, a sample does not depend on its batch", () => {
  const model = shiftModel(2);
  const c = conditioning(model, 2, 7);
  for (const mode of ["joint", "async"] as const) {
    const run = (cc: MoEConditioning, seeds: number[]): T.Tensor => sampleMoE(model, cc, { mode, sampler: "ddim", steps: 4, eta: 0.5, z0Clip: 5, noise: perSampleNoise(seeds) }).z0;
    const a = run(c, [11, 12]);
    const b = run(c, [11, 12]);
    assert.equal(maxAbsDiff(a, b), 0, `${mode}: not deterministic`);
    const other = run(c, [13, 12]);
    assert.ok(maxAbsDiff(a.narrow(0, 0, 1), other.narrow(0, 0, 1)) > 1e-4, `${mode}: the seed has no effect`);
    const one = { condLatent: c.condLatent.narrow(0, 1, 1), zc: c.zc.narrow(0, 1, 1), gates: c.gates.narrow(0, 1, 1) };
    const alone = run(one, [12]);
    assert.ok(maxAbsDiff(a.narrow(0, 1, 1), alone) < 1e-4, `${mode}: the batch changes the result`);
    [a, b, other, alone].forEach((t) => t.dispose());
  }
});

test("explain in joint mode: each expert's own chain from the same start noise; real experts give different estimates", () => {
  const model = shiftModel(3);
  const c = conditioning(model, 2, 9);
  const r = sampleMoE(model, c, { mode: "joint", sampler: "ddim", steps: 4, eta: 0, z0Clip: 5, noise: perSampleNoise([1, 2]), keepExperts: true });
  assert.equal(r.experts?.length, 3);
  assert.deepEqual(r.evaluations, [8, 8, 8], "the joint chain and each expert's own");
  const [a, b] = r.experts as T.Tensor[];
  assert.ok(maxAbsDiff(a!, b!) > 1e-4, "two experts' own chains gave the same latent");
  const plain = sampleMoE(model, c, { mode: "joint", sampler: "ddim", steps: 4, eta: 0, z0Clip: 5, noise: perSampleNoise([1, 2]) });
  assert.equal(maxAbsDiff(plain.z0, r.z0), 0, "explain does not change the output");
  // Oracle experts: every own chain recovers z0 too.
  const z0 = T.tidy(() => T.randn([2, C, 8, 8], { generator: new T.Generator({ seed: 10 }) }));
  useOracles(model, z0, [[], [], []]);
  const o = sampleMoE(model, c, { mode: "joint", sampler: "ddim", steps: 3, eta: 1, z0Clip: 0, noise: perSampleNoise([1, 2]), keepExperts: true });
  o.experts?.forEach((e, i) => assert.ok(maxAbsDiff(e, z0) < 1e-4, `expert ${i}'s own chain`));
});
