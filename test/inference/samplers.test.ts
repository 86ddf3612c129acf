// Reverse-diffusion steps (src/diffusion/samplers.ts): timestep plans, the DDPM posterior against
// its closed form, DDIM with eta = 1 over every timestep equal to DDPM, and exact recovery of a
// known clean latent when z0_hat is perfect.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { NoiseSchedule } from "../../src/diffusion/noise_schedules.js";
import { ddimStep, ddpmStep, samplerStep, samplingTimesteps, stepNeedsNoise, type SamplerKind } from "../../src/diffusion/samplers.js";
import { assertThrowsMatching } from "../helpers.js";

const maxAbsDiff = (a: T.Tensor, b: T.Tensor): number => T.tidy(() => a.sub(b).abs().amax().item());

test("samplingTimesteps: DDPM visits T..0; DDIM N distinct steps from T-1 to 0", () => {
  const s = new NoiseSchedule({ numTimesteps: 20, kind: "linear" });
  assert.deepEqual(samplingTimesteps(s, "ddpm"), Array.from({ length: 20 }, (_, i) => 19 - i));
  const d = samplingTimesteps(s, "ddim", 5);
  assert.deepEqual(d, [19, 14, 10, 5, 0]);
  assert.deepEqual(samplingTimesteps(s, "ddim", 20), samplingTimesteps(s, "ddpm"));
  assert.deepEqual(samplingTimesteps(s, "ddim", 1), [19]);
  for (const n of [2, 3, 7, 13, 19]) {
    const ts = samplingTimesteps(s, "ddim", n);
    assert.equal(ts.length, n);
    assert.equal(ts[0], 19);
    assert.equal(ts[n - 1], 0);
    for (let i = 1; i < n; i++) assert.ok((ts[i] as number) < (ts[i - 1] as number));
  }
  assertThrowsMatching(() => samplingTimesteps(s, "ddim", 21), /21 steps asked of a schedule of 20 timesteps/);
  assertThrowsMatching(() => samplingTimesteps(s, "ddim", 0), /positive integer number of steps/);
});

test("samplingTimesteps from a partial start: the chain begins at round(start (T - 1))", () => {
  const s = new NoiseSchedule({ numTimesteps: 21, kind: "linear" });
  assert.deepEqual(samplingTimesteps(s, "ddpm", undefined, 0.5), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  assert.deepEqual(samplingTimesteps(s, "ddim", 3, 0.5), [10, 5, 0]);
  assert.deepEqual(samplingTimesteps(s, "ddim", 1, 0.3), [6]);
  assert.deepEqual(samplingTimesteps(s, "ddim", 4, 1), samplingTimesteps(s, "ddim", 4));
  assertThrowsMatching(() => samplingTimesteps(s, "ddim", 12, 0.5), /12 steps asked of a schedule of 21 timesteps started at timestep 10; use at most 11/);
  for (const bad of [0, -0.1, 1.5, Number.NaN]) assertThrowsMatching(() => samplingTimesteps(s, "ddim", 2, bad), /start must be a fraction of the schedule in \(0, 1\]/);
});

test("ddpmStep: mean and variance of q(z_{t-1} | z_t, z0) from the closed form (float64 on the host)", () => {
  const s = new NoiseSchedule({ numTimesteps: 50, kind: "cosine" });
  const zt = T.tensor([0.3, -1.2, 2.0, 0.05], [1, 4]);
  const z0 = T.tensor([0.1, -0.4, 0.9, 0.0], [1, 4]);
  const noise = T.tensor([1, -1, 0.5, 2], [1, 4]);
  for (const t of [0, 1, 17, 49]) {
    const got = ddpmStep(s, zt, t, z0, t > 0 ? noise : undefined).toArray() as number[];
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
  }
  // At t = 0 the step returns z0_hat itself.
  assert.ok(maxAbsDiff(ddpmStep(s, zt, 0, z0), z0) < 1e-6);
  assertThrowsMatching(() => ddpmStep(s, zt, 3, z0), /needs noise/);
  [zt, z0, noise].forEach((x) => x.dispose());
});

/** A chain with a fixed (imperfect) denoiser z0_hat = 0.7 z_t - 0.1 and pre-drawn noises. */
function chain(s: NoiseSchedule, kind: SamplerKind, steps: number | undefined, eta: number, start: T.Tensor, noises: T.Tensor[]): T.Tensor {
  const ts = samplingTimesteps(s, kind, steps);
  let z = start.clone();
  ts.forEach((t, i) => {
    const tPrev = ts[i + 1] ?? -1;
    const next = T.tidy(() => {
      const z0 = z.mul(0.7).sub(0.1);
      return samplerStep(kind, s, z, t, tPrev, z0, eta, stepNeedsNoise(s, kind, t, tPrev, eta) ? noises[t] : undefined);
    });
    z.dispose();
    z = next;
  });
  return z;
}

test("DDIM with eta = 1 and steps = T is DDPM ancestral sampling (same noise, same result)", () => {
  for (const kind of ["linear", "cosine"] as const) {
    const s = new NoiseSchedule({ numTimesteps: 40, kind });
    const g = new T.Generator({ seed: 3 });
    const start = T.randn([2, 3, 4, 4], { generator: g });
    const noises = Array.from({ length: 40 }, () => T.randn([2, 3, 4, 4], { generator: g }));
    const a = chain(s, "ddpm", undefined, 1, start, noises);
    const b = chain(s, "ddim", 40, 1, start, noises);
    assert.ok(maxAbsDiff(a, b) < 1e-4, `${kind}: ${maxAbsDiff(a, b)}`);
    // and eta = 0 is a different (deterministic) path
    const c = chain(s, "ddim", 40, 0, start, noises);
    assert.ok(maxAbsDiff(a, c) > 1e-3);
    [start, a, b, c, ...noises].forEach((x) => x.dispose());
  }
});

test("a perfect z0_hat is recovered exactly by DDIM (any N, eta 0 or 1) and by DDPM", () => {
  const s = new NoiseSchedule({ numTimesteps: 30, kind: "linear" });
  const g = new T.Generator({ seed: 9 });
  const z0 = T.randn([1, 2, 3, 3], { generator: g });
  for (const [kind, steps, eta] of [["ddim", 1, 0], ["ddim", 6, 0], ["ddim", 6, 1], ["ddpm", undefined, 1]] as const) {
    const ts = samplingTimesteps(s, kind, steps);
    let z = T.randn([1, 2, 3, 3], { generator: g });
    ts.forEach((t, i) => {
      const tPrev = ts[i + 1] ?? -1;
      const n = stepNeedsNoise(s, kind, t, tPrev, eta) ? T.randn([1, 2, 3, 3], { generator: g }) : undefined;
      const next = samplerStep(kind, s, z, t, tPrev, z0, eta, n);
      n?.dispose();
      z.dispose();
      z = next;
    });
    assert.ok(maxAbsDiff(z, z0) < 1e-5, `${kind} ${String(steps)} eta ${eta}`);
    z.dispose();
  }
  z0.dispose();
});

test("ddimStep refuses a step that does not go down, a negative eta, and missing noise", () => {
  const s = new NoiseSchedule({ numTimesteps: 10, kind: "linear" });
  const z = T.zeros([1, 2]);
  assertThrowsMatching(() => ddimStep(s, z, 3, 3, z, 0), /need -1 <= tPrev < t/);
  assertThrowsMatching(() => ddimStep(s, z, 3, 1, z, -0.5), /eta must be >= 0/);
  assertThrowsMatching(() => ddimStep(s, z, 3, 1, z, 0.5), /needs noise/);
  z.dispose();
});
