// Noise schedules: linear and cosine betas, Eq. 5 (addNoise), Eq. 8 (predictZ0),
// timestep sampling, and matching noise levels across schedules of different T.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { NoiseSchedule, MAX_BETA, PAPER_EXPERT_TIMESTEPS, expertSchedules, noiseForExperts, type ScheduleKind } from "../../src/diffusion/noise_schedules.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { randomValues } from "../losses/reference.js";

const KINDS: ScheduleKind[] = ["linear", "cosine"];
const TS = [500, 1000, 2000]; // the experts' T (paper, Sec. III.C)

test("linear betas: DDPM endpoints at T = 1000, scaled by 1000/T otherwise, evenly spaced", () => {
  const expect = (n: number, scale: boolean, start: number, end: number): void => {
    const s = new NoiseSchedule({ numTimesteps: n, kind: "linear", scaleBetasWithT: scale });
    assert.equal(s.betas.length, n);
    assertClose(s.betas[0] as number, start, { atol: 0, rtol: 1e-12 });
    assertClose(s.betas[n - 1] as number, end, { atol: 0, rtol: 1e-12 });
    const step = (end - start) / (n - 1);
    for (let i = 1; i < n; i++) assertClose((s.betas[i] as number) - (s.betas[i - 1] as number), step, { atol: 1e-15, rtol: 1e-9 });
  };
  expect(1000, true, 1e-4, 0.02);
  expect(1000, false, 1e-4, 0.02);
  expect(500, true, 2e-4, 0.04);
  expect(2000, true, 5e-5, 0.01);
  expect(500, false, 1e-4, 0.02);
  // Custom endpoints are values at T = 1000, scaled the same way.
  const c = new NoiseSchedule({ numTimesteps: 250, kind: "linear", betaStart: 1e-3, betaEnd: 0.01 });
  assertClose([c.betas[0] as number, c.betas[249] as number], [4e-3, 0.04], { atol: 0, rtol: 1e-12 });
  // Scaling that would pass MAX_BETA is clamped.
  const tiny = new NoiseSchedule({ numTimesteps: 10, kind: "linear" });
  assert.equal(tiny.betas[9], MAX_BETA);
});

test("scaled linear schedules end at the same noise level for T = 500, 1000, 2000; fixed ones do not", () => {
  const last = (n: number, scale: boolean): number => {
    const s = new NoiseSchedule({ numTimesteps: n, kind: "linear", scaleBetasWithT: scale });
    return s.alphaBar(n - 1);
  };
  const ref = last(1000, true);
  for (const n of TS) assert.ok(Math.abs(Math.log(last(n, true) / ref)) < 0.1, `T=${n}: ${last(n, true)} vs ${ref}`);
  assert.ok(last(500, false) > 100 * ref, "fixed endpoints with T = 500 stop far short of pure noise");
});

test("cosine schedule: alphaBar_t = f((t+1)/T) / f(0) with f(u) = cos^2((u+s)/(1+s) pi/2), last beta clipped at 0.999", () => {
  for (const n of TS) {
    const s = new NoiseSchedule({ numTimesteps: n, kind: "cosine" });
    const f = (u: number): number => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    for (let t = 0; t < n - 1; t++) {
      assertClose(s.alphasCumprod[t] as number, f((t + 1) / n) / f(0), { atol: 1e-15, rtol: 1e-9, message: `T=${n} t=${t}` });
    }
    assert.equal(s.betas[n - 1], MAX_BETA);
    for (let t = 0; t < n - 1; t++) assert.ok((s.betas[t] as number) < MAX_BETA);
  }
});

test("alphas = 1 - betas, alphasCumprod is their running product, strictly decreasing in (0, 1)", () => {
  for (const kind of KINDS) {
    for (const n of [...TS, 1, 7]) {
      const s = new NoiseSchedule({ numTimesteps: n, kind });
      let prod = 1;
      for (let t = 0; t < n; t++) {
        const b = s.betas[t] as number;
        assert.ok(b > 0 && b <= MAX_BETA, `${kind} T=${n} beta_${t}=${b}`);
        assertClose(s.alphas[t] as number, 1 - b, { atol: 0, rtol: 1e-15 });
        prod *= 1 - b;
        assertClose(s.alphasCumprod[t] as number, prod, { atol: 0, rtol: 1e-12 });
        const a = s.alphasCumprod[t] as number;
        assert.ok(a > 0 && a < 1);
        if (t > 0) assert.ok(a < (s.alphasCumprod[t - 1] as number), `${kind} T=${n}: not decreasing at ${t}`);
        assertClose(s.snr(t), a / (1 - a), { atol: 0, rtol: 1e-12 });
      }
    }
  }
});

test("addNoise is Eq. 5 per sample, predictZ0 (Eq. 8) and predictEps invert it", () => {
  const s = new NoiseSchedule({ numTimesteps: 1000, kind: "linear" });
  const shape = [3, 2, 4, 5];
  const n = 3 * 40;
  const z0v = randomValues(n, 1);
  const epsv = randomValues(n, 2);
  const ts = [0, 417, 999];
  T.tidy(() => {
    const z0 = T.tensor(z0v, shape, { dtype: "float64" });
    const eps = T.tensor(epsv, shape, { dtype: "float64" });
    const t = T.tensor(BigInt64Array.from(ts.map(BigInt)), [3]);
    const zt = s.addNoise(z0, eps, t);
    assert.deepEqual(zt.shape, shape);
    assert.equal(zt.dtype, "float64");
    const expected = Array.from(z0v, (v, i) => {
      const ab = s.alphasCumprod[ts[Math.floor(i / 40)] as number] as number;
      return Math.sqrt(ab) * v + Math.sqrt(1 - ab) * (epsv[i] as number);
    });
    assertClose(zt.toArray(), expected, { atol: 1e-14, rtol: 1e-12 });
    assertClose(s.predictZ0(zt, t, eps).toArray(), z0v, { atol: 1e-11, rtol: 0 });
    assertClose(s.predictEps(zt, t, z0).toArray(), epsv, { atol: 1e-11, rtol: 0 });
    // A number applies to every sample; a list gives one per sample.
    assertClose(s.addNoise(z0, eps, 417).toArray(), s.addNoise(z0, eps, [417, 417, 417]).toArray(), { atol: 0, rtol: 0 });
    // float32 latents keep their dtype.
    const z32 = s.addNoise(z0.float(), eps.float(), t);
    assert.equal(z32.dtype, "float32");
    assertClose(z32.toArray(), expected, { atol: 1e-6, rtol: 1e-5 });
  });
});

test("addNoise passes gradients to z0, scaled by sqrt(alphaBar_t) per sample", () => {
  const s = new NoiseSchedule({ numTimesteps: 500, kind: "cosine" });
  T.tidy(() => {
    const z0 = T.randn([2, 3, 4, 4]).requiresGrad_();
    const eps = T.randn([2, 3, 4, 4]);
    s.addNoise(z0, eps, [10, 300]).sum().backward();
    const g = z0.grad as T.Tensor;
    const expected = [10, 300].flatMap((t) => new Array<number>(48).fill(Math.sqrt(s.alphaBar(t))));
    assertClose(g.toArray(), expected, { atol: 1e-6, rtol: 1e-5 });
  });
});

test("timestepForAlphaBar: exact round trip on every schedule, and noise levels match across T = 500 / 1000 / 2000", () => {
  for (const kind of KINDS) {
    const sched = TS.map((n) => new NoiseSchedule({ numTimesteps: n, kind }));
    for (const s of sched) {
      for (let t = 0; t < s.numTimesteps; t++) assert.equal(s.timestepForAlphaBar(s.alphaBar(t)), t);
    }
    const logSnr = (a: number): number => Math.log(a / (1 - a));
    for (const from of sched) {
      for (const to of sched) {
        for (let t = 0; t < from.numTimesteps; t += 7) {
          const m = to.matchTimestep(from, t);
          // Brute force: no timestep of `to` is nearer in log-SNR.
          const target = logSnr(from.alphaBar(t));
          const d = Math.abs(logSnr(to.alphaBar(m)) - target);
          for (let u = 0; u < to.numTimesteps; u++) assert.ok(Math.abs(logSnr(to.alphaBar(u)) - target) >= d - 1e-12);
        }
      }
    }
    // Coarse -> fine -> coarse comes back to the same timestep wherever the
    // fine schedule covers the noise level (its ends differ slightly from the coarse one's).
    const [s500, s1000, s2000] = sched as [NoiseSchedule, NoiseSchedule, NoiseSchedule];
    for (const [coarse, fine] of [
      [s500, s1000],
      [s1000, s2000],
      [s500, s2000],
    ] as const) {
      let checked = 0;
      for (let t = 0; t < coarse.numTimesteps; t++) {
        const a = coarse.alphaBar(t);
        if (a > fine.alphaBar(0) || a < fine.alphaBar(fine.numTimesteps - 1)) continue;
        assert.equal(coarse.matchTimestep(fine, fine.matchTimestep(coarse, t)), t, `${kind} T=${coarse.numTimesteps} t=${t}`);
        checked++;
      }
      assert.ok(checked >= coarse.numTimesteps - 3, `${kind}: only ${checked} of ${coarse.numTimesteps} timesteps in range`);
    }
  }
  const s = new NoiseSchedule({ numTimesteps: 100, kind: "linear" });
  assert.equal(s.timestepForAlphaBar(1), 0);
  assert.equal(s.timestepForAlphaBar(0.9999999), 0);
  assert.equal(s.timestepForAlphaBar(0), 99);
  assert.equal(s.timestepForAlphaBar(1e-30), 99);
  assertThrowsMatching(() => s.timestepForAlphaBar(1.5), /alphaBar must be in \[0, 1\], got 1.5/);
});

test("sampleTimesteps: int64 [B] uniform over [0, T), seeded", () => {
  const s = new NoiseSchedule({ numTimesteps: 10, kind: "cosine" });
  T.tidy(() => {
    const a = s.sampleTimesteps(4000, { generator: new T.Generator({ seed: 3 }) });
    const b = s.sampleTimesteps(4000, { generator: new T.Generator({ seed: 3 }) });
    assert.equal(a.dtype, "int64");
    assert.deepEqual(a.shape, [4000]);
    const va = a.toArray();
    assert.deepEqual(va, b.toArray());
    const counts = new Array<number>(10).fill(0);
    for (const v of va) {
      assert.ok(Number.isInteger(v) && v >= 0 && v < 10);
      counts[v] = (counts[v] as number) + 1;
    }
    for (const c of counts) assert.ok(c > 300 && c < 500, `counts ${counts.join(",")}`);
  });
  assertThrowsMatching(() => s.sampleTimesteps(0), /batch must be a positive integer, got 0/);
});

test("schedule tensors on demand in the requested dtype", () => {
  const s = new NoiseSchedule({ numTimesteps: 20, kind: "linear" });
  T.tidy(() => {
    const a = s.alphasCumprodTensor({ dtype: "float64" });
    assert.equal(a.dtype, "float64");
    assert.equal(a.device, "cpu");
    assert.deepEqual(a.toArray(), Array.from(s.alphasCumprod));
    const b = s.betasTensor({ dtype: "float32" });
    assertClose(b.toArray(), s.betas, { atol: 0, rtol: 1e-7 });
  });
});

test("bad configurations and inputs are rejected with clear messages", () => {
  assertThrowsMatching(() => new NoiseSchedule({ numTimesteps: 0, kind: "linear" }), /numTimesteps must be a positive integer, got 0/);
  assertThrowsMatching(() => new NoiseSchedule({ numTimesteps: 10, kind: "sigmoid" as ScheduleKind }), /kind must be 'linear' or 'cosine', got 'sigmoid'/);
  assertThrowsMatching(() => new NoiseSchedule({ numTimesteps: 10, kind: "linear", betaStart: 0.1, betaEnd: 0.01 }), /betaStart <= betaEnd/);
  assertThrowsMatching(
    () => new NoiseSchedule({ numTimesteps: 10, kind: "linear", beta_end: 0.02 } as unknown as { numTimesteps: number; kind: ScheduleKind }),
    /unknown option 'beta_end'/,
  );
  const s = new NoiseSchedule({ numTimesteps: 10, kind: "linear" });
  T.tidy(() => {
    const z = T.zeros([2, 4, 3, 3]);
    assertThrowsMatching(() => s.addNoise(z, T.zeros([2, 4, 3, 2]), 0), /addNoise: z0 and noise shapes differ: \[2, 4, 3, 3\] vs \[2, 4, 3, 2\]/);
    assertThrowsMatching(() => s.addNoise(z, z, 10), /timestep must be an integer in \[0, 10\), got 10/);
    assertThrowsMatching(() => s.addNoise(z, z, [1, 2, 3]), /t has 3 timesteps for a batch of 2/);
    assertThrowsMatching(() => s.predictZ0(z, T.zeros([2]), z), /t must be an int64 \[B\] tensor, got \[2\] float32/);
    assertThrowsMatching(() => s.alphaBar(-1), /got -1/);
  });
});

test("addNoise and predictZ0 in a loop do not grow memory", () => {
  const s = new NoiseSchedule({ numTimesteps: 2000, kind: "cosine" });
  const z0 = T.randn([2, 4, 8, 8]);
  const eps = T.randn([2, 4, 8, 8]);
  const step = (): void =>
    T.tidy(() => {
      const t = s.sampleTimesteps(2);
      s.predictZ0(s.addNoise(z0, eps, t), t, eps);
    });
  step();
  const before = T.memory();
  for (let i = 0; i < 50; i++) step();
  const after = T.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  z0.dispose();
  eps.dispose();
});

test("per-expert noising (Eq. 5): T = 500 / 2000 / 1000, each expert its own t_i and noise, seeded", () => {
  const scheds = expertSchedules("linear");
  assert.deepEqual(
    scheds.map((s) => s.numTimesteps),
    [500, 2000, 1000],
  );
  assert.deepEqual(PAPER_EXPERT_TIMESTEPS, [500, 2000, 1000]);
  T.tidy(() => {
    const z0 = T.randn([64, 2, 3, 3], { dtype: "float64" });
    const a = noiseForExperts(z0, scheds, { generator: new T.Generator({ seed: 5 }) });
    const b = noiseForExperts(z0, scheds, { generator: new T.Generator({ seed: 5 }) });
    assert.equal(a.length, 3);
    a.forEach((e, i) => {
      const s = scheds[i] as NoiseSchedule;
      const ts = e.t.toArray();
      assert.ok(ts.every((v) => v >= 0 && v < s.numTimesteps));
      assert.ok(Math.max(...ts) >= s.numTimesteps / 2, "t_i spans the expert's whole range");
      assert.deepEqual(e.noise.shape, z0.shape);
      assert.equal(e.noise.dtype, "float64");
      assertClose(e.zt.toArray(), s.addNoise(z0, e.noise, e.t).toArray(), { atol: 0, rtol: 0 });
      const again = b[i] as { t: T.Tensor; noise: T.Tensor };
      assert.deepEqual(ts, again.t.toArray(), "seeded timesteps");
      assert.deepEqual(e.noise.toArray(), again.noise.toArray(), "seeded noise");
    });
    // Different experts draw different timesteps and noise.
    assert.notDeepEqual(a[0]?.t.toArray(), a[2]?.t.toArray());
    assert.notDeepEqual(a[0]?.noise.toArray(), a[1]?.noise.toArray());
  });
});
