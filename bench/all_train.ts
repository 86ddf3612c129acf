// Training throughput for `npm run bench` (train_samples_per_s): a few optimiser steps of a freshly
// initialised MoEDiff-SR with the model's own config (preset and overrides: batch size, crop, gradient
// accumulation, EMA, losses) on slices of a simulated pair, timed step by step.
//
// Design decisions (the issue only names the figure):
// - The step is the one `moediff-sr train` takes (src/train/moe_trainer.ts): zero the gradients; per
//   accumulation micro-batch the frozen autoencoder's latents, a random aligned crop
//   (training.cropSize), the joint objective (moeTrainingLosses) and backward; gradient clipping; AdamW;
//   the warm-up LR schedule; the EMA update. Gating is routed (not the uniform warm-up of the first
//   steps), as in the bulk of a run.
// - Data: the slices `prepare` would cut from the pair (the card's axis and slice size, slices with
//   enough brain, src/data/brain_fraction.ts), visited in BatchOrder with the config's seed. The slices
//   are turned into tensors before timing: reading shards is I/O, not training arithmetic. With
//   training.cacheLatents (cpu-small) the trainer encodes each slice once and reuses the latents, so
//   they are encoded before timing too; without it the encoder runs inside the timed step, as in training.
// - The first `warmup` steps (oneDNN primitive creation, allocator growth) are not timed; the figure is
//   samples per optimiser step (batchSize x gradAccumulation) over the median step time.
// - A config naming VGG-16 weights that are not on this machine is timed with the documented filter
//   bank instead (a note says so): the perceptual term is a small part of the step either way.
import { existsSync } from "node:fs";
import * as T from "../src/torch/index.js";
import type { LoadedModel } from "../src/model_dir/load.js";
import type { HrSource, PairVolumes } from "../src/data/pair_volumes.js";
import { brainFractions, keptSlices } from "../src/data/brain_fraction.js";
import { extractCondition, extractSlice, sliceGeometry } from "../src/data/slicing.js";
import { moeTrainingLosses, type MoELatents } from "../src/models/moediff/training_losses.js";
import { createPerceptualExtractor } from "../src/models/perceptual/index.js";
import { freshTrainingState } from "../src/train/moe_trainer.js";
import { conditionEncoderInput, encoderInput } from "../src/models/vqvae/encoder_input.js";
import { cropLatents } from "../src/train/latent_crop.js";
import { BatchOrder } from "../src/train/batch_order.js";
import { median } from "./stats.js";

export interface TrainTimingOptions {
  /** Timed optimiser steps. */
  steps: number;
  /** Untimed steps first. */
  warmup: number;
  device?: T.Device;
}

export interface TrainTiming {
  /** Seconds of each timed step. */
  stepSeconds: number[];
  warmup: number;
  batchSize: number;
  gradAccumulation: number;
  /** batchSize x gradAccumulation. */
  samplesPerStep: number;
  samplesPerSecond: number;
  medianStepSeconds: number;
  cropSize: number;
  latentsCached: boolean;
  /** Slices of the pair with enough brain (the pool the batches come from). */
  slices: number;
  perceptual: string;
  notes: string[];
}

interface HostBatch {
  cond: T.Tensor;
  hr: T.Tensor;
  bias: T.Tensor;
  g: T.Tensor;
}

/** Times `warmup + steps` training steps of a fresh model with lm's config on the pair's slices. */
export function timeTrainingSteps(lm: LoadedModel, hr: HrSource, pair: PairVolumes, o: TrainTimingOptions): TrainTiming {
  if (!Number.isInteger(o.steps) || o.steps < 1) throw new RangeError(`timeTrainingSteps: steps must be a positive integer, got ${o.steps}`);
  if (!Number.isInteger(o.warmup) || o.warmup < 0) throw new RangeError(`timeTrainingSteps: warmup must be an integer >= 0, got ${o.warmup}`);
  const device = o.device ?? T.getDefaultDevice();
  const { config, vqvae, card } = lm;
  const tc = config.training;
  const notes: string[] = [];
  const factor = vqvae.downsampleFactor;
  if (tc.cropSize % factor !== 0) throw new RangeError(`timeTrainingSteps: config.training.cropSize ${tc.cropSize} is not a multiple of the autoencoder's factor ${factor}`);

  // The pair's slices, as prepare cuts them.
  const axis = card.slice.axis;
  const [H, W] = [card.slice.height, card.slice.width];
  const kept = keptSlices(brainFractions(hr.norm, axis));
  if (kept.length === 0) throw new Error("timeTrainingSteps: the simulated pair has no slice with enough brain to train on");
  const geo = sliceGeometry(hr.ras.dims, axis, H, W);
  const biasVol = { data: pair.bias, dims: hr.ras.dims, affine: hr.ras.affine };
  const gVol = { data: pair.g, dims: hr.ras.dims, affine: hr.ras.affine };
  const order = new BatchOrder(kept.length, tc.batchSize, tc.seed);
  const total = o.warmup + o.steps;
  const micro = total * tc.gradAccumulation;
  const hw = H * W;
  const batches: HostBatch[] = [];
  for (let b = 0; b < micro; b++) {
    const idx = order.batch(b).map((i) => kept[i] as number);
    const n = idx.length;
    const cond = new Float32Array(n * 3 * hw);
    const hrBuf = new Float32Array(n * hw);
    const biasBuf = new Float32Array(n * hw);
    const gBuf = new Float32Array(n * hw);
    idx.forEach((k, j) => {
      extractCondition(pair.lr, geo, k, cond, j * 3 * hw);
      extractSlice(hr.norm, geo, k, hrBuf, j * hw);
      extractSlice(biasVol, geo, k, biasBuf, j * hw);
      extractSlice(gVol, geo, k, gBuf, j * hw);
    });
    const opts = { dtype: "float32" as const, device };
    batches.push({
      cond: T.tensor(cond, [n, 3, H, W], opts),
      hr: T.tensor(hrBuf, [n, 1, H, W], opts),
      bias: T.tensor(biasBuf, [n, 1, H, W], opts),
      g: T.tensor(gBuf, [n, 1, H, W], opts),
    });
  }
  const encode = (b: HostBatch): MoELatents =>
    T.noGrad(() => ({
      z0: vqvae.encodeLatent(encoderInput(b.hr, b.g, b.bias, config.inputs)),
      condLatent: vqvae.encodeLatent(conditionEncoderInput(b.cond)),
      y: b.cond,
    }));
  const cached: MoELatents[] = tc.cacheLatents ? batches.map((b) => T.tidy(() => encode(b))) : [];

  let vgg = config.losses.vggWeights;
  if (vgg !== null && !existsSync(vgg)) {
    notes.push(`the config's VGG-16 weights ${vgg} are not on this machine; the perceptual term was timed with the filter bank`);
    vgg = null;
  }
  const phi = createPerceptualExtractor(vgg === null ? { device } : { vggWeights: vgg, device });
  const { model, optimizer, scheduler, ema, generator, weighting } = freshTrainingState(config, vqvae.config.embedDim, device);
  const stepSeconds: number[] = [];
  try {
    for (let step = 0; step < total; step++) {
      const t0 = performance.now();
      T.tidy(() => {
        optimizer.zeroGrad();
        let loss = 0;
        for (let m = 0; m < tc.gradAccumulation; m++) {
          T.tidy(() => {
            const b = step * tc.gradAccumulation + m;
            const full = tc.cacheLatents ? (cached[b] as MoELatents) : encode(batches[b] as HostBatch);
            const lat = tc.cropSize > 0 ? cropLatents(full, tc.cropSize, factor, generator) : full;
            const res = moeTrainingLosses(model, lat, { uniformGating: false, generator, phi: phi.features, losses: config.losses, weighting, training: true });
            res.total.div(tc.gradAccumulation).backward();
            loss += res.total.item() / tc.gradAccumulation;
          });
        }
        T.optim.clipGradNorm_(model.parameters(), tc.gradClip);
        optimizer.step();
        scheduler.step();
        ema?.update();
        if (!Number.isFinite(loss)) throw new Error(`timeTrainingSteps: the loss is ${loss} at step ${step}`);
      });
      if (step >= o.warmup) stepSeconds.push((performance.now() - t0) / 1000);
    }
  } finally {
    generator.dispose();
    ema?.dispose();
    optimizer.dispose();
    model.dispose();
    phi.dispose();
    for (const l of cached) for (const t of [l.z0, l.condLatent]) t.dispose();
    for (const b of batches) for (const t of [b.cond, b.hr, b.bias, b.g]) t.dispose();
  }
  const samplesPerStep = tc.batchSize * tc.gradAccumulation;
  const med = median(stepSeconds);
  return {
    stepSeconds,
    warmup: o.warmup,
    batchSize: tc.batchSize,
    gradAccumulation: tc.gradAccumulation,
    samplesPerStep,
    samplesPerSecond: samplesPerStep / med,
    medianStepSeconds: med,
    cropSize: tc.cropSize,
    latentsCached: tc.cacheLatents,
    slices: kept.length,
    perceptual: phi.name,
    notes,
  };
}
