// DDPMScheduler (src/diffusion/ddpm.ts): the plan (every timestep from the start), the posterior step
// against its closed form, noise from the caller or a generator, and the checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { NoiseSchedule } from "../../src/diffusion/noise_schedules.js";
import { DDPMScheduler } from "../../src/diffusion/ddpm.js";
import { assertThrowsMatching } from "../helpers.js";

const maxAbsDiff = (a: T.Tensor, b: T.Tensor): number => T.tidy(() => a.sub(b).abs().amax().item());

test("DDPM timesteps: every timestep from T - 1 (or round(start (T - 1))) down to 0; the number of steps is ignored", () => {
  const s = new NoiseSchedule({ numTimesteps: 20, kind: "linear" });
  const d = new DDPMScheduler(s);
  d.setTimesteps(undefined);
  assert.deepEqual(d.timesteps, Array.from({ length: 20 }, (_, i) => 19 - i));
  d.setTimesteps(5); // ignored: DDPM visits every timestep
  assert.deepEqual(d.timesteps, Array.from({ length: 20 }, (_, i) => 19 - i));
  const s21 = new NoiseSchedule({ numTimesteps: 21, kind: "linear" });
  const p = new DDPMScheduler(s21);
  p.setTimesteps(undefined, { start: 0.5 });
  assert.deepEqual(p.timesteps, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  assert.equal(p.previousTimestep(10), 9);
  assert.equal(p.previousTimestep(0), -1);
  assert.equal(p.needsNoise(1), true);
  assert.equal(p.needsNoise(0), false);
  assertThrowsMatching(() => p.previousTimestep(15), /timestep 15 is not among the planned timesteps \[10, 9, 8, 7, \.\.\., 1, 0\]/);
  for (const bad of [0, -0.1, 1.5, Number.NaN]) assertThrowsMatching(() => p.setTimesteps(undefined, { start: bad }), /start must be a fraction of the schedule in \(0, 1\]/);
});

test("DDPM: step, timesteps and previousTimestep before setTimesteps throw", () => {
  const s = new NoiseSchedule({ numTimesteps: 10, kind: "linear" });
  const d = new DDPMScheduler(s);
  const z = T.zeros([1, 2]);
  assertThrowsMatching(() => d.step({ modelOutput: z, timestep: 3, sample: z, noise: z }), /DDPMScheduler\.step: call setTimesteps first/);
  assertThrowsMatching(() => d.timesteps, /DDPMScheduler\.timesteps: call setTimesteps first/);
  assertThrowsMatching(() => d.previousTimestep(3), /call setTimesteps first/);
  z.dispose();
});

test("DDPM step: mean and variance of q(z_{t-1} | z_t, z0) from the closed form (float64 on the host)", () => {
  const s = new NoiseSchedule({ numTimesteps: 50, kind: "cosine" });
  const d = new DDPMScheduler(s);
  d.setTimesteps(undefined);
  const zt = T.tensor([0.3, -1.2, 2.0, 0.05], [1, 4]);
  const z0 = T.tensor([0.1, -0.4, 0.9, 0.0], [1, 4]);
  const noise = T.tensor([1, -1, 0.5, 2], [1, 4]);
  for (const t of [0, 1, 17, 49]) {
    const out = d.step({ modelOutput: z0, timestep: t, sample: zt, ...(t > 0 ? { noise } : {}) });
    assert.equal(out.predOriginalSample, z0);
    const got = out.prevSample.toArray() as number[];
    const ab = s.alphasCumprod[t] as number;
    const abPrev = t === 0 ? 1 : (s.alphasCumprod[t - 1] as number);
    const beta = s.betas[t] as number;
    const zts = zt.toArray() as number[];
    const z0s = z0.toArray() as number[];
    const ns = noise.toArray() as number[];
    got.forEach((g, i) => {
      const mean = ((Math.sqrt(abPrev) * beta) / (1 - ab)) * (z0s[i] as number) + ((Math.sqrt(1 - beta) * (1 - abPrev)) / (1 - ab)) * (zts[i] as number);
      const sd = t === 0 ? 0 : Math.sqrt((beta * (1 - abPrev)) / (1 - ab));
      assert.ok(Math.abs(g - (mean + sd * (ns[i] as number))) < 1e-5, `t=${t} i=${i}: ${g}`);
    });
    out.prevSample.dispose();
  }
  // At t = 0 the step returns z0_hat itself.
  const last = d.step({ modelOutput: z0, timestep: 0, sample: zt }).prevSample;
  assert.ok(maxAbsDiff(last, z0) < 1e-6);
  assertThrowsMatching(() => d.step({ modelOutput: z0, timestep: 3, sample: zt }), /timestep 3 > 0 needs noise/);
  [zt, z0, noise, last].forEach((x) => x.dispose());
});

test("DDPM step: a generator's draw gives the same result as the same draw passed as noise", () => {
  const s = new NoiseSchedule({ numTimesteps: 12, kind: "linear" });
  const d = new DDPMScheduler(s);
  d.setTimesteps(undefined);
  const zt = T.randn([2, 3, 4, 4], { generator: new T.Generator({ seed: 1 }) });
  const z0 = T.randn([2, 3, 4, 4], { generator: new T.Generator({ seed: 2 }) });
  const noise = T.randn([2, 3, 4, 4], { generator: new T.Generator({ seed: 7 }) });
  const a = d.step({ modelOutput: z0, timestep: 5, sample: zt, noise }).prevSample;
  const b = d.step({ modelOutput: z0, timestep: 5, sample: zt, generator: new T.Generator({ seed: 7 }) }).prevSample;
  assert.equal(maxAbsDiff(a, b), 0);
  [zt, z0, noise, a, b].forEach((x) => x.dispose());
});

test("DDPM addNoise is the schedule's (Eq. 5)", () => {
  const s = new NoiseSchedule({ numTimesteps: 30, kind: "cosine" });
  const d = new DDPMScheduler(s);
  const g = new T.Generator({ seed: 4 });
  const x0 = T.randn([3, 2, 4, 4], { generator: g });
  const eps = T.randn([3, 2, 4, 4], { generator: g });
  for (const t of [0, 17, [1, 9, 29]] as const) {
    const a = d.addNoise(x0, eps, t);
    const b = s.addNoise(x0, eps, t);
    assert.equal(maxAbsDiff(a, b), 0);
    [a, b].forEach((x) => x.dispose());
  }
  [x0, eps].forEach((x) => x.dispose());
});
