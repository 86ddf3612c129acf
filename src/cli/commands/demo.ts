// `moediff-sr demo [--model DIR] [-o OUT] [--whole] [--steps N] [--start F] [--seed N] [--device D]`: the main job.
// It reproduces the simulated 3T acquisition of the model's held-out data (heldout.json in the model
// directory; Colin27 for the embedded model), enhances the held-out slab (or, with --whole, the whole
// volume), compares the result and the classical baselines with the reference, and writes NIfTI
// volumes, PNG figures, summary.md/summary.html and metrics.json into OUT (src/demo/run.ts).
// Progress goes to stderr (a bar during enhancement); the closing table and the paths to stdout.
import { existsSync } from "node:fs";
import { join, relative } from "node:path";
import type { Command } from "commander";
import * as T from "../../torch/index.js";
import { runDemo } from "../../demo/run.js";
import { DEFAULT_MODEL_DIR } from "../../model_dir/default_dir.js";
import { ENHANCE_DEFAULTS } from "../../inference/pipeline.js";
import { nonNegativeInt, parseStart, positiveInt } from "../option_parsers.js";
import { progress, type Progress } from "../../util/progress.js";
import { checkOutputDirectory } from "../output_check.js";
import { parseDeviceOption } from "../device_option.js";

interface DemoCliOptions {
  model?: string;
  output: string;
  whole?: boolean;
  steps?: number;
  start?: number;
  seed: number;
  batch: number;
  fullTiles?: boolean;
  device: string;
  regions: boolean;
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("the main job: simulate a 3T scan of the model's held-out Colin27 slab, enhance it, compare with the baselines, write volumes, figures and a summary")
    .option("--model <dir>", "a trained model directory with heldout.json (default: the embedded model)")
    .option("-o, --output <dir>", "output directory", "demo-output")
    .option("--whole", "enhance and evaluate the whole volume too (slow: every slice; the whole-volume rows include training slices)")
    .option("--steps <n>", "diffusion steps (DDIM's, or a residual-shifting model's chain levels; default: the model's sampling.steps)", positiveInt("steps"))
    .option("--start <fraction>", "start each chain at this fraction of its schedule; 1 = from pure noise (default: the model's sampling.start)", parseStart)
    .option("--seed <n>", "sampler seed (the acquisition's seed comes from heldout.json)", nonNegativeInt("seed"), ENHANCE_DEFAULTS.seed)
    .option("--batch <n>", "tiles per forward pass", positiveInt("batch"), ENHANCE_DEFAULTS.batch)
    .option("--full-tiles", "pad every slice to the model's slice size (as enhance --full-tiles; slower)")
    .option("--no-regions", "skip the segmentation of the reference: brain-mask rows only (saves ~15 s)")
    .option("--device <device>", "cpu, cuda or cuda:N", parseDeviceOption, "cpu")
    .action(async (opts: DemoCliOptions) => {
      const started = performance.now();
      checkOutputDirectory(opts.output, "-o");
      const modelDir = opts.model ?? DEFAULT_MODEL_DIR;
      if (opts.model === undefined && !existsSync(join(modelDir, "model.safetensors"))) {
        throw new Error(`no embedded default model is installed (${modelDir}); pass --model DIR, a directory made by \`moediff-sr train\` with a heldout.json`);
      }
      const device = opts.device as T.Device;
      T.setDefaultDevice(device);
      console.error(`moediff-sr demo: libtorch ${T.libtorchVersion()}, ${T.getNumThreads()} threads, device ${device}`);
      let bar: Progress | null = null;
      let result;
      try {
        result = await runDemo({
          modelDir,
          out: opts.output,
          whole: opts.whole === true,
          ...(opts.steps !== undefined ? { steps: opts.steps } : {}),
          ...(opts.start !== undefined ? { start: opts.start } : {}),
          seed: opts.seed,
          batch: opts.batch,
          fullTiles: opts.fullTiles === true,
          device,
          regions: opts.regions,
          log: (line) => {
            bar?.stop();
            bar = null;
            console.error(`demo: ${line}`);
          },
          onEnhanceProgress: (p) => {
            bar ??= progress("enhance", p.tiles);
            bar.update(p.tilesDone, { slices: `${p.slicesDone}/${p.slices}` });
          },
        });
      } finally {
        (bar as Progress | null)?.stop();
      }
      const r = result.report;
      const at = (f: string): string => relative(process.cwd(), join(result.out, f)) || ".";
      console.log(result.table);
      console.log("");
      console.log(`summary      ${at("summary.html")} (and ${at("summary.md")})`);
      console.log(`figures      ${[r.figures.panel, r.figures.experts, r.figures.gates].map(at).join("  ")}`);
      console.log(`volumes      ${at(".")}/: lr, reference, input, trilinear, bspline, enhanced (.nii.gz), explain/, ${r.regions.names.length > 0 ? "regions/" : "no regions"}${r.mode === "whole" ? ", slab/" : ""}`);
      console.log(`metrics      ${at("metrics.json")}`);
      console.log(`time         ${((performance.now() - started) / 1000).toFixed(1)} s${r.warnings.length > 0 ? `; ${r.warnings.length} warning(s), listed in the summary` : ""}`);
    });
}
