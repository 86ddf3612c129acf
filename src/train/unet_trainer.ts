// Training the regression U-Net baseline: `moediff-sr train-unet DATA -o DIR`. The same pairs the
// diffusion model trains on (a `prepare` data set, its training split): input the condition y (3T
// slices k-1, k, k+1 on the HR grid), target the HR slice k, L1 loss on random crops (and random
// left-right flips), AdamW with a linear warm-up and cosine annealing to 0, gradient clipping. The
// shared loop (loop.ts) gives the progress bar, JSONL log, atomic checkpoints and Ctrl-C handling;
// `--resume` repeats the uninterrupted run exactly (same batches, crops and flips).
//
// A wall-clock budget (config.training.minutes > 0, `--minutes M`) is turned into a step count before
// the first step: a few forward/backward passes on a fixed batch are timed (they change no weight and
// draw no random number), and `steps` becomes what fits in the time left. The run is then the same as
// one with that --steps; config.json records both.
//
// Output directory: config.json (the resolved config), card.json (the model card, as `train` writes
// it: enhance-style inference needs it), model.safetensors (final weights), metrics.json (held-out
// PSNR/SSIM of the U-Net and of the B-spline input it starts from), log.jsonl, checkpoint/.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import * as T from "../torch/index.js";
import { UNet } from "../models/unet/unet.js";
import { UNET_KIND, unetSizeMultiple, type UNetRunConfig } from "../models/unet/config.js";
import { openSliceDataset, type Batch, type SliceDataset } from "../data/dataset.js";
import type { SplitName } from "../data/split.js";
import { BRAIN_LEVEL } from "../data/brain_fraction.js";
import { modelCardFromManifest, writeModelCard } from "../model_dir/card.js";
import { psnr, ssim } from "../metrics/image_metrics.js";
import { diffConfig } from "../util/config.js";
import { writeFileAtomic } from "../util/atomic_write.js";
import { BatchOrder } from "./batch_order.js";
import { bytesToHex, disposeAll, finished, hexToBytes, loadCheckpoint, recoverCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { readJsonFile } from "../util/json_file.js";
import { JsonlLog } from "./jsonl_log.js";
import { runTrainingLoop, type TrainerRunOptions } from "./loop.js";
import { randomCrop } from "./vqvae_trainer.js";

export interface TrainUNetOptions extends TrainerRunOptions {
  config: UNetRunConfig;
  /**
   * With a budget (config.training.minutes): the seconds one step takes, instead of measuring them
   * (tests, whose timings a busy machine makes unpredictable; or a caller that measured already).
   */
  stepSeconds?: number;
}

export interface TrainUNetResult {
  stepsDone: number;
  totalSteps: number;
  interrupted: boolean;
  /** Seconds of the training loop in this process. */
  seconds: number;
  /** The config the run used (with `steps` set from the budget when `minutes` > 0). */
  config: UNetRunConfig;
  /** Per-step logged numbers of this process's steps, in order. */
  history: Record<string, number>[];
  metrics?: UNetHeldOutMetrics;
}

/** Held-out figures (data range 1: slices are normalised to [0, 1]); brain = HR above BRAIN_LEVEL. */
export interface UNetHeldOutMetrics {
  split: SplitName;
  slices: number;
  unet: { psnr: number; ssim: number; brainPsnr: number };
  /** The U-Net's input itself: the B-spline-resampled 3T centre slice. */
  bspline: { psnr: number; ssim: number; brainPsnr: number };
}

/** Timed training steps for a --minutes budget (after one untimed warm-up step); their median counts. */
const TIMING_PASSES = 3;

/** Trains (or resumes) a U-Net on the data set in `dataDir`, writing into `outDir`. */
export async function trainUNet(dataDir: string, outDir: string, o: TrainUNetOptions): Promise<TrainUNetResult> {
  const started = performance.now();
  const say = o.say ?? ((l: string) => console.log(l));
  let config = o.config;
  if (config.kind !== UNET_KIND) throw new Error(`trainUNet: config.kind must be "${UNET_KIND}", got ${JSON.stringify(config.kind)}`);
  const device = o.device ?? T.getDefaultDevice();
  const data = openSliceDataset(dataDir);
  const generator = new T.Generator({ seed: config.training.seed, device });
  const owned: { dispose(): void }[] = [generator];
  try {
    const nTrain = data.size("train");
    if (nTrain === 0) throw new Error(`${dataDir}: the data set has no training slices`);
    const m = unetSizeMultiple(config.model);
    if (data.height % m !== 0 || data.width % m !== 0) {
      throw new Error(`the data set's ${data.height}x${data.width} slices are not multiples of ${m}, the U-Net's size multiple for ${config.model.channelMult.length} levels; use fewer levels (config.model.channelMult)`);
    }
    const ckptDir = join(outDir, "checkpoint");
    recoverCheckpoint(ckptDir, say);
    if (o.resume === true && !existsSync(ckptDir)) throw new Error(`${outDir} has no checkpoint to resume; start the run without --resume`);
    const log = new JsonlLog(join(outDir, "log.jsonl"));

    T.manualSeed(config.training.seed);
    const unet = new UNet(config.model, { device });
    owned.push(unet);
    const optimizer = new T.optim.AdamW(unet.parameters(), { lr: config.training.lr, weightDecay: config.training.weightDecay });
    owned.push(optimizer);

    let startStep = 0;
    const ck = o.resume === true ? loadCheckpoint(ckptDir, UNET_KIND) : null;
    if (ck !== null) {
      const saved = ck.state.config as UNetRunConfig;
      // A budget was turned into steps when the run started; keep that count.
      if (config.training.minutes > 0 && saved.training?.minutes === config.training.minutes) config = { ...config, training: { ...config.training, steps: saved.training.steps } };
      const differs = diffConfig(saved, config);
      if (differs.length > 0) {
        throw new Error(`${ckptDir} was made with another config; it differs in:\n  ${differs.join("\n  ")}\nresume with the same --config and switches, or start a new run`);
      }
      if (finished(ck, outDir, config.training.steps)) {
        say(`${outDir} has finished (step ${String(ck.state.step)} of ${config.training.steps}); nothing to do`);
        const saved = readJsonFile(join(outDir, "metrics.json"), { what: "the run's metrics", fix: "train the run again" }) as { heldOut: UNetHeldOutMetrics };
        return { stepsDone: ck.state.step as number, totalSteps: config.training.steps, interrupted: false, seconds: 0, config, history: [], metrics: saved.heldOut };
      }
    } else {
      if (existsSync(ckptDir) || existsSync(join(outDir, "model.safetensors"))) {
        throw new Error(`${outDir} already holds a U-Net run; pass --resume to continue it, or choose another output directory`);
      }
      log.reset();
      if (config.training.minutes > 0) {
        const perStep = o.stepSeconds ?? secondsPerStep(unet, data, config, device);
        const steps = stepsForBudget(config.training.minutes * 60, (performance.now() - started) / 1000, perStep);
        const least = Math.max(1, config.training.warmupSteps);
        if (steps < least) {
          throw new Error(`a budget of ${config.training.minutes} min fits only ${Math.max(0, steps)} steps at ${perStep.toFixed(2)} s per step (at least ${least} needed: config.training.warmupSteps); give more minutes`);
        }
        config = { ...config, training: { ...config.training, steps } };
        say(`budget ${config.training.minutes} min: ${perStep.toFixed(3)} s per step${o.stepSeconds === undefined ? " measured" : ""}, ${steps} steps`);
      }
    }
    const tc = config.training;
    if (tc.steps < Math.max(1, tc.warmupSteps)) throw new Error(`config.training.steps (${tc.steps}) must be at least warmupSteps (${tc.warmupSteps})`);
    const scheduler = T.optim.cosineSchedule(optimizer, { totalSteps: tc.steps, warmupSteps: tc.warmupSteps });
    if (ck !== null) {
      startStep = restore(ck, unet, optimizer, scheduler, generator);
      log.resumeAt(startStep);
      say(`resuming from step ${startStep} of ${tc.steps} (${ckptDir})`);
    }
    mkdirSync(outDir, { recursive: true }); // only now: a refused run leaves nothing behind
    writeFileAtomic(join(outDir, "config.json"), (w) => w(Buffer.from(`${JSON.stringify(config, null, 2)}\n`)));
    writeModelCard(outDir, modelCardFromManifest(data.manifest, dataDir));
    const c = config.model;
    say(
      `U-Net (${config.preset}): ${unet.numParameters().toLocaleString("en")} parameters, ${c.baseChannels} base channels x [${c.channelMult.join(", ")}], ` +
        `${c.numResBlocks} residual block(s) per level, norm ${c.norm}; ${nTrain} training slices; ${tc.steps} steps of ${tc.batchSize} ` +
        `${tc.cropSize > 0 ? `${tc.cropSize}x${tc.cropSize} crops` : "whole slices"}`,
    );

    const order = new BatchOrder(nTrain, tc.batchSize, tc.seed);
    const history: Record<string, number>[] = [];
    const result = await runTrainingLoop(
      {
        label: "train-unet",
        checkpointDir: ckptDir,
        startStep,
        totalSteps: tc.steps,
        log,
        logEvery: tc.logEvery,
        checkpointEvery: tc.checkpointEvery,
        show: ["loss", "bspline"],
        ...(o.handleSignals === undefined ? {} : { handleSignals: o.handleSignals }),
        ...(o.afterStep === undefined ? {} : { afterStep: o.afterStep }),
        step(step) {
          const lr = optimizer.paramGroups[0]!.lr;
          const record = {
            ...trainingStep(unet, optimizer, data.getBatch("train", order.batch(step), { device }), tc, {
              window: (ts) => randomCrop(ts, tc.cropSize, generator),
              coin: () => drawBit(generator),
            }),
            lr,
          };
          scheduler.step();
          history.push(record);
          return record;
        },
        checkpoint(stepsDone) {
          T.tidy(() => {
            const opt = optimizer.stateDict();
            using gen = generator.getState();
            saveCheckpoint(
              ckptDir,
              { kind: UNET_KIND, step: stepsDone, totalSteps: tc.steps, config, optimizer: opt.meta, scheduler: scheduler.stateDict(), generator: bytesToHex(gen) },
              { model: unet.stateDict(), optimizer: opt.tensors },
            );
          });
        },
      },
      o.interrupt,
    );
    const done = { stepsDone: result.stepsDone, totalSteps: tc.steps, seconds: result.seconds, config, history };
    if (result.interrupted) {
      say(`interrupted after step ${result.stepsDone}; continue with --resume`);
      return { ...done, interrupted: true };
    }
    T.tidy(() => T.io.saveFile(join(outDir, "model.safetensors"), unet.stateDict()));
    const split: SplitName = data.size("val") > 0 ? "val" : "test";
    const metrics = evaluateUNet(unet, data, split, { batchSize: tc.batchSize, evalSlices: tc.evalSlices, device });
    log.write({ step: result.stepsDone, eval: metrics });
    // metrics.json last: its presence marks the run finished (a --resume then does nothing)
    writeFileAtomic(join(outDir, "metrics.json"), (w) => w(Buffer.from(`${JSON.stringify({ heldOut: metrics, steps: result.stepsDone, parameters: unet.numParameters() }, null, 2)}\n`)));
    const f = (x: { psnr: number; ssim: number; brainPsnr: number }): string => `PSNR ${x.psnr.toFixed(2)} dB, SSIM ${x.ssim.toFixed(4)}, brain PSNR ${x.brainPsnr.toFixed(2)} dB`;
    say(`held-out (${metrics.split}, ${metrics.slices} slices): U-Net ${f(metrics.unet)}; B-spline input ${f(metrics.bspline)}`);
    return { ...done, interrupted: false, metrics };
  } finally {
    for (const x of owned) x.dispose();
    data.close();
  }
}

/**
 * One optimiser step on a batch (whose tensors it disposes): the crop `window` of input and target, a
 * left-right flip when config.flip and `coin()`, the L1 loss, backward, gradient clipping, AdamW.
 * Returns the loss, the same batch's L1 of the input (the B-spline centre slice: the loss to beat) and
 * the gradient norm.
 */
function trainingStep(
  unet: UNet,
  optimizer: T.optim.AdamW,
  batch: Batch,
  tc: UNetRunConfig["training"],
  draw: { window: (ts: T.Tensor[]) => T.Tensor[]; coin: () => boolean },
): { loss: number; bspline: number; gradNorm: number } {
  try {
    return T.tidy(() => {
      let [y, hr] = draw.window([batch.cond, batch.hr]) as [T.Tensor, T.Tensor];
      if (tc.flip && draw.coin()) [y, hr] = [y.flip(3), hr.flip(3)];
      const { loss } = unet.loss(y, hr);
      optimizer.zeroGrad();
      loss.backward();
      const gradNorm = T.optim.clipGradNorm_(unet.parameters(), tc.gradClip);
      optimizer.step();
      return { loss: loss.item(), bspline: T.noGrad(() => T.F.l1Loss(y.narrow(1, unet.centreChannel, 1), hr).item()), gradNorm };
    });
  } finally {
    for (const t of [batch.cond, batch.hr, batch.bias, batch.g]) t.dispose();
  }
}

/** One fair coin from `generator`. */
function drawBit(generator: T.Generator): boolean {
  using r = T.randint(0, 2, [1], { generator, dtype: "int64", device: generator.device });
  return Number(r.item()) === 1;
}

/** The steps that fit in what is left of a budget (seconds), at `perStep` seconds each (0 when none). */
export function stepsForBudget(budgetSeconds: number, spentSeconds: number, perStep: number): number {
  if (!(perStep > 0)) throw new RangeError(`stepsForBudget: seconds per step must be > 0, got ${perStep}`);
  return Math.max(0, Math.floor((budgetSeconds - spentSeconds) / perStep));
}

/**
 * Median seconds of a whole training step (trainingStep on the first batch of the training split,
 * centre-cropped). The steps run with their own optimiser and random numbers, and the weights are put
 * back afterwards, so the run that follows is the same as without the measurement.
 */
export function secondsPerStep(model: UNet, data: SliceDataset, config: UNetRunConfig, device: T.Device): number {
  const tc = config.training;
  const n = data.size("train");
  const idx = Array.from({ length: tc.batchSize }, (_, i) => i % n);
  const saved = T.tidy(() => model.parameters().map((p) => T.keep(p.detach().clone())));
  const optimizer = new T.optim.AdamW(model.parameters(), { lr: tc.lr, weightDecay: tc.weightDecay });
  const scratch = new T.Generator({ seed: 0, device });
  const pass = (): void => {
    trainingStep(model, optimizer, data.getBatch("train", idx, { device }), tc, { window: (ts) => centreCrop(ts, tc.cropSize), coin: () => drawBit(scratch) });
  };
  try {
    return timeMedian(pass);
  } finally {
    optimizer.dispose();
    scratch.dispose();
    T.noGrad(() => model.parameters().forEach((p, i) => p.copy_(saved[i]!)));
    for (const t of saved) t.dispose();
    model.zeroGrad();
  }
}

/** The median seconds of TIMING_PASSES calls of `pass`, after one untimed call. */
function timeMedian(pass: () => void): number {
  pass();
  const times: number[] = [];
  for (let i = 0; i < TIMING_PASSES; i++) {
    const t0 = performance.now();
    pass();
    times.push((performance.now() - t0) / 1000);
  }
  return times.sort((a, b) => a - b)[TIMING_PASSES >> 1]!; // the median: one pass slowed by other work on the machine does not count
}

function centreCrop(ts: T.Tensor[], size: number): T.Tensor[] {
  const [h, w] = [ts[0]!.size(2), ts[0]!.size(3)];
  if (size === 0) return ts;
  const [ch, cw] = [Math.min(size, h), Math.min(size, w)];
  return ts.map((t) => t.narrow(2, (h - ch) >> 1, ch).narrow(3, (w - cw) >> 1, cw));
}

/**
 * Held-out PSNR/SSIM (data range 1) of the U-Net on whole slices, and of its input (the B-spline
 * centre slice), averaged over slices; brain PSNR over HR pixels above BRAIN_LEVEL.
 */
export function evaluateUNet(model: UNet, data: SliceDataset, split: SplitName, o: { batchSize: number; evalSlices: number; device: T.Device }): UNetHeldOutMetrics {
  const n = o.evalSlices > 0 ? Math.min(o.evalSlices, data.size(split)) : data.size(split);
  const sum = { unet: { psnr: 0, ssim: 0, brainPsnr: 0 }, bspline: { psnr: 0, ssim: 0, brainPsnr: 0 } };
  const wasTraining = model.training;
  model.eval();
  try {
    for (let i = 0; i < n; i += o.batchSize) {
      T.tidy(() =>
        T.inferenceMode(() => {
          const idx = Array.from({ length: Math.min(o.batchSize, n - i) }, (_, k) => i + k);
          const b = data.getBatch(split, idx, { device: o.device });
          const mask = b.hr.gt(BRAIN_LEVEL).to("float32");
          const score = (pred: T.Tensor, acc: { psnr: number; ssim: number; brainPsnr: number }): void => {
            const p = pred.clamp(0, 1);
            for (const v of psnr(p, b.hr, 1)) acc.psnr += Math.min(v, 100);
            for (const v of ssim(p, b.hr, 1)) acc.ssim += v;
            const se = p.sub(b.hr).square().mul(mask).sum([1, 2, 3]).toArray();
            const count = mask.sum([1, 2, 3]).toArray();
            se.forEach((s, k) => (acc.brainPsnr += count[k]! > 0 ? Math.min(100, 10 * Math.log10(count[k]! / Math.max(s, 1e-20))) : 0));
          };
          score(model.forward(b.cond), sum.unet);
          score(b.cond.narrow(1, model.centreChannel, 1), sum.bspline);
        }),
      );
    }
  } finally {
    model.train(wasTraining);
  }
  const avg = (a: { psnr: number; ssim: number; brainPsnr: number }) => ({ psnr: n > 0 ? a.psnr / n : Number.NaN, ssim: n > 0 ? a.ssim / n : Number.NaN, brainPsnr: n > 0 ? a.brainPsnr / n : Number.NaN });
  return { split, slices: n, unet: avg(sum.unet), bspline: avg(sum.bspline) };
}

function restore(ck: ReturnType<typeof loadCheckpoint>, model: UNet, optimizer: T.optim.AdamW, scheduler: T.optim.LambdaLR, generator: T.Generator): number {
  const weights = ck.tensors("model");
  try {
    model.loadStateDict(weights);
  } finally {
    disposeAll(weights);
  }
  const opt = ck.tensors("optimizer");
  try {
    optimizer.loadStateDict({ tensors: Object.fromEntries(opt), meta: ck.state.optimizer as T.optim.OptimizerStateDict["meta"] });
  } finally {
    disposeAll(opt);
  }
  scheduler.loadStateDict(ck.state.scheduler as T.optim.LRSchedulerState);
  using g = hexToBytes(ck.state.generator as string);
  generator.setState(g);
  return ck.state.step as number;
}
