// Sampling the mixture of experts (paper II.C; SPEC section 5).
//
// Joint mode: one shared latent z walks down the noise levels of a reference schedule — the expert
// schedule with the most timesteps (E2's T = 2000 in the paper), the finest discretisation of the
// common noise range. At each visited timestep t every expert i is queried at the timestep t_i of
// its own schedule whose noise level matches alphaBar_ref(t) (nearest in log-SNR), predicts
// eps_hat_i, which becomes z0_hat_i by Eq. 8 — taken with the shared latent's actual alphaBar_ref(t),
// since that is the noise z really carries; t_i only tells the expert which noise level it sees.
// The estimates are clipped to +-z0Clip (the training's z0HatClip), aggregated with the gating
// weights (Eq. 9), and the shared latent takes one step of the scheduler (DDPM, DDIM: registry.ts) with
// the aggregate as its clean estimate.
//
// Asynchronous mode (Table III "asyn"): every expert runs its own chain on its own schedule from its
// own noise, with no exchange: DDPM visits all T_i timesteps, DDIM visits N_i = max(1, round(N T_i /
// max_j T_j)) of them (our reading: an expert with a coarser schedule takes proportionally fewer
// steps). The chains' final clean latents are aggregated (Eq. 9) with the gating weights,
// renormalised over the experts that ran. `skipBelow` skips expert i for a sample whose weight is
// below the threshold (spatial gating: whose largest weight in the map is); a batch runs an expert
// if any of its samples needs it, and the samples that skip it get weight 0, so a slice's result does
// not depend on which other slices share its batch.
//
// The chains run on the experts' diffusion target (z0, or the scaled residual z0 - condition latent:
// config.model.target); every estimate is mapped back to a clean latent before it is returned.
//
// Noise: every draw comes from the caller's NoiseStreams, one stream per chain (stream 0 for the
// joint chain, stream 1 + i for expert i's own chain), so results do not depend on batch size or on
// which experts another sample skipped.
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import type { MoEDiffSR } from "../models/moediff/moediff.js";
import type { NoiseSchedule } from "../diffusion/noise_schedules.js";
import { aggregateZ0 } from "../diffusion/aggregate.js";
import { timed, type Profiler } from "../util/profiler.js";
import { asyncStepCounts } from "../diffusion/async_steps.js";
import { createScheduler, schedulerClass, type SamplerName } from "../diffusion/registry.js";
import type { Scheduler } from "../diffusion/scheduler.js";
import { sampleShiftAsync, sampleShiftJoint } from "./shift_sampler.js";
import type { MoEConditioning, MoESampleOptions, MoESampleResult, NoiseSource, NoiseStreams } from "./moe_types.js";
import { runAsyncChains } from "./async_chains.js";

export type { MoEConditioning, MoESampleOptions, MoESampleResult, NoiseSource, NoiseStreams } from "./moe_types.js";

/**
 * Per-sample noise: sample b's draws come from its own generator, seeded from seeds[b] and the
 * stream, so they do not depend on the batch it is in.
 */
export function perSampleNoise(seeds: readonly number[], o: { dtype?: T.DType; device?: T.Device } = {}): NoiseStreams {
  const cache = new Map<number, T.Generator[]>();
  return (stream) => {
    let gens = cache.get(stream);
    if (gens === undefined) {
      gens = seeds.map((s) => new T.Generator({ seed: mixSeed(s, stream), device: o.device ?? T.getDefaultDevice() }));
      cache.set(stream, gens);
    }
    const g = gens;
    return {
      randn(shape) {
        if (shape[0] !== g.length) throw new RangeError(`perSampleNoise: shape [${shape.join(", ")}] for ${g.length} samples`);
        const one = [1, ...shape.slice(1)];
        return T.tidy(() => T.cat(g.map((gen) => T.randn(one, { generator: gen, dtype: o.dtype, device: o.device })), 0));
      },
    };
  };
}

/** A 31-bit seed from a seed and a stream number (splitmix-style mixing, stable across runs). */
export function mixSeed(seed: number, stream: number): number {
  let h = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(stream + 1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) & 0x7fffffff;
}

function checkConditioning(model: MoEDiffSR, c: MoEConditioning): { b: number; size: [number, number] } {
  const l = c.condLatent;
  if (l.ndim !== 4 || l.size(1) !== model.latentChannels) throw new RangeError(`sampleMoE: condLatent must be [B, ${model.latentChannels}, h, w], got [${l.shape.join(", ")}]`);
  const b = l.size(0);
  const k = model.numExperts;
  const g = c.gates;
  const okG = (g.ndim === 2 || (g.ndim === 4 && g.size(2) === l.size(2) && g.size(3) === l.size(3))) && g.size(0) === b && g.size(1) === k;
  if (!okG) throw new RangeError(`sampleMoE: gates must be [${b}, ${k}] or [${b}, ${k}, ${l.size(2)}, ${l.size(3)}], got [${g.shape.join(", ")}]`);
  if (c.zc.ndim !== 3 || c.zc.size(0) !== b) throw new RangeError(`sampleMoE: zc must be [${b}, N, d], got [${c.zc.shape.join(", ")}]`);
  return { b, size: [l.size(2), l.size(3)] };
}

/** Index of the schedule with the most timesteps (the first, on ties). */
export function referenceSchedule(schedules: readonly NoiseSchedule[]): number {
  let best = 0;
  schedules.forEach((s, i) => {
    if (s.numTimesteps > (schedules[best] as NoiseSchedule).numTimesteps) best = i;
  });
  return best;
}

function epsOf(model: MoEDiffSR, i: number, z: Tensor, t: number, c: MoEConditioning, size: [number, number], profiler?: Profiler): Tensor {
  const expert = model.experts[i] as (typeof model.experts)[number];
  const b = z.size(0);
  const eps = (): Tensor =>
    T.tidy(() => {
      const tt = T.full([b], t, { dtype: "int64", device: z.device });
      return expert.forward({ zt: z, t: tt, cond: c.condLatent, tokens: c.zc, gate: model.gateMap(c.gates, i, size) });
    });
  return timed(profiler, `expert E${model.kinds[i] as number}`, eps, b);
}

/**
 * Runs a chain over the timesteps `ts` (descending) from `start`, which it takes over: each step maps
 * (z_t, t, is-last) to the next latent inside a tidy scope; every intermediate latent is freed, also
 * when a step throws.
 */
function walkChain(ts: readonly number[], start: Tensor, step: (z: Tensor, t: number, last: boolean) => Tensor): Tensor {
  let z = start;
  try {
    ts.forEach((t, s) => {
      const next = T.tidy(() => step(z, t, s === ts.length - 1));
      z.dispose();
      z = next;
    });
  } catch (e) {
    z.dispose();
    throw e;
  }
  return z;
}

/** The chain's first latent: pure noise (start 1), or the condition's target noised to timestep t. */
function chainStart(model: MoEDiffSR, schedule: NoiseSchedule, t: number, c: MoEConditioning, noise: NoiseSource, shape: number[], start = 1): Tensor {
  if (start === 1) return noise.randn(shape);
  return T.tidy(() => schedule.addNoise(model.toTarget(c.condLatent, c.condLatent), noise.randn(shape), t)); // Eq. 5
}

function clipped(z: Tensor, clip: number): Tensor {
  return clip > 0 ? z.clamp(-clip, clip) : z;
}

/**
 * One step of `scheduler` from z_t with the clean estimate z0Hat. The Gaussian draw comes from the
 * chain's noise stream, drawn only when the step uses one, so the stream stays aligned with the steps.
 */
function schedulerStep(scheduler: Scheduler, zt: Tensor, t: number, z0Hat: Tensor, noise: NoiseSource): Tensor {
  const n = scheduler.needsNoise(t) ? noise.randn(zt.shape) : undefined;
  return scheduler.step({ modelOutput: z0Hat, timestep: t, sample: zt, ...(n === undefined ? {} : { noise: n }) }).prevSample;
}

export function sampleMoE(model: MoEDiffSR, c: MoEConditioning, o: MoESampleOptions): MoESampleResult {
  const { b, size } = checkConditioning(model, c);
  const shape = [b, model.latentChannels, size[0], size[1]];
  if (model.formulation === "resshift") {
    // The residual-shifting chain (shift_sampler.ts): the scheduler is ResShift's whatever o.sampler says.
    return T.noGrad(() => (o.mode === "joint" ? sampleShiftJoint(model, c, o, shape, size) : withAsyncMask(model, c, o, (mask, runs) => sampleShiftAsync(model, c, o, shape, size, mask, runs))));
  }
  return T.noGrad(() => (o.mode === "joint" ? sampleJoint(model, c, o, shape, size) : withAsyncMask(model, c, o, (mask, runs) => sampleAsync(model, c, o, shape, size, mask, runs))));
}

function sampleJoint(model: MoEDiffSR, c: MoEConditioning, o: MoESampleOptions, shape: number[], size: [number, number]): MoESampleResult {
  const k = model.numExperts;
  const ref = model.schedules[referenceSchedule(model.schedules)] as NoiseSchedule;
  const scheduler = createScheduler(o.sampler, ref, { eta: o.eta ?? 0 });
  scheduler.setTimesteps(o.steps, { start: o.start ?? 1 });
  const ts = scheduler.timesteps;
  const noise = o.noise(0);
  const total = ts.length * k;
  let done = 0;
  let lastExperts: Tensor[] | undefined;
  let x: Tensor;
  try {
    x = walkChain(ts, chainStart(model, ref, ts[0] as number, c, noise, shape, o.start), (zt, t, last) => {
      const z0s = model.experts.map((_, i) => {
        const ti = (model.schedules[i] as NoiseSchedule).matchTimestep(ref, t);
        const eps = epsOf(model, i, zt, ti, c, size, o.profiler);
        const z0 = clipped(ref.predictZ0(zt, t, eps), o.z0Clip); // Eq. 8 at the shared latent's noise level
        o.onEvaluation?.(++done, total);
        return z0;
      });
      const agg = aggregateZ0(z0s, c.gates); // Eq. 9
      if (last && o.keepExperts === true) lastExperts = z0s.map((x0) => T.keep(model.fromTarget(x0, c.condLatent)));
      return schedulerStep(scheduler, zt, t, agg, noise);
    });
  } catch (e) {
    lastExperts?.forEach((x) => x.dispose());
    throw e;
  }
  const z0 = T.tidy(() => model.fromTarget(x, c.condLatent));
  x.dispose();
  return { z0, ...(lastExperts === undefined ? {} : { experts: lastExperts }), weights: c.gates.clone(), evaluations: new Array<number>(k).fill(ts.length) };
}

/** Per-sample, per-expert "runs" mask [B, K] (1 = the expert's weight reaches the threshold). */
function activeMask(gates: Tensor, skipBelow: number): Tensor {
  return T.tidy(() => {
    const peak = gates.ndim === 4 ? gates.flatten(2).amax(2) : gates;
    return peak.ge(skipBelow).to(gates.dtype);
  });
}

/** The async skip mask [B, K] and which experts run for any sample; the mask is freed after `fn`. */
function withAsyncMask<R>(model: MoEDiffSR, c: MoEConditioning, o: MoESampleOptions, fn: (mask: Tensor, runs: boolean[]) => R): R {
  const k = model.numExperts;
  const skip = o.skipBelow ?? 0;
  if (!(skip >= 0 && skip <= 1 / k)) throw new RangeError(`async skip threshold must be in [0, 1/K] = [0, ${(1 / k).toFixed(4)}] (some expert always reaches 1/K), got ${skip}`);
  const mask = activeMask(c.gates, skip);
  try {
    return fn(mask, (mask.sum(0).toArray() as number[]).map((n) => n > 0));
  } finally {
    mask.dispose();
  }
}

function sampleAsync(model: MoEDiffSR, c: MoEConditioning, o: MoESampleOptions, shape: number[], size: [number, number], mask: Tensor, runs: readonly boolean[]): MoESampleResult {
  const takesSteps = schedulerClass(o.sampler).takesSteps;
  const steps = takesSteps ? asyncStepCounts(o.steps ?? 0, model.schedules.map((s) => s.numTimesteps)) : model.schedules.map((s) => s.numTimesteps);
  if (takesSteps && !(Number.isInteger(o.steps) && (o.steps as number) >= 1)) throw new RangeError(`${o.sampler.toUpperCase()} needs a positive integer number of steps, got ${String(o.steps)}`);
  // Every expert's plan first: a chain that starts part-way (start < 1) visits fewer timesteps than its schedule has.
  const schedulers = model.schedules.map((sched, i) => {
    if (!runs[i]) return null;
    const scheduler = createScheduler(o.sampler, sched, { eta: o.eta ?? 0 });
    scheduler.setTimesteps(steps[i], { start: o.start ?? 1 });
    return scheduler;
  });
  const evaluations = schedulers.map((s) => s?.timesteps.length ?? 0);
  const total = evaluations.reduce((a, n) => a + n, 0);
  let done = 0;
  return runAsyncChains(model, c, shape, mask, runs, evaluations, o.keepExperts === true, (i) => {
    const scheduler = schedulers[i] as Scheduler;
    const sched = model.schedules[i] as NoiseSchedule;
    const ts = scheduler.timesteps;
    const noise = o.noise(1 + i);
    return walkChain(ts, chainStart(model, sched, ts[0] as number, c, noise, shape, o.start), (zt, t) => {
      const eps = epsOf(model, i, zt, t, c, size, o.profiler);
      const z0 = clipped(sched.predictZ0(zt, t, eps), o.z0Clip); // Eq. 8 on the expert's own schedule
      o.onEvaluation?.(++done, total);
      return schedulerStep(scheduler, zt, t, z0, noise);
    });
  });
}
