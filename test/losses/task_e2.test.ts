// Eq. 11: Sobel gradient MSE + Fourier (2-D FFT, orthonormal) MSE.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { sobel, taskLossE2 } from "../../src/losses/task_e2.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { channel, dft2, randomValues, sobelRef } from "./reference.js";

test("Sobel on a ramp: constant 8a inside, 4a on the replicate-padded borders, no gradient across", () => {
  T.tidy(() => {
    const h = 5;
    const w = 6;
    const a = 0.75;
    const rampX = Float64Array.from({ length: h * w }, (_, i) => a * (i % w) + 2);
    const s = sobel(T.tensor(rampX, [1, 1, h, w], { dtype: "float64" }));
    assert.deepEqual(s.shape, [1, 2, h, w]);
    const dx = s.select(1, 0).toArray();
    const dy = s.select(1, 1).toArray();
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const expected = x === 0 || x === w - 1 ? 4 * a : 8 * a;
        assertClose(dx[y * w + x] as number, expected, { atol: 1e-12, rtol: 0, message: `dx(${y},${x})` });
        assertClose(dy[y * w + x] as number, 0, { atol: 1e-12, rtol: 0 });
      }
    }
    // A ramp down the rows: only dy responds, channels stay separate (depthwise).
    const rampY = Float64Array.from({ length: h * w }, (_, i) => -a * Math.floor(i / w));
    const two = T.cat([T.tensor(rampX, [1, 1, h, w], { dtype: "float64" }), T.tensor(rampY, [1, 1, h, w], { dtype: "float64" })], 1);
    const s2 = sobel(two);
    assert.deepEqual(s2.shape, [1, 4, h, w]);
    assertClose(s2.select(1, 0).toArray(), dx, { atol: 1e-12, rtol: 0 });
    assertClose(s2.select(1, 3).select(1, 2).toArray(), new Array<number>(w).fill(-8 * a), { atol: 1e-12, rtol: 0 });
    assertClose(s2.select(1, 2).toArray(), new Array<number>(h * w).fill(0), { atol: 1e-12, rtol: 0 });
  });
});

test("Sobel on random data matches a plain-JS Sobel with replicate padding", () => {
  T.tidy(() => {
    const shape = [2, 3, 5, 4];
    const v = randomValues(120, 8);
    const s = sobel(T.tensor(v, shape, { dtype: "float64" })).toArray();
    for (let b = 0; b < 2; b++) {
      for (let c = 0; c < 3; c++) {
        const [dx, dy] = sobelRef(channel(v, shape, b, c), 5, 4);
        const base = (b * 6 + 2 * c) * 20;
        assertClose(s.slice(base, base + 20), dx, { atol: 1e-12, rtol: 0 });
        assertClose(s.slice(base + 20, base + 40), dy, { atol: 1e-12, rtol: 0 });
      }
    }
  });
});

test("Eq. 11 on a known cosine: Fourier term from a plain-JS DFT, Sobel term from a plain-JS Sobel", () => {
  T.tidy(() => {
    const h = 4;
    const w = 8;
    const amp = 1.5;
    const cosImg = Float64Array.from({ length: h * w }, (_, i) => amp * Math.cos((2 * Math.PI * 2 * (i % w)) / w));
    const zero = new Float64Array(h * w);
    const z0 = T.tensor(cosImg, [1, 1, h, w], { dtype: "float64" });
    const zh = T.tensor(zero, [1, 1, h, w], { dtype: "float64" });
    const r = taskLossE2(z0, zh);
    // The orthonormal DFT of amp cos(2 pi 2 x / 8) has two bins (0, +-2) of amp sqrt(hw) / 2 each.
    const [re, im] = dft2(cosImg, h, w);
    let energy = 0;
    for (let i = 0; i < h * w; i++) energy += (re[i] as number) ** 2 + (im[i] as number) ** 2;
    assertClose(energy, 2 * ((amp * Math.sqrt(h * w)) / 2) ** 2, { atol: 1e-10, rtol: 1e-12 });
    assertClose(r.fourier.item(), energy / (h * w), { atol: 1e-12, rtol: 1e-10 });
    const [dx, dy] = sobelRef(cosImg, h, w);
    let s = 0;
    for (let i = 0; i < h * w; i++) s += (dx[i] as number) ** 2 + (dy[i] as number) ** 2;
    assertClose(r.sobel.item(), s / (2 * h * w), { atol: 1e-12, rtol: 1e-10 });
    assertClose(r.loss.item(), r.sobel.item() + r.fourier.item(), { atol: 1e-12, rtol: 1e-12 });
  });
});

test("Eq. 11 complex Fourier term equals the latent MSE (Parseval); amplitude mode ignores phase", () => {
  T.tidy(() => {
    const shape = [2, 2, 4, 6];
    const a = T.tensor(randomValues(96, 1), shape, { dtype: "float64" });
    const b = T.tensor(randomValues(96, 2), shape, { dtype: "float64" });
    const r = taskLossE2(a, b, { perSample: true });
    assertClose(r.fourier.toArray(), b.sub(a).square().mean([1, 2, 3]).toArray(), { atol: 1e-12, rtol: 1e-10 });
    // cos and sin of one frequency: same magnitude spectrum, different phase.
    const h = 4;
    const w = 8;
    const wave = (f: (x: number) => number): T.Tensor =>
      T.tensor(Float64Array.from({ length: h * w }, (_, i) => f((2 * Math.PI * (i % w)) / w)), [1, 1, h, w], { dtype: "float64" });
    const c = wave(Math.cos);
    const s = wave(Math.sin);
    assertClose(taskLossE2(c, s, { fourier: "amplitude" }).fourier.item(), 0, { atol: 1e-12, rtol: 0 });
    assertClose(taskLossE2(c, s).fourier.item(), 1, { atol: 1e-12, rtol: 1e-12 });
  });
});

test("Eq. 11 amplitude mode matches a plain-JS DFT of both latents", () => {
  T.tidy(() => {
    const shape = [1, 2, 3, 4];
    const av = randomValues(24, 3);
    const bv = randomValues(24, 4);
    const r = taskLossE2(T.tensor(av, shape, { dtype: "float64" }), T.tensor(bv, shape, { dtype: "float64" }), { fourier: "amplitude" });
    let s = 0;
    for (let c = 0; c < 2; c++) {
      const [ar, ai] = dft2(channel(av, shape, 0, c), 3, 4);
      const [br, bi] = dft2(channel(bv, shape, 0, c), 3, 4);
      for (let i = 0; i < 12; i++) s += (Math.hypot(ar[i] as number, ai[i] as number) - Math.hypot(br[i] as number, bi[i] as number)) ** 2;
    }
    assertClose(r.fourier.item(), s / 24, { atol: 1e-10, rtol: 1e-9 });
  });
});

test("Eq. 11: finite gradients into z0Hat in both modes, none into z0", () => {
  T.tidy(() => {
    for (const fourier of ["complex", "amplitude"] as const) {
      const z0 = T.randn([2, 2, 8, 8]).requiresGrad_();
      const zh = T.randn([2, 2, 8, 8]).requiresGrad_();
      taskLossE2(z0, zh, { fourier }).loss.backward();
      const g = zh.grad as T.Tensor;
      assert.equal(T.all(g.isfinite()).item(), 1);
      assert.ok(g.abs().sum().item() > 0);
      assert.equal(z0.grad, null);
      // At the optimum the gradient vanishes (amplitude mode included, despite |.| at 0).
      const z = T.randn([1, 1, 4, 4]).requiresGrad_();
      taskLossE2(z.detach(), z, { fourier }).loss.backward();
      assert.equal((z.grad as T.Tensor).abs().amax().item(), 0);
    }
  });
});

test("Eq. 11: bad input is rejected", () => {
  T.tidy(() => {
    assertThrowsMatching(() => taskLossE2(T.zeros([2, 4, 8]), T.zeros([2, 4, 8])), /taskLossE2: z0Hat must be \[B, C, h, w\], got \[2, 4, 8\]/);
    assertThrowsMatching(() => taskLossE2(T.zeros([2, 4, 8, 8]), T.zeros([2, 3, 8, 8])), /z0Hat and z0 shapes differ: \[2, 3, 8, 8\] vs \[2, 4, 8, 8\]/);
    assertThrowsMatching(() => taskLossE2(T.zeros([1, 1, 4, 4]), T.zeros([1, 1, 4, 4]), { fourier: "phase" as "complex" }), /fourier must be 'complex' or 'amplitude', got 'phase'/);
  });
});
