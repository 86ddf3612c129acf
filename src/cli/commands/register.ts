// `moediff-sr register MOVING FIXED -o OUT [--write-transform T.json]`: rigid (6 DOF) registration of
// MOVING to FIXED (src/preprocess/register/), then MOVING resampled onto FIXED's grid (cubic B-spline
// by default) and written with FIXED's affine. The transform maps fixed world points to moving world
// points (see rigid.ts); --write-transform stores it as JSON. Needs the tensor engine.
import { Option, type Command } from "commander";
import * as T from "../../torch/index.js";
import { readNifti, toVolume, writeNifti } from "../../nifti/index.js";
import { voxelSizes } from "../../volume/affine.js";
import type { Interpolation } from "../../volume/resample.js";
import type { Volume } from "../../volume/volume.js";
import { METRICS, type Metric } from "../../preprocess/register/metrics.js";
import { INITS, REGISTER_DEFAULTS, type Init } from "../../preprocess/register/options.js";
import { registerRigid, type RegistrationResult } from "../../preprocess/register/register.js";
import { resampleMoving, transformDocument, writeTransform } from "../../preprocess/register/transform_file.js";
import { parseNonFinite } from "../nifti_options.js";
import { fmt } from "../../util/format.js";
import { positiveInt } from "../option_parsers.js";
import { progress } from "../../util/progress.js";
import { checkNiftiOutput, checkOutputFile } from "../output_check.js";
import { parseDeviceOption } from "../device_option.js";

interface RegisterCliOptions {
  output: string;
  writeTransform?: string;
  metric: Metric;
  levels: number[];
  smoothing?: number[];
  iterations?: number[];
  init: Init;
  interpolation: Interpolation;
  samples: number;
  bins: number;
  minOverlap: number;
  seed: number;
  nonFinite: "error" | "zero";
  device: string;
}

/** "4x2x1" -> [4, 2, 1]; each entry checked by `ok`. */
function xList(name: string, what: string, ok: (x: number) => boolean): (v: string) => number[] {
  return (v) => {
    const parts = v.split("x").map((s) => (s.trim() === "" ? Number.NaN : Number(s)));
    if (parts.some((x) => !Number.isFinite(x) || !ok(x))) throw new Error(`--${name} expects ${what} separated by x (e.g. 4x2x1), got '${v}'`);
    return parts;
  };
}

function choice<K extends string>(name: string, values: readonly K[]): (v: string) => K {
  return (v) => {
    if (!(values as readonly string[]).includes(v)) throw new Error(`--${name} must be ${values.join(", ")}, got '${v}'`);
    return v as K;
  };
}

function fraction(v: string): number {
  const x = v.trim() === "" ? Number.NaN : Number(v);
  if (!(x > 0 && x <= 1)) throw new Error(`--min-overlap expects a fraction in (0, 1], got '${v}'`);
  return x;
}

function seed(v: string): number {
  const x = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || x > 0xffffffff) throw new Error(`--seed expects an integer in 0..4294967295, got '${v}'`);
  return x;
}

/** The command's option parsers, for tests. */
export const registerOptionParsers = {
  levels: xList("levels", "positive integer shrink factors", (x) => Number.isInteger(x) && x >= 1),
  smoothing: xList("smoothing", "sigmas >= 0 in fixed voxels", (x) => x >= 0),
  iterations: xList("iterations", "positive integers", (x) => Number.isInteger(x) && x >= 1),
  metric: choice("metric", METRICS),
  init: choice("init", INITS),
  interpolation: choice<Interpolation>("interpolation", ["bspline", "trilinear"]),
  minOverlap: fraction,
  seed,
} as const;

function readVolume(path: string, what: string, nonFinite: "error" | "zero"): Volume {
  const im = readNifti(path, { nonFinite });
  const frames = im.dims[3] ?? 1;
  if (frames > 1) throw new Error(`${what} ${path} has ${frames} frames; register takes 3-D volumes (extract one frame first)`);
  return toVolume(im);
}

export function registerRegister(program: Command): void {
  const d = REGISTER_DEFAULTS;
  const p = registerOptionParsers;
  program
    .command("register")
    .description("rigidly register MOVING to FIXED (6 DOF, multi-resolution, NCC or mutual information) and resample MOVING onto FIXED's grid")
    .argument("<moving>", "the image to move (NIfTI)")
    .argument("<fixed>", "the reference image; the output is on its grid (NIfTI)")
    .requiredOption("-o, --output <file>", "MOVING resampled onto FIXED's grid (float32 NIfTI with FIXED's affine)")
    .option("--write-transform <file>", "write the transform as JSON: 4x4 world matrix fixed->moving and its inverse, angles, translation, costs")
    .addOption(new Option("--metric <metric>", "similarity: ncc (same contrast, e.g. 3T/7T T1w) or mi (Mattes mutual information)").argParser(p.metric).default(d.metric))
    .addOption(new Option("--levels <f>", "shrink factors of the fixed image, coarse to fine").argParser(p.levels).default([...d.levels], d.levels.join("x")))
    .addOption(new Option("--smoothing <sigmas>", "Gaussian sigma per level in fixed voxels (default: half the shrink factor, 0 at 1)").argParser(p.smoothing))
    .addOption(new Option("--iterations <n>", `maximum iterations per level (default ${d.iterations.join("x")} for 3 levels, else 100 each)`).argParser(p.iterations))
    .addOption(new Option("--init <how>", "initial alignment: com (centres of mass), geometry (centres of the fields of view) or none").argParser(p.init).default(d.init))
    .addOption(new Option("--interpolation <kind>", "for the output: bspline (cubic) or trilinear").argParser(p.interpolation).default("bspline"))
    .option("--samples <n>", "at most this many fixed-image points per level (a fixed random subset beyond)", positiveInt("samples"), d.maxSamples)
    .option("--bins <n>", "histogram bins per image for --metric mi", positiveInt("bins"), d.bins)
    .option("--min-overlap <f>", "refuse when less than this fraction of the fixed field of view lies inside the moving one", p.minOverlap, d.minOverlap)
    .option("--seed <n>", "seed of the point subset", p.seed, d.seed)
    .option("--non-finite <mode>", "NaN/Inf voxels in the inputs: error or zero", parseNonFinite, "error")
    .option("--device <device>", "cpu, cuda or cuda:N", parseDeviceOption, "cpu")
    .addHelpText(
      "after",
      "\nThe transform T maps a FIXED world point (mm) to the MOVING world point with the same anatomy: T(p) = R (p - c) + c + t," +
        "\nR = Rz Ry Rx, c = centre of FIXED's field of view. The output holds MOVING(T(p)) at each FIXED voxel p.",
    )
    .action((moving: string, fixed: string, opts: RegisterCliOptions) => {
      const started = Date.now();
      checkNiftiOutput(opts.output);
      if (opts.writeTransform !== undefined) checkOutputFile(opts.writeTransform, "--write-transform");
      const mv = readVolume(moving, "moving volume", opts.nonFinite);
      const fx = readVolume(fixed, "fixed volume", opts.nonFinite);
      const levels = opts.levels;
      const iterations = opts.iterations ?? (levels.length === d.levels.length ? [...d.iterations] : levels.map(() => 100));
      const offsets = iterations.map((_, i) => iterations.slice(0, i).reduce((a, b) => a + b, 0));
      const total = iterations.reduce((a, b) => a + b, 0);
      const bar = progress("register", total);
      let result: RegistrationResult;
      try {
        result = registerRigid(mv, fx, {
          metric: opts.metric,
          levels,
          iterations,
          ...(opts.smoothing !== undefined ? { smoothing: opts.smoothing } : {}),
          init: opts.init,
          maxSamples: opts.samples,
          bins: opts.bins,
          minOverlap: opts.minOverlap,
          seed: opts.seed,
          device: opts.device as T.Device,
          onProgress: (q) => bar.update((offsets[q.level] as number) + q.iteration, { level: `${q.level + 1}/${q.levels} (shrink ${q.shrink})`, cost: q.cost }),
        });
        bar.update(total, { levels: "done" });
      } finally {
        bar.stop();
      }
      const out = resampleMoving(mv, fx, result.matrix, opts.interpolation);
      writeNifti(opts.output, out, { description: `moediff-sr register ${opts.metric} (rigid)`.slice(0, 80) });
      if (opts.writeTransform !== undefined) writeTransform(opts.writeTransform, transformDocument(result, { moving, fixed }));
      report(moving, fixed, mv, fx, opts, result, (Date.now() - started) / 1000);
    });
}

function report(moving: string, fixed: string, mv: Volume, fx: Volume, opts: RegisterCliOptions, r: RegistrationResult, seconds: number): void {
  const grid = (v: Volume): string => `${v.dims.join("x")} at ${voxelSizes(v.affine).map(fmt).join("x")} mm`;
  const deg = (a: number): string => fmt(Number(((a * 180) / Math.PI).toFixed(3)));
  const mm = (x: number): string => fmt(Number(x.toFixed(3)));
  const lines: [string, string][] = [
    ["moving", `${moving}: ${grid(mv)}`],
    ["fixed", `${fixed}: ${grid(fx)}`],
    ["metric", `${r.metric}, init ${r.init}, overlap ${(100 * r.overlap.before).toFixed(1)}% as given, ${(100 * r.overlap.after).toFixed(1)}% registered`],
    ...r.levels.map(
      (l, i): [string, string] => [
        `level ${i + 1}`,
        `shrink ${l.shrink}, smoothing ${fmt(Number(l.smoothingMm.toFixed(3)))} mm, ${l.samples} points, ${l.iterations} iterations${l.converged ? " (converged)" : ""}, cost ${fmt(l.finalCost)}, ${l.seconds.toFixed(1)} s`,
      ],
    ),
    ["rotation", `${r.parameters.angles.map(deg).join(", ")} deg about x, y, z (R = Rz Ry Rx, about ${r.centre.map(mm).join(", ")} mm)`],
    ["translation", `${r.parameters.translation.map(mm).join(", ")} mm`],
    ["output", `${opts.output} (${opts.interpolation}, on the fixed grid)`],
    ...(opts.writeTransform !== undefined ? [["transform", opts.writeTransform] as [string, string]] : []),
    ["time", `${seconds.toFixed(1)} s (registration ${r.seconds.toFixed(1)} s)`],
  ];
  for (const [k, v] of lines) console.log(`${k.padEnd(13)}${v}`);
}
