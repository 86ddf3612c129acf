// The expert contract: ExpertConfig (with presets and a strict resolver),
// ExpertInput with its shape checks, and the abstract Expert every denoiser
// (E1, E2, E3 of paper section II.C) extends.
//
// Design decisions where the paper is silent (it only says "CLDM"):
// - Widths: three resolution levels with channels (1, 2, 4) x baseChannels at
//   h x w, h/2 x w/2 and h/4 x w/4 (two 4x4 stride-2 downsamplings), so h and w
//   must be divisible by 4.
// - Conditioning enters three ways: concat(z_t, cond, gate) -> 3x3 conv_in;
//   the timestep (sinusoidal, max period 10000, dimension timeEmbedDim ->
//   Linear-SiLU-Linear) as a per-channel bias in every residual/conv/dense/
//   complex block (where exactly: blocks.ts header); the tokens z_c through
//   cross-attention (LayerNorm on the tokens, residual) at the bottleneck of
//   every expert. The gate map as an input channel is how an expert "receives
//   its assigned weight G_i".
// - t is the expert's own integer timestep in [0, T_i); it is not rescaled to
//   a common range (each expert learns its own schedule's embedding).
// - Normalisation, initialisation and block internals: see blocks.ts.
// This file holds the base class (rather than index.ts) so e1/e2/e3 can extend
// it without an import cycle.
import * as T from "../../torch/index.js";
import { groupNorm, TimestepEmbedding } from "./blocks.js";

export interface ExpertConfig {
  /** C of z_t and of the predicted epsilon. */
  latentChannels: number;
  /** Channels of the 3T condition latent concatenated to z_t (same spatial size). */
  condChannels: number;
  /** Width at full latent resolution (64 paper-ish, 32 cpu-small). */
  baseChannels: number;
  /** d of the condition tokens z_c [B, N, d]. */
  tokenDim: number;
  /** Sinusoidal timestep embedding dimension and the width of its MLP. */
  timeEmbedDim: number;
  /** Cross-attention heads; must divide the bottleneck width 4 * baseChannels. */
  numHeads: number;
}

export interface ExpertInput {
  /** Noised latent [B, C, h, w]. */
  zt: T.Tensor;
  /** Integer timesteps [B] (int64 or int32), in [0, T_i) of this expert's schedule. */
  t: T.Tensor;
  /** Condition latent [B, Cc, h, w]. */
  cond: T.Tensor;
  /** Condition tokens z_c [B, N, d]. */
  tokens: T.Tensor;
  /** This expert's gating weight map [B, 1, h, w] (a global weight is broadcast by the caller). */
  gate: T.Tensor;
}

/** Channel multipliers of the three levels (design choice, see the header). */
export const CHANNEL_MULT = Object.freeze([1, 2, 4] as const);

/** Paper-sized experts (a GPU preset). */
export const EXPERT_PAPER: Readonly<ExpertConfig> = Object.freeze({
  latentChannels: 4,
  condChannels: 4,
  baseChannels: 64,
  tokenDim: 256,
  timeEmbedDim: 256,
  numHeads: 8,
});

/** Small experts for the CPU preset. */
export const EXPERT_CPU_SMALL: Readonly<ExpertConfig> = Object.freeze({
  latentChannels: 4,
  condChannels: 4,
  baseChannels: 32,
  tokenDim: 128,
  timeEmbedDim: 128,
  numHeads: 4,
});

const KEYS: readonly (keyof ExpertConfig)[] = ["latentChannels", "condChannels", "baseChannels", "tokenDim", "timeEmbedDim", "numHeads"];

/** The widths of the three levels for a base width. */
export function levelChannels(baseChannels: number): [number, number, number] {
  return [baseChannels * CHANNEL_MULT[0], baseChannels * CHANNEL_MULT[1], baseChannels * CHANNEL_MULT[2]];
}

/** Throws unless every field is a positive integer and the widths fit together. */
export function checkExpertConfig(config: ExpertConfig): void {
  for (const k of KEYS) {
    const v = config[k];
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`ExpertConfig: ${k} must be a positive integer, got ${String(v)}`);
  }
  if (config.timeEmbedDim % 2 !== 0) {
    throw new RangeError(`ExpertConfig: timeEmbedDim must be even (cos and sin halves), got ${config.timeEmbedDim}`);
  }
  const bottleneck = levelChannels(config.baseChannels)[2];
  if (bottleneck % config.numHeads !== 0) {
    throw new RangeError(
      `ExpertConfig: numHeads (${config.numHeads}) must divide the bottleneck width 4 * baseChannels = ${bottleneck}`,
    );
  }
}

/**
 * A full config from `overrides` over `base` (default the CPU preset).
 * Unknown keys and bad values throw, naming the key and the value.
 */
export function resolveExpertConfig(overrides: Readonly<Record<string, unknown>> = {}, base: Readonly<ExpertConfig> = EXPERT_CPU_SMALL): ExpertConfig {
  const unknown = Object.keys(overrides).filter((k) => !(KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw new RangeError(`ExpertConfig: unknown key(s) ${unknown.map((k) => `'${k}'`).join(", ")}; expected ${KEYS.join(", ")}`);
  }
  const out: ExpertConfig = { ...base };
  for (const k of KEYS) {
    const v = overrides[k];
    if (v === undefined) continue;
    if (typeof v !== "number") throw new TypeError(`ExpertConfig: ${k} must be a number, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  checkExpertConfig(out);
  return out;
}

const shapeText = (t: T.Tensor): string => `[${t.shape.join(", ")}]`;

/**
 * Checks an ExpertInput against a config and returns B, h, w.
 * `where` names the caller in messages ("Expert1.forward").
 */
export function checkExpertInput(where: string, config: ExpertConfig, input: ExpertInput): { batch: number; height: number; width: number } {
  const { zt, t, cond, tokens, gate } = input;
  const C = config.latentChannels;
  if (zt.ndim !== 4 || zt.shape[1] !== C) throw new RangeError(`${where}: zt must be [B, ${C}, h, w], got ${shapeText(zt)}`);
  const [batch, , height, width] = zt.shape as [number, number, number, number];
  if (height % 4 !== 0 || width % 4 !== 0 || height === 0 || width === 0) {
    throw new RangeError(
      `${where}: latent height and width must be positive multiples of 4 (two stride-2 downsamplings), got ${height}x${width} in zt ${shapeText(zt)}; pad the latent`,
    );
  }
  const spatial = (x: T.Tensor, name: string, channels: number, label: string): void => {
    if (x.ndim !== 4 || x.shape[0] !== batch || x.shape[1] !== channels || x.shape[2] !== height || x.shape[3] !== width) {
      throw new RangeError(`${where}: ${name} must be [${batch}, ${label}, ${height}, ${width}] like zt, got ${shapeText(x)}`);
    }
  };
  spatial(cond, "cond", config.condChannels, String(config.condChannels));
  spatial(gate, "gate", 1, "1");
  if (t.ndim !== 1 || t.shape[0] !== batch) throw new RangeError(`${where}: t must be [${batch}] (one timestep per sample), got ${shapeText(t)}`);
  if (t.dtype !== "int64" && t.dtype !== "int32") {
    throw new TypeError(`${where}: t must hold integer timesteps (int64 or int32), got ${t.dtype}; use t.long()`);
  }
  if (tokens.ndim !== 3 || tokens.shape[0] !== batch || tokens.shape[2] !== config.tokenDim) {
    throw new RangeError(`${where}: tokens must be [${batch}, N, ${config.tokenDim}], got ${shapeText(tokens)}`);
  }
  if ((tokens.shape[1] ?? 0) === 0) throw new RangeError(`${where}: tokens must hold at least one token, got ${shapeText(tokens)}`);
  return { batch, height, width };
}

/**
 * A conditional latent denoiser predicting epsilon [B, C, h, w] from
 * z_t, t, the condition (latent + tokens) and its gating weight map.
 */
export abstract class Expert extends T.nn.Module {
  /** "E1", "E2" or "E3" as in the paper. */
  abstract readonly name: string;
  /** The parts every expert shares: the timestep embedding and conv_in (stem), norm_out and conv_out (head). */
  readonly timeEmbed: TimestepEmbedding;
  readonly convIn: T.nn.Conv2d;
  #normOut: T.nn.GroupNorm | undefined;
  #convOut: T.nn.Conv2d | undefined;

  protected constructor(
    readonly config: Readonly<ExpertConfig>,
    options: T.nn.LayerOptions = {},
  ) {
    super();
    checkExpertConfig(config);
    const c0 = levelChannels(config.baseChannels)[0];
    const inputChannels = config.latentChannels + config.condChannels + 1; // z_t, the condition latent, the gate map
    this.timeEmbed = this.registerModule("time_embed", new TimestepEmbedding(config.timeEmbedDim, options));
    this.convIn = this.registerModule("conv_in", new T.nn.Conv2d(inputChannels, c0, 3, { ...options, padding: 1 }));
  }

  /** Registers norm_out and conv_out; each subclass calls it last, after its own blocks (registration order = init order). */
  protected registerHead(options: T.nn.LayerOptions): void {
    const c0 = levelChannels(this.config.baseChannels)[0];
    this.#normOut = this.registerModule("norm_out", groupNorm(c0, options));
    this.#convOut = this.registerModule("conv_out", new T.nn.Conv2d(c0, this.config.latentChannels, 1, options));
  }

  get normOut(): T.nn.GroupNorm {
    if (this.#normOut === undefined) throw new Error(`${this.constructor.name}: registerHead() was not called in its constructor`);
    return this.#normOut;
  }

  get convOut(): T.nn.Conv2d {
    if (this.#convOut === undefined) throw new Error(`${this.constructor.name}: registerHead() was not called in its constructor`);
    return this.#convOut;
  }

  abstract forward(input: ExpertInput): T.Tensor;

  /** Checks the input, then the timestep embedding and conv_in(concat(z_t, cond, gate)) at full resolution. */
  protected stem(input: ExpertInput): { temb: T.Tensor; x: T.Tensor } {
    checkExpertInput(`${this.constructor.name}.forward`, this.config, input);
    return { temb: this.timeEmbed.forward(input.t), x: this.convIn.forward(T.cat([input.zt, input.cond, input.gate], 1)) };
  }

  /** GroupNorm -> SiLU -> conv_out 1x1: epsilon [B, C, h, w]. */
  protected head(h: T.Tensor): T.Tensor {
    return this.convOut.forward(T.F.silu(this.normOut.forward(h)));
  }
}
