// Eq. 18: L_total = L_E + w L_gating, and one full training step through every
// loss (schedules, Eq. 5, 8, 9, 7, 10-13, 14-17, 18): gradients reach every
// parameter and memory does not grow.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { Conv2d } from "../../src/torch/nn/index.js";
import { AdamW } from "../../src/torch/optim/index.js";
import { NoiseSchedule } from "../../src/diffusion/noise_schedules.js";
import { aggregateZ0 } from "../../src/diffusion/aggregate.js";
import { diffusionLoss } from "../../src/losses/diffusion.js";
import { taskLossE1 } from "../../src/losses/task_e1.js";
import { taskLossE2 } from "../../src/losses/task_e2.js";
import { taskLossE3 } from "../../src/losses/task_e3.js";
import { expertLoss } from "../../src/losses/expert_loss.js";
import { gatingLoss } from "../../src/losses/gating_loss.js";
import { UncertaintyWeight } from "../../src/losses/uncertainty_weight.js";
import { totalLoss } from "../../src/losses/total.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

const f64 = (v: number[], shape: number[]): T.Tensor => T.tensor(Float64Array.from(v), shape, { dtype: "float64" });

test("Eq. 18 by hand: the EMA updates on training steps only, and w scales the gating loss", () => {
  T.tidy(() => {
    const expert = expertLoss({ diffusion: [f64([1, 3], [2]), f64([2, 2], [2])], gates: f64([0.5, 0.5, 0.25, 0.75], [2, 2]) });
    const lE = (0.5 * 1 + 0.5 * 2 + 0.25 * 3 + 0.75 * 2) / 2;
    const z0 = T.randn([2, 1, 4, 4], { dtype: "float64" });
    const gating = gatingLoss({ z0Hats: [z0.mul(0.9), z0.neg()], z0, gates: f64([0.6, 0.4, 0.7, 0.3], [2, 2]) });
    const lG = gating.loss.item();
    const u = new UncertaintyWeight();
    u.update(lG + 0.5); // one earlier step, so the next update moves the variance
    const expectedW = new UncertaintyWeight();
    expectedW.update(lG + 0.5);
    const w = expectedW.update(lG);
    const r = totalLoss({ expert, gating, weighting: u, training: true });
    assert.equal(u.count, 2);
    assertClose(r.terms.w, w, { atol: 0, rtol: 1e-15 });
    assertClose(r.total.item(), lE + w * lG, { atol: 1e-12, rtol: 1e-12 });
    assertClose(r.terms.total, lE + w * lG, { atol: 1e-12, rtol: 1e-12 });
    assertClose(r.terms.expert, lE, { atol: 1e-15, rtol: 1e-12 });
    assertClose(r.terms.gating, lG, { atol: 0, rtol: 0 });
    assertClose(r.terms.gatingSupervised + r.terms.gatingDiversity, lG, { atol: 1e-12, rtol: 1e-12 });
    assertClose(r.terms.temperature, gating.temperature.mean().item(), { atol: 0, rtol: 0 });
    assertClose(r.terms.perExpert, [2, 2], { atol: 1e-15, rtol: 0 });
    assertClose(r.terms.gateMean, [0.375, 0.625], { atol: 1e-15, rtol: 0 });
    assertClose(r.terms.gatingVariance, u.variance, { atol: 0, rtol: 0 });
    // Evaluation: w is read, not updated.
    const e = totalLoss({ expert, gating, weighting: u, training: false });
    assert.equal(u.count, 2);
    assertClose(e.terms.w, w, { atol: 0, rtol: 0 });
    // No gating loss (uniform warm-up): L_total = L_E and the EMA is left alone.
    const n = totalLoss({ expert, gating: null, weighting: u, training: true });
    assert.equal(u.count, 2);
    assertClose(n.total.item(), lE, { atol: 1e-15, rtol: 1e-12 });
    assert.ok(Number.isNaN(n.terms.temperature));
    // A fixed w.
    assertClose(totalLoss({ expert, gating, weighting: 0.5, training: true }).total.item(), lE + 0.5 * lG, { atol: 1e-12, rtol: 1e-12 });
    assertThrowsMatching(() => totalLoss({ expert, gating, weighting: -1, training: true }), /fixed weight w must be a finite number >= 0, got -1/);
  });
});

test("a full MoE training step through every loss: gradients reach all experts and the gate; memory does not grow", () => {
  T.manualSeed(7);
  const schedules = [500, 2000, 1000].map((n) => new NoiseSchedule({ numTimesteps: n, kind: "cosine" }));
  const experts = [0, 1, 2].map(() => new Conv2d(2, 2, 3, { padding: 1 }));
  const gateLogits = T.zeros([1, 3]).requiresGrad_();
  const params = [...experts.flatMap((e) => e.parameters()), gateLogits];
  const opt = new AdamW(params, { lr: 1e-3 });
  const uw = new UncertaintyWeight();
  const z0 = T.randn([2, 2, 8, 8]);
  const phi = (z: T.Tensor): T.Tensor[] => [T.F.avgPool2d(z, 2)];

  const step = (check: boolean): number =>
    T.tidy(() => {
      opt.zeroGrad();
      const gates = gateLogits.softmax(1).expand(2, 3);
      const z0Hats: T.Tensor[] = [];
      const diffusion: T.Tensor[] = [];
      schedules.forEach((s, i) => {
        const t = s.sampleTimesteps(2); // each expert its own t_i (Eq. 5)
        const eps = T.randnLike(z0); // and its own noise
        const zt = s.addNoise(z0, eps, t);
        const epsHat = (experts[i] as Conv2d).forward(zt);
        diffusion.push(diffusionLoss(epsHat, eps, { perSample: true }));
        z0Hats.push(s.predictZ0(zt, t, epsHat)); // Eq. 8
      });
      const [h1, h2, h3] = z0Hats as [T.Tensor, T.Tensor, T.Tensor];
      const task = [
        taskLossE1(z0, h1, phi, { perSample: true }).loss,
        taskLossE2(z0, h2, { perSample: true }).loss,
        taskLossE3(z0, h3, { perSample: true }).loss,
      ];
      const z0Hat = aggregateZ0(z0Hats, gates); // Eq. 9
      assert.deepEqual(z0Hat.shape, [2, 2, 8, 8]);
      const r = totalLoss({
        expert: expertLoss({ diffusion, task, gates }),
        gating: gatingLoss({ z0Hats, z0, gates }),
        weighting: uw,
        training: true,
      });
      r.total.backward();
      if (check) {
        for (const p of params) {
          const g = p.grad;
          assert.ok(g !== null && g.abs().sum().item() > 0, "every parameter gets a gradient");
          assert.equal(T.all((g as T.Tensor).isfinite()).item(), 1);
        }
      }
      opt.step();
      return r.terms.total;
    });

  assert.ok(Number.isFinite(step(true)));
  step(false);
  const before = T.memory();
  for (let i = 0; i < 8; i++) step(false);
  const after = T.memory();
  assert.equal(after.numTensors, before.numTensors, "live tensor handles must not grow");
  assert.equal(after.numBytes, before.numBytes, "native bytes must not grow");
  assert.equal(uw.count, 10);
  opt.dispose();
  for (const e of experts) e.dispose();
  gateLogits.dispose();
  z0.dispose();
});
