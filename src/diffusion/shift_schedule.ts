// The residual-shifting chain of ResShift (Yue et al., NeurIPS 2023; on 7T brain MRI: Res-SRDiff 2025),
// the "resshift" formulation of MoEDiff-SR (SPEC 4, "Decided in turn 2"). A Markov chain runs from the
// HR latent x0 (t = 0) to the LR latent y0 (t = T - 1):
//
//   x_t = x0 + eta_t (y0 - x0) + kappa sqrt(eta_t) eps                        (ResShift Eq. 4)
//
// with eta rising from etaMin to etaMax. Here the chain runs on the experts' residual target
// (x0 = s (z_HR - z_LR), config.model.target "residual"), where the LR end is y0 = 0: every formula
// below takes y0 = 0, so x_t = (1 - eta_t) x0 + kappa sqrt(eta_t) eps.
//
// eta as a function of u = t / (T - 1) in [0, 1]:
//   eta(u) = etaMin (etaMax / etaMin)^(u^p)                                   (ResShift Eq. 10)
// (ResShift writes sqrt(eta_t) = sqrt(eta_1) b0^beta_t with beta_t = ((t-1)/(T-1))^p (T-1) and
// b0 = exp(log(eta_T / eta_1) / (2 (T - 1))): the same curve.) The curve depends on u only, so
// experts with different chain lengths T_i share one noise level at the same u: that is how the
// gating target (Eq. 15) compares all experts' estimates at one level, and how joint sampling asks
// each expert for the level of the shared latent. A timestep may be fractional (an expert asked for a
// level between two of its own).
//
// Posterior (ResShift Eq. 7), with alpha_t = eta_t - eta_{t-1}:
//   mean = (eta_{t-1} / eta_t) x_t + (alpha_t / eta_t) x0,   var = kappa^2 (eta_{t-1} / eta_t) alpha_t
//
// Preconditioning (our deviation from ResShift's plain x0 prediction, in the manner of Karras et al.
// 2022's c_skip/c_out): the network's output F becomes x0_hat = c_skip x_t + c_out F, where c_skip x_t
// is the linear least-squares estimate of x0 from x_t for a target of unit variance,
//   c_skip = (1 - eta) / ((1 - eta)^2 + kappa^2 eta),   c_out = kappa sqrt(eta) / sqrt((1 - eta)^2 + kappa^2 eta)
// (c_out^2 is that estimate's error variance), so F always has a unit-scale target. Why: trained on
// plain x0, experts E1 and E3 of a cpu-small model sat at the zero predictor after 900 steps (x0 MSE
// 1.35 at every level, even at eta = 0.001 where x_t is x0), only E2 learnt.
import * as T from "../torch/index.js";
import type { Generator, Tensor } from "../torch/index.js";

export interface ShiftScheduleConfig {
  /** Chain length T (levels t = 0 .. T - 1). */
  numTimesteps: number;
  /** Noise scale kappa, in units of the target (the residual has unit standard deviation after its scale). */
  kappa?: number;
  /** eta at t = 0 (ResShift: min((0.04 / kappa)^2, 0.001)). */
  etaMin?: number;
  /** eta at t = T - 1 (ResShift: 0.999). */
  etaMax?: number;
  /** Exponent p of the curve (ResShift: 0.3). */
  power?: number;
}

export type ResolvedShiftScheduleConfig = Required<ShiftScheduleConfig>;

/** ResShift's published values (its Eq. 10 and section 4: p = 0.3, eta_T = 0.999, eta_1 <= 0.001). */
export const RESSHIFT_DEFAULTS = Object.freeze({ kappa: 1, etaMin: 0.001, etaMax: 0.999, power: 0.3 });

export class ShiftSchedule {
  readonly config: Readonly<ResolvedShiftScheduleConfig>;
  readonly numTimesteps: number;
  readonly kappa: number;

  constructor(config: ShiftScheduleConfig) {
    const c = { ...RESSHIFT_DEFAULTS, ...config };
    const bad = (what: string): never => {
      throw new RangeError(`ShiftSchedule: ${what}`);
    };
    if (!Number.isInteger(c.numTimesteps) || c.numTimesteps < 2) bad(`numTimesteps must be an integer >= 2, got ${c.numTimesteps}`);
    if (!(c.kappa > 0)) bad(`kappa must be > 0, got ${c.kappa}`);
    if (!(c.etaMin > 0 && c.etaMin < c.etaMax && c.etaMax < 1)) bad(`need 0 < etaMin < etaMax < 1, got etaMin ${c.etaMin}, etaMax ${c.etaMax}`);
    if (!(c.power > 0)) bad(`power must be > 0, got ${c.power}`);
    this.config = Object.freeze(c);
    this.numTimesteps = c.numTimesteps;
    this.kappa = c.kappa;
  }

  /** eta at the fraction u in [0, 1] of the chain (the curve every chain length shares). */
  etaAtFraction(u: number): number {
    if (!(u >= 0 && u <= 1)) throw new RangeError(`ShiftSchedule.etaAtFraction: u must be in [0, 1], got ${u}`);
    const { etaMin, etaMax, power } = this.config;
    return etaMin * Math.pow(etaMax / etaMin, Math.pow(u, power)); // ResShift Eq. 10
  }

  /** eta_t for a (possibly fractional) timestep t in [0, T - 1]; eta_{-1} = 0 (the clean end). */
  eta(t: number): number {
    if (t === -1) return 0;
    if (!(t >= 0 && t <= this.numTimesteps - 1)) throw new RangeError(`ShiftSchedule.eta: timestep must be in [0, ${this.numTimesteps - 1}] (or -1), got ${t}`);
    return this.etaAtFraction(t / (this.numTimesteps - 1));
  }

  /** This chain's (fractional) timestep at the same level as `other`'s timestep t. */
  matchTimestep(other: ShiftSchedule, t: number): number {
    return (t / (other.numTimesteps - 1)) * (this.numTimesteps - 1);
  }

  /** Uniform integer timesteps in [0, T): int64 [batch]. */
  sampleTimesteps(batch: number, o: { generator?: Generator; device?: T.Device } = {}): Tensor {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`ShiftSchedule.sampleTimesteps: batch must be a positive integer, got ${batch}`);
    return T.randint(0, this.numTimesteps, [batch], { generator: o.generator, device: o.device ?? o.generator?.device });
  }

  /** x_t = (1 - eta_t) x0 + kappa sqrt(eta_t) noise (ResShift Eq. 4 with y0 = 0), per sample. */
  addNoise(x0: Tensor, noise: Tensor, t: number | readonly number[] | Tensor): Tensor {
    if (x0.shape.join(",") !== noise.shape.join(",")) throw new RangeError(`ShiftSchedule.addNoise: x0 [${x0.shape.join(", ")}] and noise [${noise.shape.join(", ")}] differ`);
    const ts = this.#perSample(t, x0.size(0), "addNoise");
    const etas = ts.map((ti) => this.eta(ti));
    return T.tidy(() => x0.mul(this.#column(etas.map((e) => 1 - e), x0)).add(noise.mul(this.#column(etas.map((e) => this.kappa * Math.sqrt(e)), x0))));
  }

  /** c_skip and c_out at (possibly fractional) timestep t (the header's preconditioning). */
  skipCoefficients(t: number): { cSkip: number; cOut: number } {
    const e = this.eta(t);
    const k2 = this.kappa * this.kappa;
    const v = (1 - e) * (1 - e) + k2 * e;
    return { cSkip: (1 - e) / v, cOut: Math.sqrt(k2 * e) / Math.sqrt(v) };
  }

  /** x0_hat = c_skip x_t + c_out F per sample (t: one timestep, or one per sample). */
  precondition(xt: Tensor, out: Tensor, t: number | readonly number[]): Tensor {
    const ts = this.#perSample(t, xt.size(0), "precondition");
    const c = ts.map((ti) => this.skipCoefficients(ti));
    return T.tidy(() => xt.mul(this.#column(c.map((x) => x.cSkip), xt)).add(out.mul(this.#column(c.map((x) => x.cOut), xt))));
  }

  /** The noise implied by x_t and a clean estimate (the equation above solved for eps). */
  predictNoise(xt: Tensor, t: number, x0Hat: Tensor): Tensor {
    const e = this.eta(t);
    return T.tidy(() => xt.sub(x0Hat.mul(1 - e)).div(this.kappa * Math.sqrt(e)));
  }

  #perSample(t: number | readonly number[] | Tensor, b: number, what: string): number[] {
    const ts = typeof t === "number" ? new Array<number>(b).fill(t) : t instanceof T.Tensor ? (t.to("float64").toArray() as number[]) : [...t];
    if (ts.length !== b) throw new RangeError(`ShiftSchedule.${what}: ${ts.length} timesteps for a batch of ${b}`);
    return ts;
  }

  /** Per-sample scalars as a [B, 1, ...] tensor broadcasting over `like`. */
  #column(values: readonly number[], like: Tensor): Tensor {
    const shape = [values.length, ...new Array<number>(like.ndim - 1).fill(1)];
    return T.tensor([...values], shape, { dtype: like.dtype, device: like.device });
  }
}
