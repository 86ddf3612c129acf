// Training behaviour of the experts: a tiny expert overfits a fixed
// (z_t, t, epsilon) batch, and training steps do not grow memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import { AdamW } from "../../../src/torch/optim/index.js";
import { createExpert, type Expert, type ExpertKind } from "../../../src/models/experts/index.js";
import { disposeInput, randomInput, TINY } from "./inputs.js";

const KINDS: ExpertKind[] = [1, 2, 3];

function trainer(expert: Expert, lr: number) {
  const opt = new AdamW(expert.parameters(), { lr, weightDecay: 0 });
  const input = randomInput(TINY, 2, 8, 8);
  const eps = T.randn(input.zt.shape);
  const step = (): number =>
    T.tidy(() => {
      opt.zeroGrad();
      const loss = T.F.mseLoss(expert.forward(input), eps); // Eq. 7
      loss.backward();
      opt.step();
      return loss.item();
    });
  const dispose = (): void => {
    opt.dispose();
    disposeInput(input);
    eps.dispose();
  };
  return { step, dispose };
}

test("a tiny expert overfits a fixed (z_t, t, eps) batch: the epsilon MSE drops by more than half in 50 steps", () => {
  for (const kind of KINDS) {
    T.manualSeed(20 + kind);
    const expert = createExpert(kind, TINY);
    const { step, dispose } = trainer(expert, 3e-3);
    const losses: number[] = [];
    for (let i = 0; i < 50; i++) losses.push(step());
    const first = losses[0] as number;
    const last = losses.at(-1) as number;
    assert.ok(Number.isFinite(last), `E${kind}: loss is not finite`);
    assert.ok(last < 0.5 * first, `E${kind}: MSE ${first.toFixed(4)} -> ${last.toFixed(4)} did not halve`);
    dispose();
    expert.dispose();
  }
});

test("20 training steps leave live tensors and native bytes where they were", () => {
  for (const kind of KINDS) {
    T.manualSeed(30 + kind);
    const expert = createExpert(kind, TINY);
    const { step, dispose } = trainer(expert, 1e-3);
    step(); // creates the optimiser state
    const before = T.memory();
    for (let i = 0; i < 20; i++) step();
    const after = T.memory();
    assert.equal(after.numTensors, before.numTensors, `E${kind}: live tensor handles grew`);
    assert.equal(after.numBytes, before.numBytes, `E${kind}: native bytes grew`);
    assert.equal(after.numLeaked, before.numLeaked, `E${kind}: tensors were left to the garbage collector`);
    dispose();
    expert.dispose();
  }
  // A no-grad forward (the sampler's use) also frees everything but its result.
  const expert = createExpert(2, TINY);
  const input = randomInput(TINY, 1, 8, 8);
  const before = T.memory();
  T.noGrad(() => expert.forward(input)).dispose();
  assert.equal(T.memory().numTensors, before.numTensors);
  disposeInput(input);
  expert.dispose();
});
