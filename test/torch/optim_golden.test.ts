// Optimisers, schedules, clipping and EMA against PyTorch 1.13
// (test/fixtures/make_optim_golden.py writes optim_golden.json).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as T from "../../src/torch/index.js";
import * as optim from "../../src/torch/optim/index.js";
import { assertClose } from "../helpers.js";

interface OptimiserCase {
  type: "AdamW" | "Adam" | "SGD";
  groups: Array<{ params: number[]; [k: string]: unknown }>;
  defaults: Record<string, unknown>;
  history: number[][][];
  state: Record<string, Record<string, number | number[]>>;
}
interface Golden {
  shapes: number[][];
  init: number[][];
  grads: number[][][];
  skip: { step: number; param: number };
  optimisers: Record<string, OptimiserCase>;
  schedules: Record<string, { kind: string; warmupSteps?: number; totalSteps?: number; minLr?: number; baseLrs: number[]; lrs: number[][] }>;
  clip: {
    inputGrads: number[][];
    norm: Array<{ maxNorm: number; normType: number | "inf"; noneGrad: number | null; total: number; grads: (number[] | null)[] }>;
    value: { clipValue: number; grads: number[][] };
  };
  ema: {
    deltas: number[][][];
    plain: EmaCase;
    warmup: EmaCase;
  };
}
interface EmaCase {
  decay: number;
  warmup: boolean;
  history: number[][][];
  finalParams: number[][];
}

// Compiled tests live in dist/test/torch/; the fixture stays in test/fixtures/.
const golden = JSON.parse(readFileSync(new URL("../../../test/fixtures/optim_golden.json", import.meta.url), "utf8")) as Golden;

// Same libtorch kernels on both sides: differences are float32 rounding at most.
const TOL = { rtol: 2e-6, atol: 1e-7 };

const shapeOf = (i: number): number[] => golden.shapes[i] as number[];

function makeParams(): T.Tensor[] {
  return golden.init.map((v, i) => T.keep(T.tensor(v, shapeOf(i)).requiresGrad_(true)));
}

function makeOptimiser(c: OptimiserCase, params: T.Tensor[]): optim.Optimizer<optim.AdamOptions> | optim.Optimizer<optim.SGDOptions> {
  const groups = c.groups.map(({ params: idx, ...rest }) => ({ ...rest, params: idx.map((i) => params[i] as T.Tensor) }));
  switch (c.type) {
    case "AdamW":
      return new optim.AdamW(groups, c.defaults as Partial<optim.AdamOptions>);
    case "Adam":
      return new optim.Adam(groups, c.defaults as Partial<optim.AdamOptions>);
    case "SGD":
      return new optim.SGD(groups as optim.ParamGroupInput<optim.SGDOptions>[], c.defaults as unknown as optim.SGDOptions);
  }
}

for (const [name, c] of Object.entries(golden.optimisers)) {
  test(`${name} matches torch.optim.${c.type} step by step`, () => {
    const params = makeParams();
    const opt = makeOptimiser(c, params);
    c.history.forEach((expected, k) => {
      T.tidy(() => {
        params.forEach((p, i) => {
          p.grad = k === golden.skip.step && i === golden.skip.param ? null : T.tensor(golden.grads[k]?.[i] as number[], shapeOf(i));
        });
      });
      opt.step();
      params.forEach((p, i) => assertClose(p.toArray(), expected[i] as number[], { ...TOL, message: `${name} step ${k + 1} param ${i}` }));
    });
    // Final state: step counts exact (the skipped parameter is one behind), buffers close.
    params.forEach((p, i) => {
      const want = c.state[String(i)] ?? {};
      const st = opt.getState(p);
      for (const [key, v] of Object.entries(want)) {
        if (key === "step") assert.equal(st?.step, v, `${name} param ${i} step`);
        else assertClose(st?.tensors[key]?.toArray() ?? [], v as number[], { ...TOL, message: `${name} state ${i}.${key}` });
      }
      if (c.type !== "SGD") assert.equal(st?.step, i === golden.skip.param ? c.history.length - 1 : c.history.length);
    });
    opt.dispose();
    for (const p of params) p.dispose();
  });
}

test("LambdaLR schedules match torch.optim.lr_scheduler.LambdaLR", () => {
  for (const [name, s] of Object.entries(golden.schedules)) {
    const params = [T.zeros([1]).requiresGrad_(true), T.zeros([1]).requiresGrad_(true)];
    const opt = new optim.SGD([{ params: [params[0] as T.Tensor], lr: s.baseLrs[0] }, { params: [params[1] as T.Tensor], lr: s.baseLrs[1] }], { lr: 1 });
    let sched: optim.LambdaLR;
    switch (s.kind) {
      case "constant":
        sched = optim.constantSchedule(opt);
        break;
      case "linearWarmup":
        sched = optim.linearWarmupSchedule(opt, { warmupSteps: s.warmupSteps as number, ...(s.totalSteps === undefined ? {} : { totalSteps: s.totalSteps }) });
        break;
      case "cosine":
        sched = optim.cosineSchedule(opt, { totalSteps: s.totalSteps as number, warmupSteps: s.warmupSteps ?? 0, minLr: s.minLr ?? 0 });
        break;
      default:
        throw new Error(`unknown schedule kind ${s.kind}`);
    }
    s.lrs.forEach((want, k) => {
      if (k > 0) sched.step();
      assertClose(sched.getLastLr(), want, { rtol: 1e-12, atol: 1e-15, message: `${name} step ${k}` });
      assertClose(opt.paramGroups.map((g) => g.lr), want, { rtol: 1e-12, atol: 1e-15, message: `${name} group lr, step ${k}` });
    });
    assert.equal(sched.lastEpoch, s.lrs.length - 1);
    for (const p of params) p.dispose();
  }
});

test("clipGradNorm_ matches torch.nn.utils.clip_grad_norm_", () => {
  for (const c of golden.clip.norm) {
    T.tidy(() => {
      const params = makeParams();
      params.forEach((p, i) => {
        p.grad = c.noneGrad === i ? null : T.tensor(golden.clip.inputGrads[i] as number[], shapeOf(i));
      });
      const total = optim.clipGradNorm_(params, c.maxNorm, c.normType);
      const what = `maxNorm ${c.maxNorm}, normType ${c.normType}`;
      assert.equal(typeof total, "number");
      assertClose(total, c.total, { ...TOL, message: `${what}: total` });
      params.forEach((p, i) => {
        const want = c.grads[i];
        if (want === null || want === undefined) assert.equal(p.grad, null);
        else assertClose(p.grad?.toArray() ?? [], want, { ...TOL, message: `${what}: grad ${i}` });
      });
      for (const p of params) p.dispose();
    });
  }
});

test("clipGradValue_ matches torch.nn.utils.clip_grad_value_", () => {
  T.tidy(() => {
    const params = makeParams();
    params.forEach((p, i) => (p.grad = T.tensor(golden.clip.inputGrads[i] as number[], shapeOf(i))));
    optim.clipGradValue_(params, golden.clip.value.clipValue);
    params.forEach((p, i) => assertClose(p.grad?.toArray() ?? [], golden.clip.value.grads[i] as number[], { rtol: 0, atol: 0 }));
    for (const p of params) p.dispose();
  });
});

for (const key of ["plain", "warmup"] as const) {
  test(`ExponentialMovingAverage (${key}) matches the reference update`, () => {
    const c = golden.ema[key];
    const params = golden.init.map((v, i) => T.keep(T.tensor(v, shapeOf(i))));
    const ema = new optim.ExponentialMovingAverage(params, { decay: c.decay, warmup: c.warmup });
    c.history.forEach((expected, k) => {
      T.tidy(() => params.forEach((p, i) => p.add_(T.tensor(golden.ema.deltas[k]?.[i] as number[], shapeOf(i)))));
      ema.update();
      ema.shadowParams.forEach((s, i) => assertClose(s.toArray(), expected[i] as number[], { ...TOL, message: `${key} update ${k + 1} shadow ${i}` }));
    });
    params.forEach((p, i) => assertClose(p.toArray(), c.finalParams[i] as number[], TOL));
    assert.equal(ema.numUpdates, c.history.length);
    ema.dispose();
    for (const p of params) p.dispose();
  });
}
