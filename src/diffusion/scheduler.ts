// The scheduler interface (in the shape of diffusers' schedulers) and what every scheduler shares.
//
// A scheduler walks one NoiseSchedule (noise_schedules.ts) backwards:
//   scheduler.setTimesteps(n, { start });              // the plan: which timesteps, descending
//   for (const t of scheduler.timesteps) {
//     const z0Hat = ...;                               // the model's clean-latent estimate at t
//     z = scheduler.step({ modelOutput: z0Hat, timestep: t, sample: z, noise }).prevSample;
//   }
// Unlike diffusers (where modelOutput is usually epsilon), modelOutput here is always the clean
// estimate z0_hat: the experts' eps_hat are turned into z0_hat by Eq. 8 and aggregated by Eq. 9 before
// the step, so the step never sees epsilon. predOriginalSample is then that estimate itself.
//
// Noise: a stochastic step takes its Gaussian draw from the caller (`noise`, shaped like `sample`),
// or draws it from `generator`. `needsNoise(t)` says whether the step at t uses a draw at all, so that
// a caller with its own noise stream draws exactly when a draw is used (and results do not change
// with how the noise is supplied).
//
// Conventions (those of noise_schedules.ts): timestep t in [0, T) has alphaBar_t; "before t = 0" is
// the clean latent, alphaBar = 1. The step after the last planned timestep goes to timestep -1, the
// clean latent. Coefficients are computed in float64 on the host and applied as scalars.
import * as T from "../torch/index.js";
import type { Generator, Tensor } from "../torch/index.js";
import type { NoiseSchedule, Timesteps } from "./noise_schedules.js";

export interface SetTimestepsOptions {
  /**
   * Where the chain begins, as a fraction of the schedule in (0, 1] (default 1: from pure noise, the
   * paper). The first visited timestep is round(start (T - 1)); below 1 the chain is SDEdit-style,
   * started from a noised initial estimate (addNoise at that timestep).
   */
  start?: number;
}

/** Options every scheduler's constructor accepts (and the registry passes on). */
export interface SchedulerOptions {
  /** DDIM's eta (default 0: deterministic given the start noise); DDPM ignores it (its step is DDIM's with eta = 1 at every timestep). */
  eta?: number;
}

export interface SchedulerStepInput {
  /** The model's clean-latent estimate z0_hat at `timestep` (Eq. 8, aggregated by Eq. 9) — not epsilon. */
  modelOutput: Tensor;
  /** The current timestep: one of `timesteps`. */
  timestep: number;
  /** The current latent z_t. */
  sample: Tensor;
  /** The Gaussian draw of a stochastic step, shaped like `sample`; used when needsNoise(timestep). */
  noise?: Tensor;
  /** Drawn from when the step needs noise and `noise` is not given. */
  generator?: Generator;
}

export interface SchedulerOutput {
  /** The latent at the next planned timestep (the clean latent after the last). */
  prevSample: Tensor;
  /** The clean estimate the step used: `modelOutput` itself (the same tensor, not a copy). */
  predOriginalSample: Tensor;
}

export interface Scheduler {
  readonly schedule: NoiseSchedule;
  /**
   * Plans the chain: `numInferenceSteps` timesteps (schedulers that visit every timestep, like DDPM,
   * ignore it and accept undefined) from the timestep given by `start` down to 0.
   */
  setTimesteps(numInferenceSteps: number | undefined, o?: SetTimestepsOptions): void;
  /** The planned timesteps, descending (throws before setTimesteps). */
  readonly timesteps: readonly number[];
  /** The timestep after `timestep` in the plan, or -1 after the last. */
  previousTimestep(timestep: number): number;
  /** Does the step at `timestep` use a Gaussian draw? */
  needsNoise(timestep: number): boolean;
  /** One reverse step from `timestep` to previousTimestep(timestep). */
  step(input: SchedulerStepInput): SchedulerOutput;
  /** Forward diffusion: sqrt(alphaBar_t) original + sqrt(1 - alphaBar_t) noise (Eq. 5). */
  addNoise(original: Tensor, noise: Tensor, timestep: Timesteps): Tensor;
}

/** alphaBar_t, with alphaBar_{-1} = 1 (the clean latent). */
export function alphaBarAt(schedule: NoiseSchedule, t: number): number {
  return t < 0 ? 1 : schedule.alphaBar(t);
}

/** The first visited timestep of a chain started at `start`: round(start (T - 1)). */
export function firstTimestep(schedule: NoiseSchedule, start = 1): number {
  if (!(start > 0 && start <= 1)) throw new RangeError(`the chain's start must be a fraction of the schedule in (0, 1], got ${String(start)}`);
  return Math.round(start * (schedule.numTimesteps - 1));
}

/** The plan, its lookups and the checks every scheduler shares; subclasses make the plan and the step. */
export abstract class BaseScheduler implements Scheduler {
  readonly schedule: NoiseSchedule;
  #timesteps: readonly number[] | undefined;
  #next = new Map<number, number>();

  constructor(schedule: NoiseSchedule) {
    this.schedule = schedule;
  }

  abstract setTimesteps(numInferenceSteps: number | undefined, o?: SetTimestepsOptions): void;
  abstract needsNoise(timestep: number): boolean;
  abstract step(input: SchedulerStepInput): SchedulerOutput;

  get timesteps(): readonly number[] {
    return this.requireTimesteps("timesteps");
  }

  previousTimestep(timestep: number): number {
    this.requireTimesteps("previousTimestep");
    const next = this.#next.get(timestep);
    if (next === undefined) throw new RangeError(`${this.constructor.name}: timestep ${timestep} is not among the planned timesteps [${this.#describePlan()}]`);
    return next;
  }

  addNoise(original: Tensor, noise: Tensor, timestep: Timesteps): Tensor {
    return this.schedule.addNoise(original, noise, timestep); // Eq. 5
  }

  /** Sets the plan (descending, distinct) that timesteps and previousTimestep read. */
  protected setPlan(ts: readonly number[]): void {
    this.#timesteps = Object.freeze([...ts]);
    this.#next = new Map(ts.map((t, i) => [t, ts[i + 1] ?? -1]));
  }

  protected requireTimesteps(what: string): readonly number[] {
    if (this.#timesteps === undefined) throw new Error(`${this.constructor.name}.${what}: call setTimesteps first (no timesteps are planned yet)`);
    return this.#timesteps;
  }

  /** The step's Gaussian draw: the caller's `noise`, else one drawn from `generator`; throws when neither is given. */
  protected drawNoise(input: SchedulerStepInput, why: string): Tensor {
    if (input.noise !== undefined) return input.noise;
    if (input.generator !== undefined) return T.randn(input.sample.shape, { generator: input.generator, dtype: input.sample.dtype, device: input.sample.device });
    throw new RangeError(`${this.constructor.name}.step: ${why} needs noise (pass noise or a generator)`);
  }

  #describePlan(): string {
    const ts = this.#timesteps ?? [];
    return ts.length <= 8 ? ts.join(", ") : `${ts.slice(0, 4).join(", ")}, ..., ${ts.slice(-2).join(", ")}`;
  }
}
