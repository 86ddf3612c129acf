// Eq. 10: latent MSE + perceptual feature distance, with a simple phi.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { taskLossE1, type FeatureExtractor } from "../../src/losses/task_e1.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { at4, randomValues } from "./reference.js";

// phi: two feature maps, 2x2 average pooling and the squared latent.
const phi: FeatureExtractor = (z) => [T.F.avgPool2d(z, 2), z.square()];

function pool2(a: Float64Array, shape: number[]): number[] {
  const [b, c, h, w] = shape as [number, number, number, number];
  const out: number[] = [];
  for (let n = 0; n < b; n++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y += 2)
        for (let x = 0; x < w; x += 2) {
          out.push((at4(a, shape, n, ch, y, x) + at4(a, shape, n, ch, y, x + 1) + at4(a, shape, n, ch, y + 1, x) + at4(a, shape, n, ch, y + 1, x + 1)) / 4);
        }
  return out;
}

const msePer = (p: ArrayLike<number>, q: ArrayLike<number>, batch: number): number[] => {
  const per = p.length / batch;
  return Array.from({ length: batch }, (_, b) => {
    let s = 0;
    for (let i = b * per; i < (b + 1) * per; i++) s += ((p[i] as number) - (q[i] as number)) ** 2;
    return s / per;
  });
};

test("Eq. 10 by hand: MSE + sum over feature maps of their MSE, per sample", () => {
  T.tidy(() => {
    const shape = [2, 2, 4, 4];
    const z0v = randomValues(64, 5);
    const zhv = randomValues(64, 6);
    const mse = msePer(zhv, z0v, 2);
    const perc1 = msePer(pool2(zhv, shape), pool2(z0v, shape), 2);
    const perc2 = msePer(
      zhv.map((v) => v * v),
      z0v.map((v) => v * v),
      2,
    );
    const z0 = T.tensor(z0v, shape, { dtype: "float64" });
    const zh = T.tensor(zhv, shape, { dtype: "float64" });
    const r = taskLossE1(z0, zh, phi, { perSample: true });
    assertClose(r.mse.toArray(), mse, { atol: 1e-15, rtol: 1e-12 });
    assertClose(r.perceptual.toArray(), [0, 1].map((b) => perc1[b]! + perc2[b]!), { atol: 1e-15, rtol: 1e-12 });
    assertClose(r.loss.toArray(), [0, 1].map((b) => mse[b]! + perc1[b]! + perc2[b]!), { atol: 1e-15, rtol: 1e-12 });
    const m = taskLossE1(z0, zh, phi);
    assert.deepEqual(m.loss.shape, []);
    assertClose(m.loss.item(), (r.loss.toArray()[0]! + r.loss.toArray()[1]!) / 2, { atol: 1e-15, rtol: 1e-12 });
    assert.equal(taskLossE1(z0, z0, phi).loss.item(), 0);
  });
});

test("Eq. 10: gradients flow into z0Hat (and phi's parameters), not into the target branch", () => {
  T.tidy(() => {
    const w = T.tensor([2], [1], { dtype: "float64" }).requiresGrad_();
    const phiW: FeatureExtractor = (z) => [z.mul(w)];
    const z0 = T.randn([2, 1, 2, 2], { dtype: "float64" }).requiresGrad_();
    const zh = T.randn([2, 1, 2, 2], { dtype: "float64" }).requiresGrad_();
    taskLossE1(z0, zh, phiW).loss.backward();
    assert.equal(z0.grad, null, "the target z0 gets no gradient");
    // L = mean_b mean (d^2) + mean_b mean(w^2 d^2) with d = zh - z0 => dL/dzh = 2 d (1 + w^2) / 8
    const d = zh.sub(z0).toArray();
    assertClose((zh.grad as T.Tensor).toArray(), d.map((v) => (2 * v * 5) / 8), { atol: 1e-12, rtol: 1e-10 });
    // phi(z0) is a constant target, so w learns through phi(zh) only: dL/dw = 2 sum(w d zh) / 8.
    const zhv = zh.toArray();
    const sumDZ = d.reduce((s, v, i) => s + v * (zhv[i] as number), 0);
    assertClose((w.grad as T.Tensor).item(), (2 * 2 * sumDZ) / 8, { atol: 1e-12, rtol: 1e-10 });
  });
});

test("Eq. 10: a phi with no feature maps, or mismatched ones, is an error", () => {
  T.tidy(() => {
    const z = T.zeros([2, 4, 4, 4]);
    assertThrowsMatching(() => taskLossE1(z, z, () => []), /phi returned no feature maps/);
    let calls = 0;
    const uneven: FeatureExtractor = (x) => (++calls === 1 ? [x] : [x, x]);
    assertThrowsMatching(() => taskLossE1(z, z, uneven), /phi returned 2 feature maps for z0Hat but 1 for z0/);
    assertThrowsMatching(() => taskLossE1(z, z, (x) => [x.flatten()]), /first dimension must be the batch 2/);
    assertThrowsMatching(() => taskLossE1(z, T.zeros([2, 4, 4, 2]), phi), /z0Hat and z0 shapes differ/);
  });
});
