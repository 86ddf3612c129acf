// A trained VQ-VAE directory's config.json: the model's config, the training recipe that made it and
// which correction channels the encoder sees; with the presets `train-vqvae` starts from.
import { VQVAE_CPU_SMALL, VQVAE_PAPER, resolveVQVAEConfig, type VQVAEConfig } from "./config.js";
import { ConfigError, resolveConfig, type ConfigObject } from "../../util/config.js";

export interface VqvaeTrainingConfig extends ConfigObject {
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  gradClip: number;
  seed: number;
  logEvery: number;
  checkpointEvery: number;
  /** Held-out slices evaluated at the end (0 = all of the split). */
  evalSlices: number;
  /**
   * Train on random square crops of this size (0 = whole slices). The autoencoder is fully
   * convolutional, so crops teach it the same mapping at a fraction of the cost; evaluation always
   * uses whole slices. Must be divisible by the downsampling factor.
   */
  cropSize: number;
  /**
   * Set model.scaleFactor at the end of training to 1 / std of the quantised latent over the training
   * slices (LDM's "scale by std"), so the diffusion latent has unit variance whatever the codebook
   * learnt. The paper fixes 0.2 for its VQ-VAE (its latents' scale); a small VQ-VAE's latents have
   * another scale (cpu-small: std 0.41 unscaled, so 0.2 gave latents of std 0.08, drowned by unit
   * noise at almost every timestep and sampled into noise).
   */
  scaleByStd: boolean;
  /** Learning rate after the warm-up: "constant", or "cosine" annealing to 0 at the last step. */
  lrSchedule: "constant" | "cosine";
}

export interface VqvaeRunConfig extends ConfigObject {
  preset: string;
  model: VQVAEConfig & ConfigObject;
  training: VqvaeTrainingConfig;
  inputs: { useBias: boolean; useGradwarp: boolean };
}

const TRAINING_CPU_SMALL: VqvaeTrainingConfig = {
  steps: 1500,
  batchSize: 8,
  lr: 1e-3,
  warmupSteps: 100,
  weightDecay: 0,
  gradClip: 1,
  seed: 1,
  logEvery: 10,
  checkpointEvery: 250,
  evalSlices: 0,
  cropSize: 128,
  scaleByStd: true,
  lrSchedule: "constant",
};

export const VQVAE_RUN_PRESETS: Readonly<Record<string, VqvaeRunConfig>> = Object.freeze({
  "cpu-small": { preset: "cpu-small", model: { ...VQVAE_CPU_SMALL } as VQVAEConfig & ConfigObject, training: TRAINING_CPU_SMALL, inputs: { useBias: true, useGradwarp: true } },
  paper: {
    preset: "paper",
    model: { ...VQVAE_PAPER } as VQVAEConfig & ConfigObject,
    training: { ...TRAINING_CPU_SMALL, steps: 100_000, batchSize: 32, lr: 1e-4, warmupSteps: 1000, checkpointEvery: 1000, cropSize: 0, scaleByStd: false },
    inputs: { useBias: true, useGradwarp: true },
  },
});

/**
 * A saved VQ-VAE config (a run's config.json or checkpoint state) with the keys added since it was
 * written, at the values that reproduce what it made: model.lrCondition "none" (directories from before
 * the LR-conditioned decoder have a plain decoder). Returns a copy; anything else is left to the
 * resolvers to check.
 */
export function upgradeVqvaeRunConfig<C>(saved: C): C {
  const c = structuredClone(saved) as unknown;
  if (typeof c !== "object" || c === null) return c as C;
  const model = (c as { model?: unknown }).model;
  if (typeof model === "object" && model !== null && !("lrCondition" in model)) (model as Record<string, unknown>).lrCondition = "none";
  return c as C;
}

/** The preset with a user's overrides (a parsed JSON config file), validated. */
export function resolveVqvaeRunConfig(preset: string, overrides?: unknown): VqvaeRunConfig {
  const base = VQVAE_RUN_PRESETS[preset];
  if (base === undefined) throw new ConfigError(`unknown preset '${preset}' (known: ${Object.keys(VQVAE_RUN_PRESETS).join(", ")})`);
  const c = resolveConfig(base, overrides);
  resolveVQVAEConfig(c.model); // the model's own checks
  const t = c.training;
  const positiveInt = (v: number, k: string): void => {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`config.training.${k} must be a positive integer, got ${v}`);
  };
  positiveInt(t.steps, "steps");
  positiveInt(t.batchSize, "batchSize");
  positiveInt(t.logEvery, "logEvery");
  positiveInt(t.checkpointEvery, "checkpointEvery");
  if (!(t.lr > 0)) throw new ConfigError(`config.training.lr must be > 0, got ${t.lr}`);
  if (!(t.gradClip > 0)) throw new ConfigError(`config.training.gradClip must be > 0, got ${t.gradClip}`);
  if (!Number.isInteger(t.warmupSteps) || t.warmupSteps < 0) throw new ConfigError(`config.training.warmupSteps must be an integer >= 0, got ${t.warmupSteps}`);
  if (t.lrSchedule !== "constant" && t.lrSchedule !== "cosine") throw new ConfigError(`config.training.lrSchedule must be "constant" or "cosine", got ${JSON.stringify(t.lrSchedule)}`);
  const factor = 2 ** (c.model.channelMult.length - 1);
  if (!Number.isInteger(t.cropSize) || t.cropSize < 0 || t.cropSize % factor !== 0) {
    throw new ConfigError(`config.training.cropSize must be 0 or a positive multiple of the downsampling factor ${factor}, got ${t.cropSize}`);
  }
  return c;
}
