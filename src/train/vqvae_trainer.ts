// Training the autoencoder (E1, D): `moediff-sr train-vqvae DATA -o DIR`. The encoder sees [x, g, log b]
// (encoder_input.ts), the decoder reconstructs x; an LR-conditioned decoder (model.lrCondition "cfw")
// also sees the 3T condition of the same slice (the batch's cond, cropped with x and the target). AdamW with a linear warm-up, gradient clipping,
// resumable checkpoints, a JSONL log. At the end the held-out reconstruction PSNR/SSIM is measured:
// the ceiling of the whole super-resolution system, since every output passes through the decoder.
//
// Output directory: config.json (the resolved config), model.safetensors (final weights),
// metrics.json (held-out reconstruction, written last: a finished run's --resume does nothing), log.jsonl,
// checkpoint/ (for --resume).
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import * as T from "../torch/index.js";
import { VQVAE, upgradeVqvaeRunConfig, type VqvaeRunConfig } from "../models/vqvae/index.js";
import { openSliceDataset, type SliceDataset } from "../data/dataset.js";
import type { SplitName as Split } from "../data/split.js";
import { diffConfig } from "../util/config.js";
import { writeFileAtomic } from "../util/atomic_write.js";
import { psnr, ssim } from "../metrics/image_metrics.js";
import { BatchOrder } from "./batch_order.js";
import { bytesToHex, disposeAll, finished, hexToBytes, loadCheckpoint, recoverCheckpoint, saveCheckpoint, type LoadedCheckpoint } from "./checkpoint.js";
import { readJsonFile } from "../util/json_file.js";
import { encoderInput } from "../models/vqvae/encoder_input.js";
import { JsonlLog } from "./jsonl_log.js";
import { runTrainingLoop, type TrainerRunOptions } from "./loop.js";
import { randomWindow } from "./latent_crop.js";

export interface TrainVqvaeOptions extends TrainerRunOptions {
  config: VqvaeRunConfig;
}

export interface TrainVqvaeResult {
  stepsDone: number;
  interrupted: boolean;
  seconds: number;
  metrics?: ReconstructionMetrics;
}

export interface ReconstructionMetrics {
  split: Split;
  slices: number;
  psnr: number;
  ssim: number;
  perplexity: number;
}

/** Trains (or resumes) a VQ-VAE on the data set in `dataDir`, writing into `outDir`. */
export async function trainVqvae(dataDir: string, outDir: string, o: TrainVqvaeOptions): Promise<TrainVqvaeResult> {
  const say = o.say ?? ((l: string) => console.log(l));
  const config = o.config;
  const device = o.device ?? T.getDefaultDevice();
  const data = openSliceDataset(dataDir);
  const nTrain = data.size("train");
  if (nTrain === 0) throw new Error(`${dataDir}: the data set has no training slices`);
  mkdirSync(outDir, { recursive: true });
  const ckptDir = join(outDir, "checkpoint");
  recoverCheckpoint(ckptDir, say);
  const log = new JsonlLog(join(outDir, "log.jsonl"));
  const ck = o.resume === true ? loadCheckpoint(ckptDir, "vqvae") : null;
  if (ck !== null) {
    const saved = upgradeVqvaeRunConfig(ck.state.config as VqvaeRunConfig);
    // With scaleByStd the scale factor is an output (config.json gets it when the run finishes), not a setting.
    const given = config.training.scaleByStd ? { ...config, model: { ...config.model, scaleFactor: saved.model.scaleFactor } } : config;
    const differs = diffConfig(saved, given);
    if (differs.length > 0) {
      throw new Error(`${ckptDir} was made with another config; it differs in:\n  ${differs.join("\n  ")}\nresume with the same preset and --config, or start a new run`);
    }
    if (finished(ck, outDir, config.training.steps)) {
      say(`${outDir} has finished (step ${String(ck.state.step)} of ${config.training.steps}); nothing to do`);
      data.close();
      const metrics = readJsonFile(join(outDir, "metrics.json"), { what: "the run's metrics", fix: "train the run again" }) as ReconstructionMetrics;
      return { stepsDone: ck.state.step as number, interrupted: false, seconds: 0, metrics };
    }
  }

  T.manualSeed(config.training.seed);
  const model = new VQVAE(config.model, { device });
  const optimizer = new T.optim.AdamW(model.parameters(), { lr: config.training.lr, weightDecay: config.training.weightDecay });
  const tc = config.training;
  const scheduler =
    tc.lrSchedule === "cosine"
      ? T.optim.cosineSchedule(optimizer, { totalSteps: tc.steps, warmupSteps: tc.warmupSteps })
      : T.optim.linearWarmupSchedule(optimizer, { warmupSteps: tc.warmupSteps });
  const generator = new T.Generator({ seed: config.training.seed, device });
  // Codebook init and dead-code restarts draw from this generator, whose state the checkpoint keeps.
  model.quantize.generator = generator;
  let startStep = 0;
  if (ck !== null) {
    startStep = restore(ck, model, optimizer, scheduler, generator);
    log.resumeAt(startStep);
    say(`resuming from step ${startStep} (${ckptDir})`);
  } else if (existsSync(join(outDir, "model.safetensors")) || existsSync(ckptDir)) {
    throw new Error(`${outDir} already holds a VQ-VAE run; pass --resume to continue it, or choose another output directory`);
  } else {
    log.reset();
  }
  writeFileAtomic(join(outDir, "config.json"), (w) => w(Buffer.from(`${JSON.stringify(config, null, 2)}\n`)));
  const decoderKind = model.lrConditioned ? `, decoder conditioned on the 3T slices (${config.model.lrCondition})` : "";
  say(`VQ-VAE (${config.preset}): ${model.numParameters().toLocaleString("en")} parameters, latent factor ${model.downsampleFactor}${decoderKind}, ${nTrain} training slices`);

  const order = new BatchOrder(nTrain, config.training.batchSize, config.training.seed);
  const result = await runTrainingLoop(
    {
      label: "train-vqvae",
      checkpointDir: ckptDir,
      startStep,
      totalSteps: config.training.steps,
      log,
      logEvery: config.training.logEvery,
      checkpointEvery: config.training.checkpointEvery,
      show: ["loss", "recon", "perplexity"],
      ...(o.handleSignals === undefined ? {} : { handleSignals: o.handleSignals }),
      ...(o.afterStep === undefined ? {} : { afterStep: o.afterStep }),
      step(step) {
        return T.tidy(() => {
          const batch = data.getBatch("train", order.batch(step), { device });
          const full = encoderInput(batch.hr, batch.g, batch.bias, config.inputs);
          const [x, target, lr] = randomCrop([full, batch.hr, batch.cond], config.training.cropSize, generator);
          const out = model.loss(x!, target!, { lr: lr! });
          optimizer.zeroGrad();
          out.total.backward();
          const gradNorm = T.optim.clipGradNorm_(model.parameters(), config.training.gradClip);
          optimizer.step();
          scheduler.step();
          return {
            loss: out.total.item(),
            recon: out.reconLoss.item(),
            commitment: out.commitmentLoss.item(),
            perplexity: out.perplexity.item(),
            restarts: model.quantize.lastRestarts,
            gradNorm,
            lr: optimizer.paramGroups[0]!.lr,
          };
        });
      },
      checkpoint(stepsDone) {
        save(ckptDir, stepsDone, config, model, optimizer, scheduler, generator);
      },
    },
    o.interrupt,
  );
  if (result.interrupted) {
    say(`interrupted after step ${result.stepsDone}; continue with --resume`);
    return { stepsDone: result.stepsDone, interrupted: true, seconds: result.seconds };
  }
  T.io.saveFile(join(outDir, "model.safetensors"), model.stateDict());
  const latentStd = quantisedLatentStd(model, data, config, device);
  if (config.training.scaleByStd) {
    const scaled: VqvaeRunConfig = { ...config, model: { ...config.model, scaleFactor: Number((1 / latentStd).toPrecision(6)) } };
    writeFileAtomic(join(outDir, "config.json"), (w) => w(Buffer.from(`${JSON.stringify(scaled, null, 2)}\n`)));
    say(`latent scale: std of the quantised latent ${latentStd.toPrecision(4)} -> scaleFactor ${scaled.model.scaleFactor}`);
  }
  const split: Split = data.size("val") > 0 ? "val" : "test";
  const metrics = { ...evaluateReconstruction(model, data, split, config, device), latentStd };
  log.write({ step: result.stepsDone, eval: metrics });
  // metrics.json last: its presence marks the run finished (a --resume then does nothing)
  writeFileAtomic(join(outDir, "metrics.json"), (w) => w(Buffer.from(`${JSON.stringify(metrics, null, 2)}\n`)));
  say(`held-out reconstruction (${metrics.split}, ${metrics.slices} slices): PSNR ${metrics.psnr.toFixed(2)} dB, SSIM ${metrics.ssim.toFixed(4)}`);
  generator.dispose();
  model.dispose();
  return { stepsDone: result.stepsDone, interrupted: false, seconds: result.seconds, metrics };
}

/** The same random square crop of every tensor [B, C, H, W] (all share H and W); no crop when size is 0 or >= H, W. */
export function randomCrop(ts: T.Tensor[], size: number, generator: T.Generator): T.Tensor[] {
  const [h, w] = [ts[0]!.size(2), ts[0]!.size(3)];
  if (size === 0 || (size >= h && size >= w)) return ts;
  const ch = Math.min(size, h);
  const cw = Math.min(size, w);
  const { top, left } = randomWindow(h, w, ch, cw, generator);
  return ts.map((t) => t.narrow(2, top, ch).narrow(3, left, cw));
}

/** Mean reconstruction PSNR/SSIM (data range 1: slices are normalised to [0, 1]) over a split. */
export function evaluateReconstruction(model: VQVAE, data: SliceDataset, split: Split, config: VqvaeRunConfig, device: T.Device): ReconstructionMetrics {
  const n = config.training.evalSlices > 0 ? Math.min(config.training.evalSlices, data.size(split)) : data.size(split);
  const wasTraining = model.training;
  model.eval();
  let p = 0;
  let s = 0;
  let perp = 0;
  let batches = 0;
  const bs = config.training.batchSize;
  T.noGrad(() => {
    for (let i = 0; i < n; i += bs) {
      T.tidy(() => {
        const idx = Array.from({ length: Math.min(bs, n - i) }, (_, k) => i + k);
        const batch = data.getBatch(split, idx, { device });
        const x = encoderInput(batch.hr, batch.g, batch.bias, config.inputs);
        const out = model.forward(x, { lr: batch.cond });
        const recon = out.recon.clamp(0, 1);
        for (const v of psnr(recon, batch.hr, 1)) p += Math.min(v, 100);
        for (const v of ssim(recon, batch.hr, 1)) s += v;
        perp += out.perplexity.item();
        batches++;
      });
    }
  });
  if (wasTraining) model.train();
  return { split, slices: n, psnr: n > 0 ? p / n : Number.NaN, ssim: n > 0 ? s / n : Number.NaN, perplexity: batches > 0 ? perp / batches : Number.NaN };
}

function save(
  dir: string,
  step: number,
  config: VqvaeRunConfig,
  model: VQVAE,
  optimizer: T.optim.AdamW,
  scheduler: T.optim.LambdaLR,
  generator: T.Generator,
): void {
  T.tidy(() => {
    const opt = optimizer.stateDict();
    using gen = generator.getState();
    saveCheckpoint(
      dir,
      { kind: "vqvae", step, config, optimizer: opt.meta, scheduler: scheduler.stateDict(), generator: bytesToHex(gen) },
      { model: model.stateDict(), optimizer: opt.tensors },
    );
  });
}

function restore(ck: LoadedCheckpoint, model: VQVAE, optimizer: T.optim.AdamW, scheduler: T.optim.LambdaLR, generator: T.Generator): number {
  const weights = ck.tensors("model");
  try {
    model.loadStateDict(weights);
  } finally {
    disposeAll(weights);
  }
  const optTensors = ck.tensors("optimizer");
  try {
    optimizer.loadStateDict({ tensors: Object.fromEntries(optTensors), meta: ck.state.optimizer as T.optim.OptimizerStateDict["meta"] });
  } finally {
    disposeAll(optTensors);
  }
  scheduler.loadStateDict(ck.state.scheduler as T.optim.LRSchedulerState);
  using gen = hexToBytes(ck.state.generator as string);
  generator.setState(gen);
  return ck.state.step as number;
}

/** The standard deviation of the quantised latent zq (before any scale factor) over the training slices. */
export function quantisedLatentStd(model: VQVAE, data: SliceDataset, config: VqvaeRunConfig, device: T.Device, batchSize = 8): number {
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  const wasTraining = model.training;
  model.eval();
  try {
    T.noGrad(() => {
      const total = data.size("train");
      for (let i = 0; i < total; i += batchSize) {
        T.tidy(() => {
          const idx = Array.from({ length: Math.min(batchSize, total - i) }, (_, j) => i + j);
          const b = data.getBatch("train", idx, { device });
          const z = model.encode(encoderInput(b.hr, b.g, b.bias, config.inputs)).zq.to("float64");
          sum += z.sum().item();
          sumSq += z.square().sum().item();
          n += z.numel;
        });
      }
    });
  } finally {
    model.train(wasTraining);
  }
  if (n === 0) throw new Error("quantisedLatentStd: the data set has no training slices");
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
  if (!Number.isFinite(std)) throw new Error("the VQ-VAE's latents are not finite (NaN or Inf) over the training slices: its weights are damaged; train it again");
  if (!(std > 0)) throw new Error("the VQ-VAE's latents are constant over the training slices (std 0); it has collapsed: train it again");
  return std;
}

