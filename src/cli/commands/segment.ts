// `moediff-sr segment T1 -o labels.nii.gz [--mask M] [--regions DIR]`: brain mask, CSF/GM/WM labels
// (0 background, 1 CSF, 2 GM, 3 WM, uint8) with labels.json (label names, read by evaluate
// --label-names) next to the label map, and optionally one uint8 mask per analysis region with
// regions.json (name -> file, voxels, mL). Methods: src/preprocess/segment/. Engine-free.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import { readNifti, toVolume, writeNifti } from "../../nifti/index.js";
import { voxelSizes } from "../../volume/affine.js";
import type { Volume } from "../../volume/volume.js";
import { writeFileAtomic } from "../../util/atomic_write.js";
import { segment, TISSUE_DEFAULTS, TISSUE_LABEL_NAMES, TISSUE_NAMES, type SegmentResult } from "../../preprocess/segment/index.js";
import { parseNonFinite } from "../nifti_options.js";
import { fmt } from "../../util/format.js";
import { nonNegativeInt, numberOption, positiveInt } from "../option_parsers.js";
import { progress } from "../../util/progress.js";
import { checkNiftiOutput, checkOutputDirectory } from "../output_check.js";

interface SegmentCliOptions {
  output: string;
  mask?: string;
  writeMask?: string;
  writeBias?: string;
  regions?: string;
  skullStripped: "auto" | "yes" | "no";
  brainThreshold?: number;
  erode: number;
  close: number;
  biasDegree: number;
  biasShrink: number;
  variance: "tied" | "free";
  partialVolume: boolean;
  mrfBeta: number;
  mrfIterations: number;
  maxIterations: number;
  csoDistance: number;
  csoMinZ?: number;
  junctionWidth?: number;
  volumeIndex?: number;
  nonFinite: "error" | "zero";
}

function parseChoice<T extends string>(name: string, choices: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(choices as readonly string[]).includes(v)) throw new Error(`--${name} must be one of ${choices.join(", ")}, got '${v}'`);
    return v as T;
  };
}

/** The option parsers, for tests. */
export const segmentOptionParsers = {
  skullStripped: parseChoice("skull-stripped", ["auto", "yes", "no"] as const),
  variance: parseChoice("variance", ["tied", "free"] as const),
  mm: (name: string) => numberOption(name, "a number of mm >= 0", (x) => x >= 0),
  positiveMm: (name: string) => numberOption(name, "a positive number of mm", (x) => x > 0),
  number: (name: string) => numberOption(name, "a finite number", () => true),
  nonNegative: (name: string) => numberOption(name, "a number >= 0", (x) => x >= 0),
} as const;

const P = segmentOptionParsers;

function sameGrid(a: Volume, b: { dims: readonly number[]; affine: readonly number[] }): boolean {
  if (a.dims.some((d, i) => d !== b.dims[i])) return false;
  return a.affine.every((v, i) => Math.abs(v - (b.affine[i] as number)) <= 1e-3);
}

export function registerSegment(program: Command): void {
  program
    .command("segment")
    .description("brain mask, CSF/GM/WM tissue labels and region masks (centrum semiovale, cortex, grey-white junction) of a T1w volume")
    .argument("<input>", "T1-weighted volume (NIfTI), skull-stripped or not")
    .requiredOption("-o, --output <file>", "label map: 0 background, 1 CSF, 2 GM, 3 WM (uint8); labels.json is written next to it")
    .option("--mask <file>", "brain mask on the input's grid (nonzero = brain) instead of the automatic one")
    .option("--write-mask <file>", "also write the brain mask used (uint8)")
    .option("--write-bias <file>", "also write the multiplicative bias field estimated inside EM (float32, 1 outside the mask)")
    .option("--regions <dir>", "write one uint8 mask per region (brain, csf, gm, wm, ventricles, centrum_semiovale, cortex, gw_junction) and regions.json")
    .option("--skull-stripped <mode>", "auto (detect), yes (mask = nonzero support), no (extract the brain)", P.skullStripped, "auto")
    .option("--brain-threshold <x>", "brain extraction: intensity threshold for tissue (default: lowest cut of a 4-class Otsu split of the head)", P.number("brain-threshold"))
    .option("--erode <mm>", "brain extraction: erosion radius cutting brain-scalp bridges", P.mm("erode"), 2)
    .option("--close <mm>", "brain extraction: closing radius (takes in sulcal CSF)", P.mm("close"), 10)
    .option("--bias-degree <n>", "degree of the smooth log bias polynomial fitted inside EM; 0 for none", nonNegativeInt("bias-degree"), TISSUE_DEFAULTS.biasDegree)
    .option("--bias-shrink <x>", "shrinkage of the non-constant bias terms towards a flat field; 0 for plain least squares", P.nonNegative("bias-shrink"), TISSUE_DEFAULTS.biasShrink)
    .option("--variance <mode>", "tied (one variance shared by the classes) or free", P.variance, TISSUE_DEFAULTS.variance)
    .option("--no-partial-volume", "plain 3-Gaussian mixture, without the CSF/GM and GM/WM partial-volume components")
    .option("--mrf-beta <x>", "Potts MRF weight, nats per disagreeing face neighbour; 0 for none", P.nonNegative("mrf-beta"), TISSUE_DEFAULTS.mrfBeta)
    .option("--mrf-iterations <n>", "ICM sweeps of the MRF", nonNegativeInt("mrf-iterations"), TISSUE_DEFAULTS.mrfIterations)
    .option("--max-iterations <n>", "EM iterations at most", positiveInt("max-iterations"), TISSUE_DEFAULTS.maxIterations)
    .option("--cso-distance <mm>", "centrum semiovale: least distance from GM", P.mm("cso-distance"), 4)
    .option("--cso-min-z <mm>", "centrum semiovale: lower world z bound (RAS) instead of the top of the detected lateral ventricles", P.number("cso-min-z"))
    .option("--junction-width <mm>", "grey-white junction: WM within this distance of GM and GM within it of WM (default: face neighbours)", P.positiveMm("junction-width"))
    .option("--volume-index <n>", "which frame of a 4-D input", nonNegativeInt("volume-index"))
    .option("--non-finite <mode>", "NaN/Inf voxels in the input: error or zero", parseNonFinite, "error")
    .action((input: string, opts: SegmentCliOptions) => {
      const started = Date.now();
      if (opts.regions === undefined && (opts.csoMinZ !== undefined || opts.junctionWidth !== undefined)) {
        throw new Error("--cso-min-z and --junction-width shape the region masks: give --regions DIR too");
      }
      // segment creates the directories of its outputs
      checkNiftiOutput(opts.output, "-o", { createDirs: true });
      if (opts.writeMask !== undefined) checkNiftiOutput(opts.writeMask, "--write-mask", { createDirs: true });
      if (opts.writeBias !== undefined) checkNiftiOutput(opts.writeBias, "--write-bias", { createDirs: true });
      if (opts.regions !== undefined) checkOutputDirectory(opts.regions, "--regions");
      const im = readNifti(input, { nonFinite: opts.nonFinite });
      const frames = im.dims[3] ?? 1;
      if (frames > 1 && opts.volumeIndex === undefined) throw new Error(`${input} is 4-D with ${frames} frames; choose one with --volume-index 0..${frames - 1}`);
      const t1 = toVolume(im, opts.volumeIndex ?? 0);
      let mask: Float32Array | undefined;
      if (opts.mask !== undefined) {
        const m = readNifti(opts.mask, { nonFinite: "zero" });
        if (!sameGrid(t1, m) || (m.dims[3] ?? 1) > 1) {
          throw new Error(
            `--mask ${opts.mask}: its grid (dims [${m.dims.join(", ")}]) is not the input's (dims [${t1.dims.join(", ")}], same affine needed); ` +
              `resample it first, e.g. moediff-sr baseline ${opts.mask} --method input --like ${input} -o mask_on_t1.nii.gz`,
          );
        }
        mask = toVolume(m).data;
      }
      const bar = progress("segment: EM", opts.maxIterations);
      let result: SegmentResult;
      try {
        result = segment(t1, {
          ...(mask !== undefined ? { mask } : {}),
          brainMask: {
            skullStripped: opts.skullStripped === "auto" ? "auto" : opts.skullStripped === "yes",
            erodeMm: opts.erode,
            closeMm: opts.close,
            ...(opts.brainThreshold !== undefined ? { brainThreshold: opts.brainThreshold } : {}),
          },
          biasDegree: opts.biasDegree,
          biasShrink: opts.biasShrink,
          variance: opts.variance,
          partialVolume: opts.partialVolume,
          mrfBeta: opts.mrfBeta,
          mrfIterations: opts.mrfIterations,
          maxIterations: opts.maxIterations,
          onIteration: (it, _max, ll, p) => bar.update(it, { ll, csf: p.means[0] ?? NaN, gm: p.means[1] ?? NaN, wm: p.means[2] ?? NaN }),
          regions:
            opts.regions === undefined
              ? false
              : {
                  csoDistanceMm: opts.csoDistance,
                  ...(opts.csoMinZ !== undefined ? { csoMinZ: opts.csoMinZ } : {}),
                  ...(opts.junctionWidth !== undefined ? { junctionWidthMm: opts.junctionWidth } : {}),
                },
        });
      } finally {
        bar.stop();
      }
      const grid = { dims: t1.dims, affine: t1.affine };
      for (const f of [opts.output, opts.writeMask, opts.writeBias]) if (f !== undefined) mkdirSync(dirname(f), { recursive: true });
      const asVolume = (data: ArrayLike<number>): Volume => ({ data: Float32Array.from(data), dims: grid.dims, affine: grid.affine });
      writeNifti(opts.output, asVolume(result.tissue.labels), { dtype: "uint8", description: "moediff-sr segment: 0 bg, 1 CSF, 2 GM, 3 WM" });
      const namesPath = join(dirname(opts.output), "labels.json");
      writeJson(namesPath, TISSUE_LABEL_NAMES);
      if (opts.writeMask !== undefined) writeNifti(opts.writeMask, asVolume(result.brain), { dtype: "uint8", description: `moediff-sr segment: brain mask (${result.brainMethod})` });
      if (opts.writeBias !== undefined) writeNifti(opts.writeBias, asVolume(result.tissue.bias), { description: "moediff-sr segment: bias field (multiplicative)" });
      if (opts.regions !== undefined && result.regions !== undefined) writeRegions(opts.regions, input, opts.output, grid, result);
      report(input, opts, result, namesPath, grid, (Date.now() - started) / 1000);
    });
}

function writeJson(path: string, value: unknown): void {
  const bytes = new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
  writeFileAtomic(path, (write) => write(bytes));
}

function writeRegions(dir: string, input: string, labels: string, grid: { dims: Volume["dims"]; affine: Volume["affine"] }, r: SegmentResult): void {
  const regions = r.regions!;
  mkdirSync(dir, { recursive: true });
  const [sx, sy, sz] = voxelSizes(grid.affine);
  const voxelMl = (sx * sy * sz) / 1000;
  const table: Record<string, { file: string; voxels: number; volumeMl: number }> = {};
  for (const [name, mask] of regions.masks) {
    const file = `${name}.nii.gz`;
    writeNifti(join(dir, file), { data: Float32Array.from(mask), dims: grid.dims, affine: grid.affine }, { dtype: "uint8", description: `moediff-sr segment: ${name}` });
    const voxels = regions.counts.get(name) ?? 0;
    table[name] = { file, voxels, volumeMl: Number((voxels * voxelMl).toFixed(3)) };
  }
  writeJson(join(dir, "regions.json"), {
    source: input,
    labels,
    voxelSizeMm: [sx, sy, sz],
    centrumSemiovaleAboveZ: regions.csoMinZ,
    ventricleTopFrom: regions.ventricles ? "detected lateral ventricles" : "--cso-min-z",
    regions: table,
  });
}

function report(input: string, opts: SegmentCliOptions, r: SegmentResult, namesPath: string, grid: { affine: Volume["affine"] }, seconds: number): void {
  const [sx, sy, sz] = voxelSizes(grid.affine);
  const ml = (n: number): string => `${fmt((n * sx * sy * sz) / 1000)} mL`;
  const t = r.tissue;
  const brain =
    r.brainMethod === "supplied"
      ? `supplied by --mask`
      : r.brainMethod === "support"
        ? `skull-stripped input: nonzero support, holes filled`
        : `brain extraction (threshold ${fmt(r.brainThreshold ?? NaN)}, erode ${opts.erode} mm, close ${opts.close} mm)`;
  const lines = [
    `segment: ${input}: brain mask ${ml(r.brainVoxels)} (${brain})`,
    `  EM: ${t.iterations} iterations${t.converged ? " (converged)" : " (stopped at --max-iterations)"}, variance ${opts.variance}, ` +
      `bias degree ${opts.biasDegree}${opts.partialVolume ? `, partial-volume priors ${t.pvPriors.map((p) => p.toFixed(3)).join(" / ")}` : ""}`,
    ...TISSUE_NAMES.map(
      (name, k) => `  ${name}: mean ${fmt(t.means[k]!)} sd ${fmt(t.sigmas[k]!)}  ${ml(t.counts[k]!)}  (${(100 * t.fractions[k]!).toFixed(1)}% of the brain mask)`,
    ),
    `  MRF: beta ${opts.mrfBeta}, label changes per sweep [${t.mrfChanges.join(", ")}]`,
    `  wrote ${opts.output} (uint8) and ${namesPath}`,
  ];
  if (r.regions !== undefined) {
    const g = r.regions;
    lines.push(
      `  centrum semiovale: ${g.counts.get("centrum_semiovale")} voxels above z = ${fmt(g.csoMinZ)} mm (${g.ventricles ? "top of the lateral ventricles" : "--cso-min-z"}), >= ${opts.csoDistance} mm from GM`,
    );
    lines.push(`  wrote ${g.masks.size} region masks and regions.json to ${opts.regions}`);
  }
  lines.push(`  ${seconds.toFixed(1)} s`);
  console.error(lines.join("\n"));
}
