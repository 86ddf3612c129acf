// `moediff-sr evaluate --pred P --ref R [--mask M] [--labels L [--label-names F]] [--regions DIR] [--per-slice] [--json]
//   [--lpips-backbone FILE --lpips-linear FILE [--lpips-net vgg|alex]]`: parses the options, runs the
// evaluation library (src/evaluate/evaluate.ts says what is computed and decided) and prints its report.
import type { Command } from "commander";
import { parseNonFinite } from "../nifti_options.js";
import type { Axis } from "../../metrics/volume_metrics.js";
import { evaluate, type EvaluateOptions, type LpipsNetName } from "../../evaluate/evaluate.js";
import { formatReport, reportToJson } from "../../evaluate/report_text.js";

function parseAxis(v: string): Axis {
  if (v !== "0" && v !== "1" && v !== "2") throw new Error(`--axis must be 0, 1 or 2 (i, j or k), got '${v}'`);
  return Number(v) as Axis;
}

function parseLpipsNet(v: string): LpipsNetName {
  if (v !== "vgg" && v !== "alex") throw new Error(`--lpips-net must be vgg or alex, got '${v}'`);
  return v;
}

function parseRange(v: string): number {
  const x = Number(v);
  if (v.trim() === "" || !(x > 0) || !Number.isFinite(x)) throw new Error(`--data-range must be a positive number, got '${v}'`);
  return x;
}

export function registerEvaluate(program: Command): void {
  program
    .command("evaluate")
    .description("PSNR, SSIM, RMSE and HFEN (and LPIPS given its weights) of a prediction against a reference volume: whole volume, per region, per slice")
    .requiredOption("--pred <file>", "predicted volume (NIfTI)")
    .requiredOption("--ref <file>", "reference volume (NIfTI); defines the grid")
    .option("--mask <file>", "mask volume: nonzero voxels form one region")
    .option("--labels <file>", "label map: one region per nonzero integer label")
    .option("--label-names <file>", "label names: JSON {\"1\": \"name\"} or a value<TAB>name table")
    .option("--regions <dir>", "a directory of region masks (from `segment --regions DIR`): one region per mask file, masks may overlap")
    .option("--data-range <number>", "data range for PSNR and SSIM (default: reference max - min)", parseRange)
    .option("--planar", "SSIM and HFEN in the i-j plane of each slice (2-D filters) instead of 3-D: for a stack of separate slices (evaluate-grid --keep-volumes)")
    .option("--per-slice", "also report every slice (2-D SSIM and HFEN)")
    .option("--axis <n>", "slice axis for --per-slice: 0, 1 or 2 (i, j, k)", parseAxis, 2 as Axis)
    .option("--resample", "resample pred (trilinear), mask and labels (nearest) onto the reference grid when grids differ")
    .option("--non-finite <mode>", "NaN/Inf voxels: error or zero", parseNonFinite, "error")
    .option("--lpips-backbone <file>", "LPIPS: torchvision VGG-16 (or AlexNet) weights, .pth or .safetensors; needs --lpips-linear")
    .option("--lpips-linear <file>", "LPIPS: the lpips package's v0.1 lin-layer weights for the same network; needs --lpips-backbone")
    .option("--lpips-net <name>", "LPIPS backbone: vgg (default) or alex", parseLpipsNet)
    .option("--json", "print JSON")
    .action(async (opts: EvaluateOptions & { json?: boolean }) => {
      const report = await evaluate(opts);
      console.log(opts.json === true ? reportToJson(report) : formatReport(report));
    });
}
