// Per-expert Gaussian noise schedules (paper Eq. 5 and Eq. 8).
//
// Each expert of MoEDiff-SR has its own schedule (T = 500, 2000, 1000 for
// E1, E2, E3) and draws its own timestep t_i in [0, T) and its own noise.
// Index convention (as diffusers): timestep t in [0, T) uses
// alphasCumprod[t] = prod_{s <= t} (1 - betas[s]), so t = 0 is already slightly
// noised and t = T - 1 is (almost) pure noise.
//
// Design decisions where the paper is silent:
// - Linear betas for T != 1000: by default the endpoints are scaled by 1000 / T
//   (as improved-DDPM's "linear" schedule): betaStart = 1000/T * 1e-4,
//   betaEnd = 1000/T * 0.02, each clamped to MAX_BETA. The sum of the betas, and
//   so the terminal noise level alphaBar_{T-1} (about 4e-5), stays the same for
//   every T: all experts span the same range of noise levels and differ only in
//   how finely it is discretised. That is what joint sampling needs (every expert
//   is asked for the timestep matching the shared latent's noise level). With
//   fixed endpoints, T = 500 would end at alphaBar ~ 6e-3 (the expert would never
//   see near-pure noise) and T = 2000 would spend half its steps at pure noise.
//   `scaleBetasWithT: false` keeps the endpoints as given.
// - Cosine: Nichol & Dhariwal, alphaBar(u) = f(u)/f(0), f(u) = cos^2(((u + s)/(1 + s)) pi/2),
//   u = t/T, s = 0.008, betas = 1 - alphaBar(t+1)/alphaBar(t) clipped at 0.999.
// - Matching noise levels across schedules (timestepForAlphaBar) is done in
//   log-SNR, where noise levels are spread evenly; alphaBar itself crowds near 0.
// - Timestep-dependent coefficients are computed in float64 from the host-side
//   tables and cast once to the latent's dtype (reading t costs one device sync).
import * as T from "../torch/index.js";
import type { Tensor, TensorOptions, Device, Generator } from "../torch/index.js";

export type ScheduleKind = "linear" | "cosine";

/** Largest beta any schedule may use (improved-DDPM's clip). */
export const MAX_BETA = 0.999;

export interface NoiseScheduleConfig {
  /** Number of diffusion steps T (paper: 500 for E1, 2000 for E2, 1000 for E3). */
  numTimesteps: number;
  kind: ScheduleKind;
  /** Linear schedule: first beta at T = 1000 (default 1e-4, DDPM). */
  betaStart?: number;
  /** Linear schedule: last beta at T = 1000 (default 0.02, DDPM). */
  betaEnd?: number;
  /** Linear schedule: scale betaStart/betaEnd by 1000 / T (default true; see the header). */
  scaleBetasWithT?: boolean;
  /** Cosine schedule offset s (default 0.008, Nichol & Dhariwal). */
  cosineS?: number;
}

export type ResolvedNoiseScheduleConfig = Required<NoiseScheduleConfig>;

/** A timestep argument: int64 [B] tensor, one number for the whole batch, or a list of B numbers. */
export type Timesteps = Tensor | number | readonly number[];

const DEFAULTS = { betaStart: 1e-4, betaEnd: 0.02, scaleBetasWithT: true, cosineS: 0.008 } as const;
const KEYS = new Set(["numTimesteps", "kind", "betaStart", "betaEnd", "scaleBetasWithT", "cosineS"]);

function resolveConfig(c: NoiseScheduleConfig): ResolvedNoiseScheduleConfig {
  for (const k of Object.keys(c)) {
    if (!KEYS.has(k)) throw new TypeError(`NoiseSchedule: unknown option '${k}'; expected one of ${[...KEYS].join(", ")}`);
  }
  const r: ResolvedNoiseScheduleConfig = {
    numTimesteps: c.numTimesteps,
    kind: c.kind,
    betaStart: c.betaStart ?? DEFAULTS.betaStart,
    betaEnd: c.betaEnd ?? DEFAULTS.betaEnd,
    scaleBetasWithT: c.scaleBetasWithT ?? DEFAULTS.scaleBetasWithT,
    cosineS: c.cosineS ?? DEFAULTS.cosineS,
  };
  if (!Number.isInteger(r.numTimesteps) || r.numTimesteps < 1) {
    throw new RangeError(`NoiseSchedule: numTimesteps must be a positive integer, got ${r.numTimesteps}`);
  }
  if (r.kind !== "linear" && r.kind !== "cosine") {
    throw new RangeError(`NoiseSchedule: kind must be 'linear' or 'cosine', got '${String(r.kind)}'`);
  }
  if (!(r.betaStart > 0 && r.betaEnd >= r.betaStart && r.betaEnd < 1)) {
    throw new RangeError(`NoiseSchedule: need 0 < betaStart <= betaEnd < 1, got betaStart=${r.betaStart}, betaEnd=${r.betaEnd}`);
  }
  if (!(r.cosineS > 0)) throw new RangeError(`NoiseSchedule: cosineS must be > 0, got ${r.cosineS}`);
  return r;
}

function linearBetas(c: ResolvedNoiseScheduleConfig): Float64Array {
  const n = c.numTimesteps;
  const scale = c.scaleBetasWithT ? 1000 / n : 1;
  const start = Math.min(c.betaStart * scale, MAX_BETA);
  const end = Math.min(c.betaEnd * scale, MAX_BETA);
  const betas = new Float64Array(n);
  for (let i = 0; i < n; i++) betas[i] = n === 1 ? start : start + ((end - start) * i) / (n - 1);
  return betas;
}

/** Nichol & Dhariwal's alphaBar(u) = f(u) / f(0) for u = t / T in [0, 1]. */
export function cosineAlphaBar(u: number, s: number): number {
  const f = (v: number): number => Math.cos((((v + s) / (1 + s)) * Math.PI) / 2) ** 2;
  return f(u) / f(0);
}

function cosineBetas(c: ResolvedNoiseScheduleConfig): Float64Array {
  const n = c.numTimesteps;
  const betas = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a0 = cosineAlphaBar(i / n, c.cosineS);
    const a1 = cosineAlphaBar((i + 1) / n, c.cosineS);
    betas[i] = Math.min(1 - a1 / a0, MAX_BETA);
  }
  return betas;
}

export class NoiseSchedule {
  readonly config: Readonly<ResolvedNoiseScheduleConfig>;
  readonly numTimesteps: number;
  readonly kind: ScheduleKind;
  readonly betas: Float64Array;
  readonly alphas: Float64Array;
  readonly alphasCumprod: Float64Array;
  /** log(alphaBar / (1 - alphaBar)) per timestep, strictly decreasing. */
  readonly #logSnr: Float64Array;

  constructor(config: NoiseScheduleConfig) {
    this.config = Object.freeze(resolveConfig(config));
    this.numTimesteps = this.config.numTimesteps;
    this.kind = this.config.kind;
    this.betas = this.kind === "linear" ? linearBetas(this.config) : cosineBetas(this.config);
    const n = this.numTimesteps;
    this.alphas = new Float64Array(n);
    this.alphasCumprod = new Float64Array(n);
    this.#logSnr = new Float64Array(n);
    let prod = 1;
    for (let i = 0; i < n; i++) {
      const a = 1 - (this.betas[i] as number);
      this.alphas[i] = a;
      prod *= a;
      this.alphasCumprod[i] = prod;
      this.#logSnr[i] = Math.log(prod) - Math.log1p(-prod);
    }
  }

  // ---- host-side lookups ----

  /** alphaBar_t for one timestep. */
  alphaBar(t: number): number {
    return this.alphasCumprod[this.#checkT(t, "alphaBar")] as number;
  }

  /** Signal-to-noise ratio alphaBar_t / (1 - alphaBar_t). */
  snr(t: number): number {
    const a = this.alphaBar(t);
    return a / (1 - a);
  }

  /**
   * The timestep whose noise level is nearest to `alphaBar` (nearest in
   * log-SNR). Used to ask each expert, with its own T, for the same noise level.
   * Levels beyond the schedule's range map to 0 or T - 1.
   */
  timestepForAlphaBar(alphaBar: number): number {
    if (!(alphaBar > 0 && alphaBar < 1)) {
      if (alphaBar === 1) return 0;
      if (alphaBar === 0) return this.numTimesteps - 1;
      throw new RangeError(`NoiseSchedule.timestepForAlphaBar: alphaBar must be in [0, 1], got ${alphaBar}`);
    }
    const target = Math.log(alphaBar) - Math.log1p(-alphaBar);
    const ls = this.#logSnr;
    // Binary search on the decreasing log-SNR table for the first index with ls[i] <= target.
    let lo = 0;
    let hi = ls.length - 1;
    if (target >= (ls[0] as number)) return 0;
    if (target <= (ls[hi] as number)) return hi;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if ((ls[mid] as number) > target) lo = mid;
      else hi = mid;
    }
    return Math.abs((ls[lo] as number) - target) <= Math.abs((ls[hi] as number) - target) ? lo : hi;
  }

  /** The timestep of this schedule matching the noise level of `other` at `t`. */
  matchTimestep(other: NoiseSchedule, t: number): number {
    return this.timestepForAlphaBar(other.alphaBar(t));
  }

  // ---- tensors ----

  /** betas as a [T] tensor (a new tensor the caller owns; default dtype and device unless told). */
  betasTensor(o?: TensorOptions): Tensor {
    return T.tensor(this.betas, [this.numTimesteps], { dtype: o?.dtype ?? T.getDefaultDType(), device: o?.device, requiresGrad: false });
  }

  /** alphasCumprod as a [T] tensor (a new tensor the caller owns). */
  alphasCumprodTensor(o?: TensorOptions): Tensor {
    return T.tensor(this.alphasCumprod, [this.numTimesteps], { dtype: o?.dtype ?? T.getDefaultDType(), device: o?.device, requiresGrad: false });
  }

  /** Uniform integer timesteps in [0, T): int64 [batch]. */
  sampleTimesteps(batch: number, o: { generator?: Generator; device?: Device } = {}): Tensor {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`NoiseSchedule.sampleTimesteps: batch must be a positive integer, got ${batch}`);
    return T.randint(0, this.numTimesteps, [batch], { generator: o.generator, device: o.device ?? o.generator?.device });
  }

  /**
   * z_t = sqrt(alphaBar_t) z0 + sqrt(1 - alphaBar_t) eps, per sample (Eq. 5).
   * z0 and noise [B, ...] of the same shape; t as in Timesteps.
   */
  addNoise(z0: Tensor, noise: Tensor, t: Timesteps): Tensor {
    this.#checkPair(z0, noise, "addNoise", "z0", "noise");
    return T.tidy(() => {
      const [a, b] = this.#coefficients(t, z0, "addNoise", (ab) => [Math.sqrt(ab), Math.sqrt(1 - ab)]);
      return z0.mul(a).add(noise.mul(b)); // Eq. 5
    });
  }

  /** z0_hat = (z_t - sqrt(1 - alphaBar_t) eps_hat) / sqrt(alphaBar_t) (Eq. 8). */
  predictZ0(zt: Tensor, t: Timesteps, epsHat: Tensor): Tensor {
    this.#checkPair(zt, epsHat, "predictZ0", "zt", "epsHat");
    return T.tidy(() => {
      const [a, b] = this.#coefficients(t, zt, "predictZ0", (ab) => [1 / Math.sqrt(ab), Math.sqrt(1 - ab) / Math.sqrt(ab)]);
      return zt.mul(a).sub(epsHat.mul(b)); // Eq. 8
    });
  }

  /** The noise implied by z_t and a clean estimate: (z_t - sqrt(alphaBar_t) z0) / sqrt(1 - alphaBar_t) (Eq. 5 solved for eps). */
  predictEps(zt: Tensor, t: Timesteps, z0: Tensor): Tensor {
    this.#checkPair(zt, z0, "predictEps", "zt", "z0");
    return T.tidy(() => {
      const [a, b] = this.#coefficients(t, zt, "predictEps", (ab) => [1 / Math.sqrt(1 - ab), Math.sqrt(ab) / Math.sqrt(1 - ab)]);
      return zt.mul(a).sub(z0.mul(b));
    });
  }

  // ---- helpers ----

  #checkT(t: number, what: string): number {
    if (!Number.isInteger(t) || t < 0 || t >= this.numTimesteps) {
      throw new RangeError(`NoiseSchedule.${what}: timestep must be an integer in [0, ${this.numTimesteps}), got ${t}`);
    }
    return t;
  }

  #checkPair(x: Tensor, y: Tensor, what: string, xn: string, yn: string): void {
    if (x.ndim < 1) throw new RangeError(`NoiseSchedule.${what}: ${xn} must be [B, ...], got a 0-D tensor`);
    const xs = x.shape;
    const ys = y.shape;
    if (xs.length !== ys.length || xs.some((d, i) => d !== ys[i])) {
      throw new RangeError(`NoiseSchedule.${what}: ${xn} and ${yn} shapes differ: [${xs.join(", ")}] vs [${ys.join(", ")}]`);
    }
  }

  /** Per-sample coefficient tensors [B, 1, ..., 1] in x's dtype and device, computed in float64. */
  #coefficients(t: Timesteps, x: Tensor, what: string, f: (alphaBar: number) => [number, number]): [Tensor, Tensor] {
    const batch = x.size(0);
    let ts: number[];
    if (typeof t === "number") {
      ts = new Array<number>(batch).fill(t);
    } else if (Array.isArray(t)) {
      ts = [...(t as readonly number[])];
    } else {
      const tt = t as Tensor;
      if (tt.ndim !== 1 || (tt.dtype !== "int64" && tt.dtype !== "int32")) {
        throw new RangeError(`NoiseSchedule.${what}: t must be an int64 [B] tensor, got [${tt.shape.join(", ")}] ${tt.dtype}`);
      }
      ts = tt.toArray();
    }
    if (ts.length !== batch) throw new RangeError(`NoiseSchedule.${what}: t has ${ts.length} timesteps for a batch of ${batch}`);
    const a = new Float64Array(batch);
    const b = new Float64Array(batch);
    for (let i = 0; i < batch; i++) {
      const ab = this.alphasCumprod[this.#checkT(ts[i] as number, what)] as number;
      [a[i], b[i]] = f(ab);
    }
    const shape = [batch, ...new Array<number>(x.ndim - 1).fill(1)];
    const o = { dtype: x.dtype, device: x.device };
    return [T.tensor(a, shape, o), T.tensor(b, shape, o)];
  }
}

/** The experts' numbers of diffusion steps: E1 500, E2 2000, E3 1000 (paper Sec. III.C). */
export const PAPER_EXPERT_TIMESTEPS: readonly number[] = Object.freeze([500, 2000, 1000]);

/** One schedule per expert, all of one kind (default: the paper's T per expert). */
export function expertSchedules(
  kind: ScheduleKind,
  numTimesteps: readonly number[] = PAPER_EXPERT_TIMESTEPS,
  options: Omit<NoiseScheduleConfig, "numTimesteps" | "kind"> = {},
): NoiseSchedule[] {
  return numTimesteps.map((n) => new NoiseSchedule({ ...options, numTimesteps: n, kind }));
}

export interface ExpertNoising {
  /** The expert's own timesteps t_i, int64 [B] in [0, T_i). */
  t: Tensor;
  /** The expert's own noise eps_(i), shaped like z0. */
  noise: Tensor;
  /** z_t(i) (Eq. 5). */
  zt: Tensor;
}

/**
 * Forward diffusion for every expert: each draws its own t_i over its whole
 * range and its own Gaussian noise, and noises the shared z0 (Eq. 5).
 */
export function noiseForExperts(z0: Tensor, schedules: readonly NoiseSchedule[], o: { generator?: Generator } = {}): ExpertNoising[] {
  if (z0.ndim < 1) throw new RangeError("noiseForExperts: z0 must be [B, ...], got a 0-D tensor");
  const batch = z0.size(0);
  return T.tidy(() =>
    schedules.map((s) => {
      const t = s.sampleTimesteps(batch, { generator: o.generator, device: z0.device });
      const noise = T.randn(z0.shape, { dtype: z0.dtype, device: z0.device, generator: o.generator });
      return { t, noise, zt: s.addNoise(z0, noise, t) }; // Eq. 5
    }),
  );
}
