// Joint training of MoEDiff-SR: `moediff-sr train DATA --vqvae DIR -o RUN`. The autoencoder is frozen
// (eval mode, no gradients); each step encodes [x, g, log b] -> z0 and the 3T slice -> condition
// latent, evaluates the joint objective (src/models/moediff/training_losses.ts) and takes an AdamW
// step with a linear warm-up (paper: "lambda linear scheduler"), gradient clipping and accumulation.
// An EMA of the weights is kept; the final model.safetensors holds the EMA weights (model_raw holds
// the last iterate). Everything a resumed run needs is in RUN/checkpoint, written atomically; a resumed
// run repeats the uninterrupted one exactly (same batches, timesteps, noise).
//
// RUN/: config.json, card.json (the model card, src/model_dir/card.ts), vqvae/ (a copy of the autoencoder used), log.jsonl, checkpoint/, model.safetensors,
// model_raw.safetensors, metrics.json (written last: a finished run's --resume does nothing).
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import * as T from "../torch/index.js";
import { readManifest } from "../data/manifest.js";
import { modelCardFromManifest, writeModelCard } from "../model_dir/card.js";
import { openSliceDataset, type SliceDataset } from "../data/dataset.js";
import type { SplitName } from "../data/split.js";
import { MoEDiffSR } from "../models/moediff/moediff.js";
import { moeTrainingLosses, type MoELatents, type MoELossOptions, type MoELossResult } from "../models/moediff/training_losses.js";
import { moeShiftLosses } from "../models/moediff/shift_losses.js";
import type { MoEDiffConfig } from "../models/moediff/config.js";
import { createPerceptualExtractor, type FeatureExtractor } from "../models/perceptual/index.js";
import { UncertaintyWeight, type UncertaintyWeightState } from "../losses/uncertainty_weight.js";
import type { VQVAE } from "../models/vqvae/index.js";
import { diffConfig } from "../util/config.js";
import { writeFileAtomic } from "../util/atomic_write.js";
import { BatchOrder } from "./batch_order.js";
import { bytesToHex, disposeAll, finished, hexToBytes, loadCheckpoint, recoverCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { readJsonFile } from "../util/json_file.js";
import { JsonlLog } from "./jsonl_log.js";
import { runTrainingLoop, type TrainerRunOptions } from "./loop.js";
import { loadVqvaeDir } from "../model_dir/vqvae_dir.js";
import { residualScaleOf } from "./residual_scale.js";
import { cropLatents } from "./latent_crop.js";
import { latentsOf, LatentCache } from "./latents.js";


/** One training evaluation in the model's formulation (paper: training_losses.ts; resshift: shift_losses.ts). */
function lossesOf(model: MoEDiffSR, lat: MoELatents, o: MoELossOptions): MoELossResult {
  return model.formulation === "resshift" ? moeShiftLosses(model, lat, o) : moeTrainingLosses(model, lat, o);
}

export interface TrainMoEOptions extends TrainerRunOptions {
  config: MoEDiffConfig;
  vqvaeDir: string;
}

export interface TrainMoEResult {
  stepsDone: number;
  totalSteps: number;
  interrupted: boolean;
  seconds: number;
  /** Per-step logged numbers of this process's steps, in order (tests compare runs with them). */
  history: Record<string, number>[];
  metrics?: HeldOutLosses;
  parameterCounts: Record<string, number>;
}

export interface HeldOutLosses {
  split: SplitName;
  slices: number;
  total: number;
  expert: number;
  gating: number;
  diffusion: number[];
  task: number[];
  gateMean: number[];
}

function sha256File(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Optimiser steps of a run: `steps` if set, else epochs x (batches per epoch / accumulation). */
export function totalStepsFor(config: MoEDiffConfig, trainSize: number): number {
  const t = config.training;
  if (t.steps > 0) return t.steps;
  const order = new BatchOrder(trainSize, t.batchSize, t.seed);
  return Math.max(1, t.epochs * Math.max(1, Math.floor(order.batchesPerEpoch / t.gradAccumulation)));
}

export async function trainMoE(dataDir: string, outDir: string, o: TrainMoEOptions): Promise<TrainMoEResult> {
  const say = o.say ?? ((l: string) => console.log(l));
  let config = o.config;
  const tc = config.training;
  const device = o.device ?? T.getDefaultDevice();
  const data = openSliceDataset(dataDir);
  const nTrain = data.size("train");
  if (nTrain === 0) throw new Error(`${dataDir}: the data set has no training slices`);
  const { model: vqvae } = loadVqvaeDir(o.vqvaeDir, device);
  const factor = vqvae.downsampleFactor;
  if (data.height % factor !== 0 || data.width % factor !== 0) {
    throw new Error(`the data set's ${data.height}x${data.width} slices are not divisible by the VQ-VAE's factor ${factor}`);
  }
  if (tc.cropSize % factor !== 0) throw new Error(`config.training.cropSize ${tc.cropSize} is not a multiple of the VQ-VAE's downsampling factor ${factor}`);
  const vqHash = sha256File(join(o.vqvaeDir, "model.safetensors"));
  mkdirSync(outDir, { recursive: true });
  const ckptDir = join(outDir, "checkpoint");
  recoverCheckpoint(ckptDir, say);
  const log = new JsonlLog(join(outDir, "log.jsonl"));
  const totalSteps = totalStepsFor(config, nTrain);
  const ck = o.resume === true ? loadCheckpoint(ckptDir, "moediff") : null;
  if (config.model.target === "residual" && config.model.residualScale === 0) {
    const residualScale = residualScaleOf(vqvae, data, config, device);
    config = { ...config, model: { ...config.model, residualScale } };
    say(`residual target: scale ${residualScale.toFixed(4)} (1 / std of z0 - condition latent over the training slices)`);
  }
  if (ck !== null) {
    const differs = diffConfig(ck.state.config, config);
    if (differs.length > 0) {
      throw new Error(`${ckptDir} was made with another config; it differs in:\n  ${differs.join("\n  ")}\nresume with the same preset, --config and switches, or start a new run`);
    }
    if (ck.state.vqvaeSha256 !== vqHash) throw new Error(`${ckptDir} was trained on another VQ-VAE than ${o.vqvaeDir} (weights differ); resume with the same --vqvae`);
    if (finished(ck, outDir, totalSteps)) {
      say(`${outDir} has finished (step ${String(ck.state.step)} of ${totalSteps}); nothing to do`);
      vqvae.dispose();
      data.close();
      const saved = readJsonFile(join(outDir, "metrics.json"), { what: "the run's metrics", fix: "train the run again" }) as { heldOut: HeldOutLosses; parameterCounts: Record<string, number> };
      return { stepsDone: ck.state.step as number, totalSteps, interrupted: false, seconds: 0, history: [], metrics: saved.heldOut, parameterCounts: saved.parameterCounts };
    }
  }
  const { model, optimizer, scheduler, ema, generator, weighting } = freshTrainingState(config, vqvae.config.embedDim, device);
  const phi = makePhi(config, device);
  const uniformSteps = Math.round(tc.uniformGatingFraction * totalSteps);
  const counts = model.parameterCounts();

  let startStep = 0;
  if (ck !== null) {
    startStep = ck.state.step as number;
    loadInto(model, ck.tensors("model"));
    const opt = ck.tensors("optimizer");
    try {
      optimizer.loadStateDict({ tensors: Object.fromEntries(opt), meta: ck.state.optimizer as T.optim.OptimizerStateDict["meta"] });
    } finally {
      disposeAll(opt);
    }
    scheduler.loadStateDict(ck.state.scheduler as T.optim.LRSchedulerState);
    if (ema !== null) {
      const e = ck.tensors("ema");
      try {
        ema.loadStateDict({ tensors: Object.fromEntries(e), meta: ck.state.ema as T.optim.EMAStateMeta });
      } finally {
        disposeAll(e);
      }
    }
    using g = hexToBytes(ck.state.generator as string);
    generator.setState(g);
    weighting.loadStateDict(ck.state.uncertainty as UncertaintyWeightState);
    log.resumeAt(startStep);
    say(`resuming from step ${startStep} of ${totalSteps} (${ckptDir})`);
  } else {
    if (existsSync(ckptDir) || existsSync(join(outDir, "model.safetensors"))) {
      throw new Error(`${outDir} already holds a training run; pass --resume to continue it, or choose another output directory`);
    }
    log.reset();
    copyVqvae(o.vqvaeDir, join(outDir, "vqvae"));
  }
  writeFileAtomic(join(outDir, "config.json"), (w) => w(Buffer.from(`${JSON.stringify(config, null, 2)}\n`)));
  writeModelCard(outDir, modelCardFromManifest(readManifest(dataDir), dataDir));
  say(`MoEDiff-SR (${config.preset}): experts ${model.kinds.map((k) => `E${k}`).join(", ")}, ${config.model.gating.mode} gating, parameters:`);
  for (const [k, v] of Object.entries(counts)) say(`  ${k.padEnd(18)} ${v.toLocaleString("en").padStart(12)}`);
  say(`  (VQ-VAE, frozen: ${vqvae.numParameters().toLocaleString("en")})`);
  say(`perceptual features (Eq. 10): ${phi.name}`);
  say(`inputs: b ${config.inputs.useBias ? "on" : "OFF"}, g ${config.inputs.useGradwarp ? "on" : "OFF"}; ${nTrain} training slices; ${totalSteps} steps, uniform gating for the first ${uniformSteps}`);

  const order = new BatchOrder(nTrain, tc.batchSize, tc.seed);
  const cache = tc.cacheLatents ? new LatentCache(vqvae, data, "train", config, device) : null;
  const history: Record<string, number>[] = [];
  const result = await runTrainingLoop(
    {
      label: "train",
      checkpointDir: ckptDir,
      startStep,
      totalSteps,
      log,
      logEvery: tc.logEvery,
      checkpointEvery: tc.checkpointEvery,
      show: ["loss", "expert", "gating"],
      ...(o.handleSignals === undefined ? {} : { handleSignals: o.handleSignals }),
      ...(o.afterStep === undefined ? {} : { afterStep: o.afterStep }),
      step(step) {
        const uniform = step < uniformSteps;
        const record = T.tidy(() => {
          optimizer.zeroGrad();
          let last: MoELossResult | undefined;
          let loss = 0;
          for (let m = 0; m < tc.gradAccumulation; m++) {
            const r = T.tidy(() => {
              const indices = order.batch(step * tc.gradAccumulation + m);
              const full = cache !== null ? cache.get(indices) : latentsOf(vqvae, data, "train", indices, config, device);
              const lat = tc.cropSize > 0 ? cropLatents(full, tc.cropSize, factor, generator) : full;
              const res = lossesOf(model, lat, { uniformGating: uniform, generator, phi: phi.features, losses: config.losses, weighting, training: true });
              res.total.div(tc.gradAccumulation).backward();
              return { ...res, total: T.keep(res.total.detach()) };
            });
            loss += r.total.item() / tc.gradAccumulation;
            r.total.dispose();
            last = r;
          }
          const gradNorm = T.optim.clipGradNorm_(model.parameters(), tc.gradClip);
          optimizer.step();
          scheduler.step();
          ema?.update();
          const t = last!.terms;
          const rec: Record<string, number> = {
            loss,
            expert: t.expert,
            gating: t.gating,
            gatingSupervised: t.gatingSupervised,
            gatingDiversity: t.gatingDiversity,
            w: t.w,
            temperature: t.temperature,
            gradNorm,
            lr: optimizer.paramGroups[0]!.lr,
            uniform: uniform ? 1 : 0,
            ...(last!.mix === undefined ? {} : { mix: last!.mix }),
            ...(last!.balance === undefined ? {} : { routeBalance: last!.balance }),
          };
          model.kinds.forEach((k, i) => {
            rec[`diffusion_E${k}`] = t.diffusion[i]!;
            rec[`task_E${k}`] = t.task[i]!;
            rec[`gate_E${k}`] = last!.routedMean[i]!;
            rec[`usage_E${k}`] = last!.usage[i]!;
          });
          return rec;
        });
        history.push(record);
        return record;
      },
      checkpoint(stepsDone) {
        T.tidy(() => {
          const opt = optimizer.stateDict();
          const e = ema?.stateDict();
          using g = generator.getState();
          saveCheckpoint(
            ckptDir,
            {
              kind: "moediff",
              step: stepsDone,
              totalSteps,
              config,
              vqvaeSha256: vqHash,
              optimizer: opt.meta,
              scheduler: scheduler.stateDict(),
              ...(e === undefined ? {} : { ema: e.meta }),
              generator: bytesToHex(g),
              uncertainty: weighting.stateDict(),
            },
            { model: model.stateDict(), optimizer: opt.tensors, ...(e === undefined ? {} : { ema: e.tensors }) },
          );
        });
      },
    },
    o.interrupt,
  );
  const done = { stepsDone: result.stepsDone, totalSteps, seconds: result.seconds, history, parameterCounts: counts };
  if (result.interrupted) {
    say(`interrupted after step ${result.stepsDone}; continue with --resume`);
    cleanup();
    return { ...done, interrupted: true };
  }
  T.io.saveFile(join(outDir, "model_raw.safetensors"), model.stateDict());
  if (ema !== null) ema.copyTo();
  T.io.saveFile(join(outDir, "model.safetensors"), model.stateDict());
  const split: SplitName = data.size("val") > 0 ? "val" : "test";
  const metrics = heldOutLosses(model, vqvae, data, split, config, phi, weighting, device);
  log.write({ step: result.stepsDone, eval: metrics });
  // metrics.json last: its presence marks the run finished (a --resume then does nothing)
  writeFileAtomic(join(outDir, "metrics.json"), (w) => w(Buffer.from(`${JSON.stringify({ heldOut: metrics, parameterCounts: counts, steps: result.stepsDone }, null, 2)}\n`)));
  say(
    `held-out losses (${metrics.split}, ${metrics.slices} slices, EMA weights): total ${metrics.total.toFixed(4)}, expert ${metrics.expert.toFixed(4)}, gating ${metrics.gating.toFixed(4)}, gates ${metrics.gateMean.map((v) => v.toFixed(3)).join("/")}`,
  );
  cleanup();
  return { ...done, interrupted: false, metrics };

  function cleanup(): void {
    cache?.dispose();
    phi.dispose();
    generator.dispose();
    ema?.dispose();
    model.dispose();
    vqvae.dispose();
    data.close();
  }
}

/**
 * A new model with what its training steps need: AdamW with the linear warm-up, the EMA of the
 * weights (with warm-up), the seeded generator of timesteps, noise and crops, and Eq. 17's weighting.
 */
export function freshTrainingState(config: MoEDiffConfig, latentChannels: number, device: T.Device) {
  const tc = config.training;
  T.manualSeed(tc.seed);
  const model = new MoEDiffSR(config.model, latentChannels, 3, { device });
  const optimizer = new T.optim.AdamW(model.parameters(), { lr: tc.lr, weightDecay: tc.weightDecay });
  const scheduler = T.optim.linearWarmupSchedule(optimizer, { warmupSteps: tc.warmupSteps });
  const ema = tc.emaDecay > 0 ? new T.optim.ExponentialMovingAverage(model.parameters(), { decay: tc.emaDecay, warmup: true }) : null;
  const generator = new T.Generator({ seed: tc.seed, device });
  const weighting = new UncertaintyWeight({ wMin: config.losses.wMin, wMax: config.losses.wMax });
  return { model, optimizer, scheduler, ema, generator, weighting };
}

function makePhi(config: MoEDiffConfig, device: T.Device): FeatureExtractor {
  const path = config.losses.vggWeights;
  return createPerceptualExtractor(path === null ? { device } : { vggWeights: path, device });
}

function loadInto(model: T.nn.Module, weights: Map<string, T.Tensor>): void {
  try {
    model.loadStateDict(weights);
  } finally {
    disposeAll(weights);
  }
}

function copyVqvae(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of ["config.json", "model.safetensors", "metrics.json"]) {
    if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
  }
}

/** The joint losses on held-out slices with a fixed seed, in eval mode (no usage or w updates). */
export function heldOutLosses(
  model: MoEDiffSR,
  vqvae: VQVAE,
  data: SliceDataset,
  split: SplitName,
  config: MoEDiffConfig,
  phi: FeatureExtractor,
  weighting: UncertaintyWeight,
  device: T.Device,
): HeldOutLosses {
  const n = config.training.evalSlices > 0 ? Math.min(config.training.evalSlices, data.size(split)) : data.size(split);
  const k = model.numExperts;
  const sum = { total: 0, expert: 0, gating: 0, diffusion: new Array<number>(k).fill(0), task: new Array<number>(k).fill(0), gateMean: new Array<number>(k).fill(0) };
  const bs = config.training.batchSize;
  model.eval();
  using generator = new T.Generator({ seed: config.training.seed + 1, device });
  T.noGrad(() => {
    for (let i = 0; i < n; i += bs) {
      T.tidy(() => {
        const idx = Array.from({ length: Math.min(bs, n - i) }, (_, j) => i + j);
        const lat = latentsOf(vqvae, data, split, idx, config, device);
        const r = lossesOf(model, lat, { uniformGating: false, generator, phi: phi.features, losses: config.losses, weighting, training: false });
        const f = idx.length;
        sum.total += r.terms.total * f;
        sum.expert += r.terms.expert * f;
        sum.gating += r.terms.gating * f;
        for (let j = 0; j < k; j++) {
          sum.diffusion[j]! += r.terms.diffusion[j]! * f;
          sum.task[j]! += r.terms.task[j]! * f;
          sum.gateMean[j]! += r.routedMean[j]! * f;
        }
      });
    }
  });
  model.train();
  const avg = (v: number): number => (n > 0 ? v / n : Number.NaN);
  return {
    split,
    slices: n,
    total: avg(sum.total),
    expert: avg(sum.expert),
    gating: avg(sum.gating),
    diffusion: sum.diffusion.map(avg),
    task: sum.task.map(avg),
    gateMean: sum.gateMean.map(avg),
  };
}

