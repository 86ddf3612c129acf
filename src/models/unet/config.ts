// Configuration of the regression U-Net baseline (SPEC section 6: "a plain regression U-Net, pixel
// space, residual on the B-spline image, the thing a user would pick instead"): the network's sizes,
// the training recipe, and the preset `moediff-sr train-unet` starts from. A run directory's
// config.json is a UNetRunConfig; its `kind` ("unet") tells it apart from a MoEDiff-SR run.
//
// The cpu-small preset (32 base channels, 3 levels, one residual block per level: 0.89 M parameters;
// 128x128 crops, batch 8) is a small CPU size meant for a budget of about half an hour on two cores
// (configs/default/unet.json gives it the default MoE model's 34 minutes; docs/training.md). The paper
// has no such baseline, so none of these numbers come from it.
import { ConfigError, requireConfig, resolveConfig, type ConfigObject } from "../../util/config.js";

export const UNET_KIND = "unet";

export interface UNetConfig extends ConfigObject {
  /** Input channels: the 3T slices k-1, k, k+1 on the HR grid (the diffusion model's condition) = 3. */
  inChannels: number;
  /** Channels of the first level; level i has baseChannels * channelMult[i]. */
  baseChannels: number;
  /** One entry per resolution level; len - 1 stride-2 downsamplings (H and W must divide by 2^(len-1)). */
  channelMult: number[];
  /** Residual blocks per level, in the encoder and (after the skip concatenation) in the decoder. */
  numResBlocks: number;
  /** "group": GroupNorm before each SiLU (32 groups or fewer, see blocks.ts); "none": no normalisation. */
  norm: "group" | "none";
}

export interface UNetTrainingConfig extends ConfigObject {
  /** Optimiser steps (with `minutes` > 0: the step count the budget came to, written by the trainer). */
  steps: number;
  /**
   * A wall-clock budget in minutes (0: train `steps` steps). The trainer times a few forward/backward
   * passes first and sets `steps` to what fits; the cosine schedule then runs over those steps, so the
   * run is the same as one with that --steps (config.json records both).
   */
  minutes: number;
  batchSize: number;
  /** Random square crops of this size (0: whole slices); a multiple of 2^(levels-1). */
  cropSize: number;
  /** Random left-right flips of each batch (the same flip for input and target). */
  flip: boolean;
  lr: number;
  /** Linear warm-up steps before the cosine annealing to 0 at the last step. */
  warmupSteps: number;
  weightDecay: number;
  gradClip: number;
  seed: number;
  logEvery: number;
  checkpointEvery: number;
  /** Held-out slices evaluated at the end (0 = all of the split). */
  evalSlices: number;
}

export interface UNetRunConfig extends ConfigObject {
  kind: typeof UNET_KIND;
  preset: string;
  model: UNetConfig;
  training: UNetTrainingConfig;
}

export const UNET_CPU_SMALL: Readonly<UNetConfig> = Object.freeze({
  inChannels: 3,
  baseChannels: 32,
  channelMult: Object.freeze([1, 2, 4]) as unknown as number[],
  numResBlocks: 1,
  norm: "group",
});

const TRAINING_CPU_SMALL: Readonly<UNetTrainingConfig> = Object.freeze({
  steps: 1500,
  minutes: 0,
  batchSize: 8,
  cropSize: 128,
  flip: true,
  lr: 1e-3,
  warmupSteps: 50,
  weightDecay: 1e-4,
  gradClip: 1,
  seed: 1,
  logEvery: 10,
  checkpointEvery: 100,
  evalSlices: 0,
});

export const UNET_PRESETS: Readonly<Record<string, UNetRunConfig>> = Object.freeze({
  "cpu-small": { kind: UNET_KIND, preset: "cpu-small", model: { ...UNET_CPU_SMALL, channelMult: [...UNET_CPU_SMALL.channelMult] }, training: { ...TRAINING_CPU_SMALL } },
});

/** The size multiple of a U-Net's input: 2^(levels - 1). */
export function unetSizeMultiple(c: Pick<UNetConfig, "channelMult">): number {
  return 2 ** (c.channelMult.length - 1);
}

/** Checks a model config; throws a ConfigError naming the key ("config.model.baseChannels must be ..."). */
export function validateUNetConfig(c: UNetConfig, path = "config.model"): UNetConfig {
  const posInt = (v: unknown): boolean => typeof v === "number" && Number.isInteger(v) && v >= 1;
  requireConfig(posInt(c.inChannels), `${path}.inChannels`, "a positive integer", c.inChannels);
  requireConfig(c.inChannels >= 2, `${path}.inChannels`, ">= 2 (the centre channel 1 is the slice the residual is added to)", c.inChannels);
  requireConfig(posInt(c.baseChannels), `${path}.baseChannels`, "a positive integer", c.baseChannels);
  requireConfig(Array.isArray(c.channelMult) && c.channelMult.length >= 1 && c.channelMult.length <= 6 && c.channelMult.every(posInt), `${path}.channelMult`, "1 to 6 positive integers", c.channelMult);
  requireConfig(Number.isInteger(c.numResBlocks) && c.numResBlocks >= 1, `${path}.numResBlocks`, "an integer >= 1", c.numResBlocks);
  requireConfig(c.norm === "group" || c.norm === "none", `${path}.norm`, '"group" or "none"', c.norm);
  return c;
}

/** The preset with a user's overrides (a parsed JSON config file), validated. */
export function resolveUNetRunConfig(preset: string, overrides?: unknown): UNetRunConfig {
  const base = UNET_PRESETS[preset];
  if (base === undefined) throw new ConfigError(`unknown U-Net preset '${preset}' (known: ${Object.keys(UNET_PRESETS).join(", ")})`);
  const c = resolveConfig(base, overrides);
  requireConfig(c.kind === UNET_KIND, "config.kind", `"${UNET_KIND}"`, c.kind);
  validateUNetConfig(c.model);
  const t = c.training;
  const posInt = (v: number, k: string): void => requireConfig(Number.isInteger(v) && v >= 1, `config.training.${k}`, "a positive integer", v);
  posInt(t.steps, "steps");
  posInt(t.batchSize, "batchSize");
  posInt(t.logEvery, "logEvery");
  posInt(t.checkpointEvery, "checkpointEvery");
  requireConfig(t.minutes >= 0, "config.training.minutes", ">= 0 (0: train config.training.steps steps)", t.minutes);
  requireConfig(t.lr > 0, "config.training.lr", "> 0", t.lr);
  requireConfig(t.weightDecay >= 0, "config.training.weightDecay", ">= 0", t.weightDecay);
  requireConfig(t.gradClip > 0, "config.training.gradClip", "> 0", t.gradClip);
  requireConfig(Number.isInteger(t.warmupSteps) && t.warmupSteps >= 0, "config.training.warmupSteps", "an integer >= 0", t.warmupSteps);
  requireConfig(Number.isInteger(t.evalSlices) && t.evalSlices >= 0, "config.training.evalSlices", "an integer >= 0 (0: the whole split)", t.evalSlices);
  const m = unetSizeMultiple(c.model);
  requireConfig(Number.isInteger(t.cropSize) && t.cropSize >= 0 && t.cropSize % m === 0, "config.training.cropSize", `0 or a positive multiple of ${m} (2^(levels-1))`, t.cropSize);
  return c;
}
