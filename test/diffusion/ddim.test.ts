// DDIMScheduler (src/diffusion/ddim.ts): the plan (N distinct timesteps from the start down to 0),
// the next timestep taken from the plan, eta, noise from the caller or a generator, and the checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { NoiseSchedule } from "../../src/diffusion/noise_schedules.js";
import { DDIMScheduler } from "../../src/diffusion/ddim.js";
import { DDPMScheduler } from "../../src/diffusion/ddpm.js";
import { assertThrowsMatching } from "../helpers.js";

const maxAbsDiff = (a: T.Tensor, b: T.Tensor): number => T.tidy(() => a.sub(b).abs().amax().item());

function plan(s: NoiseSchedule, steps: number | undefined, start?: number): readonly number[] {
  const d = new DDIMScheduler(s);
  d.setTimesteps(steps, start === undefined ? {} : { start });
  return d.timesteps;
}

test("DDIM timesteps: N distinct steps from T - 1 to 0", () => {
  const s = new NoiseSchedule({ numTimesteps: 20, kind: "linear" });
  const all = new DDPMScheduler(s);
  all.setTimesteps(undefined);
  assert.deepEqual(plan(s, 5), [19, 14, 10, 5, 0]);
  assert.deepEqual(plan(s, 20), all.timesteps);
  assert.deepEqual(plan(s, 1), [19]);
  for (const n of [2, 3, 7, 13, 19]) {
    const ts = plan(s, n);
    assert.equal(ts.length, n);
    assert.equal(ts[0], 19);
    assert.equal(ts[n - 1], 0);
    for (let i = 1; i < n; i++) assert.ok((ts[i] as number) < (ts[i - 1] as number));
  }
  assertThrowsMatching(() => plan(s, 21), /21 steps asked of a schedule of 20 timesteps/);
  assertThrowsMatching(() => plan(s, 0), /positive integer number of steps/);
  assertThrowsMatching(() => plan(s, undefined), /DDIM needs a positive integer number of steps, got undefined/);
  assertThrowsMatching(() => plan(s, 2.5), /positive integer number of steps/);
});

test("DDIM timesteps from a partial start: the chain begins at round(start (T - 1))", () => {
  const s = new NoiseSchedule({ numTimesteps: 21, kind: "linear" });
  assert.deepEqual(plan(s, 3, 0.5), [10, 5, 0]);
  assert.deepEqual(plan(s, 1, 0.3), [6]);
  assert.deepEqual(plan(s, 4, 1), plan(s, 4));
  assertThrowsMatching(() => plan(s, 12, 0.5), /12 steps asked of a schedule of 21 timesteps started at timestep 10; use at most 11/);
  for (const bad of [0, -0.1, 1.5, Number.NaN]) assertThrowsMatching(() => plan(s, 2, bad), /start must be a fraction of the schedule in \(0, 1\]/);
});

test("DDIM: the next timestep comes from the plan; setTimesteps again replaces the plan", () => {
  const s = new NoiseSchedule({ numTimesteps: 20, kind: "linear" });
  const d = new DDIMScheduler(s, { eta: 1 });
  d.setTimesteps(5);
  assert.deepEqual([19, 14, 10, 5, 0].map((t) => d.previousTimestep(t)), [14, 10, 5, 0, -1]);
  // sigma follows the plan's next timestep; the last step (to the clean latent) draws no noise
  const ab = (t: number): number => (t < 0 ? 1 : s.alphaBar(t));
  const sigma = (t: number, p: number): number => Math.sqrt((1 - ab(p)) / (1 - ab(t))) * Math.sqrt(1 - ab(t) / ab(p));
  assert.ok(Math.abs(d.sigma(14) - sigma(14, 10)) < 1e-12);
  assert.equal(d.needsNoise(14), true);
  assert.equal(d.needsNoise(0), false);
  d.setTimesteps(2);
  assert.deepEqual(d.timesteps, [19, 0]);
  assert.equal(d.previousTimestep(19), 0);
  assert.ok(Math.abs(d.sigma(19) - sigma(19, 0)) < 1e-12);
  const det = new DDIMScheduler(s);
  det.setTimesteps(5);
  assert.equal(det.eta, 0);
  assert.equal(det.needsNoise(19), false);
});

test("DDIM: step before setTimesteps throws; a timestep off the plan, a negative eta and missing noise are refused", () => {
  const s = new NoiseSchedule({ numTimesteps: 10, kind: "linear" });
  const z = T.zeros([1, 2]);
  const d = new DDIMScheduler(s, { eta: 0.5 });
  assertThrowsMatching(() => d.step({ modelOutput: z, timestep: 3, sample: z }), /DDIMScheduler\.step: call setTimesteps first/);
  assertThrowsMatching(() => d.timesteps, /DDIMScheduler\.timesteps: call setTimesteps first/);
  d.setTimesteps(3); // [9, 5, 0] (round(4.5) = 5)
  assertThrowsMatching(() => d.step({ modelOutput: z, timestep: 3, sample: z, noise: z }), /timestep 3 is not among the planned timesteps \[9, 5, 0\]/);
  assertThrowsMatching(() => new DDIMScheduler(s, { eta: -0.5 }), /eta must be >= 0/);
  assertThrowsMatching(() => new DDIMScheduler(s, { eta: Number.NaN }), /eta must be >= 0/);
  assertThrowsMatching(() => d.step({ modelOutput: z, timestep: 5, sample: z }), /eta = 0\.5 > 0 needs noise/);
  z.dispose();
});

test("DDIM step: the closed form (float64 on the host); the last step returns z0_hat; a generator's draw equals passing it", () => {
  const s = new NoiseSchedule({ numTimesteps: 40, kind: "cosine" });
  const d = new DDIMScheduler(s, { eta: 0.7 });
  d.setTimesteps(4); // [39, 26, 13, 0]
  const zt = T.tensor([0.3, -1.2, 2.0, 0.05], [1, 4]);
  const z0 = T.tensor([0.1, -0.4, 0.9, 0.0], [1, 4]);
  const noise = T.tensor([1, -1, 0.5, 2], [1, 4]);
  const [zts, z0s, ns] = [zt, z0, noise].map((x) => x.toArray() as number[]) as [number[], number[], number[]];
  for (const t of [39, 26, 13, 0]) {
    const p = d.previousTimestep(t);
    const ab = s.alphaBar(t);
    const abP = p < 0 ? 1 : s.alphaBar(p);
    const sigma = 0.7 * Math.sqrt((1 - abP) / (1 - ab)) * Math.sqrt(1 - ab / abP);
    const out = d.step({ modelOutput: z0, timestep: t, sample: zt, noise });
    assert.equal(out.predOriginalSample, z0);
    (out.prevSample.toArray() as number[]).forEach((g, i) => {
      const eps = ((zts[i] as number) - Math.sqrt(ab) * (z0s[i] as number)) / Math.sqrt(1 - ab);
      const want = Math.sqrt(abP) * (z0s[i] as number) + Math.sqrt(1 - abP - sigma * sigma) * eps + sigma * (ns[i] as number);
      assert.ok(Math.abs(g - want) < 1e-5, `t=${t} i=${i}: ${g} vs ${want}`);
    });
    out.prevSample.dispose();
  }
  const last = d.step({ modelOutput: z0, timestep: 0, sample: zt }).prevSample; // sigma = 0: no noise needed
  assert.ok(maxAbsDiff(last, z0) < 1e-6);
  const big = T.randn([2, 3, 4, 4], { generator: new T.Generator({ seed: 5 }) });
  const bigZ0 = big.mul(0.5);
  const bigNoise = T.randn([2, 3, 4, 4], { generator: new T.Generator({ seed: 6 }) });
  const a = d.step({ modelOutput: bigZ0, timestep: 26, sample: big, noise: bigNoise }).prevSample;
  const b = d.step({ modelOutput: bigZ0, timestep: 26, sample: big, generator: new T.Generator({ seed: 6 }) }).prevSample;
  assert.equal(maxAbsDiff(a, b), 0);
  [zt, z0, noise, last, big, bigZ0, bigNoise, a, b].forEach((x) => x.dispose());
});

test("DDIM addNoise is the schedule's (Eq. 5)", () => {
  const s = new NoiseSchedule({ numTimesteps: 25, kind: "linear" });
  const d = new DDIMScheduler(s);
  const g = new T.Generator({ seed: 8 });
  const x0 = T.randn([2, 4, 3, 3], { generator: g });
  const eps = T.randn([2, 4, 3, 3], { generator: g });
  for (const t of [0, 12, [3, 24]] as const) {
    const a = d.addNoise(x0, eps, t);
    const b = s.addNoise(x0, eps, t);
    assert.equal(maxAbsDiff(a, b), 0);
    [a, b].forEach((x) => x.dispose());
  }
  [x0, eps].forEach((x) => x.dispose());
});
