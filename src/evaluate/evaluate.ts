// The evaluation library behind `moediff-sr evaluate --pred P --ref R [--mask M] [--labels L [--label-names F]] [--regions DIR] [--per-slice] [--json]
//   [--lpips-backbone FILE --lpips-linear FILE [--lpips-net vgg|alex]]`:
// PSNR, SSIM, RMSE, HFEN (and MSE) of a prediction against a reference volume, for the whole volume,
// per region, and optionally per slice. Definitions in src/metrics/volume_metrics.ts and regions.ts.
// LPIPS (v0.1, src/metrics/lpips.ts) when the user names its two weight files: the torchvision
// backbone (VGG-16 by default, or AlexNet) and the lpips package's lin layers. It is a 2-D network,
// so it runs per slice across --axis (src/metrics/lpips_volume.ts: slices replicated to 3 channels,
// mapped to [-1, 1] by 2 (x - ref min) / data range - 1, constant reference slices skipped) and the
// volume's LPIPS is the mean over the slices used. Besides the whole grid it is computed inside the
// brain (brainLpips below): the --regions mask named "brain", else the --mask region; not per other region.
// Tables lead with the brain (report_text.ts): a black background must never carry a claim.
//
// Decisions: pred, mask and labels must lie on the reference grid (same dims, affine equal to 1e-4 mm);
// otherwise the command refuses and suggests --resample, which resamples pred trilinearly (mask and
// labels by nearest neighbour) onto the reference grid. --regions DIR takes every NIfTI mask in DIR
// (as `segment --regions DIR` writes them: brain, csf, gm, wm, centrum_semiovale, cortex, gw_junction)
// as one region each, named by the file name; masks may overlap. An empty mask there is reported as
// skipped rather than failing the whole evaluation (a crop may miss a region). The data range is max - min of the reference
// unless --data-range is given. NaN/Inf voxels are an error unless --non-finite zero. --planar computes
// SSIM and HFEN slice by slice in the i-j plane (a stack of separate slices, as evaluate-grid writes).
// Engine-free unless LPIPS is asked for: only then are the tensor engine and the LPIPS modules
// loaded (dynamic import, in evaluate()); runEvaluate() itself stays synchronous and engine-free and
// takes the loaded LPIPS scorer as an argument.
// In --json output, non-finite numbers are written as the strings "Infinity", "-Infinity", "NaN".
import { readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { readNifti, toVolume } from "../nifti/index.js";
import { fmt } from "../util/format.js";
import { dataRange as minMax, type Volume } from "../volume/volume.js";
import { voxelSizes } from "../volume/affine.js";
import { resampleLike } from "../volume/resample.js";
import { perSliceMetrics, type Axis, type SliceMetrics } from "../metrics/volume_metrics.js";
import { readLabelNames, regionsFromLabels, regionsFromMask, volumeAndRegionMetrics, type RegionMetrics, type RegionSet, type VolumeScores } from "../metrics/regions.js";

export interface EvaluateOptions {
  pred: string;
  ref: string;
  /** Mask file: nonzero voxels form one region. */
  mask?: string;
  /** Label map file: one region per nonzero integer label. */
  labels?: string;
  /** Names for the labels (JSON object or value/name table). */
  labelNames?: string;
  /** A directory of mask files (segment --regions): one region per file, named by the file. */
  regions?: string;
  /** Data range for PSNR and SSIM; default max - min of the reference. */
  dataRange?: number;
  /**
   * SSIM and HFEN with 2-D filters in the plane of each slice across axis 2 (i-j planes) instead of 3-D:
   * for a stack of separate slices (evaluate-grid writes such stacks). PSNR, MSE and RMSE do not change.
   */
  planar?: boolean;
  /** Also report every slice across `axis` (default 2). */
  perSlice?: boolean;
  axis?: Axis;
  /** Resample pred (trilinear) and mask/labels (nearest) onto the reference grid when grids differ. */
  resample?: boolean;
  /** NaN/Inf voxels: "error" (default) or "zero". */
  nonFinite?: "error" | "zero";
  /** LPIPS backbone weights: a torchvision VGG-16 or AlexNet state dict (.pth or .safetensors). */
  lpipsBackbone?: string;
  /** LPIPS lin-layer weights: the lpips package's v0.1 file for the same network. */
  lpipsLinear?: string;
  /** LPIPS backbone network: "vgg" (default) or "alex". */
  lpipsNet?: LpipsNetName;
}

export type LpipsNetName = "vgg" | "alex";

/** LPIPS of a volume, slice by slice (src/metrics/lpips_volume.ts implements it with the engine). */
export interface LpipsScorer {
  readonly net: LpipsNetName;
  score(
    pred: Float32Array,
    ref: Float32Array,
    dims: readonly [number, number, number],
    o: { axis: Axis; low: number; range: number },
  ): { mean: number; slices: { index: number; lpips: number }[]; skipped: number[] };
}

export interface LpipsReport {
  net: LpipsNetName;
  version: "0.1";
  backbone: string;
  linear: string;
  axis: Axis;
  /** Mean over the slices used (NaN if none). */
  value: number;
  slicesUsed: number;
  /** Slices skipped because their reference is constant. */
  slicesSkipped: number;
  /** Every slice used, with --per-slice. */
  slices?: { index: number; lpips: number }[];
  /** Inside the brain region (brainRegionOf), when there is one. */
  brain?: { region: string; value: number; slicesUsed: number; slicesSkipped: number };
}

export interface EvaluateReport {
  pred: string;
  ref: string;
  dims: [number, number, number];
  voxelSize: [number, number, number];
  dataRange: number;
  dataRangeSource: "reference" | "option";
  /** Present (true) when SSIM and HFEN were computed in the i-j plane of each slice (--planar). */
  planar?: true;
  /** Which inputs were resampled onto the reference grid. */
  resampled: string[];
  volume: VolumeScores;
  regions: (RegionMetrics & { set: RegionSetKind })[];
  /** Masks of --regions that were empty on the reference grid. */
  regionsSkipped?: string[];
  slices?: { axis: Axis; metrics: SliceMetrics[] };
  lpips?: LpipsReport;
}

export type RegionSetKind = "mask" | "labels" | "regions";

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

const NIFTI_NAME = /\.nii(\.gz)?$/;

/** The mask files of a --regions directory, sorted by name; a clear error when there are none. */
export function regionMaskFiles(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error("not a directory");
    names = readdirSync(dir);
  } catch (e) {
    throw new RangeError(`evaluate: --regions ${dir} is not a readable directory (${e instanceof Error ? e.message : String(e)}); pass the directory written by \`moediff-sr segment --regions DIR\``);
  }
  const files = names.filter((n) => NIFTI_NAME.test(n)).sort();
  if (files.length === 0) throw new RangeError(`evaluate: --regions ${dir} holds no NIfTI mask (.nii or .nii.gz); pass the directory written by \`moediff-sr segment --regions DIR\``);
  return files.map((n) => join(dir, n));
}

/** One region set per mask file of a --regions directory; empty masks are returned as skipped. */
function regionsFromDir(dir: string, ref: Volume, o: EvaluateOptions, resampled: string[]): { sets: RegionSet[]; skipped: string[] } {
  const sets: RegionSet[] = [];
  const skipped: string[] = [];
  for (const file of regionMaskFiles(dir)) {
    const name = basename(file).replace(NIFTI_NAME, "");
    const v = onRefGrid(load(file, "region mask", o.nonFinite ?? "error"), ref, "region mask", file, o, "nearest", resampled);
    if (!v.data.some((x) => x !== 0 && !Number.isNaN(x))) skipped.push(name);
    else sets.push(regionsFromMask(v.data, name));
  }
  return { sets, skipped };
}

/**
 * The brain region of a report's region sets: the --regions mask named "brain" (segment --regions writes
 * it), else the --mask region; undefined if neither was given.
 */
export function brainRegionOf<R extends { name: string; set: RegionSetKind }>(regions: readonly R[]): R | undefined {
  return regions.find((g) => g.set === "regions" && g.name === "brain") ?? regions.find((g) => g.set === "mask");
}

/**
 * LPIPS inside a mask: every voxel outside it is set to the reference minimum `low` in both images, so
 * the background carries no difference and no feature; slices with no mask voxel (a constant masked
 * reference) are skipped as lpipsVolume skips constant slices. The spatial mean inside the network
 * still runs over the whole slice, so the value is comparable between methods on the same mask, not
 * between masks of different sizes.
 */
export function brainLpips(
  scorer: LpipsScorer,
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  dims: readonly [number, number, number],
  mask: ArrayLike<number>,
  o: { axis: Axis; low: number; range: number },
): { mean: number; slices: { index: number; lpips: number }[]; skipped: number[] } {
  if (mask.length !== ref.length || pred.length !== ref.length) throw new RangeError(`brainLpips: pred, ref and mask must have the same length, got ${pred.length}, ${ref.length}, ${mask.length}`);
  const p = new Float32Array(ref.length);
  const r = new Float32Array(ref.length);
  for (let i = 0; i < ref.length; i++) {
    const inside = (mask[i] as number) !== 0 && !Number.isNaN(mask[i] as number);
    p[i] = inside ? (pred[i] as number) : o.low;
    r[i] = inside ? (ref[i] as number) : o.low;
  }
  return scorer.score(p, r, dims, o);
}

/** Whether the options ask for LPIPS; throws if they do so incompletely. */
export function wantsLpips(o: EvaluateOptions): boolean {
  const b = o.lpipsBackbone !== undefined;
  const l = o.lpipsLinear !== undefined;
  if (b !== l) {
    throw new RangeError(
      `evaluate: LPIPS needs both --lpips-backbone FILE (torchvision VGG-16 or AlexNet weights) and --lpips-linear FILE (the lpips package's v0.1 lin weights); only --lpips-${b ? "backbone" : "linear"} was given`,
    );
  }
  if (o.lpipsNet !== undefined && o.lpipsNet !== "vgg" && o.lpipsNet !== "alex") throw new RangeError(`evaluate: --lpips-net must be vgg or alex, got '${String(o.lpipsNet)}'`);
  if (o.lpipsNet !== undefined && !b) throw new RangeError("evaluate: --lpips-net needs --lpips-backbone FILE and --lpips-linear FILE");
  return b;
}

/** Loads the tensor engine and the LPIPS network named by the options (only called when LPIPS is asked for). */
export async function loadLpipsScorer(o: Pick<EvaluateOptions, "lpipsBackbone" | "lpipsLinear" | "lpipsNet">): Promise<LpipsScorer & { dispose(): void }> {
  const net: LpipsNetName = o.lpipsNet ?? "vgg";
  if (o.lpipsBackbone === undefined || o.lpipsLinear === undefined) throw new RangeError("evaluate: LPIPS needs both --lpips-backbone FILE and --lpips-linear FILE");
  try {
    await import("../torch/index.js");
  } catch (e) {
    throw new Error(`evaluate: LPIPS needs the tensor engine, which did not load (${e instanceof Error ? e.message : String(e)}); leave out the --lpips-* options to compute the other metrics without it`);
  }
  const [{ Lpips }, { lpipsVolume }] = await Promise.all([import("../metrics/lpips.js"), import("../metrics/lpips_volume.js")]);
  const model = Lpips.fromFiles(o.lpipsBackbone, o.lpipsLinear, { net });
  return {
    net,
    score: (pred, ref, dims, so) => lpipsVolume(model, pred, ref, dims, { ...so, batch: 8 }),
    dispose: () => model.dispose(),
  };
}

/** Computes every metric the options ask for, loading the LPIPS network (and the engine) only if asked. */
export async function evaluate(o: EvaluateOptions): Promise<EvaluateReport> {
  if (!wantsLpips(o)) return runEvaluate(o);
  const scorer = await loadLpipsScorer(o);
  try {
    return runEvaluate(o, scorer);
  } finally {
    scorer.dispose();
  }
}

/**
 * Computes every metric the options ask for, synchronously and without the engine; LPIPS options
 * need `lpips`, the scorer loaded by loadLpipsScorer() (evaluate() does both).
 */
export function runEvaluate(o: EvaluateOptions, lpips?: LpipsScorer): EvaluateReport {
  const nonFinite = o.nonFinite ?? "error";
  const axis: Axis = o.axis ?? 2;
  if (axis !== 0 && axis !== 1 && axis !== 2) throw new RangeError(`evaluate: axis must be 0, 1 or 2, got ${String(axis)}`);
  if (o.labelNames !== undefined && o.labels === undefined) throw new RangeError("evaluate: --label-names needs --labels FILE (the label map it names)");
  const lpipsWanted = wantsLpips(o);
  if (lpipsWanted && lpips === undefined) throw new Error("runEvaluate: the LPIPS options need the LPIPS network: call evaluate() (async), which loads it");
  if (lpipsWanted && lpips !== undefined && lpips.net !== (o.lpipsNet ?? "vgg")) throw new Error(`runEvaluate: the LPIPS scorer is '${lpips.net}' but the options ask for '${o.lpipsNet ?? "vgg"}'`);
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
  const sets: [RegionSetKind, RegionSet][] = [];
  if (o.mask !== undefined) sets.push(["mask", regionsOf(o.mask, ref, o, "mask", resampled)]);
  if (o.labels !== undefined) sets.push(["labels", regionsOf(o.labels, ref, o, "labels", resampled)]);
  let regionsSkipped: string[] | undefined;
  if (o.regions !== undefined) {
    const fromDir = regionsFromDir(o.regions, ref, o, resampled);
    for (const rs of fromDir.sets) sets.push(["regions", rs]);
    regionsSkipped = fromDir.skipped;
  }
  const scores = volumeAndRegionMetrics(pred.data, ref.data, ref.dims, range, sets.map(([, rs]) => rs), { planar: o.planar === true });
  const report: EvaluateReport = {
    pred: o.pred,
    ref: o.ref,
    dims: [ref.dims[0], ref.dims[1], ref.dims[2]],
    voxelSize: voxelSizes(ref.affine),
    dataRange: range,
    dataRangeSource: o.dataRange !== undefined ? "option" : "reference",
    ...(o.planar === true ? { planar: true as const } : {}),
    resampled,
    volume: scores.volume,
    regions: sets.flatMap(([set], s) => scores.regions[s]!.map((r) => ({ set, ...r }))),
  };
  if (regionsSkipped !== undefined && regionsSkipped.length > 0) report.regionsSkipped = regionsSkipped;
  if (o.perSlice === true) report.slices = { axis, metrics: perSliceMetrics(pred.data, ref.data, ref.dims, range, axis) };
  if (lpipsWanted && lpips !== undefined) {
    const [low] = minMax(ref.data);
    const r = lpips.score(pred.data, ref.data, ref.dims, { axis, low, range });
    report.lpips = {
      net: lpips.net,
      version: "0.1",
      backbone: o.lpipsBackbone as string,
      linear: o.lpipsLinear as string,
      axis,
      value: r.mean,
      slicesUsed: r.slices.length,
      slicesSkipped: r.skipped.length,
    };
    if (o.perSlice === true) report.lpips.slices = r.slices;
    const brain = brainRegionOf(report.regions);
    if (brain !== undefined) {
      const s = sets.find(([kind, rs]) => kind === brain.set && rs.names.includes(brain.name))?.[1];
      if (s === undefined) throw new Error(`runEvaluate: internal error: no region set holds ${brain.name}`);
      const label = s.names.indexOf(brain.name);
      const mask = Uint8Array.from(s.index, (x) => (x === label ? 1 : 0));
      const b = brainLpips(lpips, pred.data, ref.data, ref.dims, mask, { axis, low, range });
      report.lpips.brain = { region: brain.name, value: b.mean, slicesUsed: b.slices.length, slicesSkipped: b.skipped.length };
    }
  }
  return report;
}
