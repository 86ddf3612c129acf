// Eq. 14-16: MAD temperature, supervised targets G*, cross-entropy and diversity.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { gatingLoss, madTemperature, medianLastDim, MAD_SCALE } from "../../src/losses/gating_loss.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { cosineRef, medianRef, randomValues, softmaxRef } from "./reference.js";

const f64 = (v: number[], shape: number[]): T.Tensor => T.tensor(Float64Array.from(v), shape, { dtype: "float64" });

test("Eq. 14: MAD by hand for odd and even K", () => {
  T.tidy(() => {
    // K = 3: median 0.5; |dev| = 0.4, 0, 0.3 -> MAD 0.3.
    // K = 5: median 0.3; |dev| = 0.2, 0.1, 0, 0.6, 0.1 -> MAD 0.1.
    // K = 4: median (0.2 + 0.4) / 2 = 0.3; |dev| = 0.2, 0.1, 0.1, 0.6 -> MAD (0.1 + 0.2) / 2 = 0.15.
    assertClose(madTemperature(f64([0.1, 0.5, 0.8], [1, 3])).toArray(), [MAD_SCALE * 0.3], { atol: 1e-15, rtol: 1e-12 });
    assertClose(madTemperature(f64([0.1, 0.2, 0.3, 0.9, 0.4], [1, 5])).toArray(), [MAD_SCALE * 0.1], { atol: 1e-15, rtol: 1e-12 });
    assertClose(madTemperature(f64([0.1, 0.2, 0.4, 0.9, 0.5, 0.5, 0.5, 0.5], [2, 4])).toArray(), [MAD_SCALE * 0.15, 1e-3], { atol: 1e-15, rtol: 1e-12 });
    assertClose(medianLastDim(f64([4, 1, 3, 2], [1, 4])).toArray(), [2.5], { atol: 0, rtol: 0 });
    assert.equal(MAD_SCALE, 1.4826);
  });
});

test("Eq. 14: the floor holds T when all cosines are equal, and G* is then uniform", () => {
  T.tidy(() => {
    assertClose(madTemperature(f64([0.7, 0.7, 0.7], [1, 3]), 0.05).toArray(), [0.05], { atol: 0, rtol: 0 });
    const z0 = T.randn([1, 2, 4, 4], { dtype: "float64" });
    const same = z0.mul(0.5).add(0.1);
    const r = gatingLoss({ z0Hats: [same, same, same], z0, gates: f64([0.2, 0.3, 0.5], [1, 3]) });
    assertClose(r.temperature.toArray(), [1e-3], { atol: 0, rtol: 0 });
    assertClose(r.targets.toArray(), [1 / 3, 1 / 3, 1 / 3], { atol: 1e-12, rtol: 0 });
    // Identical experts: max pairwise cosine 1, diversity log(2).
    assertClose(r.diversity.item(), Math.log(2), { atol: 1e-12, rtol: 0 });
  });
});

test("Eq. 15-16 against a plain-JS computation on random latents", () => {
  T.tidy(() => {
    const B = 2;
    const K = 3;
    const n = 2 * 3 * 3; // C h w
    const shape = [B, 2, 3, 3];
    const z0v = randomValues(B * n, 40);
    const zv = [0, 1, 2].map((i) => randomValues(B * n, 41 + i).map((v, j) => 0.6 * v + (z0v[j] as number) * (0.3 + 0.3 * i)));
    const gv = [0.1, 0.3, 0.6, 0.5, 0.45, 0.05];
    const r = gatingLoss({ z0Hats: zv.map((v) => T.tensor(v, shape, { dtype: "float64" })), z0: T.tensor(z0v, shape, { dtype: "float64" }), gates: f64(gv, [B, K]) });
    let sup = 0;
    let div = 0;
    const temps: number[] = [];
    const targets: number[] = [];
    const cosines: number[] = [];
    for (let b = 0; b < B; b++) {
      const part = (a: Float64Array): Float64Array => a.slice(b * n, (b + 1) * n);
      const c = zv.map((v) => cosineRef(part(v), part(z0v)));
      cosines.push(...c);
      const med = medianRef(c);
      const t = Math.max(1.4826 * medianRef(c.map((x) => Math.abs(x - med))), 1e-3);
      temps.push(t);
      const gs = softmaxRef(c.map((x) => x / t));
      targets.push(...gs);
      sup += -gs.reduce((s, gi, i) => s + gi * Math.log(gv[b * K + i] as number), 0) / K;
      let m = 0;
      for (let i = 0; i < K; i++) {
        let best = -Infinity;
        for (let j = 0; j < K; j++) if (j !== i) best = Math.max(best, cosineRef(part(zv[i] as Float64Array), part(zv[j] as Float64Array)));
        m += Math.max(best, 0); // the default diversityFloor
      }
      div += Math.log(1 + m / K);
    }
    assertClose(r.cosines.toArray(), cosines, { atol: 1e-12, rtol: 1e-10 });
    assertClose(r.temperature.toArray(), temps, { atol: 1e-12, rtol: 1e-10 });
    assertClose(r.targets.toArray(), targets, { atol: 1e-10, rtol: 1e-8 });
    assertClose(r.supervised.item(), sup / B, { atol: 1e-10, rtol: 1e-8 });
    assertClose(r.diversity.item(), div / B, { atol: 1e-12, rtol: 1e-10 });
    assertClose(r.loss.item(), (sup + div) / B, { atol: 1e-10, rtol: 1e-8 });
    // Diversity off: only the supervised term.
    const noDiv = gatingLoss(
      { z0Hats: zv.map((v) => T.tensor(v, shape, { dtype: "float64" })), z0: T.tensor(z0v, shape, { dtype: "float64" }), gates: f64(gv, [B, K]) },
      { diversity: false },
    );
    assertClose(noDiv.loss.item(), sup / B, { atol: 1e-10, rtol: 1e-8 });
    assert.equal(noDiv.diversity.item(), 0);
  });
});

test("Eq. 16: G is clamped at eps inside the log; spatial maps use their spatial mean", () => {
  T.tidy(() => {
    const z0 = f64([1, 0, 0, 1], [1, 1, 2, 2]);
    const zs = [f64([1, 0, 0, 1], [1, 1, 2, 2]), f64([0, 1, 1, 0], [1, 1, 2, 2])];
    // cos = 1 and 0; MAD over K = 2: median 0.5, MAD 0.5, T = 0.7413.
    const r = gatingLoss({ z0Hats: zs, z0, gates: f64([1, 0], [1, 2]) }, { diversity: false, gateEps: 1e-6 });
    const t = 1.4826 * 0.5;
    const gs = softmaxRef([1 / t, 0]);
    assertClose(r.supervised.item(), -(gs[0]! * Math.log(1) + gs[1]! * Math.log(1e-6)) / 2, { atol: 1e-12, rtol: 1e-10 });
    const maps = f64([0.9, 0.7, 0.8, 0.6, 0.1, 0.3, 0.2, 0.4], [1, 2, 2, 2]); // spatial means 0.75, 0.25
    const rs = gatingLoss({ z0Hats: zs, z0, gates: maps }, { diversity: false });
    assertClose(rs.supervised.item(), -(gs[0]! * Math.log(0.75) + gs[1]! * Math.log(0.25)) / 2, { atol: 1e-12, rtol: 1e-10 });
  });
});

test("Eq. 16 gradients: the supervised term trains G, the diversity term the experts, G* is a constant", () => {
  T.tidy(() => {
    const z0 = T.randn([2, 2, 4, 4]);
    // correlated experts (positive pair cosines), so the floored diversity term is active
    const base = T.randn([2, 2, 4, 4]);
    const zs = [0, 1, 2].map(() => base.add(T.randn([2, 2, 4, 4]).mul(0.5)).detach().requiresGrad_());
    const logits = T.randn([2, 3]).requiresGrad_();
    const r = gatingLoss({ z0Hats: zs, z0, gates: logits.softmax(1) });
    r.loss.backward();
    assert.ok((logits.grad as T.Tensor).abs().sum().item() > 0);
    for (const z of zs) assert.ok((z.grad as T.Tensor).abs().sum().item() > 0);
    // With the diversity term off, nothing flows into the experts (targets are detached).
    const zs2 = [0, 1, 2].map(() => T.randn([2, 2, 4, 4]).requiresGrad_());
    const logits2 = T.randn([2, 3]).requiresGrad_();
    gatingLoss({ z0Hats: zs2, z0, gates: logits2.softmax(1) }, { diversity: false }).loss.backward();
    for (const z of zs2) assert.equal(z.grad, null);
    // Supervised gradient wrt logits of -(1/K) sum G* log softmax(l) is (softmax(l) - G*) / (K B).
    const expected = logits2.softmax(1).sub(gatingLoss({ z0Hats: zs2, z0, gates: logits2.softmax(1) }, { diversity: false }).targets).div(6);
    assertClose((logits2.grad as T.Tensor).toArray(), expected.toArray(), { atol: 1e-6, rtol: 1e-5 });
  });
});

test("Eq. 14-16: bad input is rejected", () => {
  T.tidy(() => {
    const z = T.zeros([2, 4, 4, 4]);
    assertThrowsMatching(() => gatingLoss({ z0Hats: [], z0: z, gates: T.zeros([2, 0]) }), /z0Hats is empty/);
    assertThrowsMatching(() => gatingLoss({ z0Hats: [z], z0: z, gates: T.ones([2, 1]) }), /diversity term needs at least 2 experts, got 1; pass diversity: false/);
    assertThrowsMatching(() => gatingLoss({ z0Hats: [z, T.zeros([2, 4, 4, 3])], z0: z, gates: T.ones([2, 2]) }), /z0Hats\[1\] and z0 shapes differ/);
    assertThrowsMatching(() => gatingLoss({ z0Hats: [z, z], z0: z, gates: T.ones([2, 3]) }), /gates must be \[B, K\] = \[2, 2\]/);
    assertThrowsMatching(() => madTemperature(T.zeros([3])), /cosines must be \[B, K\], got \[3\]/);
    assertThrowsMatching(() => madTemperature(T.zeros([1, 3]), 0), /floor must be > 0, got 0/);
    // K = 1 with diversity off is fine: G* = 1.
    const r = gatingLoss({ z0Hats: [z.add(1)], z0: z.add(2), gates: T.ones([2, 1]) }, { diversity: false });
    assertClose(r.targets.toArray(), [1, 1], { atol: 0, rtol: 0 });
    assert.equal(r.loss.item(), 0);
  });
});

test("Eq. 16 diversity floor: anti-correlated experts are not rewarded by default; -1 gives the term as written", () => {
  T.tidy(() => {
    const z0 = T.tensor([1, 2, 3, 4], [1, 1, 2, 2], { dtype: "float64" });
    const a = T.tensor([1, -1, 2, 0.5], [1, 1, 2, 2], { dtype: "float64" });
    const zs = [a, a.neg()]; // cosine -1 between the two experts
    const gates = T.tensor([0.5, 0.5], [1, 2], { dtype: "float64" });
    const floored = gatingLoss({ z0Hats: zs, z0, gates });
    assert.equal(floored.diversity.item(), 0); // log(1 + mean(max(-1, 0)))
    assertClose(floored.maxPairCosines.toArray(), [-1, -1], { atol: 1e-12, rtol: 0 });
    const written = gatingLoss({ z0Hats: zs, z0, gates }, { diversityFloor: -1, gateEps: 1e-6 });
    assertClose(written.diversity.item(), Math.log(1e-6), { atol: 1e-9, rtol: 0 }); // log(1 - 1) clamped
    const half = gatingLoss({ z0Hats: zs, z0, gates }, { diversityFloor: -0.5 });
    assertClose(half.diversity.item(), Math.log(0.5), { atol: 1e-12, rtol: 0 });
    assertThrowsMatching(() => gatingLoss({ z0Hats: zs, z0, gates }, { diversityFloor: 2 }), /diversityFloor must be in \[-1, 1\], got 2/);
  });
});
