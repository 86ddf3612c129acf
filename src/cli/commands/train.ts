// `moediff-sr train DATA --vqvae DIR -o RUN`: joint training of the MoEDiff-SR experts, condition
// encoder and gating network on a frozen autoencoder, with the ablation switches of the paper.
import type { Command } from "commander";
import * as T from "../../torch/index.js";
import { applyAblations, MOEDIFF_PRESETS, resolveMoEDiffConfig, type MoEDiffConfig } from "../../models/moediff/config.js";
import { MoEDiffSR } from "../../models/moediff/moediff.js";
import { trainMoE } from "../../train/moe_trainer.js";
import { VQVAE_RUN_PRESETS } from "../../models/vqvae/run_config.js";
import { VQVAE } from "../../models/vqvae/index.js";
import { positiveInt } from "../option_parsers.js";
import { startingConfig } from "./train_common.js";
import { join } from "node:path";
import { readManifest } from "../../data/manifest.js";
import { MODEL_CARD_FILE, modelCardFromManifest, writeModelCard } from "../../model_dir/card.js";
import { parseDeviceOption } from "../device_option.js";

interface Options {
  output: string;
  vqvae: string;
  preset: string;
  config?: string;
  resume?: boolean;
  formulation?: string;
  steps?: number;
  epochs?: number;
  device: string;
  bias: boolean;
  gradwarp: boolean;
  experts?: string;
  gating?: "global" | "spatial";
  diversity: boolean;
  frequency: boolean;
  vgg?: string;
}

export function registerTrain(program: Command): void {
  program
    .command("train")
    .description("train MoEDiff-SR (experts, condition encoder, gating) on a prepared data set with a trained VQ-VAE")
    .argument("<data>", "a data set directory made by `moediff-sr prepare`")
    .requiredOption("--vqvae <dir>", "a trained VQ-VAE directory (from `moediff-sr train-vqvae`)")
    .requiredOption("-o, --output <dir>", "run directory (config.json, model.safetensors, metrics.json, log.jsonl, checkpoint/)")
    .option("--preset <name>", "cpu-small or paper", "cpu-small")
    .option("--config <file>", "JSON file overriding preset keys, e.g. {\"training\": {\"lr\": 1e-4}}")
    .option("--steps <n>", "train exactly n optimiser steps (overrides epochs)", positiveInt("steps"))
    .option("--epochs <n>", "training epochs", positiveInt("epochs"))
    .option("--vgg <file>", "torchvision VGG-16 weights for the perceptual term of Eq. 10 (default: a fixed filter bank)")
    .option("--no-bias", "ablation: zero the bias-field channel b of the encoder input")
    .option("--no-gradwarp", "ablation: zero the gradient-nonlinearity channel g of the encoder input")
    .option("--experts <list>", "ablation: which experts, e.g. 2 or 1,3 (default 1,2,3)")
    .option("--gating <mode>", "global (one weight per expert and slice) or spatial (per token, the default)")
    .option("--formulation <name>", "resshift (a residual-shifting chain from the 3T latent to the 7T latent, the default) or paper (each expert an epsilon-predicting DDPM, Eq. 5-8)")
    .option("--no-diversity", "ablation: drop the expert-diversity term of Eq. 16")
    .option("--no-frequency", "ablation: drop the frequency-aware softmax of Eq. 4 (gamma = 0)")
    .option("--resume", "continue the run in --output from its checkpoint")
    .option("--device <device>", "cpu, cuda or cuda:N", parseDeviceOption, "cpu")
    .action(async (data: string, opts: Options) => {
      const config = buildConfig(opts);
      T.setDefaultDevice(opts.device as T.Device);
      const r = await trainMoE(data, opts.output, { config, vqvaeDir: opts.vqvae, resume: opts.resume === true, device: opts.device as T.Device });
      if (r.interrupted) process.exitCode = 130;
    });

  program
    .command("card")
    .description("write RUN/card.json (what inference needs to know about the training data) for a run trained before cards existed")
    .argument("<run>", "a run directory of `moediff-sr train`")
    .requiredOption("--data <dir>", "the data set the run was trained on")
    .action((run: string, opts: { data: string }) => {
      writeModelCard(run, modelCardFromManifest(readManifest(opts.data), opts.data));
      console.log(`wrote ${join(run, MODEL_CARD_FILE)}`);
    });

  program
    .command("params")
    .description("print parameter counts per component for a preset (without training)")
    .option("--preset <name>", "cpu-small, paper, or all", "all")
    .action((opts: { preset: string }) => {
      const names = opts.preset === "all" ? Object.keys(MOEDIFF_PRESETS) : [opts.preset];
      for (const name of names) {
        const c = resolveMoEDiffConfig(name);
        const vq = VQVAE_RUN_PRESETS[name]!.model;
        T.noGrad(() => {
          const v = new VQVAE(vq, { device: "cpu" });
          const m = new MoEDiffSR(c.model, vq.embedDim, 3, { device: "cpu" });
          console.log(`${name}:`);
          for (const [k, n] of Object.entries({ vqvae: v.numParameters(), ...m.parameterCounts() })) console.log(`  ${k.padEnd(18)} ${n.toLocaleString("en").padStart(12)}`);
          v.dispose();
          m.dispose();
        });
      }
    });
}

function buildConfig(opts: Options): MoEDiffConfig {
  const { preset, overrides: o } = startingConfig(opts);
  if (opts.steps !== undefined) o.training = { ...(o.training ?? {}), steps: opts.steps };
  if (opts.epochs !== undefined) o.training = { ...(o.training ?? {}), epochs: opts.epochs, steps: 0 };
  if (opts.vgg !== undefined) o.losses = { ...(o.losses ?? {}), vggWeights: opts.vgg };
  if (opts.formulation !== undefined) {
    if (opts.formulation !== "paper" && opts.formulation !== "resshift") throw new Error(`--formulation must be resshift or paper, got '${opts.formulation}'`);
    o.model = { ...(o.model ?? {}), formulation: opts.formulation };
  } else if (opts.resume === true && opts.config === undefined && o.model !== undefined && (o.model as { formulation?: unknown }).formulation === undefined) {
    o.model = { ...o.model, formulation: "paper" }; // a run saved before the key existed was trained in the paper formulation
  }
  let c = resolveMoEDiffConfig(preset, o);
  const experts = opts.experts === undefined ? undefined : opts.experts.split(",").map((s) => Number(s.trim()));
  if (experts !== undefined && experts.some((k) => ![1, 2, 3].includes(k))) throw new Error(`--experts expects a list of 1, 2, 3, got '${opts.experts}'`);
  if (opts.gating !== undefined && opts.gating !== "global" && opts.gating !== "spatial") throw new Error(`--gating must be global or spatial, got '${String(opts.gating)}'`);
  c = applyAblations(c, {
    noBias: !opts.bias,
    noGradwarp: !opts.gradwarp,
    ...(experts === undefined ? {} : { experts }),
    ...(opts.gating === undefined ? {} : { gating: opts.gating }),
    noDiversity: !opts.diversity,
    noFrequency: !opts.frequency,
  });
  return c;
}
