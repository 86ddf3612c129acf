// The reverse residual-shifting chain (ResShift, Yue et al. 2023), on a ShiftSchedule
// (shift_schedule.ts; y0 = 0 on the residual target), in terms of the clean estimate x0_hat that the
// mixture produces (each expert predicts x0 directly; Eq. 9 aggregates).
//
// A step from t to the next planned timestep s < t (s = -1: the end, where the step returns x0_hat):
//   eps_hat = (x_t - (1 - eta_t) x0_hat) / (kappa sqrt(eta_t))
//   sigma^2 = gamma^2 kappa^2 (eta_s / eta_t) (eta_t - eta_s)
//   x_s = (1 - eta_s) x0_hat + sqrt(kappa^2 eta_s - sigma^2) eps_hat + sigma noise
// gamma = 1 is ResShift's posterior sample (mean (eta_s/eta_t) x_t + (1 - eta_s/eta_t) x0_hat,
// variance kappa^2 (eta_s/eta_t)(eta_t - eta_s): ResShift Eq. 7; a test checks it); gamma = 0 is its
// deterministic, DDIM-like counterpart (`--eta`, 0 by default, as for DDIM).
//
// Plan: N timesteps spread evenly from round(start (T - 1)) down to 0; the chain starts at that level
// from the LR end, x = kappa sqrt(eta_top) noise (ResShift's start y0 + kappa sqrt(eta_T) eps; for
// start < 1, the same with the LR latent as the clean estimate).
import * as T from "../torch/index.js";
import type { Generator, Tensor } from "../torch/index.js";
import type { ShiftSchedule } from "./shift_schedule.js";

export interface ResShiftStepInput {
  /** The clean estimate x0_hat at `timestep` (aggregated by Eq. 9). */
  modelOutput: Tensor;
  timestep: number;
  sample: Tensor;
  noise?: Tensor;
  generator?: Generator;
}

export class ResShiftScheduler {
  static readonly description = "ResShift: N steps (--steps) on the residual-shifting chain, --eta 0 (deterministic) to 1 (ResShift's posterior)";
  readonly schedule: ShiftSchedule;
  /** gamma in [0, 1]: 0 deterministic, 1 ResShift's posterior sampling. */
  readonly eta: number;
  #plan: readonly number[] | undefined;

  constructor(schedule: ShiftSchedule, o: { eta?: number } = {}) {
    const eta = o.eta ?? 0;
    if (!(eta >= 0 && eta <= 1)) throw new RangeError(`ResShiftScheduler: eta must be in [0, 1], got ${eta}`);
    this.schedule = schedule;
    this.eta = eta;
  }

  /** `steps` timesteps spread evenly from round(start (T - 1)) down to 0, integers, distinct. */
  setTimesteps(steps: number | undefined, o: { start?: number } = {}): void {
    const start = o.start ?? 1;
    if (!(start > 0 && start <= 1)) throw new RangeError(`the chain's start must be a fraction of the chain in (0, 1], got ${String(start)}`);
    const top = Math.round(start * (this.schedule.numTimesteps - 1));
    if (steps === undefined || !Number.isInteger(steps) || steps < 1) throw new RangeError(`ResShift needs a positive integer number of steps, got ${String(steps)}`);
    if (steps > top + 1) throw new RangeError(`ResShift: ${steps} steps asked of a chain of ${this.schedule.numTimesteps} levels${start < 1 ? ` started at level ${top}` : ""}; use at most ${top + 1}`);
    if (steps === 1) {
      this.#plan = Object.freeze([top]);
      return;
    }
    const ts: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t = Math.round((top * (steps - 1 - i)) / (steps - 1));
      if (ts.length === 0 || ts[ts.length - 1] !== t) ts.push(t);
    }
    this.#plan = Object.freeze(ts);
  }

  get timesteps(): readonly number[] {
    if (this.#plan === undefined) throw new Error("ResShiftScheduler.timesteps: call setTimesteps first");
    return this.#plan;
  }

  previousTimestep(t: number): number {
    const ts = this.timesteps;
    const i = ts.indexOf(t);
    if (i < 0) throw new RangeError(`ResShiftScheduler: timestep ${t} is not planned [${ts.join(", ")}]`);
    return ts[i + 1] ?? -1;
  }

  /** The chain's first latent: kappa sqrt(eta_top) noise (the LR end, y0 = 0). */
  initialSample(noise: Tensor): Tensor {
    const top = this.timesteps[0] as number;
    return noise.mul(this.schedule.kappa * Math.sqrt(this.schedule.eta(top)));
  }

  sigma(t: number): number {
    const s = this.previousTimestep(t);
    if (s < 0) return 0;
    const et = this.schedule.eta(t);
    const es = this.schedule.eta(s);
    return this.eta * this.schedule.kappa * Math.sqrt((es / et) * (et - es));
  }

  needsNoise(t: number): boolean {
    return this.sigma(t) > 0;
  }

  step(input: ResShiftStepInput): { prevSample: Tensor; predOriginalSample: Tensor } {
    const { modelOutput: x0Hat, timestep: t, sample: xt } = input;
    const s = this.previousTimestep(t);
    if (s < 0) return { prevSample: x0Hat.clone(), predOriginalSample: x0Hat };
    const kappa = this.schedule.kappa;
    const es = this.schedule.eta(s);
    const sigma = this.sigma(t);
    const dir = Math.sqrt(Math.max(0, kappa * kappa * es - sigma * sigma));
    const prevSample = T.tidy(() => {
      const eps = this.schedule.predictNoise(xt, t, x0Hat);
      const mean = x0Hat.mul(1 - es).add(eps.mul(dir));
      if (sigma === 0) return mean;
      const n = input.noise ?? (input.generator !== undefined ? T.randn(xt.shape, { generator: input.generator, dtype: xt.dtype, device: xt.device }) : undefined);
      if (n === undefined) throw new RangeError(`ResShiftScheduler.step: eta = ${this.eta} > 0 needs noise (pass noise or a generator)`);
      return mean.add(n.mul(sigma));
    });
    return { prevSample, predOriginalSample: x0Hat };
  }
}
