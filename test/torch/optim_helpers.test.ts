// LR schedulers, gradient clipping and EMA: behaviour beyond the golden values.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import * as optim from "../../src/torch/optim/index.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

const sgdWithGroups = (lrs: number[]): optim.SGD =>
  new optim.SGD(
    lrs.map((lr) => ({ params: [T.zeros([1]).requiresGrad_(true)], lr })),
    { lr: 1 },
  );

test("LambdaLR: step 0 applies at construction; per-group lambdas; stateDict round trip", () => {
  T.tidy(() => {
    const opt = sgdWithGroups([0.1, 1]);
    const sched = new optim.LambdaLR(opt, [(s) => 0.5 ** s, (s) => 1 + s]);
    assert.deepEqual(sched.getLastLr(), [0.1, 1]);
    sched.step();
    sched.step();
    assert.deepEqual(sched.getLastLr(), [0.025, 3]);
    assert.deepEqual(opt.paramGroups.map((g) => g.lr), [0.025, 3]);
    const state = JSON.parse(JSON.stringify(sched.stateDict())) as optim.LRSchedulerState;
    assert.deepEqual(state, { last_epoch: 2, base_lrs: [0.1, 1], _last_lr: [0.025, 3], _step_count: 3 });

    // Resume: a new optimiser and scheduler continue where the first left off.
    const opt2 = sgdWithGroups([0.1, 1]);
    const sched2 = new optim.LambdaLR(opt2, [(s) => 0.5 ** s, (s) => 1 + s]);
    sched2.loadStateDict(state);
    assert.deepEqual(opt2.paramGroups.map((g) => g.lr), [0.025, 3]);
    sched.step();
    sched2.step();
    assert.deepEqual(sched2.getLastLr(), sched.getLastLr());
    assert.equal(sched2.lastEpoch, 3);
  });
});

test("LambdaLR and the schedule factories reject bad input", () => {
  T.tidy(() => {
    const opt = sgdWithGroups([0.1, 0.01]);
    assertThrowsMatching(() => new optim.LambdaLR(opt, [() => 1]), /LambdaLR: got 1 lr lambdas for 2 param groups/);
    assertThrowsMatching(() => new optim.LambdaLR(opt, (s) => (s === 0 ? 1 : Number.NaN)).step(), /the lr lambda of param group 0 returned NaN at step 1/);
    assertThrowsMatching(() => optim.linearWarmupSchedule(opt, { warmupSteps: -1 }), /linearWarmup: warmupSteps must be an integer >= 0, got -1/);
    assertThrowsMatching(() => optim.linearWarmupSchedule(opt, { warmupSteps: 10, totalSteps: 5 }), /totalSteps must be an integer >= 10, got 5/);
    assertThrowsMatching(() => optim.cosineSchedule(opt, { totalSteps: 0 }), /cosine: totalSteps must be an integer >= 1, got 0/);
    assertThrowsMatching(() => optim.cosineSchedule(opt, { totalSteps: 10, minLr: 0.05 }), /cosine: minLr \(0.05\) must be <= the base lr \(0.01\)/);
    const sched = optim.constantSchedule(opt);
    assertThrowsMatching(
      () => sched.loadStateDict({ last_epoch: 1.5, base_lrs: [0.1], _last_lr: [0.1, 0.2], _step_count: 2 }),
      /last_epoch must be an integer >= 0, got 1.5/,
      /base_lrs has 1 entries, the optimiser has 2 param groups/,
    );
  });
});

test("linear warm-up then decay, and cosine, reach their end points", () => {
  T.tidy(() => {
    const opt = sgdWithGroups([0.2]);
    const lin = optim.linearWarmupSchedule(opt, { warmupSteps: 2, totalSteps: 4 });
    const lrs = [lin.getLastLr()[0]];
    for (let i = 0; i < 5; i++) {
      lin.step();
      lrs.push(lin.getLastLr()[0]);
    }
    assertClose(lrs as number[], [0, 0.1, 0.2, 0.1, 0, 0], { atol: 1e-15 });
    const opt2 = sgdWithGroups([0.2]);
    const cos = optim.cosineSchedule(opt2, { totalSteps: 4, minLr: 0.02 });
    for (let i = 0; i < 2; i++) cos.step();
    assertClose(cos.getLastLr(), [0.11], { atol: 1e-15 }); // halfway: the mean of 0.2 and 0.02
    for (let i = 0; i < 4; i++) cos.step();
    assertClose(cos.getLastLr(), [0.02], { atol: 1e-15 }); // stays at minLr after totalSteps
  });
});

test("clipGradNorm_: no gradients, a single tensor, non-finite norms, bad arguments", () => {
  T.tidy(() => {
    const p = T.tensor([3, 4]).requiresGrad_(true);
    assert.equal(optim.clipGradNorm_([p], 1), 0);
    p.grad = T.tensor([3, 4]);
    assertClose(optim.clipGradNorm_(p, 1), 5);
    assertClose(p.grad?.toArray() ?? [], [0.6, 0.8], { rtol: 1e-6 });
    p.grad = T.tensor([Number.POSITIVE_INFINITY, 1]);
    assertThrowsMatching(() => optim.clipGradNorm_(p, 1, 2, { errorIfNonfinite: true }), /clipGradNorm_: the total norm of order 2 of the gradients is Infinity/);
    assertThrowsMatching(() => optim.clipGradNorm_(p, -1), /clipGradNorm_: maxNorm must be >= 0, got -1/);
    assertThrowsMatching(() => optim.clipGradNorm_(p, 1, 0), /clipGradNorm_: normType must be > 0 or "inf", got 0/);
    assertThrowsMatching(() => optim.clipGradValue_(p, -0.5), /clipGradValue_: clipValue must be >= 0, got -0.5/);
  });
});

test("EMA: store, copyTo and restore swap weights in place for evaluation", () => {
  T.tidy(() => {
    const w = T.tensor([1, 2]).requiresGrad_(true);
    const ema = new optim.ExponentialMovingAverage([w], { decay: 0.5 });
    T.noGrad(() => w.copy_(T.tensor([3, 6])));
    ema.update();
    assert.deepEqual(ema.shadowParams[0]?.toArray(), [2, 4]);
    ema.store();
    ema.copyTo();
    assert.deepEqual(w.toArray(), [2, 4]);
    assert.equal(w.requiresGrad, true);
    ema.restore();
    assert.deepEqual(w.toArray(), [3, 6]);
    assertThrowsMatching(() => ema.restore(), /ExponentialMovingAverage.restore: nothing stored; call store\(\) first/);
    assertThrowsMatching(() => ema.update([w, w]), /ExponentialMovingAverage.update: got 2 params, the average has 1/);
    assertThrowsMatching(() => ema.copyTo([T.zeros([3])]), /copyTo: param 0 has shape \[3\], the average \[2\]/);
    assertThrowsMatching(() => new optim.ExponentialMovingAverage([w], { decay: 1.5 }), /decay must be in \[0, 1\], got 1.5/);
    ema.dispose();
  });
});

test("EMA: stateDict round trip and load validation", () => {
  T.tidy(() => {
    const ws = [T.tensor([1, 2, 3]), T.tensor([[1], [2]])];
    const ema = new optim.ExponentialMovingAverage(ws, { decay: 0.9, warmup: true });
    ws[0]?.add_(1);
    ema.update();
    ema.update();
    const sd = ema.stateDict();
    assert.deepEqual(Object.keys(sd.tensors), ["shadow.0", "shadow.1"]);
    assert.deepEqual(sd.meta, { type: "ExponentialMovingAverage", decay: 0.9, warmup: true, num_updates: 2, num_params: 2 });

    const other = new optim.ExponentialMovingAverage([T.zeros([3]), T.zeros([2, 1])], { decay: 0.9, warmup: true });
    other.loadStateDict({ tensors: sd.tensors, meta: JSON.parse(JSON.stringify(sd.meta)) as optim.EMAStateMeta });
    assert.equal(other.numUpdates, 2);
    other.shadowParams.forEach((s, i) => assert.deepEqual(s.toArray(), ema.shadowParams[i]?.toArray()));
    ema.update();
    other.update(ws);
    other.shadowParams.forEach((s, i) => assert.deepEqual(s.toArray(), ema.shadowParams[i]?.toArray()));

    const wrong = new optim.ExponentialMovingAverage([T.zeros([3]), T.zeros([2])], { decay: 0.99 });
    assertThrowsMatching(
      () => wrong.loadStateDict(sd),
      /decay is 0.9 in the checkpoint, 0.99 here/,
      /warmup is true in the checkpoint, false here/,
      /size mismatch for shadow\.1: checkpoint \[2, 1\], average \[2\]/,
    );
    for (const e of [ema, other, wrong]) e.dispose();
  });
});
