// Eq. 9: gated aggregation of the experts' z0 estimates, global and spatial.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { aggregateZ0 } from "../../src/diffusion/aggregate.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { randomValues } from "../losses/reference.js";

const B = 2;
const K = 3;
const C = 2;
const H = 3;
const W = 4;
const N = B * C * H * W;

function estimates(): { values: Float64Array[]; tensors: T.Tensor[] } {
  const values = [0, 1, 2].map((i) => randomValues(N, 10 + i));
  return { values, tensors: values.map((v) => T.tensor(v, [B, C, H, W], { dtype: "float64" })) };
}

test("global weights [B, K]: z0_hat = sum_i G_i z0_hat(i) per sample", () => {
  T.tidy(() => {
    const { values, tensors } = estimates();
    const g = [0.2, 0.5, 0.3, 0.7, 0.1, 0.2];
    const out = aggregateZ0(tensors, T.tensor(Float64Array.from(g), [B, K]));
    assert.deepEqual(out.shape, [B, C, H, W]);
    const expected = Array.from({ length: N }, (_, e) => {
      const b = Math.floor(e / (C * H * W));
      let s = 0;
      for (let i = 0; i < K; i++) s += (g[b * K + i] as number) * ((values[i] as Float64Array)[e] as number);
      return s;
    });
    assertClose(out.toArray(), expected, { atol: 1e-14, rtol: 1e-12 });
  });
});

test("spatial maps [B, K, h, w]: the weights vary per position", () => {
  T.tidy(() => {
    const { values, tensors } = estimates();
    const raw = randomValues(B * K * H * W, 99).map((v) => v + 1.5);
    // Normalise over K per position, as the gating maps are.
    const g = new Float64Array(raw.length);
    for (let b = 0; b < B; b++) {
      for (let p = 0; p < H * W; p++) {
        let s = 0;
        for (let i = 0; i < K; i++) s += raw[(b * K + i) * H * W + p] as number;
        for (let i = 0; i < K; i++) g[(b * K + i) * H * W + p] = (raw[(b * K + i) * H * W + p] as number) / s;
      }
    }
    const out = aggregateZ0(tensors, T.tensor(g, [B, K, H, W]));
    const expected = Array.from({ length: N }, (_, e) => {
      const b = Math.floor(e / (C * H * W));
      const p = e % (H * W);
      let s = 0;
      for (let i = 0; i < K; i++) s += (g[(b * K + i) * H * W + p] as number) * ((values[i] as Float64Array)[e] as number);
      return s;
    });
    assertClose(out.toArray(), expected, { atol: 1e-14, rtol: 1e-12 });
    // Equal estimates come back unchanged when the weights sum to one.
    const same = aggregateZ0([tensors[0] as T.Tensor, tensors[0] as T.Tensor, tensors[0] as T.Tensor], T.tensor(g, [B, K, H, W]));
    assertClose(same.toArray(), values[0] as Float64Array, { atol: 1e-14, rtol: 1e-12 });
  });
});

test("gradients reach both the estimates and the weights", () => {
  T.tidy(() => {
    const zs = [0, 1, 2].map(() => T.randn([B, C, H, W]).requiresGrad_());
    const g = T.tensor([
      [0.2, 0.5, 0.3],
      [0.7, 0.1, 0.2],
    ]).requiresGrad_();
    aggregateZ0(zs, g).sum().backward();
    // d/dG_bi = sum of z0_hat(i) over sample b; d/dz0_hat(i) = G_bi.
    const expectG = [0, 1].flatMap((b) => zs.map((z) => z.select(0, b).sum().item()));
    assertClose((g.grad as T.Tensor).toArray(), expectG, { atol: 1e-5, rtol: 1e-5 });
    assertClose((zs[1]?.grad as T.Tensor).select(0, 1).toArray(), new Array<number>(C * H * W).fill(0.1), { atol: 1e-7, rtol: 1e-6 });
  });
});

test("shape errors name what is wrong", () => {
  T.tidy(() => {
    const { tensors } = estimates();
    assertThrowsMatching(() => aggregateZ0([], T.zeros([B, K])), /z0Hats is empty/);
    assertThrowsMatching(() => aggregateZ0(tensors, T.zeros([B, 2])), /weights must be \[B, K\] = \[2, 3\] or \[B, K, h, w\] = \[2, 3, 3, 4\].*got \[2, 2\]/);
    assertThrowsMatching(() => aggregateZ0(tensors, T.zeros([B, K, 2, 2])), /upsample gate maps to the latent grid first\), got \[2, 3, 2, 2\]/);
    const bad = [tensors[0] as T.Tensor, T.zeros([B, C, H, 5]), tensors[2] as T.Tensor];
    assertThrowsMatching(() => aggregateZ0(bad, T.zeros([B, K])), /z0Hats\[1\] has shape \[2, 2, 3, 5\], expected \[2, 2, 3, 4\]/);
    assertThrowsMatching(() => aggregateZ0([T.zeros([B, C, H])], T.zeros([B, 1])), /z0Hats\[0\] must be \[B, C, h, w\], got \[2, 2, 3\]/);
  });
});
