// Reverse-diffusion steps on one noise schedule: DDPM ancestral sampling (Ho et al. 2020) and DDIM
// (Song et al. 2021), both written in terms of a clean-latent estimate z0_hat, which is what the
// mixture of experts produces (Eq. 8, aggregated by Eq. 9).
//
// Conventions (those of noise_schedules.ts): timestep t in [0, T) has alphaBar_t; "before t = 0" is
// the clean latent, alphaBar = 1.
// - DDPM: z_{t-1} ~ N(mu_t, betaTilde_t), the posterior q(z_{t-1} | z_t, z0 = z0_hat):
//     mu_t = sqrt(alphaBar_{t-1}) beta_t / (1 - alphaBar_t) z0_hat + sqrt(alpha_t) (1 - alphaBar_{t-1}) / (1 - alphaBar_t) z_t
//     betaTilde_t = beta_t (1 - alphaBar_{t-1}) / (1 - alphaBar_t); at t = 0 the step returns mu_0 = z0_hat.
// - DDIM from t to s < t (s = -1: the end):
//     eps = (z_t - sqrt(alphaBar_t) z0_hat) / sqrt(1 - alphaBar_t)
//     sigma = eta sqrt((1 - alphaBar_s) / (1 - alphaBar_t)) sqrt(1 - alphaBar_t / alphaBar_s)
//     z_s = sqrt(alphaBar_s) z0_hat + sqrt(1 - alphaBar_s - sigma^2) eps + sigma noise
//   With eta = 1 and every timestep (s = t - 1), sigma^2 = betaTilde_t and the mean equals mu_t: DDIM
//   is then DDPM (a test checks it).
// - DDIM timesteps: `steps` values spread evenly over [0, T - 1] (rounded, distinct), from T - 1 down
//   to 0, so every chain starts at the schedule's noisiest level and ends at its cleanest whatever N.
// - A partial chain (start < 1, SDEdit-style) begins at timestep round(start (T - 1)) from a noised
//   initial estimate instead of pure noise; DDPM then visits that timestep and every one below it, DDIM
//   spreads its steps over [0, round(start (T - 1))].
// Coefficients are computed in float64 on the host and applied as scalars.
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import type { NoiseSchedule } from "./noise_schedules.js";

export type SamplerKind = "ddpm" | "ddim";

/** The timesteps a sampler visits, in order (descending). DDPM visits all T (from the start); DDIM `steps` of them. */
export function samplingTimesteps(schedule: NoiseSchedule, kind: SamplerKind, steps?: number, start = 1): number[] {
  const n = schedule.numTimesteps;
  if (!(start > 0 && start <= 1)) throw new RangeError(`the chain's start must be a fraction of the schedule in (0, 1], got ${String(start)}`);
  const top = Math.round(start * (n - 1)); // the first visited timestep: n - 1 for a chain from pure noise
  if (kind === "ddpm") return Array.from({ length: top + 1 }, (_, i) => top - i);
  if (steps === undefined || !Number.isInteger(steps) || steps < 1) throw new RangeError(`DDIM needs a positive integer number of steps, got ${String(steps)}`);
  if (steps > top + 1) throw new RangeError(`DDIM: ${steps} steps asked of a schedule of ${n} timesteps${start < 1 ? ` started at timestep ${top}` : ""}; use at most ${top + 1}`);
  if (steps === 1) return [top];
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = Math.round((top * (steps - 1 - i)) / (steps - 1));
    if (out.length === 0 || out[out.length - 1] !== t) out.push(t);
  }
  return out;
}

function alphaBarAt(schedule: NoiseSchedule, t: number): number {
  return t < 0 ? 1 : schedule.alphaBar(t);
}

/** Is a noise draw needed for this step? (DDPM: t > 0; DDIM: sigma > 0.) */
export function stepNeedsNoise(schedule: NoiseSchedule, kind: SamplerKind, t: number, tPrev: number, eta: number): boolean {
  if (kind === "ddpm") return t > 0;
  return ddimSigma(schedule, t, tPrev, eta) > 0;
}

function ddimSigma(schedule: NoiseSchedule, t: number, tPrev: number, eta: number): number {
  const ab = alphaBarAt(schedule, t);
  const abPrev = alphaBarAt(schedule, tPrev);
  return eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(Math.max(0, 1 - ab / abPrev));
}

/** One DDPM ancestral step z_t -> z_{t-1} from z0_hat; `noise` (shaped like z_t) is required for t > 0. */
export function ddpmStep(schedule: NoiseSchedule, zt: Tensor, t: number, z0Hat: Tensor, noise?: Tensor): Tensor {
  const beta = schedule.betas[t];
  if (beta === undefined) throw new RangeError(`ddpmStep: timestep ${t} is outside [0, ${schedule.numTimesteps})`);
  const ab = schedule.alphaBar(t);
  const abPrev = alphaBarAt(schedule, t - 1);
  const c0 = (Math.sqrt(abPrev) * beta) / (1 - ab);
  const ct = (Math.sqrt(1 - beta) * (1 - abPrev)) / (1 - ab);
  return T.tidy(() => {
    const mean = z0Hat.mul(c0).add(zt.mul(ct));
    if (t === 0) return mean;
    if (noise === undefined) throw new RangeError(`ddpmStep: timestep ${t} > 0 needs noise`);
    const variance = (beta * (1 - abPrev)) / (1 - ab);
    return mean.add(noise.mul(Math.sqrt(variance)));
  });
}

/** One DDIM step z_t -> z_{tPrev} (tPrev = -1: to the clean latent) from z0_hat. `noise` needed when eta > 0. */
export function ddimStep(schedule: NoiseSchedule, zt: Tensor, t: number, tPrev: number, z0Hat: Tensor, eta: number, noise?: Tensor): Tensor {
  if (!(tPrev < t) || tPrev < -1) throw new RangeError(`ddimStep: need -1 <= tPrev < t, got t=${t}, tPrev=${tPrev}`);
  if (!(eta >= 0)) throw new RangeError(`ddimStep: eta must be >= 0, got ${eta}`);
  const ab = schedule.alphaBar(t);
  const abPrev = alphaBarAt(schedule, tPrev);
  const sigma = ddimSigma(schedule, t, tPrev, eta);
  const dirCoef = Math.sqrt(Math.max(0, 1 - abPrev - sigma * sigma));
  return T.tidy(() => {
    const eps = zt.sub(z0Hat.mul(Math.sqrt(ab))).div(Math.sqrt(1 - ab));
    const mean = z0Hat.mul(Math.sqrt(abPrev)).add(eps.mul(dirCoef));
    if (sigma === 0) return mean;
    if (noise === undefined) throw new RangeError(`ddimStep: eta = ${eta} > 0 needs noise`);
    return mean.add(noise.mul(sigma));
  });
}

/** One step of either sampler; `tPrev` is the next timestep visited (-1 after the last). */
export function samplerStep(kind: SamplerKind, schedule: NoiseSchedule, zt: Tensor, t: number, tPrev: number, z0Hat: Tensor, eta: number, noise?: Tensor): Tensor {
  return kind === "ddpm" ? ddpmStep(schedule, zt, t, z0Hat, noise) : ddimStep(schedule, zt, t, tPrev, z0Hat, eta, noise);
}
