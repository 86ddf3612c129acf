// `moediff-sr evaluate --pred P --ref R [--mask M] [--labels L [--label-names F]] [--per-slice] [--json]`:
// PSNR, SSIM, RMSE, HFEN (and MSE) of a prediction against a reference volume, for the whole volume,
// per region, and optionally per slice. Definitions in src/metrics/volume_metrics.ts and regions.ts.
//
// Decisions: pred, mask and labels must lie on the reference grid (same dims, affine equal to 1e-4 mm);
// otherwise the command refuses and suggests --resample, which resamples pred trilinearly (mask and
// labels by nearest neighbour) onto the reference grid. The data range is max - min of the reference
// unless --data-range is given. NaN/Inf voxels are an error unless --non-finite zero. LPIPS is not
// offered (it needs a 2-D network and its weights). Engine-free: runs without the native addon.
// In --json output, non-finite numbers are written as the strings "Infinity", "-Infinity", "NaN".
import type { Command } from "commander";
import { readNifti, toVolume } from "../../nifti/index.js";
import { fmt, parseNonFinite } from "../nifti_options.js";
import { dataRange as minMax, type Volume } from "../../volume/volume.js";
import { voxelSizes } from "../../volume/affine.js";
import { resampleLike } from "../../volume/resample.js";
import { perSliceMetrics, type Axis, type SliceMetrics } from "../../metrics/volume_metrics.js";
import { readLabelNames, regionsFromLabels, regionsFromMask, volumeAndRegionMetrics, type RegionMetrics, type RegionSet, type VolumeScores } from "../../metrics/regions.js";

export interface EvaluateOptions {
  pred: string;
  ref: string;
  /** Mask file: nonzero voxels form one region. */
  mask?: string;
  /** Label map file: one region per nonzero integer label. */
  labels?: string;
  /** Names for the labels (JSON object or value/name table). */
  labelNames?: string;
  /** Data range for PSNR and SSIM; default max - min of the reference. */
  dataRange?: number;
  /** Also report every slice across `axis` (default 2). */
  perSlice?: boolean;
  axis?: Axis;
  /** Resample pred (trilinear) and mask/labels (nearest) onto the reference grid when grids differ. */
  resample?: boolean;
  /** NaN/Inf voxels: "error" (default) or "zero". */
  nonFinite?: "error" | "zero";
}

export interface EvaluateReport {
  pred: string;
  ref: string;
  dims: [number, number, number];
  voxelSize: [number, number, number];
  dataRange: number;
  dataRangeSource: "reference" | "option";
  /** Which inputs were resampled onto the reference grid. */
  resampled: string[];
  volume: VolumeScores;
  regions: (RegionMetrics & { set: "mask" | "labels" })[];
  slices?: { axis: Axis; metrics: SliceMetrics[] };
}

/** Tolerance (mm) on affine entries for "the same grid". */
const GRID_TOL = 1e-4;

function load(path: string, what: string, nonFinite: "error" | "zero"): Volume {
  const im = readNifti(path, { nonFinite });
  const frames = im.dims[3] ?? 1;
  if (frames !== 1) throw new RangeError(`${what} ${path} has ${frames} frames; evaluate compares 3-D volumes: extract one frame first`);
  return toVolume(im);
}

function gridDifference(a: Volume, b: Volume): string | null {
  if (a.dims.join(",") !== b.dims.join(",")) return `dims [${a.dims.join(", ")}] vs [${b.dims.join(", ")}]`;
  let worst = 0;
  for (let i = 0; i < 16; i++) worst = Math.max(worst, Math.abs(a.affine[i]! - b.affine[i]!));
  return worst > GRID_TOL ? `affines differ by up to ${fmt(worst)} mm` : null;
}

/** `v` on the reference grid: as is, resampled when allowed, else a clear error. */
function onRefGrid(v: Volume, ref: Volume, what: string, path: string, o: EvaluateOptions, interpolation: "trilinear" | "nearest", resampled: string[]): Volume {
  const diff = gridDifference(v, ref);
  if (diff === null) return v;
  if (o.resample !== true) {
    throw new RangeError(
      `${what} ${path} is not on the reference grid (${diff}); pass --resample to resample it onto the reference grid (${interpolation}), or resample it yourself`,
    );
  }
  resampled.push(what);
  return resampleLike(v, ref, { interpolation });
}

function regionsOf(file: string, ref: Volume, o: EvaluateOptions, kind: "mask" | "labels", resampled: string[]): RegionSet {
  const v = onRefGrid(load(file, kind, o.nonFinite ?? "error"), ref, kind, file, o, "nearest", resampled);
  if (kind === "mask") return regionsFromMask(v.data, "mask");
  return regionsFromLabels(v.data, o.labelNames !== undefined ? readLabelNames(o.labelNames) : undefined, `labels ${file}`);
}

/** Computes every metric the options ask for. */
export function runEvaluate(o: EvaluateOptions): EvaluateReport {
  const nonFinite = o.nonFinite ?? "error";
  const axis: Axis = o.axis ?? 2;
  if (axis !== 0 && axis !== 1 && axis !== 2) throw new RangeError(`evaluate: axis must be 0, 1 or 2, got ${String(axis)}`);
  if (o.labelNames !== undefined && o.labels === undefined) throw new RangeError("evaluate: --label-names needs --labels FILE (the label map it names)");
  const ref = load(o.ref, "ref", nonFinite);
  const resampled: string[] = [];
  const pred = onRefGrid(load(o.pred, "pred", nonFinite), ref, "pred", o.pred, o, "trilinear", resampled);
  let range: number;
  if (o.dataRange !== undefined) {
    if (!(o.dataRange > 0) || !Number.isFinite(o.dataRange)) throw new RangeError(`evaluate: --data-range must be a positive number, got ${o.dataRange}`);
    range = o.dataRange;
  } else {
    const [lo, hi] = minMax(ref.data);
    range = hi - lo;
    if (!(range > 0)) throw new RangeError(`evaluate: the reference ${o.ref} is constant (max - min = 0): pass --data-range`);
  }
  const sets: ["mask" | "labels", RegionSet][] = [];
  if (o.mask !== undefined) sets.push(["mask", regionsOf(o.mask, ref, o, "mask", resampled)]);
  if (o.labels !== undefined) sets.push(["labels", regionsOf(o.labels, ref, o, "labels", resampled)]);
  const scores = volumeAndRegionMetrics(pred.data, ref.data, ref.dims, range, sets.map(([, rs]) => rs));
  const report: EvaluateReport = {
    pred: o.pred,
    ref: o.ref,
    dims: [ref.dims[0], ref.dims[1], ref.dims[2]],
    voxelSize: voxelSizes(ref.affine),
    dataRange: range,
    dataRangeSource: o.dataRange !== undefined ? "option" : "reference",
    resampled,
    volume: scores.volume,
    regions: sets.flatMap(([set], s) => scores.regions[s]!.map((r) => ({ set, ...r }))),
  };
  if (o.perSlice === true) report.slices = { axis, metrics: perSliceMetrics(pred.data, ref.data, ref.dims, range, axis) };
  return report;
}

/** JSON text of a report; non-finite numbers become "Infinity", "-Infinity" or "NaN". */
export function reportToJson(r: EvaluateReport): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v));
}

const num = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : Number.isNaN(v) ? "n/a" : v > 0 ? "inf" : "-inf");

/** The human-readable table. */
export function formatReport(r: EvaluateReport): string {
  const out: string[] = [
    `pred        ${r.pred}`,
    `ref         ${r.ref}`,
    `grid        ${r.dims.join(" x ")}, voxel ${r.voxelSize.map(fmt).join(" x ")} mm${r.resampled.length > 0 ? ` (resampled onto it: ${r.resampled.join(", ")})` : ""}`,
    `data range  ${fmt(r.dataRange)} (${r.dataRangeSource === "option" ? "--data-range" : "reference max - min"})`,
    "",
  ];
  const header = `${"".padEnd(22)}${"PSNR dB".padStart(9)}${"SSIM".padStart(9)}${"RMSE".padStart(12)}${"HFEN".padStart(9)}${"voxels".padStart(11)}`;
  const row = (name: string, s: { psnr: number; ssim: number; rmse: number; hfen: number }, last = ""): string =>
    `${name.slice(0, 21).padEnd(22)}${num(s.psnr, 3).padStart(9)}${num(s.ssim, 4).padStart(9)}${(Number.isFinite(s.rmse) ? fmt(s.rmse) : "n/a").padStart(12)}${num(s.hfen, 4).padStart(9)}${last.padStart(11)}`;
  out.push(header, row("volume", r.volume, String(r.volume.voxels)));
  for (const g of r.regions) out.push(row(g.name, g, String(g.voxels)));
  if (r.regions.some((g) => g.ssimVoxels === 0)) out.push("(SSIM n/a: the region has no voxel in the SSIM map's interior, 5 voxels from the border)");
  if (r.slices !== undefined) {
    out.push("", `per slice across axis ${r.slices.axis} (2-D SSIM and HFEN):`, header.replace("voxels", "").trimEnd());
    for (const s of r.slices.metrics) out.push(row(`slice ${s.index}`, s).trimEnd());
  }
  return out.join("\n");
}

function parseAxis(v: string): Axis {
  if (v !== "0" && v !== "1" && v !== "2") throw new Error(`--axis must be 0, 1 or 2 (i, j or k), got '${v}'`);
  return Number(v) as Axis;
}

function parseRange(v: string): number {
  const x = Number(v);
  if (v.trim() === "" || !(x > 0) || !Number.isFinite(x)) throw new Error(`--data-range must be a positive number, got '${v}'`);
  return x;
}

export function registerEvaluate(program: Command): void {
  program
    .command("evaluate")
    .description("PSNR, SSIM, RMSE and HFEN of a prediction against a reference volume: whole volume, per region, per slice")
    .requiredOption("--pred <file>", "predicted volume (NIfTI)")
    .requiredOption("--ref <file>", "reference volume (NIfTI); defines the grid")
    .option("--mask <file>", "mask volume: nonzero voxels form one region")
    .option("--labels <file>", "label map: one region per nonzero integer label")
    .option("--label-names <file>", "label names: JSON {\"1\": \"name\"} or a value<TAB>name table")
    .option("--data-range <number>", "data range for PSNR and SSIM (default: reference max - min)", parseRange)
    .option("--per-slice", "also report every slice (2-D SSIM and HFEN)")
    .option("--axis <n>", "slice axis for --per-slice: 0, 1 or 2 (i, j, k)", parseAxis, 2 as Axis)
    .option("--resample", "resample pred (trilinear), mask and labels (nearest) onto the reference grid when grids differ")
    .option("--non-finite <mode>", "NaN/Inf voxels: error or zero", parseNonFinite, "error")
    .option("--json", "print JSON")
    .action((opts: EvaluateOptions & { json?: boolean }) => {
      const report = runEvaluate(opts);
      console.log(opts.json === true ? reportToJson(report) : formatReport(report));
    });
}
