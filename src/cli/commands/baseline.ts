// `moediff-sr baseline IN.nii.gz -o OUT.nii.gz --method trilinear|bspline|input (--voxel MM | --like REF)`:
// the classical upsamplings of the same input, written as NIfTI so `evaluate` compares them with the
// model's output on equal terms.
//   trilinear  linear interpolation in each voxel axis
//   bspline    cubic B-spline interpolation (prefiltered, so it interpolates the samples)
//   input      the input itself on the target grid: nearest neighbour (each output voxel shows the
//              acquired voxel it lies in; no new information, no smoothing)
//   unet       the regression U-Net of `moediff-sr train-unet` (--model DIR), run as `enhance` runs a
//              model (src/inference/unet_enhance.ts); --voxel/--like optional (default: the model
//              card's voxel size, as enhance)
// The target grid is the one `enhance` uses: the input's field of view (after reorientation to RAS)
// at --voxel, or exactly the grid of --like. Outside the input's field of view the output is 0.
// Engine-free (pure-JS resampling), except --method unet, which loads the engine when it runs.
import type { Command } from "commander";
import { readNifti, toVolume, writeNifti, xformOptionsFrom } from "../../nifti/index.js";
import { toolVersion } from "../../util/version.js";
import { gridFor, voxelSizes, type Grid } from "../../volume/affine.js";
import { reorient } from "../../volume/reorient.js";
import { resample, type Interpolation } from "../../volume/resample.js";
import { parseNonFinite } from "../nifti_options.js";
import { fmt } from "../../util/format.js";
import { nonNegativeInt, parseVoxel } from "../option_parsers.js";
import { progress, type Progress } from "../../util/progress.js";
import { checkNiftiOutput } from "../output_check.js";

export const BASELINE_METHODS = ["trilinear", "bspline", "input", "unet"] as const;
export type BaselineMethod = (typeof BASELINE_METHODS)[number];

const INTERPOLATION: Readonly<Record<Exclude<BaselineMethod, "unet">, Interpolation>> = { trilinear: "trilinear", bspline: "bspline", input: "nearest" };

interface BaselineCliOptions {
  output: string;
  method: BaselineMethod;
  voxel?: number | [number, number, number];
  like?: string;
  volumeIndex?: number;
  nonFinite: "error" | "zero";
  model?: string;
  device: string;
}

function parseMethod(v: string): BaselineMethod {
  if (!(BASELINE_METHODS as readonly string[]).includes(v)) throw new Error(`--method must be one of ${BASELINE_METHODS.join(", ")}, got '${v}'`);
  return v as BaselineMethod;
}

export function registerBaseline(program: Command): void {
  program
    .command("baseline")
    .description("classical upsampling of a volume onto a target grid (to compare with enhance using evaluate)")
    .argument("<input>", "the LR volume (NIfTI)")
    .requiredOption("-o, --output <file>", "the upsampled volume")
    .requiredOption("--method <name>", `${BASELINE_METHODS.join(", ")} (input = nearest neighbour: the acquired voxels themselves)`, parseMethod)
    .option("--voxel <mm>", "target voxel size, one number or three", parseVoxel)
    .option("--like <file>", "put the output on this volume's grid")
    .option("--volume-index <n>", "which frame of a 4-D input", nonNegativeInt("volume-index"))
    .option("--non-finite <mode>", "NaN/Inf voxels in the input: error or zero", parseNonFinite, "error")
    .option("--model <dir>", "with --method unet: a U-Net directory from `moediff-sr train-unet`")
    .option("--device <device>", "with --method unet: cpu, cuda or cuda:N", "cpu")
    .action(async (input: string, opts: BaselineCliOptions) => {
      checkNiftiOutput(opts.output);
      if (opts.method === "unet") {
        await runUNet(input, opts);
        return;
      }
      if (opts.model !== undefined) throw new Error(`--model applies to --method unet only (${opts.method} is classical upsampling)`);
      if ((opts.voxel === undefined) === (opts.like === undefined)) throw new Error("give the target grid with --voxel MM or --like REF.nii.gz (one of them)");
      const im = readNifti(input, { nonFinite: opts.nonFinite });
      const frames = im.dims[3] ?? 1;
      if (frames > 1 && opts.volumeIndex === undefined) throw new Error(`${input} is 4-D with ${frames} frames; choose one with --volume-index 0..${frames - 1}`);
      const lr = toVolume(im, opts.volumeIndex ?? 0);
      let grid: Grid;
      if (opts.like !== undefined) {
        const ref = readNifti(opts.like, { nonFinite: "zero" });
        grid = { dims: [ref.dims[0], ref.dims[1], ref.dims[2]] as [number, number, number], affine: ref.affine };
      } else {
        grid = gridFor(reorient(lr, "RAS"), opts.voxel as number | [number, number, number]);
      }
      const out = resample(lr, grid, { interpolation: INTERPOLATION[opts.method], fill: 0 });
      writeNifti(opts.output, out, { ...xformOptionsFrom(im, out.affine), description: `moediff-sr ${toolVersion()} baseline ${opts.method}` });
      console.error(`baseline: wrote ${opts.output}: ${opts.method}, ${out.dims.join("x")} at ${voxelSizes(out.affine).map(fmt).join("x")} mm`);
    });
}

/** --method unet: the U-Net of `train-unet` on the grid enhance would use (the engine loads here). */
async function runUNet(input: string, opts: BaselineCliOptions): Promise<void> {
  if (opts.model === undefined) throw new Error("--method unet needs --model DIR, a U-Net directory made by `moediff-sr train-unet`");
  if (opts.voxel !== undefined && opts.like !== undefined) throw new Error("give --voxel or --like, not both");
  let engine: typeof import("../../inference/unet_enhance.js");
  let checkDevice: typeof import("../device_option.js").checkDevice;
  try {
    engine = await import("../../inference/unet_enhance.js");
    ({ checkDevice } = await import("../device_option.js"));
  } catch (e) {
    throw new Error(`--method unet needs the tensor engine, which did not load: ${e instanceof Error ? e.message : String(e)}`);
  }
  // The device and the model before the input is read.
  const u = engine.loadUNetModel(opts.model, { device: checkDevice(opts.device) });
  let bar: Progress | null = null;
  try {
    const im = readNifti(input, { nonFinite: opts.nonFinite });
    const frames = im.dims[3] ?? 1;
    if (frames > 1 && opts.volumeIndex === undefined) throw new Error(`${input} is 4-D with ${frames} frames; choose one with --volume-index 0..${frames - 1}`);
    const lr = toVolume(im, opts.volumeIndex ?? 0);
    let like: Grid | undefined;
    if (opts.like !== undefined) {
      const ref = readNifti(opts.like, { nonFinite: "zero" });
      like = { dims: [ref.dims[0], ref.dims[1], ref.dims[2]] as [number, number, number], affine: ref.affine };
    }
    const r = await engine.enhanceVolumeUNet(u, lr, {
      ...(opts.voxel !== undefined ? { voxelSize: opts.voxel } : {}),
      ...(like !== undefined ? { like } : {}),
      onProgress: (p) => {
        bar ??= progress(`baseline unet (${p.axis})`, p.tiles);
        bar.update(p.tilesDone, { slices: `${p.slicesDone}/${p.slices}` });
      },
    });
    (bar as Progress | null)?.stop();
    bar = null;
    writeNifti(opts.output, r.output, { ...xformOptionsFrom(im, r.output.affine), description: `moediff-sr ${toolVersion()} baseline unet` });
    const s = r.stats;
    console.error(
      `baseline: wrote ${opts.output}: unet (${u.dir}), ${s.targetDims.join("x")} at ${s.targetVoxelSize.map(fmt).join("x")} mm; ` +
        `${s.slicesRun} of ${s.slices} slices had signal (${s.tilesRun} tiles of ${s.tileSize.join("x")}); ${s.seconds.toFixed(1)} s`,
    );
  } finally {
    (bar as Progress | null)?.stop();
    u.dispose();
  }
}
