// `moediff-sr demo`: until the MoEDiff-SR model lands, a real demonstration of
// the engine: train a small residual CNN for 2x super-resolution of synthetic
// images and compare it with bicubic interpolation on held-out images.
import type { Command } from "commander";
import * as T from "../../torch/index.js";
import { TOY_SR_DEFAULTS, trainToySr } from "../../demo/toy_sr.js";
import { progress } from "../progress.js";
import { positiveInt } from "../option_parsers.js";


export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("train a small super-resolution CNN on synthetic images (an engine demonstration)")
    .option("--steps <n>", "training steps", positiveInt("steps"), TOY_SR_DEFAULTS.steps)
    .option("--batch <n>", "images per step", positiveInt("batch"), TOY_SR_DEFAULTS.batch)
    .option("--size <n>", "image size in pixels (even)", positiveInt("size"), TOY_SR_DEFAULTS.size)
    .option("--seed <n>", "random seed", (v) => Number(v), TOY_SR_DEFAULTS.seed)
    .action((opts: { steps: number; batch: number; size: number; seed: number }) => {
      if (opts.size % 2 !== 0) throw new Error(`--size must be even, got ${opts.size}`);
      console.log(`moediff-sr demo: libtorch ${T.libtorchVersion()}, ${T.getNumThreads()} threads, ${T.cuda.isAvailable() ? "CUDA available" : "CPU"}`);
      const bar = progress("training", opts.steps);
      const result = trainToySr({
        ...TOY_SR_DEFAULTS,
        ...opts,
        onStep: (step, loss) => bar.update(step, { loss }),
      });
      bar.stop();
      console.log(`network: ${result.parameters} parameters, ${opts.steps} steps in ${result.seconds.toFixed(1)} s`);
      console.log(`held-out PSNR, 2x super-resolution of 64 synthetic images:`);
      console.log(`  bicubic  ${result.bicubicPsnr.toFixed(2)} dB`);
      console.log(`  network  ${result.networkPsnr.toFixed(2)} dB (${(result.networkPsnr - result.bicubicPsnr >= 0 ? "+" : "") + (result.networkPsnr - result.bicubicPsnr).toFixed(2)} dB)`);
    });
}
