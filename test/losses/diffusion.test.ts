// Eq. 7: the per-expert epsilon MSE.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { diffusionLoss } from "../../src/losses/diffusion.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { randomValues } from "./reference.js";

test("Eq. 7: mean squared error per element, per sample or batch mean", () => {
  T.tidy(() => {
    const shape = [3, 2, 2, 2];
    const a = randomValues(24, 1);
    const b = randomValues(24, 2);
    const perSample = [0, 1, 2].map((s) => {
      let sum = 0;
      for (let i = s * 8; i < s * 8 + 8; i++) sum += ((a[i] as number) - (b[i] as number)) ** 2;
      return sum / 8;
    });
    const epsHat = T.tensor(a, shape, { dtype: "float64" });
    const eps = T.tensor(b, shape, { dtype: "float64" });
    const ps = diffusionLoss(epsHat, eps, { perSample: true });
    assert.deepEqual(ps.shape, [3]);
    assertClose(ps.toArray(), perSample, { atol: 1e-15, rtol: 1e-12 });
    const m = diffusionLoss(epsHat, eps);
    assert.deepEqual(m.shape, []);
    assertClose(m.item(), (perSample[0]! + perSample[1]! + perSample[2]!) / 3, { atol: 1e-15, rtol: 1e-12 });
    // Exactly 0 for a perfect prediction.
    assert.equal(diffusionLoss(eps, eps).item(), 0);
  });
});

test("Eq. 7: the gradient is 2 (epsHat - eps) / numel", () => {
  T.tidy(() => {
    const epsHat = T.tensor([1, 2, 3, 4], [2, 2], { dtype: "float64" }).requiresGrad_();
    const eps = T.tensor([0, 0, 1, 1], [2, 2], { dtype: "float64" });
    diffusionLoss(epsHat, eps).backward();
    assertClose((epsHat.grad as T.Tensor).toArray(), [0.5, 1, 1, 1.5], { atol: 1e-15, rtol: 0 });
  });
});

test("Eq. 7: shape mismatch is an error", () => {
  T.tidy(() => {
    assertThrowsMatching(() => diffusionLoss(T.zeros([2, 4, 8, 8]), T.zeros([2, 4, 8, 4])), /diffusionLoss: epsHat and eps shapes differ: \[2, 4, 8, 8\] vs \[2, 4, 8, 4\]/);
  });
});
