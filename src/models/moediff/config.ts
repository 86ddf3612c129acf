// The MoEDiff-SR configuration: model (condition encoder, gating, experts, schedules), losses, the
// encoder inputs (ablations of b and g) and training. Two presets: `paper` (the paper's sizes, for a
// GPU) and `cpu-small` (trains on the Colin27 default data set within an hour on two cores). A user's
// JSON config overrides a preset key by key (src/util/config.ts rejects unknown keys).
import { ConfigError, resolveConfig, type ConfigObject } from "../../util/config.js";

export interface MoEDiffModelConfig extends ConfigObject {
  /** Which experts exist (ablation "single expert": e.g. [2]). Paper: [1, 2, 3]. */
  experts: number[];
  /** Diffusion steps T per expert kind 1, 2, 3 (paper Sec. III: 500, 2000, 1000). */
  timesteps: number[];
  schedule: "linear" | "cosine";
  /** absolutePosition: the patch embedding's fixed sin/cos positions (patch_embed.ts); false for crop-trained models. */
  condition: { dim: number; patchSizes: number[]; depth: number; numHeads: number; windowSize: number; mlpRatio: number; globalDepth: number; absolutePosition: boolean };
  gating: { mode: "global" | "spatial"; hidden: number; gamma: number; usageDecay: number; temperature: number };
  expert: { baseChannels: number; timeEmbedDim: number; numHeads: number };
  /**
   * What the experts diffuse: "latent" = z0 as the paper writes it (Eq. 5), or "residual" =
   * residualScale * (z0 - condition latent), the HR detail the 3T slice's own latent lacks (an
   * SRDiff-style residual; our deviation for small CPU budgets, see README). Eq. 10-12 still compare
   * latents (z0 with the estimate mapped back); Eq. 14-16 compare the diffused estimates.
   */
  target: "latent" | "residual";
  /** Scale of the residual target; 0 = set at the start of training to 1 / std of z0 - condition latent. */
  residualScale: number;
  /**
   * How the experts carry the 3T -> 7T change: "paper" = each expert an epsilon-predicting DDPM on its
   * own schedule (Eq. 5-8, `timesteps`); "resshift" = a residual-shifting chain from the 3T latent to
   * the 7T latent (ResShift; src/diffusion/shift_schedule.ts), each expert predicting the clean target
   * directly, on its own chain length (`shift.timesteps`), all chains on one eta curve. "resshift"
   * needs target "residual" (the chain runs on the residual, where the 3T end is 0).
   */
  formulation: "paper" | "resshift";
  /** The residual-shifting chains (formulation "resshift"). */
  shift: {
    /** Chain length per expert kind 1, 2, 3: the paper's 500:2000:1000 as 5:17:9 (nested grids: 4, 16 and 8 intervals). */
    timesteps: number[];
    /** Noise scale kappa in units of the scaled residual (unit standard deviation). */
    kappa: number;
    etaMin: number;
    etaMax: number;
    power: number;
  };
}

export interface MoEDiffLossConfig extends ConfigObject {
  /** Eq. 16 expert-diversity term (ablation: false). */
  diversity: boolean;
  /** Eq. 16: floor of each expert's most-similar-pair cosine (0: only similarity is penalised; -1: as written). */
  diversityFloor: number;
  /** Eq. 14 MAD temperature floor. */
  temperatureFloor: number;
  /** Eq. 11 Fourier term: "complex" as written (equals the latent MSE by Parseval) or "amplitude". */
  fourier: "complex" | "amplitude";
  /** Eq. 12 STFT term: "complex" as written or "magnitude". */
  stft: "complex" | "magnitude";
  /** Eq. 17 bounds of w. */
  wMin: number;
  wMax: number;
  /** z0_hat (Eq. 8) is clamped to [-z0HatClip, z0HatClip] in the task losses (0 = no clamp): at large t, Eq. 8 divides by sqrt(alpha_bar) ~ 0.006. */
  z0HatClip: number;
  /** A torchvision VGG-16 weight file for Eq. 10's perceptual term; null = the documented filter bank. */
  vggWeights: string | null;
  /** Stop Eq. 13's gradient into the gate (the gate learns from Eq. 16). */
  detachGateInExpertLoss: boolean;
  /**
   * Per-sample weight of the task losses (Eq. 10-12) inside Eq. 6: "none" as written, or "alphaBar"
   * (multiply by alphaBar_t of the sample's own timestep). At large t, z0_hat (Eq. 8) is eps_hat's error
   * amplified by sqrt((1 - alphaBar)/alphaBar) (up to ~150x), so unweighted task losses are mostly
   * noise there and swamp Eq. 7; alphaBar weighting turns ||z0 - z0_hat||^2 into (1 - alphaBar)
   * ||eps - eps_hat||^2, bounded like the diffusion loss.
   */
  taskWeighting: "none" | "alphaBar";
  /**
   * Weight of the routing-information term (formulation "resshift" only; src/losses/routing_balance.ts):
   * mean per-token routing entropy minus the entropy of the experts' shares. 0: off (the paper).
   */
  routingBalance: number;
  /**
   * Formulation "resshift" only: the share of each expert's own losses (Eq. 13's per-pixel diffusion
   * term and its task loss) that is spread evenly over every token instead of following the gate:
   * weight (1 - f) G_i(p) + f / K. 0: as Eq. 13 (an expert learns only where it is routed); 1: every
   * expert learns everywhere, as a single expert would, and the gate only chooses the mix.
   */
  expertFloor: number;
  /**
   * Formulation "resshift" only: the gating network reads the condition tokens detached, so its losses
   * (Eq. 16, the mixture's, the routing term) train the gate alone and do not reshape the condition
   * encoder the experts read. false: as the paper, everything is trained jointly.
   */
  detachGatingInput: boolean;
}

export interface MoEDiffTrainingConfig extends ConfigObject {
  epochs: number;
  /** If > 0, train exactly this many optimiser steps instead of `epochs` epochs. */
  steps: number;
  batchSize: number;
  gradAccumulation: number;
  lr: number;
  /** Linear warm-up steps (paper: 100). */
  warmupSteps: number;
  weightDecay: number;
  gradClip: number;
  /** Gating fixed uniform for this fraction of training (paper: 1000 of 5000 epochs = 0.2). */
  uniformGatingFraction: number;
  /** EMA of the weights (0 = off). */
  emaDecay: number;
  seed: number;
  logEvery: number;
  checkpointEvery: number;
  /** Held-out slices for the end-of-training losses (0 = all). */
  evalSlices: number;
  /**
   * Keep the frozen autoencoder's latents of every training slice in memory after their first use
   * (the encoder is frozen, so they never change): saves two encoder passes per slice and step, at
   * 2 x C x h x w floats per slice.
   */
  cacheLatents: boolean;
  /** Train on random aligned crops of this many slice pixels (0: whole slices); see src/train/latent_crop.ts. */
  cropSize: number;
}

/** Inference defaults the model was validated with (`enhance` options override them). */
export interface MoEDiffSamplingConfig extends ConfigObject {
  /** DDIM steps. */
  steps: number;
  /** Start of the chain as a fraction of the schedule (1: from pure noise; see moe_sampler.ts). */
  start: number;
  /** Snap the final latent to the VQ-VAE codebook before decoding. */
  snapToCodebook: boolean;
}

export interface MoEDiffConfig extends ConfigObject {
  preset: string;
  model: MoEDiffModelConfig;
  sampling: MoEDiffSamplingConfig;
  losses: MoEDiffLossConfig;
  inputs: { useBias: boolean; useGradwarp: boolean };
  training: MoEDiffTrainingConfig;
}

const LOSSES: MoEDiffLossConfig = {
  diversity: true,
  diversityFloor: 0,
  temperatureFloor: 1e-3,
  fourier: "complex",
  stft: "complex",
  wMin: 0.01,
  wMax: 100,
  z0HatClip: 5,
  vggWeights: null,
  detachGateInExpertLoss: true,
  taskWeighting: "none", // Eq. 6 as written
  routingBalance: 0, // not in the paper
  expertFloor: 0, // Eq. 13 as written
  detachGatingInput: false, // joint training, as the paper
};

// ResShift's eta curve (its Eq. 10: p = 0.3, eta_T = 0.999, eta_1 = 0.001); kappa 1 because the
// residual is scaled to unit standard deviation (ResShift's kappa 2 is for images in [-1, 1]).
const SHIFT = { timesteps: [5, 17, 9], kappa: 1, etaMin: 0.001, etaMax: 0.999, power: 0.3 };

export const MOEDIFF_PRESETS: Readonly<Record<string, MoEDiffConfig>> = Object.freeze({
  paper: {
    preset: "paper",
    model: {
      experts: [1, 2, 3],
      timesteps: [500, 2000, 1000], // paper Sec. III
      schedule: "linear",
      condition: { dim: 256, patchSizes: [64, 32, 16], depth: 4, numHeads: 8, windowSize: 8, mlpRatio: 4, globalDepth: 1, absolutePosition: true },
      gating: { mode: "global", hidden: 256, gamma: 0.1, usageDecay: 0.99, temperature: 1 }, // Eq. 4
      expert: { baseChannels: 64, timeEmbedDim: 256, numHeads: 8 },
      target: "latent", // Eq. 5 as written
      residualScale: 0,
      formulation: "paper",
      shift: SHIFT,
    },
    losses: LOSSES,
    sampling: { steps: 50, start: 1, snapToCodebook: true },
    inputs: { useBias: true, useGradwarp: true },
    training: {
      epochs: 5000, // paper Sec. III
      steps: 0,
      batchSize: 32, // paper Sec. III
      gradAccumulation: 1,
      lr: 1e-6, // paper Sec. III
      warmupSteps: 100, // paper Sec. III
      weightDecay: 0.01,
      gradClip: 1,
      uniformGatingFraction: 0.2, // paper: 1000 of 5000 epochs
      emaDecay: 0.9999,
      seed: 1,
      logEvery: 10,
      checkpointEvery: 1000,
      evalSlices: 0,
      cacheLatents: false,
      cropSize: 0,
    },
  },
  "cpu-small": {
    preset: "cpu-small",
    model: {
      experts: [1, 2, 3],
      timesteps: [500, 2000, 1000],
      schedule: "linear",
      // absolutePosition false: trained on 128-pixel crops, the model would meet positions beyond the
      // crop first on a whole slice (patch_embed.ts).
      condition: { dim: 64, patchSizes: [64, 32, 16], depth: 2, numHeads: 2, windowSize: 8, mlpRatio: 2, globalDepth: 1, absolutePosition: false },
      // Token-level routing (SPEC 4, turn 2). Temperature 0.25: the logits are cosines in [-1, 1], so at
      // tau 1 no expert can get more than 0.79 of a token (e^1 / (e^1 + 2 e^-1)); at 0.25, up to 0.9993.
      gating: { mode: "spatial", hidden: 64, gamma: 0.1, usageDecay: 0.99, temperature: 0.25 },
      expert: { baseChannels: 16, timeEmbedDim: 64, numHeads: 2 },
      target: "residual",
      residualScale: 0,
      formulation: "resshift", // the chain from the 3T latent to the 7T latent (SPEC 4, turn 2; docs/method.md)
      shift: SHIFT,
    },
    // wMax 1: Eq. 17's w = 1 / var(L_gating) saturated at 100 within a few hundred steps (the gating
    // loss barely varies), and 100 x the diversity term of Eq. 16 then outweighed the experts' own
    // losses ~50 to 1; with gradient clipping the experts stopped learning to denoise (eps MSE ~1).
    // Eq. 11 and 12's amplitude and magnitude variants: as written they reduce to the latent MSE by
    // Parseval, so nothing would push E2 and E3 apart from E1 (issue 19).
    // routingBalance 0.5: see routing_balance.ts and docs/method.md (without it the gates collapsed
    // onto E2 with a spatially constant map).
    losses: { ...LOSSES, taskWeighting: "alphaBar", wMax: 1, fourier: "amplitude", stft: "magnitude", routingBalance: 0.5 },
    sampling: { steps: 5, start: 1, snapToCodebook: false },
    inputs: { useBias: true, useGradwarp: true },
    training: {
      epochs: 40,
      steps: 0,
      batchSize: 4,
      gradAccumulation: 1,
      lr: 2e-4,
      warmupSteps: 100,
      weightDecay: 0.01,
      gradClip: 1,
      uniformGatingFraction: 0.2,
      emaDecay: 0.999,
      seed: 1,
      logEvery: 10,
      checkpointEvery: 200,
      evalSlices: 0,
      cacheLatents: true,
      cropSize: 128,
    },
  },
});

/**
 * A run's stored config.json (preset + every key as it was trained), validated. A config written
 * before `model.formulation` existed was trained in the paper formulation (the only one then): it
 * gets "paper", not the preset's current default.
 */
export function resolveStoredMoEDiffConfig(raw: {
  preset: string;
  model?: { formulation?: unknown; condition?: { absolutePosition?: unknown } };
  losses?: { routingBalance?: unknown; expertFloor?: unknown; detachGatingInput?: unknown };
}): MoEDiffConfig {
  let stored: typeof raw = raw.model !== undefined && raw.model.formulation === undefined ? { ...raw, model: { ...raw.model, formulation: "paper" } } : raw;
  // A run stored before condition.absolutePosition existed had the positions.
  if (stored.model?.condition !== undefined && stored.model.condition.absolutePosition === undefined) {
    stored = { ...stored, model: { ...stored.model, condition: { ...stored.model.condition, absolutePosition: true } } };
  }
  // A run stored before losses.routingBalance existed trained without it: it resumes without it.
  if (stored.losses !== undefined && stored.losses.routingBalance === undefined) stored = { ...stored, losses: { ...stored.losses, routingBalance: 0 } };
  // Likewise losses.expertFloor: before it existed every expert learned only where it was routed.
  if (stored.losses !== undefined && stored.losses.expertFloor === undefined) stored = { ...stored, losses: { ...stored.losses, expertFloor: 0 } };
  if (stored.losses !== undefined && stored.losses.detachGatingInput === undefined) stored = { ...stored, losses: { ...stored.losses, detachGatingInput: false } };
  return resolveMoEDiffConfig(raw.preset, stored);
}

/** A preset with overrides, validated; errors name the key and echo the value. */
export function resolveMoEDiffConfig(preset: string, overrides?: unknown): MoEDiffConfig {
  const base = MOEDIFF_PRESETS[preset];
  if (base === undefined) throw new ConfigError(`unknown preset '${preset}' (known: ${Object.keys(MOEDIFF_PRESETS).join(", ")})`);
  const c = resolveConfig(base, overrides);
  const m = c.model;
  const fail = (path: string, cond: string, v: unknown): never => {
    throw new ConfigError(`config.${path} must be ${cond}, got ${JSON.stringify(v)}`);
  };
  if (m.experts.length === 0 || m.experts.some((k) => ![1, 2, 3].includes(k)) || new Set(m.experts).size !== m.experts.length) {
    fail("model.experts", "a non-empty list of distinct expert kinds from 1, 2, 3", m.experts);
  }
  if (m.timesteps.length !== 3 || m.timesteps.some((t) => !Number.isInteger(t) || t < 2)) fail("model.timesteps", "three integers >= 2 (T for experts 1, 2, 3)", m.timesteps);
  if (m.schedule !== "linear" && m.schedule !== "cosine") fail("model.schedule", "'linear' or 'cosine'", m.schedule);
  if (m.gating.mode !== "global" && m.gating.mode !== "spatial") fail("model.gating.mode", "'global' or 'spatial'", m.gating.mode);
  if (m.target !== "latent" && m.target !== "residual") fail("model.target", "'latent' or 'residual'", m.target);
  if (!(Number.isFinite(m.residualScale) && m.residualScale >= 0)) fail("model.residualScale", "a number >= 0 (0: set by training)", m.residualScale);
  if (m.formulation !== "paper" && m.formulation !== "resshift") fail("model.formulation", "'paper' or 'resshift'", m.formulation);
  if (m.formulation === "resshift" && m.target !== "residual") fail("model.target", "'residual' with formulation 'resshift' (the chain runs on the residual)", m.target);
  const sh = m.shift;
  if (sh.timesteps.length !== 3 || sh.timesteps.some((t) => !Number.isInteger(t) || t < 2)) fail("model.shift.timesteps", "three integers >= 2 (chain lengths for experts 1, 2, 3)", sh.timesteps);
  if (!(sh.kappa > 0)) fail("model.shift.kappa", "> 0", sh.kappa);
  if (!(sh.etaMin > 0 && sh.etaMin < sh.etaMax && sh.etaMax < 1)) fail("model.shift.etaMin/etaMax", "0 < etaMin < etaMax < 1", [sh.etaMin, sh.etaMax]);
  if (!(sh.power > 0)) fail("model.shift.power", "> 0", sh.power);
  const l = c.losses;
  if (l.fourier !== "complex" && l.fourier !== "amplitude") fail("losses.fourier", "'complex' or 'amplitude'", l.fourier);
  if (l.stft !== "complex" && l.stft !== "magnitude") fail("losses.stft", "'complex' or 'magnitude'", l.stft);
  if (!(l.wMin > 0 && l.wMax >= l.wMin)) fail("losses.wMin/wMax", "0 < wMin <= wMax", [l.wMin, l.wMax]);
  if (!(l.diversityFloor >= -1 && l.diversityFloor <= 1)) fail("losses.diversityFloor", "in [-1, 1]", l.diversityFloor);
  if (l.taskWeighting !== "none" && l.taskWeighting !== "alphaBar") fail("losses.taskWeighting", "'none' or 'alphaBar'", l.taskWeighting);
  if (!(l.z0HatClip >= 0)) fail("losses.z0HatClip", ">= 0", l.z0HatClip);
  if (!(Number.isFinite(l.routingBalance) && l.routingBalance >= 0)) fail("losses.routingBalance", "a number >= 0", l.routingBalance);
  if (!(Number.isFinite(l.expertFloor) && l.expertFloor >= 0 && l.expertFloor <= 1)) fail("losses.expertFloor", "a number in [0, 1]", l.expertFloor);
  if (l.vggWeights !== null && typeof l.vggWeights !== "string") fail("losses.vggWeights", "a file path or null", l.vggWeights);
  const sp = c.sampling;
  if (!Number.isInteger(sp.steps) || sp.steps < 1) fail("sampling.steps", "a positive integer", sp.steps);
  if (!(sp.start > 0 && sp.start <= 1)) fail("sampling.start", "in (0, 1]", sp.start);
  const t = c.training;
  const posInt = (v: number, k: string): void => {
    if (!Number.isInteger(v) || v < 1) fail(`training.${k}`, "a positive integer", v);
  };
  posInt(t.batchSize, "batchSize");
  posInt(t.gradAccumulation, "gradAccumulation");
  posInt(t.logEvery, "logEvery");
  posInt(t.checkpointEvery, "checkpointEvery");
  if (!Number.isInteger(t.epochs) || t.epochs < 0) fail("training.epochs", "an integer >= 0", t.epochs);
  if (!Number.isInteger(t.steps) || t.steps < 0) fail("training.steps", "an integer >= 0", t.steps);
  if (t.epochs === 0 && t.steps === 0) fail("training.epochs/steps", "one of them positive", [t.epochs, t.steps]);
  if (!(t.lr > 0)) fail("training.lr", "> 0", t.lr);
  if (!Number.isInteger(t.cropSize) || t.cropSize < 0) fail("training.cropSize", "an integer >= 0 (0: whole slices)", t.cropSize);
  if (!(t.uniformGatingFraction >= 0 && t.uniformGatingFraction <= 1)) fail("training.uniformGatingFraction", "in [0, 1]", t.uniformGatingFraction);
  if (!(t.emaDecay >= 0 && t.emaDecay < 1)) fail("training.emaDecay", "in [0, 1)", t.emaDecay);
  if (!(t.gradClip > 0)) fail("training.gradClip", "> 0", t.gradClip);
  if (!Number.isInteger(t.warmupSteps) || t.warmupSteps < 0) fail("training.warmupSteps", "an integer >= 0", t.warmupSteps);
  return c;
}

/** Applies the ablation switches of the CLI (issue 4 point 9) as config overrides. */
export interface Ablations {
  noBias?: boolean;
  noGradwarp?: boolean;
  experts?: number[];
  gating?: "global" | "spatial";
  noDiversity?: boolean;
  noFrequency?: boolean;
}

export function applyAblations(c: MoEDiffConfig, a: Ablations): MoEDiffConfig {
  const out = structuredClone(c) as MoEDiffConfig & { inputs: { useBias: boolean; useGradwarp: boolean } };
  const o = out as unknown as { inputs: Record<string, boolean>; model: Record<string, unknown> & { gating: Record<string, unknown> }; losses: Record<string, unknown> };
  if (a.noBias === true) o.inputs.useBias = false;
  if (a.noGradwarp === true) o.inputs.useGradwarp = false;
  if (a.experts !== undefined) o.model.experts = [...a.experts];
  if (a.gating !== undefined) o.model.gating.mode = a.gating;
  if (a.noDiversity === true) o.losses.diversity = false;
  if (a.noFrequency === true) o.model.gating.gamma = 0; // Eq. 4 without the frequency-aware softmax
  return resolveMoEDiffConfig(out.preset, out);
}
