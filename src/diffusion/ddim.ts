// DDIM (Song et al. 2021), written in terms of the clean-latent estimate z0_hat that the mixture of
// experts produces (Eq. 8, aggregated by Eq. 9).
//
// A step from t to the next planned timestep s < t (s = -1: the end, the clean latent):
//   eps = (z_t - sqrt(alphaBar_t) z0_hat) / sqrt(1 - alphaBar_t)
//   sigma = eta sqrt((1 - alphaBar_s) / (1 - alphaBar_t)) sqrt(1 - alphaBar_t / alphaBar_s)
//   z_s = sqrt(alphaBar_s) z0_hat + sqrt(1 - alphaBar_s - sigma^2) eps + sigma noise
// With eta = 1 and every timestep (s = t - 1), sigma^2 = betaTilde_t and the mean equals DDPM's mu_t:
// DDIM is then DDPM (a test checks it).
//
// Timesteps: N values spread evenly over [0, top] (rounded, distinct), from top = round(start (T - 1))
// down to 0, so a chain from pure noise starts at the schedule's noisiest level and every chain ends
// at its cleanest, whatever N.
import * as T from "../torch/index.js";
import type { NoiseSchedule } from "./noise_schedules.js";
import { alphaBarAt, BaseScheduler, firstTimestep, type SchedulerOptions, type SchedulerOutput, type SchedulerStepInput, type SetTimestepsOptions } from "./scheduler.js";

export class DDIMScheduler extends BaseScheduler {
  static readonly description = "DDIM: N steps (--steps), eta (--eta) from 0 (deterministic) to 1";
  /** DDIM takes a number of steps N. */
  static readonly takesSteps = true;
  /** eta in [0, inf): 0 deterministic given the start noise, 1 DDPM-like. */
  readonly eta: number;

  constructor(schedule: NoiseSchedule, options: SchedulerOptions = {}) {
    super(schedule);
    const eta = options.eta ?? 0;
    if (!(eta >= 0)) throw new RangeError(`DDIMScheduler: eta must be >= 0, got ${eta}`);
    this.eta = eta;
  }

  /** `numInferenceSteps` timesteps spread evenly from round(start (T - 1)) down to 0. */
  setTimesteps(numInferenceSteps: number | undefined, o: SetTimestepsOptions = {}): void {
    const steps = numInferenceSteps;
    const n = this.schedule.numTimesteps;
    const start = o.start ?? 1;
    const top = firstTimestep(this.schedule, start);
    if (steps === undefined || !Number.isInteger(steps) || steps < 1) throw new RangeError(`DDIM needs a positive integer number of steps, got ${String(steps)}`);
    if (steps > top + 1) throw new RangeError(`DDIM: ${steps} steps asked of a schedule of ${n} timesteps${start < 1 ? ` started at timestep ${top}` : ""}; use at most ${top + 1}`);
    if (steps === 1) {
      this.setPlan([top]);
      return;
    }
    const ts: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t = Math.round((top * (steps - 1 - i)) / (steps - 1));
      if (ts.length === 0 || ts[ts.length - 1] !== t) ts.push(t);
    }
    this.setPlan(ts);
  }

  /** sigma of the step from `timestep` to the next planned one. */
  sigma(timestep: number): number {
    return this.#sigma(timestep, this.previousTimestep(timestep));
  }

  /** A draw is used when sigma > 0: eta > 0 and not the last step (to the clean latent, where sigma = 0). */
  needsNoise(timestep: number): boolean {
    return this.sigma(timestep) > 0;
  }

  step(input: SchedulerStepInput): SchedulerOutput {
    const { modelOutput: z0Hat, timestep: t, sample: zt } = input;
    this.requireTimesteps("step");
    const tPrev = this.previousTimestep(t);
    // 1. alphaBar_t and alphaBar_s of the next planned timestep s (s = -1: alphaBar = 1)
    const ab = this.schedule.alphaBar(t);
    const abPrev = alphaBarAt(this.schedule, tPrev);
    // 2. sigma and the coefficient of the direction pointing to z_t
    const sigma = this.#sigma(t, tPrev);
    const dirCoef = Math.sqrt(Math.max(0, 1 - abPrev - sigma * sigma));
    const prevSample = T.tidy(() => {
      // 3. the noise implied by z_t and z0_hat (Eq. 5 solved for eps; z0_hat = modelOutput, Eq. 8 and Eq. 9 are the caller's)
      const eps = zt.sub(z0Hat.mul(Math.sqrt(ab))).div(Math.sqrt(1 - ab));
      // 4. z_s's mean
      const mean = z0Hat.mul(Math.sqrt(abPrev)).add(eps.mul(dirCoef));
      if (sigma === 0) return mean;
      // 5. plus sigma noise
      return mean.add(this.drawNoise(input, `eta = ${this.eta} > 0`).mul(sigma));
    });
    return { prevSample, predOriginalSample: z0Hat };
  }

  #sigma(t: number, tPrev: number): number {
    const ab = alphaBarAt(this.schedule, t);
    const abPrev = alphaBarAt(this.schedule, tPrev);
    return this.eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(Math.max(0, 1 - ab / abPrev));
  }
}
