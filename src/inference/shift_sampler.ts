// Sampling the mixture in the "resshift" formulation (config.model.formulation; the chain of
// src/diffusion/shift_schedule.ts on the residual target, where the 3T end is 0).
//
// Joint mode (keepExperts adds each expert's own chain, for explain): one shared latent walks the finest chain's levels (the expert with the longest chain,
// E2's 17 by default) from the 3T end: x = kappa sqrt(eta_top) eps; at each visited level every expert,
// shown the level's time label (round(1000 u), u the fraction of the chain: the same level for every chain
// length), predicts x0 (preconditioned: shift_schedule.ts); the estimates are clipped to +-z0Clip, aggregated with the gating
// weights (Eq. 9), and the shared latent takes one ResShift step (resshift.ts) with the aggregate.
// Asynchronous mode (Table III "asyn"): each expert runs its own chain on its own length with
// max(1, round(N T_i / max_j T_j)) steps (async_steps.ts), from its own noise stream; the final
// estimates are aggregated with the gating weights, renormalised over the experts that ran.
// `steps` counts levels on the finest chain (joint) or is split as above (async); `eta` is ResShift's
// stochasticity in [0, 1] (0: deterministic given the start noise).
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import type { MoEDiffSR } from "../models/moediff/moediff.js";
import type { ShiftSchedule } from "../diffusion/shift_schedule.js";
import { ResShiftScheduler } from "../diffusion/resshift.js";
import { aggregateZ0 } from "../diffusion/aggregate.js";
import { runAsyncChains } from "./async_chains.js";
import { asyncStepCounts } from "../diffusion/async_steps.js";
import { finestShiftSchedule, shiftTimeLabel } from "../models/moediff/shift_losses.js";
import { timed, type Profiler } from "../util/profiler.js";
import type { MoEConditioning, MoESampleOptions, MoESampleResult, NoiseSource } from "./moe_types.js";

function x0Of(model: MoEDiffSR, i: number, x: Tensor, u: number, c: MoEConditioning, size: [number, number], clip: number, profiler?: Profiler): Tensor {
  const finest = finestShiftSchedule(model.shiftSchedules);
  const expert = model.experts[i] as (typeof model.experts)[number];
  const b = x.size(0);
  const run = (): Tensor =>
    T.tidy(() => {
      const label = T.full([b], shiftTimeLabel(u), { dtype: "int64", device: x.device });
      const f = expert.forward({ zt: x, t: label, cond: c.condLatent, tokens: c.zc, gate: model.gateMap(c.gates, i, size) });
      const out = finest.precondition(x, f, u * (finest.numTimesteps - 1)); // c_skip x_t + c_out F at the shared level
      return clip > 0 ? out.clamp(-clip, clip) : out;
    });
  return timed(profiler, `expert E${model.kinds[i] as number}`, run, b);
}

/**
 * Runs `scheduler`'s plan from its initial sample (from `start`, a draw the caller keeps, else a new
 * draw); `estimate(x, t)` gives the clean estimate at level t.
 */
function walk(scheduler: ResShiftScheduler, noise: NoiseSource, shape: number[], estimate: (x: Tensor, t: number, last: boolean) => Tensor, start?: Tensor): Tensor {
  const ts = scheduler.timesteps;
  let x = T.tidy(() => scheduler.initialSample(start ?? noise.randn(shape)));
  try {
    ts.forEach((t, s) => {
      const next = T.tidy(() => {
        const x0 = estimate(x, t, s === ts.length - 1);
        const n = scheduler.needsNoise(t) ? noise.randn(shape) : undefined;
        return scheduler.step({ modelOutput: x0, timestep: t, sample: x, ...(n === undefined ? {} : { noise: n }) }).prevSample;
      });
      x.dispose();
      x = next;
    });
  } catch (e) {
    x.dispose();
    throw e;
  }
  return x;
}

export function sampleShiftJoint(model: MoEDiffSR, c: MoEConditioning, o: MoESampleOptions, shape: number[], size: [number, number]): MoESampleResult {
  const k = model.numExperts;
  const ref = finestShiftSchedule(model.shiftSchedules);
  const scheduler = new ResShiftScheduler(ref, { eta: o.eta ?? 0 });
  scheduler.setTimesteps(o.steps, { start: o.start ?? 1 });
  const total = scheduler.timesteps.length * k;
  let done = 0;
  const noise = o.noise(0);
  const startNoise = noise.randn(shape);
  let x: Tensor;
  try {
    x = walk(
      scheduler,
      noise,
      shape,
      (xt, t) => {
        const u = t / (ref.numTimesteps - 1);
        const x0s = model.experts.map((_, i) => {
          const x0 = x0Of(model, i, xt, u, c, size, o.z0Clip, o.profiler);
          o.onEvaluation?.(++done, total);
          return x0;
        });
        return aggregateZ0(x0s, c.gates); // Eq. 9
      },
      startNoise,
    );
  } catch (e) {
    startNoise.dispose();
    throw e;
  }
  // keepExperts (explain): each expert's own chain over the same plan from the same start noise, so
  // a difference between experts can show (their estimates on the shared latent at its last, nearly
  // clean level are all ~ x_t by construction). Costs one more chain per expert; stream 1 + i for the
  // steps' draws when eta > 0, as in async mode.
  let experts: Tensor[] | undefined;
  try {
    if (o.keepExperts === true) {
      experts = [];
      for (let i = 0; i < k; i++) {
        const own = new ResShiftScheduler(ref, { eta: o.eta ?? 0 });
        own.setTimesteps(o.steps, { start: o.start ?? 1 });
        const xi = walk(own, o.noise(1 + i), shape, (xt, t) => x0Of(model, i, xt, t / (ref.numTimesteps - 1), c, size, o.z0Clip, o.profiler), startNoise);
        experts.push(T.tidy(() => model.fromTarget(xi, c.condLatent)));
        xi.dispose();
      }
    }
  } catch (e) {
    experts?.forEach((t) => t.dispose());
    x.dispose();
    throw e;
  } finally {
    startNoise.dispose();
  }
  const z0 = T.tidy(() => model.fromTarget(x, c.condLatent));
  x.dispose();
  const own = experts === undefined ? 0 : scheduler.timesteps.length;
  return { z0, ...(experts === undefined ? {} : { experts }), weights: c.gates.clone(), evaluations: new Array<number>(k).fill(scheduler.timesteps.length + own) };
}

export function sampleShiftAsync(model: MoEDiffSR, c: MoEConditioning, o: MoESampleOptions, shape: number[], size: [number, number], mask: Tensor, runs: readonly boolean[]): MoESampleResult {
  if (!(Number.isInteger(o.steps) && (o.steps as number) >= 1)) throw new RangeError(`ResShift needs a positive integer number of steps, got ${String(o.steps)}`);
  const steps = asyncStepCounts(o.steps as number, model.shiftSchedules.map((s) => s.numTimesteps));
  const schedulers = model.shiftSchedules.map((sched, i) => {
    if (!runs[i]) return null;
    const s = new ResShiftScheduler(sched, { eta: o.eta ?? 0 });
    s.setTimesteps(steps[i], { start: o.start ?? 1 });
    return s;
  });
  const evaluations = schedulers.map((s) => s?.timesteps.length ?? 0);
  const total = evaluations.reduce((a, n) => a + n, 0);
  let done = 0;
  return runAsyncChains(model, c, shape, mask, runs, evaluations, o.keepExperts === true, (i) => {
    const sched = model.shiftSchedules[i] as ShiftSchedule;
    return walk(schedulers[i] as ResShiftScheduler, o.noise(1 + i), shape, (xt, t) => {
      const x0 = x0Of(model, i, xt, t / (sched.numTimesteps - 1), c, size, o.z0Clip, o.profiler);
      o.onEvaluation?.(++done, total);
      return x0;
    });
  });
}
