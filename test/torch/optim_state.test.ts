// Optimiser state dicts, parameter groups, validation and memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import * as optim from "../../src/torch/optim/index.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

const INIT: Array<{ data: number[]; shape: number[] }> = [
  { data: [0.5, -1.25, 2, 0.75, -0.3, 1.1], shape: [2, 3] },
  { data: [1.5, -0.5, 0.25, 3], shape: [4] },
  { data: [-2], shape: [1] },
];
const TARGET = [0.2, -0.7, 1.3, 0.1];

const freshParams = (values: number[][] = INIT.map((x) => x.data)): T.Tensor[] =>
  values.map((v, i) => T.keep(T.tensor(v, INIT[i]?.shape).requiresGrad_(true)));

/** A small loss whose gradient depends on the parameters: sum((p - c)^2 * w) + cubic coupling. */
function backwardLoss(params: readonly T.Tensor[], k: number): void {
  T.tidy(() => {
    let loss = T.zeros([]);
    params.forEach((p, i) => {
      const d = p.sub(TARGET[i] ?? 0).sub(0.1 * k);
      loss = loss.add(d.square().mul(1 + i).sum()).add(p.pow(3).sum().mul(0.05));
    });
    loss.backward();
  });
}

type AnyOptimiser = optim.Optimizer<optim.AdamOptions> | optim.Optimizer<optim.SGDOptions>;

const MAKERS: Record<string, (ps: T.Tensor[]) => AnyOptimiser> = {
  AdamW: (ps) => new optim.AdamW([{ params: ps.slice(0, 2) }, { params: ps.slice(2), lr: 0.05, weightDecay: 0 }], { lr: 0.02, amsgrad: true }),
  Adam: (ps) => new optim.Adam(ps, { lr: 0.03, weightDecay: 0.1 }),
  SGD: (ps) => new optim.SGD([{ params: ps.slice(0, 1), lr: 0.01 }, { params: ps.slice(1) }], { lr: 0.02, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }),
};

/** Simulates a checkpoint: tensors through raw bytes (as safetensors would), metadata through JSON. */
function roundTrip(sd: optim.OptimizerStateDict): optim.OptimizerStateDict {
  const tensors: Record<string, T.Tensor> = {};
  for (const [k, t] of Object.entries(sd.tensors)) {
    tensors[k] = T.fromBytes(t.bytes(), t.shape, t.dtype);
    t.dispose();
  }
  return { tensors, meta: JSON.parse(JSON.stringify(sd.meta)) as optim.OptimizerStateMeta };
}

for (const [name, make] of Object.entries(MAKERS)) {
  test(`${name}: 3 steps + save + load into a fresh optimiser + 3 steps equals 6 steps exactly`, () => {
    const run = (ps: T.Tensor[], opt: AnyOptimiser, sched: optim.LambdaLR, from: number, to: number): void => {
      for (let k = from; k < to; k++) {
        opt.zeroGrad();
        backwardLoss(ps, k);
        opt.step();
        sched.step();
      }
    };
    const a = freshParams();
    const optA = make(a);
    const schedA = optim.cosineSchedule(optA, { totalSteps: 6, warmupSteps: 1, minLr: 1e-3 });
    run(a, optA, schedA, 0, 6);

    const b = freshParams();
    const optB = make(b);
    const schedB = optim.cosineSchedule(optB, { totalSteps: 6, warmupSteps: 1, minLr: 1e-3 });
    run(b, optB, schedB, 0, 3);
    const saved = T.tidy(() => roundTrip(optB.stateDict()));
    const savedSched = JSON.parse(JSON.stringify(schedB.stateDict())) as optim.LRSchedulerState;
    const values = b.map((p) => p.toArray());

    const c = freshParams(values);
    const optC = make(c);
    const schedC = optim.cosineSchedule(optC, { totalSteps: 6, warmupSteps: 1, minLr: 1e-3 });
    optC.loadStateDict(saved);
    schedC.loadStateDict(savedSched);
    for (const t of Object.values(saved.tensors)) t.dispose(); // the optimiser copied them
    run(c, optC, schedC, 3, 6);

    a.forEach((p, i) => assert.deepEqual(c[i]?.toArray(), p.toArray(), `${name} param ${i}`));
    assert.deepEqual(schedC.getLastLr(), schedA.getLastLr());
    for (const p of a) {
      const sa = optA.getState(p);
      const sc = optC.getState(c[a.indexOf(p)] as T.Tensor);
      assert.equal(sc?.step, sa?.step);
      for (const [k, t] of Object.entries(sa?.tensors ?? {})) assert.deepEqual(sc?.tensors[k]?.toArray(), t.toArray(), `${name} state ${k}`);
    }
    for (const o of [optA, optB, optC]) o.dispose();
    for (const p of [...a, ...b, ...c]) p.dispose();
  });
}

test("stateDict has PyTorch's layout: tensors state.<i>.<name>, JSON meta with param_groups and steps", () => {
  const ps = freshParams();
  const opt = MAKERS.AdamW?.(ps) as optim.AdamW;
  backwardLoss(ps, 0);
  ps[1]?.zeroGrad(); // param 1 gets no state
  opt.step();
  T.tidy(() => {
    const sd = opt.stateDict();
    assert.deepEqual(Object.keys(sd.tensors).sort(), [
      "state.0.exp_avg",
      "state.0.exp_avg_sq",
      "state.0.max_exp_avg_sq",
      "state.2.exp_avg",
      "state.2.exp_avg_sq",
      "state.2.max_exp_avg_sq",
    ]);
    assert.deepEqual(sd.meta, {
      type: "AdamW",
      state: { "0": { step: 1 }, "2": { step: 1 } },
      param_groups: [
        { params: [0, 1], lr: 0.02, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 1e-2, amsgrad: true },
        { params: [2], lr: 0.05, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: true },
      ],
    });
    // Copies: disposing them leaves the optimiser's state intact.
    for (const t of Object.values(sd.tensors)) t.dispose();
  });
  assert.equal(opt.getState(ps[0] as T.Tensor)?.tensors.exp_avg?.isDisposed, false);
  opt.dispose();
  for (const p of ps) p.dispose();
});

test("loadStateDict says exactly what does not match", () => {
  const ps = freshParams();
  const opt = new optim.AdamW(ps, { lr: 0.01 });
  backwardLoss(ps, 0);
  opt.step();
  T.tidy(() => {
    const sd = opt.stateDict();
    // Different parameter layout: two parameters instead of three.
    const other = new optim.AdamW(freshParams().slice(0, 2));
    assertThrowsMatching(() => other.loadStateDict(sd), /AdamW\.loadStateDict/, /param group 0 has 3 params in the checkpoint, 2 in the optimiser/);
    // Different group structure.
    const ps2 = freshParams();
    const twoGroups = new optim.AdamW([{ params: ps2.slice(0, 1) }, { params: ps2.slice(1) }]);
    assertThrowsMatching(() => twoGroups.loadStateDict(sd), /checkpoint has 1 param groups, optimiser has 2/);
    // Same count, different shapes: every mismatch is listed.
    const swapped = new optim.AdamW([T.zeros([3, 2]).requiresGrad_(true), T.zeros([4]).requiresGrad_(true), T.zeros([2]).requiresGrad_(true)]);
    assertThrowsMatching(
      () => swapped.loadStateDict(sd),
      /4 problems/,
      /size mismatch for state\.0\.exp_avg: checkpoint \[2, 3\], param \[3, 2\]/,
      /size mismatch for state\.0\.exp_avg_sq/,
      /size mismatch for state\.2\.exp_avg: checkpoint \[1\], param \[2\]/,
    );
    // Another optimiser's checkpoint.
    const sgd = new optim.SGD(freshParams(), { lr: 0.1 });
    assertThrowsMatching(() => sgd.loadStateDict(sd), /SGD\.loadStateDict: checkpoint is for AdamW, this optimiser is SGD/);
    // Missing and unexpected tensors, bad hyperparameters, bad steps.
    const fresh = new optim.AdamW(freshParams());
    const { "state.1.exp_avg_sq": _dropped, ...fewer } = sd.tensors;
    assertThrowsMatching(
      () => fresh.loadStateDict({ tensors: { ...fewer, "state.9.exp_avg": T.zeros([1]) }, meta: sd.meta }),
      /missing tensor state\.1\.exp_avg_sq/,
      /unexpected tensor state\.9\.exp_avg/,
    );
    const g0 = sd.meta.param_groups[0] as optim.OptimizerStateMeta["param_groups"][number];
    const badMeta: optim.OptimizerStateMeta = {
      ...sd.meta,
      param_groups: [{ ...g0, weightDecay: 0.1, lr: "fast" } as unknown as typeof g0],
    };
    assertThrowsMatching(
      () => fresh.loadStateDict({ tensors: sd.tensors, meta: badMeta }),
      /unexpected hyperparameter 'weightDecay' in param group 0/,
      /hyperparameter 'lr' in param group 0 is "fast"/,
    );
    assertThrowsMatching(
      () => fresh.loadStateDict({ tensors: sd.tensors, meta: { ...sd.meta, param_groups: [{ ...g0, lr: -1 }] } }),
      /AdamW: lr \(param group 0\) must be >= 0, got -1/,
    );
    assertThrowsMatching(
      () => fresh.loadStateDict({ tensors: sd.tensors, meta: { ...sd.meta, state: { ...sd.meta.state, "1": { step: 1.5 } } } }),
      /state\.1\.step must be an integer >= 0, got 1\.5/,
    );
    // A failed load changes nothing: the fresh optimiser still has no state.
    assert.equal(fresh.getState(fresh.paramGroups[0]?.params[0] as T.Tensor), undefined);
  });
  opt.dispose();
  for (const p of ps) p.dispose();
});

test("param groups with different lr and weightDecay update differently", () => {
  T.tidy(() => {
    // Four identical parameters with identical gradients, in four groups.
    const ps = [0, 1, 2, 3].map(() => T.tensor([1, -2, 3]).requiresGrad_(true));
    const g = [0.5, -0.25, 2];
    const opt = new optim.AdamW(
      [
        { params: [ps[0] as T.Tensor] },
        { params: [ps[1] as T.Tensor], lr: 0.01 },
        { params: [ps[2] as T.Tensor], weightDecay: 0 },
        { params: [ps[3] as T.Tensor], lr: 0.01, weightDecay: 0.5 },
      ],
      { lr: 0.1, weightDecay: 0.1 },
    );
    for (const p of ps) p.grad = T.tensor(g);
    opt.step();
    // First AdamW step: p * (1 - lr*wd) - lr * g / (|g| + eps).
    const expected = (lr: number, wd: number): number[] => [1, -2, 3].map((p, i) => p * (1 - lr * wd) - (lr * (g[i] as number)) / (Math.abs(g[i] as number) + 1e-8));
    const cases: Array<[number, number]> = [[0.1, 0.1], [0.01, 0.1], [0.1, 0], [0.01, 0.5]];
    cases.forEach(([lr, wd], i) => assertClose(ps[i]?.toArray() ?? [], expected(lr, wd), { rtol: 1e-6, atol: 1e-7, message: `group ${i}` }));
    const distinct = new Set(ps.map((p) => p.toArray().join(",")));
    assert.equal(distinct.size, 4);
    opt.dispose();
  });
});

test("parameters without a gradient are skipped; zeroGrad sets grads to None", () => {
  T.tidy(() => {
    const [a, b] = [T.tensor([1, 2]).requiresGrad_(true), T.tensor([3]).requiresGrad_(true)];
    const opt = new optim.Adam([a, b], { lr: 0.1 });
    a.grad = T.tensor([1, 1]);
    opt.step();
    assert.deepEqual(b.toArray(), [3]);
    assert.equal(opt.getState(b), undefined);
    assert.equal(opt.getState(a)?.step, 1);
    opt.zeroGrad();
    assert.equal(a.grad, null);
    assert.equal(b.grad, null);
    opt.step(); // nothing has a gradient: a no-op
    assert.equal(opt.getState(a)?.step, 1);
    opt.dispose();
  });
});

test("hyperparameters are validated with clear errors", () => {
  T.tidy(() => {
    const p = (): T.Tensor => T.zeros([2]).requiresGrad_(true);
    assertThrowsMatching(() => new optim.AdamW([p()], { lr: -1 }), /^AdamW: lr must be >= 0, got -1$/);
    assertThrowsMatching(() => new optim.AdamW([p()], { betas: [0.9, 1] }), /AdamW: betas\[1\] must be in \[0, 1\), got 1/);
    assertThrowsMatching(() => new optim.Adam([p()], { eps: -1e-8 }), /Adam: eps must be >= 0, got -1e-8/);
    assertThrowsMatching(() => new optim.AdamW([{ params: [p()], weightDecay: -0.1 }]), /AdamW: weightDecay \(param group 0\) must be >= 0, got -0.1/);
    assertThrowsMatching(() => new optim.AdamW([p()], { weight_decay: 0.1 } as unknown as optim.AdamOptions), /AdamW: unknown option 'weight_decay' \(known: lr, betas, eps, weightDecay, amsgrad\)/);
    assertThrowsMatching(() => new optim.SGD([p()], { lr: 0.1, nesterov: true }), /SGD: nesterov requires momentum > 0 and dampening = 0, got momentum 0, dampening 0/);
    assertThrowsMatching(() => new optim.SGD([p()], {} as optim.SGDOptions), /SGD: options.lr is required/);
    assertThrowsMatching(() => new optim.SGD([p()], { lr: 0.1, momentum: -0.9 }), /SGD: momentum must be >= 0, got -0.9/);
    assertThrowsMatching(() => new optim.AdamW([]), /AdamW: got an empty parameter list/);
    const x = p();
    assertThrowsMatching(() => new optim.AdamW([x, x]), /AdamW: param 1 \(param group 0\) appears more than once/);
    assertThrowsMatching(() => new optim.AdamW([{ params: [x] }, { params: [x] }]), /param 0 \(param group 1\) appears more than once/);
    assertThrowsMatching(() => new optim.AdamW([x.mul(2)]), /AdamW: param 0 \(param group 0\) is not a leaf tensor/);
    // A bad value set later (e.g. by a scheduler) is caught at step().
    const opt = new optim.SGD([x], { lr: 0.1 });
    (opt.paramGroups[0] as optim.ParamGroup<optim.SGDOptions>).lr = Number.NaN;
    assertThrowsMatching(() => opt.step(), /SGD: lr \(param group 0\) must be >= 0, got NaN/);
  });
});

test("500 optimiser steps (with clipping, a schedule and an EMA) do not grow memory().numTensors", () => {
  const ps = freshParams();
  const opt = new optim.AdamW([{ params: ps.slice(0, 2) }, { params: ps.slice(2), weightDecay: 0 }], { lr: 1e-2, amsgrad: true });
  const sched = optim.cosineSchedule(opt, { totalSteps: 500, warmupSteps: 20, minLr: 1e-4 });
  const ema = new optim.ExponentialMovingAverage(ps, { decay: 0.99, warmup: true });
  const oneStep = (k: number): void => {
    opt.zeroGrad();
    backwardLoss(ps, k % 7);
    optim.clipGradNorm_(ps, 5);
    opt.step();
    sched.step();
    ema.update();
  };
  oneStep(0);
  opt.zeroGrad(); // grads are tensors too: compare without them
  const before = T.memory();
  for (let k = 1; k < 500; k++) oneStep(k);
  opt.zeroGrad();
  const after = T.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  assert.equal(after.numLeaked, before.numLeaked);
  assert.equal(opt.getState(ps[0] as T.Tensor)?.step, 500);
  ema.dispose();
  opt.dispose();
  for (const p of ps) p.dispose();
});

test("dispose frees the optimiser state", () => {
  const ps = freshParams();
  const before = T.memory().numTensors;
  const opt = new optim.Adam(ps, { amsgrad: true });
  backwardLoss(ps, 0);
  opt.step();
  opt.zeroGrad();
  assert.equal(T.memory().numTensors, before + 9);
  opt.dispose();
  assert.equal(T.memory().numTensors, before);
  for (const p of ps) p.dispose();
});
