// Eq. 12: multi-scale windowed STFT loss, against a plain-JS implementation.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { hannPatches, periodicHann, STFT_WINDOW_SIZES, taskLossE3, windowStarts, type StftMode } from "../../src/losses/task_e3.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { channel, dft2, randomValues, reflectPad } from "./reference.js";

/** Plain-JS Eq. 12, per sample: per-scale means over windows, channels and bins; their sum. */
function stftLossRef(a: Float64Array, b: Float64Array, shape: number[], sizes: number[], center: boolean, mode: StftMode): { total: number[]; perScale: Map<number, number[]> } {
  const [nb, nc, h, w] = shape as [number, number, number, number];
  const perScale = new Map<number, number[]>();
  for (const s of sizes) {
    if (s > h || s > w) continue;
    const hop = Math.floor(s / 2);
    const hann = Array.from({ length: s }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / s));
    const values: number[] = [];
    for (let n = 0; n < nb; n++) {
      let sum = 0;
      let count = 0;
      for (let c = 0; c < nc; c++) {
        let ia = channel(a, shape, n, c);
        let ib = channel(b, shape, n, c);
        let H = h;
        let W = w;
        if (center) {
          ia = reflectPad(ia, h, w, hop);
          ib = reflectPad(ib, h, w, hop);
          H += 2 * hop;
          W += 2 * hop;
        }
        const starts = (len: number): number[] => {
          const out: number[] = [];
          for (let p = 0; p + s <= len; p += hop) out.push(p);
          if (out[out.length - 1] !== len - s) out.push(len - s);
          return out;
        };
        for (const sy of starts(H)) {
          for (const sx of starts(W)) {
            const pa = new Float64Array(s * s);
            const pb = new Float64Array(s * s);
            for (let i = 0; i < s; i++) {
              for (let j = 0; j < s; j++) {
                const win = (hann[i] as number) * (hann[j] as number);
                pa[i * s + j] = (ia[(sy + i) * W + sx + j] as number) * win;
                pb[i * s + j] = (ib[(sy + i) * W + sx + j] as number) * win;
              }
            }
            const [ar, ai] = dft2(pa, s, s);
            const [br, bi] = dft2(pb, s, s);
            for (let k = 0; k < s * s; k++) {
              const dr = (ar[k] as number) - (br[k] as number);
              const di = (ai[k] as number) - (bi[k] as number);
              sum +=
                mode === "complex" ? dr * dr + di * di : (Math.hypot(ar[k] as number, ai[k] as number) - Math.hypot(br[k] as number, bi[k] as number)) ** 2;
              count++;
            }
          }
        }
      }
      values.push(sum / count);
    }
    perScale.set(s, values);
  }
  const total = Array.from({ length: nb }, (_, n) => [...perScale.values()].reduce((p, v) => p + (v[n] as number), 0));
  return { total, perScale };
}

test("window starts: hop s/2, plus one window flush with the far border when the hop misses it", () => {
  assert.deepEqual(windowStarts(16, 8, 4), [0, 4, 8]);
  assert.deepEqual(windowStarts(18, 8, 4), [0, 4, 8, 10]);
  assert.deepEqual(windowStarts(8, 8, 4), [0]);
  assert.deepEqual(windowStarts(7, 8, 4), []);
  // Periodic Hann with hop s/2 sums to one (COLA), so interior positions weigh alike.
  const hann = periodicHann(8);
  for (let r = 0; r < 4; r++) assertClose((hann[r] as number) + (hann[r + 4] as number), 1, { atol: 1e-15, rtol: 0 });
  assert.equal(hann[0], 0);
  assert.deepEqual(STFT_WINDOW_SIZES, [8, 16, 32]);
});

test("hannPatches: [B, C, nH, nW, s, s] windows of the reflect-padded latent times the 2-D Hann window", () => {
  T.tidy(() => {
    const shape = [1, 1, 10, 12];
    const v = randomValues(120, 4);
    const p = hannPatches(T.tensor(v, shape, { dtype: "float64" }), 8);
    // Padded to 18 x 20: rows 0, 4, 8, 10 and columns 0, 4, 8, 12.
    assert.deepEqual(p.shape, [1, 1, 4, 4, 8, 8]);
    const padded = reflectPad(v, 10, 12, 4);
    const hann = periodicHann(8);
    const got = p.select(2, 3).select(2, 2).toArray(); // window at row 10, column 8
    const expected: number[] = [];
    for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) expected.push((padded[(10 + i) * 20 + 8 + j] as number) * (hann[i] as number) * (hann[j] as number));
    assertClose(got, expected, { atol: 1e-15, rtol: 0 });
    assert.deepEqual(hannPatches(T.tensor(v, shape, { dtype: "float64" }), 8, false).shape, [1, 1, 2, 2, 8, 8]); // rows 0, 2; columns 0, 4
  });
});

test("Eq. 12 matches a plain-JS windowed DFT: odd-sized latent, both modes, with and without centring", () => {
  T.tidy(() => {
    const shape = [2, 2, 10, 12];
    const av = randomValues(480, 21);
    const bv = randomValues(480, 22);
    const a = T.tensor(av, shape, { dtype: "float64" });
    const b = T.tensor(bv, shape, { dtype: "float64" });
    for (const mode of ["complex", "magnitude"] as const) {
      for (const center of [true, false]) {
        const r = taskLossE3(a, b, { perSample: true, mode, center });
        const ref = stftLossRef(bv, av, shape, [8, 16, 32], center, mode);
        // Only s = 8 fits a 10 x 12 latent; 16 and 32 are skipped.
        assert.deepEqual([...r.perScale.keys()], [8]);
        assertClose(r.loss.toArray(), ref.total, { atol: 1e-12, rtol: 1e-9, message: `${mode} center=${center}` });
      }
    }
  });
});

test("Eq. 12 sums the scales: 16 x 16 latent with windows 4, 8, 16", () => {
  T.tidy(() => {
    const shape = [1, 2, 16, 16];
    const av = randomValues(512, 31);
    const bv = randomValues(512, 32);
    const r = taskLossE3(T.tensor(av, shape, { dtype: "float64" }), T.tensor(bv, shape, { dtype: "float64" }), { windowSizes: [4, 8, 16] });
    const ref = stftLossRef(bv, av, shape, [4, 8, 16], true, "complex");
    assert.deepEqual([...r.perScale.keys()], [4, 8, 16]);
    for (const s of [4, 8, 16]) assertClose((r.perScale.get(s) as T.Tensor).item(), (ref.perScale.get(s) as number[])[0] as number, { atol: 1e-12, rtol: 1e-9 });
    assertClose(r.loss.item(), ref.total[0] as number, { atol: 1e-12, rtol: 1e-9 });
    assert.equal(taskLossE3(T.tensor(av, shape), T.tensor(av, shape)).loss.item(), 0);
  });
});

test("Eq. 12: gradients reach z0Hat (not z0) and memory does not grow", () => {
  const z0 = T.randn([2, 2, 32, 32]).requiresGrad_();
  const zh = T.randn([2, 2, 32, 32]).requiresGrad_();
  const step = (mode: StftMode): number =>
    T.tidy(() => {
      zh.zeroGrad();
      const r = taskLossE3(z0, zh, { mode });
      assert.deepEqual([...r.perScale.keys()], [8, 16, 32]);
      r.loss.backward();
      assert.equal(z0.grad, null, "the target gets no gradient");
      const g = zh.grad as T.Tensor;
      assert.equal(T.all(g.isfinite()).item(), 1);
      return g.abs().sum().item();
    });
  assert.ok(step("complex") > 0);
  assert.ok(step("magnitude") > 0);
  zh.zeroGrad();
  const before = T.memory();
  for (let i = 0; i < 6; i++) step(i % 2 === 0 ? "complex" : "magnitude");
  zh.zeroGrad();
  const after = T.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  z0.dispose();
  zh.dispose();
});

test("Eq. 12: a latent smaller than every window, and bad options, are errors", () => {
  T.tidy(() => {
    const z = T.zeros([1, 4, 6, 6]);
    assertThrowsMatching(() => taskLossE3(z, z), /latent \[1, 4, 6, 6\] is smaller than every STFT window \[8, 16, 32\]/);
    assertThrowsMatching(() => taskLossE3(z, z, { windowSizes: [1] }), /windowSizes must be integers >= 2, got \[1\]/);
    assertThrowsMatching(() => taskLossE3(z, z, { windowSizes: [4], mode: "power" as StftMode }), /mode must be 'complex' or 'magnitude', got 'power'/);
    assertThrowsMatching(() => taskLossE3(z, T.zeros([1, 4, 6, 5])), /z0Hat and z0 shapes differ/);
  });
});
