// The residual-shifting chain (src/diffusion/shift_schedule.ts, resshift.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { ShiftSchedule } from "../../src/diffusion/shift_schedule.js";
import { ResShiftScheduler } from "../../src/diffusion/resshift.js";

const maxDiff = (a: T.Tensor, b: T.Tensor): number => T.tidy(() => a.sub(b).abs().amax().item());

test("eta rises from etaMin to etaMax; chains of different lengths share the level at the same fraction", () => {
  const a = new ShiftSchedule({ numTimesteps: 5, etaMin: 0.001, etaMax: 0.999 });
  const b = new ShiftSchedule({ numTimesteps: 17, etaMin: 0.001, etaMax: 0.999 });
  assert.ok(Math.abs(a.eta(0) - 0.001) < 1e-12 && Math.abs(a.eta(4) - 0.999) < 1e-12);
  for (let t = 1; t < 17; t++) assert.ok(b.eta(t) > b.eta(t - 1), `eta increases at ${t}`);
  for (let t = 0; t < 5; t++) assert.ok(Math.abs(b.eta(b.matchTimestep(a, t)) - a.eta(t)) < 1e-12, `level ${t} shared`);
  assert.equal(b.matchTimestep(a, 2), 8);
  assert.equal(a.eta(-1), 0);
  assert.throws(() => a.eta(4.5), /timestep must be in \[0, 4\]/);
  assert.throws(() => new ShiftSchedule({ numTimesteps: 4, etaMin: 0.5, etaMax: 0.1 }), /etaMin < etaMax/);
});

test("addNoise: x_t = (1 - eta_t) x0 + kappa sqrt(eta_t) eps per sample", () => {
  const s = new ShiftSchedule({ numTimesteps: 9, kappa: 2 });
  const x0 = T.randn([2, 3, 4, 4], { generator: new T.Generator({ seed: 1 }) });
  const eps = T.randn([2, 3, 4, 4], { generator: new T.Generator({ seed: 2 }) });
  const xt = s.addNoise(x0, eps, [0, 6]);
  for (const [i, t] of [[0, 0], [1, 6]] as const) {
    const e = s.eta(t);
    const want = T.tidy(() => x0.select(0, i).mul(1 - e).add(eps.select(0, i).mul(2 * Math.sqrt(e))));
    assert.ok(maxDiff(xt.select(0, i), want) < 1e-6, `sample ${i}`);
  }
  assert.ok(maxDiff(s.predictNoise(xt.narrow(0, 1, 1), 6, x0.narrow(0, 1, 1)), eps.narrow(0, 1, 1)) < 1e-5, "predictNoise inverts addNoise");
});

test("the deterministic chain with the true x0 walks exactly through addNoise(x0, eps, s) and ends at x0", () => {
  const s = new ShiftSchedule({ numTimesteps: 17 });
  const sch = new ResShiftScheduler(s, { eta: 0 });
  sch.setTimesteps(5);
  assert.deepEqual(sch.timesteps, [16, 12, 8, 4, 0]);
  const x0 = T.randn([1, 2, 3, 3], { generator: new T.Generator({ seed: 3 }) });
  const eps = T.randn([1, 2, 3, 3], { generator: new T.Generator({ seed: 4 }) });
  let x = s.addNoise(x0, eps, 16);
  for (const t of sch.timesteps) {
    const next = sch.step({ modelOutput: x0, timestep: t, sample: x }).prevSample;
    const prev = sch.previousTimestep(t);
    const want = prev < 0 ? x0 : s.addNoise(x0, eps, prev);
    assert.ok(maxDiff(next, want) < 1e-5, `after the step from ${t}`);
    x = next;
  }
  assert.ok(maxDiff(x, x0) < 1e-6);
});

test("eta 1 is ResShift's posterior: mean (eta_s/eta_t) x_t + (alpha_t/eta_t) x0_hat, variance kappa^2 (eta_s/eta_t) alpha_t", () => {
  const s = new ShiftSchedule({ numTimesteps: 9, kappa: 1.5 });
  const sch = new ResShiftScheduler(s, { eta: 1 });
  sch.setTimesteps(9);
  const [t, p] = [6, 5];
  const et = s.eta(t);
  const es = s.eta(p);
  assert.ok(Math.abs(sch.sigma(t) ** 2 - 1.5 ** 2 * (es / et) * (et - es)) < 1e-12);
  const xt = T.randn([1, 1, 4, 4], { generator: new T.Generator({ seed: 5 }) });
  const x0 = T.randn([1, 1, 4, 4], { generator: new T.Generator({ seed: 6 }) });
  const mean = sch.step({ modelOutput: x0, timestep: t, sample: xt, noise: T.zerosLike(xt) }).prevSample;
  const want = T.tidy(() => xt.mul(es / et).add(x0.mul((et - es) / et)));
  assert.ok(maxDiff(mean, want) < 1e-5);
  assert.equal(sch.needsNoise(0), false);
  assert.throws(() => sch.step({ modelOutput: x0, timestep: t, sample: xt }), /needs noise/);
  assert.throws(() => sch.setTimesteps(10), /at most 9/);
});

test("preconditioning: c_skip x_t is the least-squares estimate for a unit-variance target and c_out its error", () => {
  const s = new ShiftSchedule({ numTimesteps: 17, kappa: 1 });
  const lo = s.skipCoefficients(0);
  assert.ok(Math.abs(lo.cSkip - 1) < 0.01 && lo.cOut < 0.04, "at the clean end x0_hat ~ x_t");
  const hi = s.skipCoefficients(16);
  assert.ok(hi.cSkip < 0.01 && Math.abs(hi.cOut - 1) < 0.01, "at the 3T end x0_hat ~ F");
  // Empirically: x0 ~ N(0, 1), x_t from addNoise; E[(x0 - c_skip x_t)^2] = c_out^2.
  const g = new T.Generator({ seed: 9 });
  const x0 = T.randn([1, 1, 200, 200], { generator: g });
  const xt = s.addNoise(x0, T.randn([1, 1, 200, 200], { generator: g }), 8);
  const { cSkip, cOut } = s.skipCoefficients(8);
  const mse = T.tidy(() => x0.sub(xt.mul(cSkip)).square().mean().item());
  assert.ok(Math.abs(mse - cOut * cOut) < 0.02, `${mse} vs ${cOut * cOut}`);
  const pre = s.precondition(xt, T.zerosLike(xt), 8);
  assert.ok(maxDiff(pre, xt.mul(cSkip)) < 1e-6);
});
