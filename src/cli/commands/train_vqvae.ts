// `moediff-sr train-vqvae DATA -o DIR`: trains the autoencoder (E1, D) and reports its held-out
// reconstruction PSNR/SSIM, the ceiling of the whole system.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import * as T from "../../torch/index.js";
import { trainVqvae } from "../../train/vqvae_trainer.js";
import { resolveVqvaeRunConfig, upgradeVqvaeRunConfig, type VqvaeRunConfig } from "../../models/vqvae/run_config.js";
import { positiveInt } from "../option_parsers.js";
import { startingConfig } from "./train_common.js";
import { parseDeviceOption } from "../device_option.js";

interface Options {
  output: string;
  preset: string;
  config?: string;
  resume?: boolean;
  steps?: number;
  device: string;
  bias: boolean;
  gradwarp: boolean;
}

export function registerTrainVqvae(program: Command): void {
  program
    .command("train-vqvae")
    .description("train the VQ-VAE autoencoder on a prepared data set and report its held-out reconstruction PSNR/SSIM")
    .argument("<data>", "a data set directory made by `moediff-sr prepare`")
    .requiredOption("-o, --output <dir>", "output directory (config.json, model.safetensors, metrics.json, log.jsonl, checkpoint/)")
    .option("--preset <name>", "cpu-small or paper", "cpu-small")
    .option("--config <file>", "JSON file overriding preset keys, e.g. {\"training\": {\"steps\": 3000}}")
    .option("--steps <n>", "training steps (overrides the preset)", positiveInt("steps"))
    .option("--no-bias", "zero the b channel of the encoder input (ablation)")
    .option("--no-gradwarp", "zero the g channel of the encoder input (ablation)")
    .option("--resume", "continue the run in --output from its checkpoint")
    .option("--device <device>", "cpu, cuda or cuda:N", parseDeviceOption, "cpu")
    .action(async (data: string, opts: Options) => {
      const config = buildConfig(opts);
      T.setDefaultDevice(opts.device as T.Device);
      const r = await trainVqvae(data, opts.output, { config, resume: opts.resume === true, device: opts.device as T.Device });
      if (r.interrupted) process.exitCode = 130;
    });
}

function buildConfig(opts: Options): VqvaeRunConfig {
  const started = startingConfig(opts);
  const { preset } = started;
  // Resuming from the run's own config.json: one written before a key existed means what it made then.
  const fromRun = opts.resume === true && opts.config === undefined && existsSync(join(opts.output, "config.json"));
  const o = fromRun ? upgradeVqvaeRunConfig(started.overrides) : started.overrides;
  if (opts.steps !== undefined) o.training = { ...(o.training ?? {}), steps: opts.steps };
  if (!opts.bias) o.inputs = { ...(o.inputs ?? {}), useBias: false };
  if (!opts.gradwarp) o.inputs = { ...(o.inputs ?? {}), useGradwarp: false };
  return resolveVqvaeRunConfig(preset, o);
}
