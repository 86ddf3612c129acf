// DDPM ancestral sampling (Ho et al. 2020), written in terms of the clean-latent estimate z0_hat
// that the mixture of experts produces (Eq. 8, aggregated by Eq. 9).
//
// z_{t-1} ~ N(mu_t, betaTilde_t), the posterior q(z_{t-1} | z_t, z0 = z0_hat):
//   mu_t = sqrt(alphaBar_{t-1}) beta_t / (1 - alphaBar_t) z0_hat + sqrt(alpha_t) (1 - alphaBar_{t-1}) / (1 - alphaBar_t) z_t
//   betaTilde_t = beta_t (1 - alphaBar_{t-1}) / (1 - alphaBar_t); at t = 0 the step returns mu_0 = z0_hat.
// The chain visits every timestep from its first, round(start (T - 1)), down to 0; the number of
// inference steps is not a choice (setTimesteps ignores it).
import * as T from "../torch/index.js";
import type { NoiseSchedule } from "./noise_schedules.js";
import { alphaBarAt, BaseScheduler, firstTimestep, type SchedulerOptions, type SchedulerOutput, type SchedulerStepInput, type SetTimestepsOptions } from "./scheduler.js";

export class DDPMScheduler extends BaseScheduler {
  static readonly description = "DDPM: every timestep of the schedule (slow)";
  /** DDPM visits every timestep: it takes no number of steps. */
  static readonly takesSteps = false;

  /** `options.eta` is ignored: DDPM's step is DDIM's with eta = 1 at every timestep. */
  constructor(schedule: NoiseSchedule, _options: SchedulerOptions = {}) {
    super(schedule);
  }

  /** Every timestep from round(start (T - 1)) down to 0; `numInferenceSteps` is ignored. */
  setTimesteps(_numInferenceSteps?: number, o: SetTimestepsOptions = {}): void {
    const top = firstTimestep(this.schedule, o.start);
    this.setPlan(Array.from({ length: top + 1 }, (_, i) => top - i));
  }

  /** Every step but the last (t = 0, which returns the mean) adds noise. */
  needsNoise(timestep: number): boolean {
    return timestep > 0;
  }

  step(input: SchedulerStepInput): SchedulerOutput {
    const { modelOutput: z0Hat, timestep: t, sample: zt } = input;
    this.requireTimesteps("step");
    this.previousTimestep(t); // t must be planned; the next one is t - 1
    const s = this.schedule;
    // 1. alphaBar_t, alphaBar_{t-1} and beta_t
    const beta = s.betas[t] as number;
    const ab = s.alphaBar(t);
    const abPrev = alphaBarAt(s, t - 1);
    // 2. the posterior mean's coefficients of z0_hat and z_t (z0_hat = modelOutput: Eq. 8 and Eq. 9 are the caller's)
    const c0 = (Math.sqrt(abPrev) * beta) / (1 - ab);
    const ct = (Math.sqrt(1 - beta) * (1 - abPrev)) / (1 - ab);
    const prevSample = T.tidy(() => {
      // 3. mu_t
      const mean = z0Hat.mul(c0).add(zt.mul(ct));
      if (!this.needsNoise(t)) return mean;
      // 4. z_{t-1} = mu_t + sqrt(betaTilde_t) noise
      const variance = (beta * (1 - abPrev)) / (1 - ab);
      return mean.add(this.drawNoise(input, `timestep ${t} > 0`).mul(Math.sqrt(variance)));
    });
    return { prevSample, predOriginalSample: z0Hat };
  }
}
