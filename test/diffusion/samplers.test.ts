// Whole reverse-diffusion chains with the schedulers (src/diffusion/ddpm.ts, ddim.ts): DDIM with
// eta = 1 over every timestep equal to DDPM, and exact recovery of a known clean latent when z0_hat is
// perfect.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { NoiseSchedule } from "../../src/diffusion/noise_schedules.js";
import { createScheduler, type SamplerName } from "../../src/diffusion/registry.js";

const maxAbsDiff = (a: T.Tensor, b: T.Tensor): number => T.tidy(() => a.sub(b).abs().amax().item());

/** A chain with a fixed (imperfect) denoiser z0_hat = 0.7 z_t - 0.1 and pre-drawn noises (noises[t] at step t). */
function chain(s: NoiseSchedule, name: SamplerName, steps: number | undefined, eta: number, start: T.Tensor, noises: T.Tensor[]): T.Tensor {
  const sched = createScheduler(name, s, { eta });
  sched.setTimesteps(steps);
  let z = start.clone();
  for (const t of sched.timesteps) {
    const next = T.tidy(() => {
      const z0 = z.mul(0.7).sub(0.1);
      return sched.step({ modelOutput: z0, timestep: t, sample: z, ...(sched.needsNoise(t) ? { noise: noises[t] } : {}) }).prevSample;
    });
    z.dispose();
    z = next;
  }
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

test("DDIM with eta = 1 over every timestep takes DDPM's step at each timestep (same noise, same needsNoise)", () => {
  const s = new NoiseSchedule({ numTimesteps: 30, kind: "cosine" });
  const ddpm = createScheduler("ddpm", s);
  const ddim = createScheduler("ddim", s, { eta: 1 });
  ddpm.setTimesteps(undefined);
  ddim.setTimesteps(30);
  assert.deepEqual(ddim.timesteps, ddpm.timesteps);
  const g = new T.Generator({ seed: 12 });
  const [zt, z0, noise] = [0, 1, 2].map(() => T.randn([2, 2, 3, 3], { generator: g })) as [T.Tensor, T.Tensor, T.Tensor];
  for (const t of ddpm.timesteps) {
    assert.equal(ddim.needsNoise(t), ddpm.needsNoise(t), `t=${t}`);
    const a = ddpm.step({ modelOutput: z0, timestep: t, sample: zt, noise }).prevSample;
    const b = ddim.step({ modelOutput: z0, timestep: t, sample: zt, noise }).prevSample;
    assert.ok(maxAbsDiff(a, b) < 1e-5, `t=${t}: ${maxAbsDiff(a, b)}`);
    [a, b].forEach((x) => x.dispose());
  }
  [zt, z0, noise].forEach((x) => x.dispose());
});

test("a perfect z0_hat is recovered exactly by DDIM (any N, eta 0 or 1) and by DDPM", () => {
  const s = new NoiseSchedule({ numTimesteps: 30, kind: "linear" });
  const g = new T.Generator({ seed: 9 });
  const z0 = T.randn([1, 2, 3, 3], { generator: g });
  for (const [name, steps, eta] of [["ddim", 1, 0], ["ddim", 6, 0], ["ddim", 6, 1], ["ddpm", undefined, 1]] as const) {
    const sched = createScheduler(name, s, { eta });
    sched.setTimesteps(steps);
    let z = T.randn([1, 2, 3, 3], { generator: g });
    for (const t of sched.timesteps) {
      const n = sched.needsNoise(t) ? T.randn([1, 2, 3, 3], { generator: g }) : undefined;
      const next = sched.step({ modelOutput: z0, timestep: t, sample: z, ...(n === undefined ? {} : { noise: n }) }).prevSample;
      n?.dispose();
      z.dispose();
      z = next;
    }
    assert.ok(maxAbsDiff(z, z0) < 1e-5, `${name} ${String(steps)} eta ${eta}`);
    z.dispose();
  }
  z0.dispose();
});
