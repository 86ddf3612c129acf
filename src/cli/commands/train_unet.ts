// `moediff-sr train-unet DATA -o DIR`: trains the regression U-Net baseline (pixel space, residual on
// the B-spline image) on the pairs a `prepare` data set holds, for a number of steps or a wall-clock
// budget (--minutes: the comparison with the diffusion model at the same training time).
import type { Command } from "commander";
import * as T from "../../torch/index.js";
import { trainUNet } from "../../train/unet_trainer.js";
import { resolveUNetRunConfig, UNET_PRESETS, type UNetRunConfig } from "../../models/unet/config.js";
import { numberOption, positiveInt } from "../option_parsers.js";
import { startingConfig } from "./train_common.js";
import { parseDeviceOption } from "../device_option.js";

interface Options {
  output: string;
  preset: string;
  config?: string;
  resume?: boolean;
  steps?: number;
  minutes?: number;
  device: string;
}

export function registerTrainUNet(program: Command): void {
  program
    .command("train-unet")
    .description("train the regression U-Net baseline (pixel space, residual on the B-spline image) on a prepared data set")
    .argument("<data>", "a data set directory made by `moediff-sr prepare` (its training slices are used)")
    .requiredOption("-o, --output <dir>", "output directory (config.json, card.json, model.safetensors, metrics.json, log.jsonl, checkpoint/)")
    .option("--preset <name>", Object.keys(UNET_PRESETS).join(" or "), "cpu-small")
    .option("--config <file>", 'JSON file overriding preset keys, e.g. {"model": {"baseChannels": 48}, "training": {"cropSize": 96}}')
    .option("--steps <n>", "train exactly n optimiser steps", positiveInt("steps"))
    .option("--minutes <m>", "train for a wall-clock budget: the step count that fits is measured before the first step", numberOption("minutes", "a number of minutes > 0", (x) => x > 0))
    .option("--resume", "continue the run in --output from its checkpoint")
    .option("--device <device>", "cpu, cuda or cuda:N", parseDeviceOption, "cpu")
    .action(async (data: string, opts: Options) => {
      const config = buildConfig(opts);
      T.setDefaultDevice(opts.device as T.Device);
      const r = await trainUNet(data, opts.output, { config, resume: opts.resume === true, device: opts.device as T.Device });
      if (r.interrupted) process.exitCode = 130;
    });
}

function buildConfig(opts: Options): UNetRunConfig {
  if (opts.steps !== undefined && opts.minutes !== undefined) throw new Error("give --steps N or --minutes M, not both");
  const { preset, overrides: o } = startingConfig(opts);
  if (opts.steps !== undefined) o.training = { ...(o.training ?? {}), steps: opts.steps, minutes: 0 };
  if (opts.minutes !== undefined) o.training = { ...(o.training ?? {}), minutes: opts.minutes };
  return resolveUNetRunConfig(preset, o);
}
