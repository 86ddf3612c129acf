// The per-token gating loss (src/losses/token_gating_loss.ts, Eq. 14-16 per token).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { tokenCosines, tokenGatingLoss } from "../../src/losses/token_gating_loss.js";

/** x0 [1, 2, 8, 8]; expert 0 right on the left half and wrong (sign-flipped) on the right, expert 1 the reverse. */
function halves(): { x0: T.Tensor; left: T.Tensor; right: T.Tensor } {
  const x0 = T.randn([1, 2, 8, 8], { generator: new T.Generator({ seed: 1 }) });
  const leftMask = T.tidy(() => T.cat([T.ones([1, 1, 8, 4]), T.zeros([1, 1, 8, 4])], 3));
  const flip = (m: T.Tensor): T.Tensor => T.tidy(() => m.mul(2).sub(1)); // +1 where right, -1 elsewhere
  const left = T.tidy(() => x0.mul(flip(leftMask)));
  const right = T.tidy(() => x0.mul(flip(T.onesLike(leftMask).sub(leftMask))));
  return { x0, left, right };
}

test("per-token cosines and targets follow where each expert is right", () => {
  const { x0, left, right } = halves();
  const cos = tokenCosines([left, right], x0, [2, 2]); // tokens: 2x2 grid, columns 0 (left) and 1 (right)
  assert.deepEqual(cos.shape, [1, 2, 2, 2]);
  const flat = cos.toArray() as number[];
  const at = (k: number, row: number, col: number): number => flat[k * 4 + row * 2 + col] as number;
  for (const row of [0, 1]) {
    assert.ok(Math.abs(at(0, row, 0) - 1) < 1e-5 && Math.abs(at(0, row, 1) + 1) < 1e-5, "expert 0: +1 left, -1 right");
    assert.ok(Math.abs(at(1, row, 0) + 1) < 1e-5 && Math.abs(at(1, row, 1) - 1) < 1e-5, "expert 1: -1 left, +1 right");
  }
  // The loss is lower when the gate sends each half to the expert that is right there.
  const routed = T.tidy(() => {
    const l = T.cat([T.full([1, 1, 2, 1], 0.9), T.full([1, 1, 2, 1], 0.1)], 3);
    return T.cat([l, T.onesLike(l).sub(l)], 1);
  });
  const wrong = T.tidy(() => routed.flip(1));
  const good = tokenGatingLoss({ x0Hats: [left, right], x0, probs: routed }, { diversity: false });
  const bad = tokenGatingLoss({ x0Hats: [left, right], x0, probs: wrong }, { diversity: false });
  assert.ok(good.supervised.item() < bad.supervised.item() - 0.5, `${good.supervised.item()} vs ${bad.supervised.item()}`);
  // A global (token-blind) gate cannot do as well as the routed one.
  const even = T.full([1, 2, 2, 2], 0.5);
  assert.ok(good.supervised.item() < tokenGatingLoss({ x0Hats: [left, right], x0, probs: even }, { diversity: false }).supervised.item());
});

test("the gradient reaches the gate probabilities and not the estimates through the supervised term", () => {
  const { x0, left, right } = halves();
  const logits = T.zeros([1, 2, 2, 2]).requiresGrad_(true);
  const l = left.clone().requiresGrad_(true);
  const r = tokenGatingLoss({ x0Hats: [l, right], x0, probs: logits.softmax(1) }, { diversity: false });
  r.loss.backward();
  assert.ok((logits.grad?.abs().sum().item() ?? 0) > 1e-3, "the gate learns");
  assert.ok(l.grad === null || l.grad.abs().sum().item() === 0, "G* is a target: no gradient into the estimates");
  assert.throws(() => tokenGatingLoss({ x0Hats: [left, right], x0, probs: T.zeros([1, 3, 2, 2]) }), /probs must be/);
});
