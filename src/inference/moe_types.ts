// The shapes sampling the mixture works with (moe_sampler.ts, shift_sampler.ts).
import type { Tensor } from "../torch/index.js";
import type { SamplerName } from "../diffusion/registry.js";
import type { Profiler } from "../util/profiler.js";

/** Gaussian draws for one chain, shaped [B, ...]. */
export interface NoiseSource {
  randn(shape: readonly number[]): Tensor;
}

/** One noise source per chain: stream 0 = joint chain, 1 + i = expert i's own chain (async). */
export type NoiseStreams = (stream: number) => NoiseSource;

export interface MoEConditioning {
  /** The 3T slice's latent [B, C, h, w] (the experts' condition input). */
  condLatent: Tensor;
  /** Condition tokens z_c [B, N, d]. */
  zc: Tensor;
  /** Gating weights as used in Eq. 9: [B, K] or [B, K, h, w]. */
  gates: Tensor;
}

export interface MoESampleOptions {
  mode: "joint" | "async";
  /** The scheduler, by its name in the registry (src/diffusion/registry.ts). */
  sampler: SamplerName;
  /** DDIM steps (joint: on the reference schedule; async: N of the formula above). */
  steps?: number;
  /** DDIM eta (0: deterministic given the start noise). */
  eta?: number;
  /**
   * Where the chain starts, as a fraction of each schedule (0, 1]: 1 = from pure noise (the paper); below
   * 1 the chain starts at timestep round(start (T - 1)) from the noised target of the condition latent
   * (SDEdit-style: the 3T latent itself for target "latent", a zero residual for target "residual").
   */
  start?: number;
  /** Clip of every z0_hat_i (0: none). */
  z0Clip: number;
  noise: NoiseStreams;
  /** Async only: skip an expert for samples whose weight is below this (0: never skip). */
  skipBelow?: number;
  /** Also return each expert's own final estimate z0_hat_i (for --explain). */
  keepExperts?: boolean;
  /** Times each expert's forward passes ("expert E<kind>"; units: samples). */
  profiler?: Profiler;
  /** Called after every expert evaluation with (done, total). */
  onEvaluation?: (done: number, total: number) => void;
}

export interface MoESampleResult {
  /** The aggregated clean latent [B, C, h, w]. */
  z0: Tensor;
  /** Each expert's own final estimate (keepExperts), in expert order. */
  experts?: Tensor[];
  /** The weights actually used for the final aggregation: [B, K] or [B, K, h, w]. */
  weights: Tensor;
  /** Denoiser evaluations per expert (batched forward passes). */
  evaluations: number[];
}
