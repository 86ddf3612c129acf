// The MoEDiff-SR pipeline (in the shape of a diffusers pipeline): a trained model directory loaded once,
// its default sampling settings, and the one sequence that turns 3T condition tiles into 7T-like tiles:
//
//   1. encode    the 3T latent: the centre slice through the frozen VQ-VAE encoder ([y, 0, 0], no corrections)
//   2. route     the condition tokens z_c (multi-scale patch embedding + Swin) and the gating network's scores
//   3. gates     the weights Eq. 9 uses: [B, K] (global) or [B, K, h, w] (token-level, on the latent grid)
//   4. sample    the experts' reverse diffusion, joint or asynchronous (moe_sampler.ts)
//   5. decode    the clean latent (optionally snapped to the codebook) through the VQ-VAE decoder
//
// steps 0 skips 2-4 and decodes the 3T latent itself: the autoencoder alone, decode(encode(LR)).
//
// Everything that enhances (`enhance`, `demo`, the viewer's worker, the benchmark, model export) calls
// sampleTiles through enhanceVolume (enhance.ts) or directly, with options from defaultOptions().
import * as T from "../torch/index.js";
import { loadModelDir, type LoadedModel } from "../model_dir/load.js";
import type { ModelCard } from "../model_dir/card.js";
import type { MoEDiffConfig } from "../models/moediff/config.js";
import type { MoEDiffSR } from "../models/moediff/moediff.js";
import type { VQVAE } from "../models/vqvae/index.js";
import { conditionEncoderInput } from "../models/vqvae/encoder_input.js";
import { upsampleGateMaps } from "../models/gating.js";
import { sliceMultiple } from "../models/accounting.js";
import { isSamplerName, samplerNames, schedulerClass, type SamplerName } from "../diffusion/registry.js";
import { perSampleNoise, sampleMoE } from "./moe_sampler.js";
import { timed, type Profiler } from "../util/profiler.js";

/** How the experts sample: what `enhance`'s sampler options set. */
export interface SamplingOptions {
  sampler: SamplerName;
  /**
   * DDIM steps (ignored by DDPM, which visits every timestep). 0, with any sampler: no diffusion step,
   * the autoencoder alone: the 3T condition latent decoded, decode(encode(LR)) (SPEC section 6's baseline).
   */
  steps: number;
  eta: number;
  /** Where each chain starts, a fraction of its schedule in (0, 1] (1: pure noise; moe_sampler.ts). */
  start: number;
  mode: "joint" | "async";
  /** Async: skip an expert whose weight is below this (0: never). */
  skipBelow: number;
  /** Snap the final latent to the nearest codebook entries before decoding. */
  snapToCodebook: boolean;
}

/** Every setting of an enhancement that is not about the input's geometry. */
export interface EnhanceSettings extends SamplingOptions {
  seed: number;
  /** Tiles per forward pass. */
  batch: number;
  /** Tile overlap in pixels when a slice is larger than the model's slice size. */
  overlap: number;
  /**
   * Run a slice smaller than the model's slice size on a tile fitted to it (default true) instead of
   * padding it to the full size: the same model on less padding, faster.
   */
  fitTiles: boolean;
  /** Also produce each expert's own estimate and its gate maps. */
  explain: boolean;
}

/** The settings a model's config does not decide: `moediff-sr enhance`'s defaults. */
export const ENHANCE_DEFAULTS = Object.freeze({
  sampler: "ddim" as SamplerName,
  eta: 0,
  mode: "joint" as "joint" | "async",
  skipBelow: 0,
  seed: 0,
  batch: 2,
  overlap: 32,
  fitTiles: true,
  explain: false,
});

export class EnhanceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EnhanceError";
  }
}

/** Decoded tiles on the host: what sampleTiles returns. */
export interface TileOutput {
  /** [B, H, W] normalised intensities, tile after tile. */
  images: Float32Array;
  /** explain: each expert's own decoded estimate, [B, H, W] each. */
  experts: Float32Array[];
  /** explain: the gate weights upsampled to the tile, [B, K, H, W]; otherwise null. */
  gates: Float32Array | null;
  /** Expert forward passes, per expert (each on the whole batch). */
  evaluations: number[];
  /**
   * returnLatent only: the sampler's final latent z_out (before any codebook snap and the decoder) and
   * the condition latent z_LR the chain started from, [B, C, h, w] each (shape), tile after tile.
   */
  latents?: { final: Float32Array; condition: Float32Array; shape: [number, number, number, number] };
}

export class MoEDiffSRPipeline {
  readonly device: T.Device;

  constructor(
    readonly loaded: LoadedModel,
    device: T.Device = T.getDefaultDevice(),
  ) {
    this.device = device;
  }

  /** Loads a trained run or exported model directory (src/model_dir/load.ts) onto `device`. */
  static fromDir(dir: string, o: { device?: T.Device } = {}): MoEDiffSRPipeline {
    const device = o.device ?? T.getDefaultDevice();
    return new MoEDiffSRPipeline(loadModelDir(dir, { device }), device);
  }

  get model(): MoEDiffSR {
    return this.loaded.model;
  }
  get vqvae(): VQVAE {
    return this.loaded.vqvae;
  }
  get config(): MoEDiffConfig {
    return this.loaded.config;
  }
  get card(): ModelCard {
    return this.loaded.card;
  }

  /** The tile sides must be multiples of this (condition encoder patches and the latent grid). */
  get sliceMultiple(): number {
    return sliceMultiple(this.loaded);
  }

  /** The enhancement settings of this model: its config's sampling section, `enhance`'s defaults for the rest. */
  defaultOptions(): EnhanceSettings {
    const s = this.config.sampling;
    return { ...ENHANCE_DEFAULTS, steps: s.steps, start: s.start, snapToCodebook: s.snapToCodebook };
  }

  /** `o` over the defaults, checked: an EnhanceError says what is wrong. */
  resolveOptions(o: Partial<EnhanceSettings> = {}): EnhanceSettings {
    const d = this.defaultOptions();
    const r = Object.fromEntries(Object.entries(d).map(([k, v]) => [k, (o as Record<string, unknown>)[k] ?? v])) as unknown as EnhanceSettings; // the settings only, whatever else o holds
    const posInt = (v: number, what: string): void => {
      if (!Number.isInteger(v) || v < 1) throw new EnhanceError(`${what} must be a positive integer, got ${v}`);
    };
    posInt(r.batch, "batch");
    if (!isSamplerName(r.sampler)) throw new EnhanceError(`unknown sampler '${String(r.sampler)}'; known samplers: ${samplerNames().join(", ")}`);
    if (r.steps !== 0 && (this.model.formulation === "resshift" || schedulerClass(r.sampler).takesSteps)) posInt(r.steps, "steps"); // 0: the autoencoder alone
    if (this.model.formulation === "resshift") {
      const levels = Math.max(...this.model.shiftSchedules.map((s) => s.numTimesteps));
      if (r.steps > levels) throw new EnhanceError(`steps must be at most ${levels} for this model (its longest residual-shifting chain has ${levels} levels), got ${r.steps}`);
      if (!(r.eta <= 1)) throw new EnhanceError(`eta must be in [0, 1] for this model's residual-shifting chain (0 deterministic, 1 ResShift's posterior), got ${r.eta}`);
    }
    if (r.steps === 0 && r.explain) throw new EnhanceError("steps 0 runs the autoencoder alone (decode(encode(LR))): no expert runs, so there is nothing to explain; leave out explain or give steps >= 1");
    if (!(r.eta >= 0)) throw new EnhanceError(`eta must be >= 0, got ${r.eta}`);
    if (!(r.start > 0 && r.start <= 1)) throw new EnhanceError(`start must be in (0, 1], got ${r.start}`);
    const side = Math.min(this.card.slice.height, this.card.slice.width);
    if (!Number.isInteger(r.overlap) || r.overlap < 0 || r.overlap >= side) throw new EnhanceError(`overlap must be an integer in [0, ${side}), got ${r.overlap}`);
    const k = this.model.numExperts;
    if (!(r.skipBelow >= 0 && r.skipBelow <= 1 / k)) throw new EnhanceError(`the skip threshold must be in [0, 1/${k}], got ${r.skipBelow}`);
    if (r.skipBelow > 0 && r.mode !== "async") throw new EnhanceError("skipping experts needs asynchronous mode (--async)");
    return r;
  }

  /** One line for logs and file descriptions: "DDIM 5 steps, eta 0, from 0.2 of the schedule". */
  describeSampler(o: SamplingOptions): string {
    const from = o.start === 1 ? "" : `, from ${o.start} of the schedule`;
    if (o.steps === 0) return "no diffusion step (steps 0): the autoencoder alone, decode(encode(LR))";
    if (this.model.formulation === "resshift") return `ResShift ${o.steps} steps, eta ${o.eta}` + (o.start === 1 ? "" : `, from ${o.start} of the chain`);
    const name = o.sampler.toUpperCase();
    return (schedulerClass(o.sampler).takesSteps ? `${name} ${o.steps} steps, eta ${o.eta}` : `${name} (every timestep)`) + from;
  }

  /**
   * 3T condition tiles y [B, 3, H, W] (slices k-1, k, k+1, normalised) -> decoded 7T-like tiles. Tile b's
   * noise comes from its own generator seeded with seeds[b], so a tile's result does not depend on the
   * batch it is in.
   */
  sampleTiles(y: T.Tensor, seeds: readonly number[], o: SamplingOptions & { explain?: boolean; returnLatent?: boolean; profiler?: Profiler }): TileOutput {
    const { model, vqvae } = this.loaded;
    const [b, , h, w] = y.shape as [number, number, number, number];
    if (y.ndim !== 4 || y.size(1) !== 3) throw new RangeError(`sampleTiles: y must be [B, 3, H, W], got [${y.shape.join(", ")}]`);
    if (seeds.length !== b) throw new RangeError(`sampleTiles: ${seeds.length} seeds for ${b} tiles`);
    const k = model.numExperts;
    const explain = o.explain === true;
    // Forward passes only: libtorch's inference mode skips the autograd bookkeeping noGrad keeps.
    return T.tidy(() =>
      T.inferenceMode(() => {
        const p = o.profiler;
        const condLatent = timed(p, "vq encoder", () => vqvae.encodeLatent(conditionEncoderInput(y)), b); // 1. encode
        const decode = (z: T.Tensor): Float32Array =>
          timed(p, "vq decoder", () => vqvae.decodeLatent(z, { quantize: o.snapToCodebook, lr: y }).narrow(1, 0, 1).to("float32").contiguous().data() as Float32Array, b); // 5. decode
        const onHost = (z: T.Tensor): Float32Array => z.to("float32").contiguous().data() as Float32Array;
        const latents = (z: T.Tensor): Pick<TileOutput, "latents"> =>
          o.returnLatent === true ? { latents: { final: onHost(z), condition: onHost(condLatent), shape: z.shape as [number, number, number, number] } } : {};
        if (o.steps === 0) return { images: decode(condLatent), experts: [], gates: null, evaluations: new Array<number>(k).fill(0), ...latents(condLatent) }; // no diffusion step: the autoencoder alone
        const latentSize: [number, number] = [condLatent.size(2), condLatent.size(3)];
        const { zc, grids } = timed(p, "condition encoder", () => model.encodeCondition(y), b); // 2. route
        const gates = timed(p, "gating", () => model.usedGates(model.route(zc, grids), latentSize, false), b); // 3. gates
        const r = timed(p, "sampling", () =>
          sampleMoE(model, { condLatent, zc, gates }, {
            // 4. sample
            mode: o.mode,
            sampler: o.sampler,
            steps: o.steps,
            eta: o.eta,
            start: o.start,
            z0Clip: this.config.losses.z0HatClip,
            noise: perSampleNoise(seeds, { device: this.device }),
            skipBelow: o.skipBelow,
            keepExperts: explain,
            ...(p === undefined ? {} : { profiler: p }),
          }),
        );
        const gateImages = (): Float32Array => {
          const wt = r.weights;
          const full = wt.ndim === 4 ? upsampleGateMaps(wt, [h, w]) : wt.reshape(b, k, 1, 1).expand(b, k, h, w);
          return full.to("float32").contiguous().data() as Float32Array;
        };
        try {
          return { images: decode(r.z0), experts: (r.experts ?? []).map(decode), gates: explain ? gateImages() : null, evaluations: r.evaluations, ...latents(r.z0) };
        } finally {
          r.experts?.forEach((e) => e.dispose()); // kept by the sampler beyond its scope
        }
      }),
    );
  }

  /** Frees the weights of both networks. */
  dispose(): void {
    this.loaded.dispose();
  }
}
