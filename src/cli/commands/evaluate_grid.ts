// `moediff-sr evaluate-grid [--model DIR] [--unet DIR] -o OUT [--subjects 8] [--slices 4] ...`: the model,
// the U-Net (given one) and cubic B-spline and trilinear upsampling on held-out synthetic subjects over
// the acquisition grid (src/evaluate_grid/run.ts says what is done; docs/evaluate.md how to read
// it). Writes OUT/results.json, OUT/results.md, OUT/heatmap.png (and OUT/volumes/ with --keep-volumes).
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import * as T from "../../torch/index.js";
import { DEFAULT_MODEL_DIR } from "../../model_dir/default_dir.js";
import { defaultRandomiseSource } from "../../data/prepare_options.js";
import { loadRandomiseSource, type SkullVariant } from "../../data/randomise/subject.js";
import { GRID_ACQUISITIONS, GRID_BIASES, GRID_SNRS, gridCells, parseAcquisitions, parseNumberList, type GridAcquisition } from "../../evaluate_grid/cells.js";
import { GRID_DEFAULTS, runGrid } from "../../evaluate_grid/run.js";
import { formatMarkdown, writeGridOutputs } from "../../evaluate_grid/report.js";
import { nonNegativeInt, positiveInt } from "../option_parsers.js";
import { progress } from "../../util/progress.js";
import { checkOutputDirectory } from "../output_check.js";
import { parseDeviceOption } from "../device_option.js";

interface GridCliOptions {
  output: string;
  model?: string;
  unet?: string;
  subjects: number;
  slices: number;
  variant: SkullVariant;
  acquisitions: GridAcquisition[];
  snr: number[];
  bias: number[];
  source?: string;
  stripped?: string;
  steps?: number;
  seed?: number;
  batch?: number;
  keepVolumes?: boolean;
  device: string;
}

function parseVariant(v: string): SkullVariant {
  if (v !== "brain" && v !== "head") throw new Error(`--variant must be brain or head, got '${v}'`);
  return v;
}

const wrap =
  <R>(f: (v: string) => R) =>
  (v: string): R => {
    try {
      return f(v);
    } catch (e) {
      throw new Error(e instanceof Error ? e.message : String(e));
    }
  };

export function registerEvaluateGrid(program: Command): void {
  program
    .command("evaluate-grid")
    .description("the model vs B-spline, trilinear (and a U-Net) on held-out synthetic subjects over a grid of acquisitions x SNR x bias: brain PSNR and SSIM per cell")
    .requiredOption("-o, --output <dir>", "output directory: results.json, results.md, heatmap.png")
    .option("--model <dir>", "a trained MoEDiff-SR model directory; default: the embedded model")
    .option("--unet <dir>", "also the regression U-Net baseline of this directory (`moediff-sr train-unet`)")
    .option("--subjects <n>", "held-out subjects generated from the source", positiveInt("subjects"), GRID_DEFAULTS.subjects)
    .option("--slices <n>", "axial slices per subject, spread through the brain", positiveInt("slices"), GRID_DEFAULTS.slices)
    .option("--variant <v>", "brain (skull-stripped reference and input, as the default model was trained) or head (with the skull)", parseVariant, GRID_DEFAULTS.variant)
    .option("--acquisitions <list>", `comma-separated: ${GRID_ACQUISITIONS.map((a) => `${a.key} (${a.label})`).join(", ")}`, wrap(parseAcquisitions), [...GRID_ACQUISITIONS])
    .option("--snr <list>", "comma-separated SNRs (WM mean / noise sigma)", wrap((v) => parseNumberList(v, "snr", (x) => x > 0, "a positive number")), [...GRID_SNRS])
    .option("--bias <list>", "comma-separated bias-field strengths (0 = none)", wrap((v) => parseNumberList(v, "bias", (x) => x >= 0, "a number >= 0")), [...GRID_BIASES])
    .option("--source <file>", "the T1w volume the subjects are made from (default: Colin27 ch2 from mricron-data)")
    .option("--stripped <file>", "with --source: its skull-stripped companion on the same grid (default with Colin27: ch2bet)")
    .option("--steps <n>", "diffusion steps (default: the model's)", nonNegativeInt("steps"))
    .option("--seed <n>", "the model's sampling seed (default 0)", nonNegativeInt("seed"))
    .option("--batch <n>", "tiles per forward pass", positiveInt("batch"))
    .option("--keep-volumes", "also write every stack of evaluated slices (reference, brain mask, each method) to OUT/volumes/SUBJECT/CELL/, for `moediff-sr evaluate --planar`")
    .option("--device <device>", "cpu, cuda or cuda:N", parseDeviceOption, "cpu")
    .action(async (opts: GridCliOptions) => {
      await runEvaluateGrid(opts);
    });
}

async function runEvaluateGrid(opts: GridCliOptions): Promise<void> {
  checkOutputDirectory(opts.output, "-o");
  if (opts.stripped !== undefined && opts.source === undefined) throw new Error("--stripped needs --source FILE (the volume it belongs to)");
  const device = opts.device as T.Device;
  T.setDefaultDevice(device);
  const modelDir = opts.model ?? DEFAULT_MODEL_DIR;
  if (opts.model === undefined && !existsSync(join(modelDir, "model.safetensors"))) {
    throw new Error(`no embedded default model is installed (${modelDir}); pass --model RUN, a directory made by \`moediff-sr train\``);
  }
  const colin = opts.source === undefined ? defaultRandomiseSource() : null;
  const hrPath = opts.source ?? (colin as { hr: string }).hr;
  const stripped = opts.source !== undefined ? opts.stripped : (colin?.stripped ?? undefined);
  const cells = gridCells(opts.acquisitions, opts.snr, opts.bias);
  const total = opts.subjects * cells.length;
  console.error(
    `evaluate-grid: ${opts.subjects} held-out subjects from ${hrPath}${stripped !== undefined ? ` (mask ${stripped})` : ""}, ${opts.slices} axial slices each, ` +
      `${cells.length} cells (${opts.acquisitions.map((a) => a.key).join(", ")} x SNR ${opts.snr.join(", ")} x bias ${opts.bias.join(", ")}); model ${resolve(modelDir)}${opts.unet !== undefined ? `, U-Net ${resolve(opts.unet)}` : ""}`,
  );
  const source = loadRandomiseSource("colin27", hrPath, stripped !== undefined ? { stripped } : {});
  mkdirSync(opts.output, { recursive: true });
  const bar = progress("evaluate-grid", total);
  let results;
  try {
    results = await runGrid({
      modelDir,
      ...(opts.unet !== undefined ? { unetDir: opts.unet } : {}),
      source,
      subjects: opts.subjects,
      slices: opts.slices,
      variant: opts.variant,
      acquisitions: opts.acquisitions,
      snrs: opts.snr,
      biases: opts.bias,
      enhance: { ...(opts.steps !== undefined ? { steps: opts.steps } : {}), ...(opts.seed !== undefined ? { seed: opts.seed } : {}), ...(opts.batch !== undefined ? { batch: opts.batch } : {}) },
      device,
      ...(opts.keepVolumes === true ? { keepVolumes: join(opts.output, "volumes") } : {}),
      onProgress: (p) => bar.update(p.done, { subject: p.subject, cell: p.cell, "Δ dB": Number.isFinite(p.delta) ? p.delta : "n/a" }),
    });
  } finally {
    bar.stop();
  }
  const files = await writeGridOutputs(opts.output, results);
  console.log(formatMarkdown(results));
  console.error(`evaluate-grid: wrote ${files.json}, ${files.md}, ${files.png}${opts.keepVolumes === true ? ` and ${join(opts.output, "volumes")}/` : ""}; ${results.seconds.toFixed(0)} s`);
}
