// `moediff-sr bias-correct IN -o OUT [--mask M] [--write-field F]`: N4-style bias field correction
// (src/preprocess/n4/n4.ts) with N4's options: --shrink, --iterations (per level, "50x50x50x50"),
// --convergence, --spline-distance, --bins, --fwhm, --wiener-noise. OUT is the corrected volume on
// the input's grid; --write-field writes the multiplicative field B (IN = OUT * B, around 1), which
// `prepare` turns into its b channel. Engine-free (plain TypeScript on typed arrays).
import type { Command } from "commander";
import { readNifti, toVolume, writeNifti } from "../../nifti/index.js";
import { maskFromVolume } from "../../preprocess/n4/mask.js";
import { n4BiasCorrection, N4_DEFAULTS, type N4Iteration, type N4Options, type N4Result } from "../../preprocess/n4/n4.js";
import { parseNonFinite } from "../nifti_options.js";
import { fmt } from "../../util/format.js";
import { nonNegativeInt, numberOption, positiveInt } from "../option_parsers.js";
import { progress } from "../../util/progress.js";
import { checkNiftiOutput } from "../output_check.js";

interface BiasCorrectCliOptions {
  output: string;
  mask?: string;
  writeField?: string;
  shrink: number;
  iterations: number[];
  convergence: number;
  splineDistance: number;
  bins: number;
  fwhm: number;
  wienerNoise: number;
  smoothing: number;
  volumeIndex?: number;
  nonFinite: "error" | "zero";
}

/** "50x50x50x50" -> [50, 50, 50, 50]: maximum iterations per level, one entry per level. */
export function parseIterations(v: string): number[] {
  const parts = v.trim().split(/x/i);
  const n = parts.map((s) => (/^\s*\d+\s*$/.test(s) ? Number(s) : Number.NaN));
  if (n.length === 0 || n.some((x) => !Number.isInteger(x) || x < 1)) {
    throw new Error(`--iterations must be positive integers joined by x, one per level (e.g. 50x50x50x50 for 4 levels), got '${v}'`);
  }
  return n;
}

/** The option parsers, for tests. */
export const biasCorrectOptionParsers = {
  iterations: parseIterations,
  convergence: numberOption("convergence", "a number >= 0", (x) => x >= 0),
  splineDistance: numberOption("spline-distance", "a positive distance in mm", (x) => x > 0),
  fwhm: numberOption("fwhm", "a positive number (log-intensity units)", (x) => x > 0),
  wienerNoise: numberOption("wiener-noise", "a positive number", (x) => x > 0),
  smoothing: numberOption("smoothing", "a number >= 0", (x) => x >= 0),
  bins: (v: string): number => {
    const n = positiveInt("bins")(v);
    if (n < 4) throw new Error(`--bins must be at least 4, got '${v}'`);
    return n;
  },
};

function summary(r: N4Result, seconds: number): string {
  const its = r.levels.map((l) => l.iterations);
  const conv = r.levels.filter((l) => l.converged).length;
  const last = r.levels[r.levels.length - 1];
  const lattice = last === undefined ? "" : `, last lattice ${last.spans.map((s) => s + 3).join("x")} control points`;
  const mask = r.mask.source === "given" ? "given" : `automatic (> ${fmt(r.mask.threshold)}, ${r.mask.filled} hole voxels filled)`;
  return (
    `${r.levels.length} levels, iterations ${its.join("+")} = ${its.reduce((a, b) => a + b, 0)} (${conv} of ${r.levels.length} levels converged)${lattice}; ` +
    `mask ${r.maskVoxels} voxels, ${mask}; ${r.points} points after shrinking; ${seconds.toFixed(1)} s`
  );
}

export function registerBiasCorrect(program: Command): void {
  const d = N4_DEFAULTS;
  program
    .command("bias-correct")
    .description("N4-style bias field correction: writes the corrected volume (and optionally the multiplicative field)")
    .argument("<input>", "the volume to correct (NIfTI, magnitude image)")
    .requiredOption("-o, --output <file>", "the corrected volume (same grid as the input)")
    .option("--mask <file>", "estimate the field from this region (nonzero voxels; on the input's grid); default: automatic mask")
    .option("--write-field <file>", "also write the multiplicative bias field B (input = output * B, around 1)")
    .option("--shrink <n>", "shrink factor per axis for the estimate", positiveInt("shrink"), d.shrink)
    .option("--iterations <list>", "maximum iterations per level, one entry per level", parseIterations, [...d.iterations])
    .option("--convergence <x>", "stop a level when the coefficient of variation of the field update is below this", biasCorrectOptionParsers.convergence, d.convergence)
    .option("--spline-distance <mm>", "B-spline control-point distance at the first level (halved at each level)", biasCorrectOptionParsers.splineDistance, d.splineDistance)
    .option("--bins <n>", "histogram bins", biasCorrectOptionParsers.bins, d.bins)
    .option("--fwhm <x>", "FWHM of the Gaussian blur the histogram sharpening deconvolves (log intensity)", biasCorrectOptionParsers.fwhm, d.fwhm)
    .option("--wiener-noise <x>", "Wiener filter noise of the deconvolution", biasCorrectOptionParsers.wienerNoise, d.wienerNoise)
    .option("--smoothing <x>", "weight of the B-spline smoothness penalty, relative to the data", biasCorrectOptionParsers.smoothing, d.smoothing)
    .option("--volume-index <n>", "which frame of a 4-D input", nonNegativeInt("volume-index"))
    .option("--non-finite <mode>", "NaN/Inf voxels in the input: error or zero (zeros are left out of the fit)", parseNonFinite, "error")
    .action((input: string, opts: BiasCorrectCliOptions) => {
      const start = Date.now();
      checkNiftiOutput(opts.output);
      if (opts.writeField !== undefined) checkNiftiOutput(opts.writeField, "--write-field");
      const im = readNifti(input, { nonFinite: opts.nonFinite });
      const frames = im.dims[3] ?? 1;
      if (frames > 1 && opts.volumeIndex === undefined) throw new Error(`${input} is 4-D with ${frames} frames; choose one with --volume-index 0..${frames - 1}`);
      if (opts.volumeIndex !== undefined && opts.volumeIndex >= frames) throw new Error(`--volume-index ${opts.volumeIndex} is out of range: ${input} has ${frames} frame(s)`);
      const volume = toVolume(im, opts.volumeIndex ?? 0);
      let mask: Uint8Array | undefined;
      if (opts.mask !== undefined) {
        const mi = readNifti(opts.mask);
        if ((mi.dims[3] ?? 1) > 1) throw new Error(`mask ${opts.mask} is 4-D (${mi.dims[3]} frames); give a 3-D mask`);
        mask = maskFromVolume(toVolume(mi), volume, `mask ${opts.mask}`);
      }
      const options: N4Options = {
        ...d,
        shrink: opts.shrink,
        iterations: opts.iterations,
        convergence: opts.convergence,
        splineDistance: opts.splineDistance,
        bins: opts.bins,
        fwhm: opts.fwhm,
        wienerNoise: opts.wienerNoise,
        smoothing: opts.smoothing,
      };
      const levelStart = opts.iterations.map((_, l) => opts.iterations.slice(0, l).reduce((a, b) => a + b, 0));
      const total = opts.iterations.reduce((a, b) => a + b, 0);
      const bar = progress("bias-correct", total);
      const onIteration = (it: N4Iteration): void => {
        const base = levelStart[it.level - 1] as number;
        const max = opts.iterations[it.level - 1] as number;
        const done = it.converged || it.iteration === max ? base + max : base + it.iteration;
        bar.update(done, { level: `${it.level}/${opts.iterations.length}`, iteration: `${it.iteration}/${max}`, cv: it.cv });
      };
      let result: N4Result;
      try {
        result = n4BiasCorrection(volume, options, mask, onIteration);
      } finally {
        bar.stop();
      }
      if (result.excludedVoxels > 0) {
        console.error(`bias-correct: ${result.excludedVoxels} mask voxels are <= 0 or not finite and were left out of the fit (the field is still evaluated there)`);
      }
      writeNifti(opts.output, result.corrected, { description: "moediff-sr bias-correct" });
      if (opts.writeField !== undefined) writeNifti(opts.writeField, result.field, { description: "moediff-sr bias field (input = corrected * field)" });
      const seconds = (Date.now() - start) / 1000;
      console.error(`bias-correct: wrote ${opts.output}${opts.writeField === undefined ? "" : ` and ${opts.writeField}`}: ${summary(result, seconds)}`);
    });
}
