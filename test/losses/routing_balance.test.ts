// The routing-information term (src/losses/routing_balance.ts): mean per-token entropy minus the entropy
// of the experts' shares.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { foregroundWeights, routingBalanceLoss } from "../../src/losses/routing_balance.js";

/** [1, K, 1, N] maps from per-token probability rows. */
const maps = (rows: number[][]): T.Tensor => {
  const k = (rows[0] as number[]).length;
  const data = Array.from({ length: k }, (_, i) => rows.map((r) => r[i] as number)).flat();
  return T.tensor(data, [1, k, 1, rows.length]);
};

test("confident routing with even shares scores -log K; the same weights everywhere score 0", () => {
  const partition = routingBalanceLoss(maps([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]));
  assert.ok(Math.abs(partition.item() + Math.log(3)) < 1e-5, `a balanced partition: ${partition.item()}`);
  const constant = routingBalanceLoss(maps([[0.16, 0.72, 0.12], [0.16, 0.72, 0.12], [0.16, 0.72, 0.12]]));
  assert.ok(Math.abs(constant.item()) < 1e-6, `a spatially constant gate carries no information: ${constant.item()}`);
  const collapsed = routingBalanceLoss(maps([[0, 1, 0], [0, 1, 0]]));
  assert.ok(Math.abs(collapsed.item()) < 1e-6, `every token to one expert: ${collapsed.item()}`);
  const global = routingBalanceLoss(T.tensor([1, 0, 0, 1], [2, 2]));
  assert.ok(Math.abs(global.item() + Math.log(2)) < 1e-5, "global gating: one token per sample");
});

test("its gradient moves a constant gate towards different weights for different tokens", () => {
  // Logits that depend on a per-token feature f through a learnable scale s; s = 0 gives the same
  // weights everywhere. The gradient of the term with respect to s must be non-zero and lower the loss.
  const f = T.tensor([-1, -0.5, 0.5, 1], [1, 1, 1, 4]);
  const s = T.tensor([0.01], [1]).requiresGrad_();
  const loss = (scale: T.Tensor): T.Tensor => {
    const logits = T.cat([f.mul(scale), f.mul(scale).neg()], 1); // [1, 2, 1, 4]
    return routingBalanceLoss(logits.softmax(1));
  };
  const l0 = loss(s);
  l0.backward();
  const g = (s.grad as T.Tensor).item();
  assert.ok(g < 0, `increasing the scale must lower the loss (gradient ${g})`);
  const l1 = T.noGrad(() => loss(T.tensor([2], [1])));
  assert.ok(l1.item() < l0.item() - 0.1, `a feature-dependent gate scores lower: ${l1.item()} vs ${l0.item()}`);
});

test("a wrong shape is refused with the shape it got", () => {
  assert.throws(() => routingBalanceLoss(T.ones([2, 3, 4])), /\[B, K\] or \[B, K, gh, gw\], got \[2, 3, 4\]/);
});

test("token weights: a zero-weight token does not count, and the foreground weights are the head's share of each token", () => {
  // Two brain tokens split between the experts and a background token sent to expert 0.
  const probs = maps([[1, 0], [0, 1], [1, 0]]);
  const unweighted = routingBalanceLoss(probs).item();
  const weighted = routingBalanceLoss(probs, T.tensor([1, 1, 0], [1, 1, 3])).item();
  assert.ok(Math.abs(weighted + Math.log(2)) < 1e-5, `the brain tokens alone are an even split: ${weighted}`);
  assert.ok(unweighted > weighted + 0.05, `with the background the shares are uneven: ${unweighted}`);
  assert.throws(() => routingBalanceLoss(probs, T.ones([1, 3])), /weights must be \[1, 1, 3\]/);
  // y [1, 3, 4, 4]: the left half bright, the right half empty; a 1x2 token grid.
  const row = [0.8, 0.8, 0, 0];
  const y = T.tensor(Array.from({ length: 3 * 4 }, () => row).flat(), [1, 3, 4, 4]);
  assert.deepEqual(foregroundWeights(y, [1, 2]).toArray(), [1, 0]);
});
