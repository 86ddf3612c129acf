// `moediff-sr simulate HR -o LR`: a simulated 3T-like acquisition of a high-resolution volume
// (src/simulate/simulate.ts has the model): k-space truncation to the LR voxel size, Rician noise at an
// SNR relative to the mean white-matter intensity, a smooth bias field, optionally a gradient-
// nonlinearity warp; output on the LR grid or back on the HR grid; optionally the b and g maps.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { readNifti, toVolume, writeNifti } from "../../nifti/index.js";
import { voxelSizes } from "../../volume/affine.js";
import { simulateAcquisition, type SimulationResult } from "../../simulate/simulate.js";
import type { SliceProfile, SliceProfileShape } from "../../simulate/kspace_lowpass.js";
import type { Volume } from "../../volume/volume.js";
import { checkSeed } from "../../util/random.js";
import { parseNonFinite } from "../nifti_options.js";
import { fmt } from "../../util/format.js";
import { dataRange } from "../../volume/volume.js";
import { checkNiftiOutput, checkOutputDirectory } from "../output_check.js";

interface SimulateCliOptions {
  output: string;
  voxel: number | [number, number, number];
  snr: number;
  bias: number;
  gradwarp: number;
  seed: number;
  onHrGrid?: boolean;
  writeMaps?: string;
  wmMean?: number;
  sliceAxis?: 0 | 1 | 2;
  sliceProfile?: SliceProfileShape;
  sliceThickness?: number;
  nonFinite: "error" | "zero";
}

/** A finite number from an option value, or a clear error naming the option. */
function numberOf(name: string, v: string, what: string, ok: (x: number) => boolean): number {
  const x = v.trim() === "" ? Number.NaN : Number(v);
  if (!Number.isFinite(x) || !ok(x)) throw new Error(`--${name} must be ${what}, got '${v}'`);
  return x;
}

const positive = (name: string) => (v: string) => numberOf(name, v, "a positive number", (x) => x > 0);
const nonNegative = (name: string) => (v: string) => numberOf(name, v, "a number >= 0", (x) => x >= 0);

function parseVoxel(v: string): number | [number, number, number] {
  const parts = v.split(",");
  if (parts.length !== 1 && parts.length !== 3) throw new Error(`--voxel must be a positive number of mm or three of them as x,y,z, got '${v}'`);
  const xs = parts.map((s) => numberOf("voxel", s, "a positive number of mm or three of them as x,y,z", (x) => x > 0));
  return xs.length === 1 ? (xs[0] as number) : [xs[0] as number, xs[1] as number, xs[2] as number];
}

function parseSnr(v: string): number {
  if (/^\s*(inf|infinity)\s*$/i.test(v)) return Infinity;
  return numberOf("snr", v, "a positive number (or 'inf' for no noise)", (x) => x > 0);
}

function parseSeed(v: string): number {
  const x = /^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN;
  try {
    return checkSeed(x, "--seed");
  } catch {
    throw new Error(`--seed must be an integer from 0 to 4294967295, got '${v}'`);
  }
}

function parseSliceAxis(v: string): 0 | 1 | 2 {
  const axis = { "0": 0, "1": 1, "2": 2, i: 0, j: 1, k: 2 }[v.trim().toLowerCase()];
  if (axis === undefined) throw new Error(`--slice-axis must be 0, 1 or 2 (or i, j, k: a voxel axis of the input), got '${v}'`);
  return axis as 0 | 1 | 2;
}

function parseSliceShape(v: string): SliceProfileShape {
  if (v !== "gaussian" && v !== "rect") throw new Error(`--slice-profile must be "gaussian" or "rect", got '${v}'`);
  return v;
}

/** The option parsers, for tests. */
export const simulateOptionParsers = {
  voxel: parseVoxel,
  snr: parseSnr,
  seed: parseSeed,
  sliceAxis: parseSliceAxis,
  sliceProfile: parseSliceShape,
  bias: nonNegative("bias"),
  gradwarp: nonNegative("gradwarp"),
  wmMean: positive("wm-mean"),
} as const;

export function registerSimulate(program: Command): void {
  program
    .command("simulate")
    .description("simulate a 3T-like acquisition of a high-resolution volume: k-space truncation, Rician noise, bias field, gradient warp")
    .argument("<input>", "high-resolution NIfTI image (.nii or .nii.gz)")
    .requiredOption("-o, --output <file>", "simulated image (.nii or .nii.gz, float32)")
    .option("--voxel <mm>", "LR voxel size in mm: one number or x,y,z along the input's voxel axes", parseVoxel, 1.5)
    .option("--snr <x>", "mean white-matter intensity / noise sigma (Rician noise); 'inf' for none", parseSnr, 20)
    .option("--bias <s>", "bias field strength: b in [exp(-s/2), exp(s/2)]; 0 for none", simulateOptionParsers.bias, 0.3)
    .option("--gradwarp <mm>", "maximum gradient-nonlinearity displacement in mm; 0 for none", simulateOptionParsers.gradwarp, 0)
    .option("--seed <n>", "random seed, 0 to 4294967295 (same seed, same output bytes)", parseSeed, 1)
    .option("--on-hr-grid", "resample the result back onto the input grid (cubic B-spline)")
    .option("--write-maps <dir>", "also write bias.nii.gz (b), g.nii.gz (|u| mm), jacobian.nii.gz and displacement.nii.gz (x, y, z frames) on the output grid")
    .option("--wm-mean <x>", "white-matter intensity the SNR refers to (default: estimated from the input by 3-class k-means)", simulateOptionParsers.wmMean)
    .option("--slice-axis <axis>", "2-D multi-slice acquisition with slices along this voxel axis (0/1/2 or i/j/k); default a 3-D acquisition", parseSliceAxis)
    .option("--slice-profile <shape>", "slice profile with --slice-axis: gaussian (FWHM = thickness) or rect", parseSliceShape)
    .option("--slice-thickness <mm>", "slice thickness with --slice-axis (default: the LR voxel size on that axis)", positive("slice-thickness"))
    .option("--non-finite <mode>", "NaN/Inf voxels in the input: error or zero", parseNonFinite, "error")
    .action((input: string, opts: SimulateCliOptions) => {
      const started = Date.now();
      if (opts.sliceAxis === undefined && (opts.sliceProfile !== undefined || opts.sliceThickness !== undefined)) {
        throw new Error("--slice-profile and --slice-thickness need --slice-axis (they describe a 2-D multi-slice acquisition)");
      }
      checkNiftiOutput(opts.output);
      if (opts.writeMaps !== undefined) checkOutputDirectory(opts.writeMaps, "--write-maps");
      const im = readNifti(input, { nonFinite: opts.nonFinite });
      const frames = im.dims[3] ?? 1;
      if (frames > 1) throw new Error(`${input} has ${frames} frames; simulate takes a 3-D volume (extract one frame first)`);
      const hr = toVolume(im);
      const sliceProfile: SliceProfile | undefined =
        opts.sliceAxis === undefined
          ? undefined
          : {
              axis: opts.sliceAxis,
              ...(opts.sliceProfile !== undefined ? { shape: opts.sliceProfile } : {}),
              ...(opts.sliceThickness !== undefined ? { thickness: opts.sliceThickness } : {}),
            };
      const params = { voxelSize: opts.voxel, snr: opts.snr, bias: opts.bias, gradwarp: opts.gradwarp, seed: opts.seed };
      const r = simulateAcquisition(hr, params, {
        onHrGrid: opts.onHrGrid === true,
        ...(opts.wmMean !== undefined ? { wmMean: opts.wmMean } : {}),
        ...(sliceProfile !== undefined ? { sliceProfile } : {}),
      });
      const voxelText = Array.isArray(opts.voxel) ? opts.voxel.join(",") : String(opts.voxel);
      const description = `moediff-sr simulate voxel ${voxelText} snr ${opts.snr} bias ${opts.bias} gradwarp ${opts.gradwarp} seed ${opts.seed}`;
      writeNifti(opts.output, r.image, { description: description.slice(0, 80) });
      const written = opts.writeMaps !== undefined ? writeMaps(opts.writeMaps, r) : [];
      report(input, opts, r, written, hr, sliceProfile, (Date.now() - started) / 1000);
    });
}

/** Writes the maps into `dir` (created if needed); returns the file names. */
function writeMaps(dir: string, r: SimulationResult): string[] {
  mkdirSync(dir, { recursive: true });
  writeNifti(join(dir, "bias.nii.gz"), r.bias, { description: "moediff-sr simulate: bias field b (multiplicative)" });
  writeNifti(join(dir, "g.nii.gz"), r.g, { description: "moediff-sr simulate: g = |displacement| (mm)" });
  writeNifti(join(dir, "jacobian.nii.gz"), r.jacobian, { description: "moediff-sr simulate: det of the warp Jacobian" });
  writeNifti(join(dir, "displacement.nii.gz"), stackFrames(r.displacement), {
    description: "moediff-sr simulate: displacement x,y,z (mm, world)",
  });
  return ["bias.nii.gz", "g.nii.gz", "jacobian.nii.gz", "displacement.nii.gz"];
}

/**
 * Three volumes on one grid as a 4-D image of three frames. writeNifti writes 4-D data for any input
 * whose dims have four entries (as it does for 4-D NiftiImages); the Volume type only describes 3-D, so
 * the 4-D object is typed through `unknown` here and goes nowhere but writeNifti.
 */
function stackFrames(v: readonly [Volume, Volume, Volume]): Volume {
  const [a, b, c] = v;
  const n = a.data.length;
  const data = new Float32Array(3 * n);
  data.set(a.data, 0);
  data.set(b.data, n);
  data.set(c.data, 2 * n);
  return { data, dims: [a.dims[0], a.dims[1], a.dims[2], 3], affine: a.affine } as unknown as Volume;
}


function report(
  input: string,
  opts: SimulateCliOptions,
  r: SimulationResult,
  maps: string[],
  hr: Volume,
  sliceProfile: SliceProfile | undefined,
  seconds: number,
): void {
  const grid = (v: { dims: readonly number[]; affine: readonly number[] }) =>
    `${v.dims.join("x")} at ${voxelSizes(v.affine).map(fmt).join("x")} mm`;
  const [bLo, bHi] = dataRange(r.bias.data);
  const [, gHi] = dataRange(r.g.data);
  const acquisition =
    sliceProfile === undefined
      ? "3-D, k-space truncated to the LR voxel size"
      : `2-D multi-slice along axis ${sliceProfile.axis}, ${sliceProfile.shape ?? "gaussian"} profile` +
        (sliceProfile.thickness !== undefined ? ` ${fmt(sliceProfile.thickness)} mm thick` : "");
  const noise = Number.isFinite(r.params.snr)
    ? `Rician, sigma ${fmt(r.sigma)} = WM mean ${fmt(r.wmMean)} (${r.wmEstimated ? "estimated" : "given"}) / SNR ${fmt(r.params.snr)}`
    : "none (SNR inf)";
  const lines: [string, string][] = [
    ["input", `${input}: ${grid(hr)}`],
    ["acquisition", `${acquisition}; LR grid ${grid(r.lrGrid)}`],
    ["noise", noise],
    ["bias", r.params.bias > 0 ? `strength ${fmt(r.params.bias)}: b from ${fmt(bLo)} to ${fmt(bHi)} on the output grid` : "none"],
    ["gradwarp", r.params.gradwarp > 0 ? `max |u| ${fmt(r.params.gradwarp)} mm (${fmt(gHi)} mm on the output grid)` : "none"],
    ["seed", String(r.params.seed)],
    ["output", `${opts.output}: ${grid(r.image)}${opts.onHrGrid === true ? " (back on the input grid)" : " (LR grid)"}`],
    ...(opts.writeMaps !== undefined ? [["maps", `${opts.writeMaps}: ${maps.join(" ")}`] as [string, string]] : []),
    ["time", `${seconds.toFixed(1)} s`],
  ];
  for (const [k, v] of lines) console.log(`${k.padEnd(13)}${v}`);
}
