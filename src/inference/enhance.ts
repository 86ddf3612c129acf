// Super-resolving a whole volume with a trained MoEDiff-SR model (SPEC section 5).
//
//  1. The LR volume is reoriented to RAS (exact voxel permutation/flips, as prepare does) and
//     resampled onto the target grid (cubic B-spline, zero outside): the field of view of the input at
//     the target voxel size (`voxelSize`, default the model's training HR voxel size), or the grid of
//     a reference volume (`like`).
//  2. It is normalised as in training: divided by the 99.5th percentile of its foreground, clipped to
//     [0, 1] (src/data/normalise.ts).
//  3. Slice by slice along `axis` (2.5D: the condition is slices k-1, k, k+1), each slice covered by
//     tiles of the model's slice size, or one fitted tile where the slice is smaller (its size rounded
//     up to the model's size multiple; src/inference/tiling.ts); tiles are batched, run through the
//     pipeline (src/inference/pipeline.ts: encode, route, gates, sample, decode), and blended back.
//     A tile whose middle slice has less than MIN_SIGNAL_MM2 above SIGNAL_LEVEL of the normalisation
//     scale is background and is written as 0 without running the model: the Rician background of a
//     3T-like acquisition passes the brain level (5%) everywhere but rarely reaches 10%.
//     With `slices` (one axis only), only those slice indices of the RAS target grid are run; every
//     other slice is 0. The input is still resampled and normalised as a whole, and each tile's seed
//     depends on its slice index, so a chosen slice comes out exactly as in a run over every slice.
//  4. With several axes the per-axis volumes are averaged voxel by voxel.
//  5. Intensities are mapped back by multiplying with the input's normalisation scale times the card's
//     hrToLrScale (the training pairs' HR divisor / LR divisor): the model's output is HR-normalised,
//     so this puts it in the input's units as the training HR related to its LR.
//     Negative values are set to 0 (magnitude images). The output is on the RAS target grid, or with
//     `like` exactly on that grid (voxel axes permuted/flipped back, no interpolation).
// Every tile's noise comes from its own seed (the run seed mixed with axis, slice and tile), so the
// output does not depend on --batch.
import * as T from "../torch/index.js";
import type { Volume } from "../volume/volume.js";
import type { Grid, Vec3 } from "../volume/affine.js";
import { gridFor, voxelSizes } from "../volume/affine.js";
import { orientationCode, reorient, reorientGrid } from "../volume/reorient.js";
import { resample } from "../volume/resample.js";
import { normaliseIntensity, scaleIntensity } from "../data/normalise.js";
import { BRAIN_LEVEL } from "../data/brain_fraction.js";
import { extractCondition, sliceGeometry, type Axis, type SliceGeometry } from "../data/slicing.js";
import { axisDim, type ModelCard } from "../model_dir/card.js";
import { mixSeed } from "./moe_sampler.js";
import { EnhanceError, type EnhanceSettings, type MoEDiffSRPipeline } from "./pipeline.js";
import { blendWeights, fittedTileSize, TileBlender, tilePlan, type Tile } from "./tiling.js";
import { timed, type Profiler } from "../util/profiler.js";

export { EnhanceError };

/** What to enhance onto which grid, and any setting that differs from the pipeline's defaultOptions(). */
export interface EnhanceOptions extends Partial<EnhanceSettings> {
  /** Target voxel size in mm (default: the model card's). Ignored when `like` is given. */
  voxelSize?: number | Vec3;
  /** Put the output exactly on this grid (e.g. a reference HR volume's). */
  like?: Grid;
  /** Slice axes (RAS voxel axes); several = average of the per-axis results. Default: the card's. */
  axes?: readonly Axis[];
  /**
   * Divide the input by this instead of its own normalisePercentile (e.g. the divisor of the whole
   * acquisition when only a slab of it is enhanced, so the slab is scaled as in training).
   */
  inputScale?: number;
  /**
   * Run only these slice indices along the (single) axis of the RAS target grid; the others are 0.
   * Their results equal a run over every slice (cheap evaluation on a few slices: evaluate-grid).
   */
  slices?: readonly number[];
  onProgress?: (p: EnhanceProgress) => void;
  /** Times the parts of the job: "resampling" (the input onto the target grid), "model" (each batch through the pipeline, itself timed by part), the rest is tiling and blending. */
  profiler?: Profiler;
}

export interface EnhanceProgress {
  axis: Axis;
  slicesDone: number;
  slices: number;
  tilesDone: number;
  tiles: number;
}

export interface EnhanceResult {
  /** The 7T-like volume on the target grid (RAS), in the input's intensity units. */
  output: Volume;
  /** explain: each expert's own estimate (same grid and units) and its gate weights in [0, 1]. */
  experts?: Volume[];
  gates?: Volume[];
  /** What was done, for the log and the closing notes. */
  stats: EnhanceStats;
  /** The settings it ran with (the request over the pipeline's defaults). */
  options: EnhanceSettings;
}

export interface EnhanceStats {
  targetDims: [number, number, number];
  targetVoxelSize: [number, number, number];
  inputScale: number;
  axes: Axis[];
  slices: number;
  slicesRun: number;
  tilesRun: number;
  tilesPerSlice: number;
  /** Tile height and width the model ran on (the last axis's; fitted tiles can be smaller than the card's slice). */
  tileSize: [number, number];
  /** Expert forward passes, per expert, summed over batches (each on up to `batch` tiles). */
  evaluations: number[];
  seconds: number;
}

/** Less signal than this (ml above 5% of the intensity scale) is not a brain image. */
export const MIN_SIGNAL_ML = 1;
/** A tile is run when its middle slice has at least MIN_SIGNAL_MM2 above this fraction of the scale. */
export const SIGNAL_LEVEL = 0.1;
/** In-plane area (mm^2) above SIGNAL_LEVEL that makes a tile worth running: half a square centimetre. */
export const MIN_SIGNAL_MM2 = 50;

/**
 * The divisor `prepare` normalised a training pair's LR volume with: the whole acquisition on the HR
 * grid `grid`. Enhancing only part of an acquisition (a slab) with this as `inputScale` scales the part
 * as the whole was scaled in training; the part's own percentile would differ.
 */
export function acquisitionScale(lr: Volume, grid: Grid, card: ModelCard, what = "LR acquisition"): number {
  return normaliseIntensity(resample(lr, grid, { interpolation: card.lrInterpolation, fill: 0 }), what, card.normalisePercentile).scale;
}

/** The input on the target grid, RAS, normalised. */
export function prepareInput(lr: Volume, o: Pick<EnhanceOptions, "voxelSize" | "like" | "inputScale">, card: ModelCard): { norm: Volume; scale: number } {
  const ras = reorient(lr, "RAS");
  const grid: Grid = o.like !== undefined ? reorientGrid(o.like, "RAS") : gridFor(ras, o.voxelSize ?? (card.voxelSize as Vec3));
  const onTarget = resample(ras, grid, { interpolation: card.lrInterpolation, fill: 0 });
  let n;
  try {
    n = o.inputScale !== undefined ? { volume: scaleIntensity(onTarget, o.inputScale, "input volume"), scale: o.inputScale } : normaliseIntensity(onTarget, "input volume", card.normalisePercentile);
  } catch (e) {
    throw new EnhanceError(`the input has no usable signal: ${e instanceof Error ? e.message : String(e)}`);
  }
  const level = Math.fround(BRAIN_LEVEL);
  let brain = 0;
  for (const v of n.volume.data) if (v > level) brain++;
  const [sx, sy, sz] = voxelSizes(n.volume.affine);
  const ml = (brain * sx * sy * sz) / 1000;
  if (ml < MIN_SIGNAL_ML) {
    throw new EnhanceError(
      `the input has no brain signal: only ${ml.toPrecision(3)} ml of it is above ${100 * BRAIN_LEVEL}% of its intensity scale (at least ${MIN_SIGNAL_ML} ml expected); check that the file holds the image (not a mask or an empty volume)`,
    );
  }
  return { norm: n.volume, scale: n.scale };
}

interface WorkItem {
  slice: number;
  tileIndex: number;
  tile: Tile;
}

/** Writes a native (uncropped) slice image back into the volume data. */
export function insertSlice(data: Float32Array, dims: readonly [number, number, number], g: SliceGeometry, k: number, image: Float32Array): void {
  const st = [1, dims[0], dims[0] * dims[1]];
  const base = k * (st[g.sliceDim] as number);
  const rs = st[g.rowDim] as number;
  const cs = st[g.colDim] as number;
  for (let r = 0; r < g.nativeHeight; r++) {
    for (let c = 0; c < g.nativeWidth; c++) data[base + r * rs + c * cs] = image[r * g.nativeWidth + c] as number;
  }
}

/** Whether cond[offset, offset + length) has at least `minCount` values above SIGNAL_LEVEL. */
export function hasSignal(cond: Float32Array, offset: number, length: number, minCount: number): boolean {
  const level = Math.fround(SIGNAL_LEVEL);
  let n = 0;
  for (let i = offset; i < offset + length; i++) if ((cond[i] as number) > level && ++n >= minCount) return true;
  return false;
}

interface AxisResult {
  output: Float32Array;
  experts: Float32Array[];
  gates: Float32Array[];
  slicesRun: number;
  tilesRun: number;
  tilesPerSlice: number;
  tileSize: [number, number];
  evaluations: number[];
}

/**
 * The tile (height, width) the model runs on for slices along `axis` of a volume of `dims` on the
 * target grid: the model's slice size, or with `fitTiles` a tile fitted to a smaller slice (its size
 * rounded up to the model's size multiple; tiling.ts).
 */
export function tileSize(pipe: MoEDiffSRPipeline, dims: readonly [number, number, number], axis: Axis, fitTiles: boolean): [number, number] {
  const { height, width } = pipe.card.slice;
  const g = sliceGeometry(dims, axis, height, width);
  const fit = (n: number, s: number): number => (fitTiles ? fittedTileSize(n, s, pipe.sliceMultiple) : s);
  return [fit(g.nativeHeight, height), fit(g.nativeWidth, width)];
}

/**
 * The slice indices to run along an axis with `count` slices: all of them, or `slices` (checked,
 * sorted, without duplicates).
 */
export function slicesToRun(count: number, slices: readonly number[] | undefined, axes: readonly Axis[]): number[] {
  if (slices === undefined) return Array.from({ length: count }, (_, s) => s);
  if (axes.length !== 1) throw new EnhanceError(`slices needs exactly one axis, got [${axes.join(", ")}]`);
  for (const s of slices) {
    if (!Number.isInteger(s) || s < 0 || s >= count) throw new EnhanceError(`slice ${s} does not exist along ${axes[0]} (0 to ${count - 1} on the target grid)`);
  }
  return [...new Set(slices)].sort((a, b) => a - b);
}

async function enhanceAlongAxis(
  pipe: MoEDiffSRPipeline,
  norm: Volume,
  axis: Axis,
  o: EnhanceSettings,
  onProgress: EnhanceOptions["onProgress"],
  profiler: Profiler | undefined,
  slices: readonly number[] | undefined,
): Promise<AxisResult> {
  const { device } = pipe;
  const k = pipe.model.numExperts;
  const [th, tw] = tileSize(pipe, norm.dims, axis, o.fitTiles);
  const S = { h: th, w: tw };
  const geom = sliceGeometry(norm.dims, axis, S.h, S.w);
  const voxel = voxelSizes(norm.affine);
  const minSignal = Math.max(1, Math.ceil(MIN_SIGNAL_MM2 / ((voxel[geom.rowDim] as number) * (voxel[geom.colDim] as number))));
  const tiles = tilePlan(geom.nativeHeight, geom.nativeWidth, S.h, S.w, o.overlap);
  const weights = blendWeights(S.h, S.w, tiles.length > 1 ? Math.max(1, o.overlap >> 1) : 0);
  const n = norm.data.length;
  const output = new Float32Array(n);
  const experts = o.explain ? Array.from({ length: k }, () => new Float32Array(n)) : [];
  const gates = o.explain ? Array.from({ length: k }, () => new Float32Array(n)) : [];
  const evaluations = new Array<number>(k).fill(0);
  const hw = S.h * S.w;

  // Work list: every tile of every slice with signal, slice-major.
  const items: WorkItem[] = [];
  const cond1 = new Float32Array(3 * hw);
  const tilesOfSlice = new Map<number, number>();
  for (const s of slicesToRun(geom.count, slices, [axis])) {
    let m = 0;
    tiles.forEach((tile, tileIndex) => {
      extractCondition(norm, { ...geom, ...tile }, s, cond1, 0);
      if (hasSignal(cond1, hw, hw, minSignal)) {
        items.push({ slice: s, tileIndex, tile });
        m++;
      }
    });
    if (m > 0) tilesOfSlice.set(s, m);
  }

  const blenders = new Map<number, { out: TileBlender; experts: TileBlender[]; gates: TileBlender[]; left: number }>();
  const nativeBlender = (): TileBlender => new TileBlender(geom.nativeHeight, geom.nativeWidth, weights, S.h, S.w);
  let slicesDone = 0;
  let tilesDone = 0;
  const report = (): void => onProgress?.({ axis, slicesDone, slices: tilesOfSlice.size, tilesDone, tiles: items.length });
  report();
  const dimOfAxis = axisDim(axis);

  for (let start = 0; start < items.length; start += o.batch) {
    const batch = items.slice(start, start + o.batch);
    const b = batch.length;
    const cond = new Float32Array(b * 3 * hw);
    batch.forEach((it, i) => extractCondition(norm, { ...geom, ...it.tile }, it.slice, cond, i * 3 * hw));
    const seeds = batch.map((it) => mixSeed(mixSeed(o.seed, dimOfAxis), it.slice * 4096 + it.tileIndex));
    const y = T.tensor(cond, [b, 3, S.h, S.w], { dtype: "float32", device });
    let host;
    try {
      host = timed(profiler, "model", () => pipe.sampleTiles(y, seeds, { ...o, ...(profiler === undefined ? {} : { profiler }) }), b);
    } finally {
      y.dispose();
    }
    host.evaluations.forEach((e, i) => (evaluations[i] = (evaluations[i] as number) + e));
    batch.forEach((it, i) => {
      let bl = blenders.get(it.slice);
      if (bl === undefined) {
        bl = { out: nativeBlender(), experts: experts.map(nativeBlender), gates: gates.map(nativeBlender), left: tilesOfSlice.get(it.slice) as number };
        blenders.set(it.slice, bl);
      }
      bl.out.add(it.tile, host.images, i * hw);
      host.experts.forEach((e, j) => bl.experts[j]?.add(it.tile, e, i * hw));
      if (host.gates !== null) for (let j = 0; j < k; j++) bl.gates[j]?.add(it.tile, host.gates, (i * k + j) * hw);
      tilesDone++;
      if (--bl.left === 0) {
        // Pixels only background tiles covered are 0, as skipped slices are.
        insertSlice(output, norm.dims, geom, it.slice, bl.out.result(0));
        bl.experts.forEach((e, j) => insertSlice(experts[j] as Float32Array, norm.dims, geom, it.slice, e.result(0)));
        bl.gates.forEach((e, j) => insertSlice(gates[j] as Float32Array, norm.dims, geom, it.slice, e.result(0)));
        blenders.delete(it.slice);
        slicesDone++;
      }
    });
    report();
    await new Promise<void>((resolve) => setImmediate(resolve)); // let the progress display redraw
  }
  return { output, experts, gates, slicesRun: tilesOfSlice.size, tilesRun: items.length, tilesPerSlice: tiles.length, tileSize: [S.h, S.w], evaluations };
}

/** Enhances `lr` with the pipeline's model: `o` names the grid and any setting that differs from pipe.defaultOptions(). */
export async function enhanceVolume(pipe: MoEDiffSRPipeline, lr: Volume, o: EnhanceOptions = {}): Promise<EnhanceResult> {
  const settings = pipe.resolveOptions(o);
  const lm = pipe.loaded;
  const t0 = performance.now();
  const { norm, scale } = timed(o.profiler, "resampling", () => prepareInput(lr, o, lm.card));
  const axes = [...(o.axes ?? [lm.card.slice.axis])];
  if (axes.length === 0 || new Set(axes).size !== axes.length) throw new EnhanceError(`axes must be distinct, one or more of x, y, z; got [${axes.join(", ")}]`);
  const k = lm.model.numExperts;
  const n = norm.data.length;
  const sum = new Float32Array(n);
  const expertSum = settings.explain ? Array.from({ length: k }, () => new Float32Array(n)) : [];
  const gateSum = settings.explain ? Array.from({ length: k }, () => new Float32Array(n)) : [];
  const stats: EnhanceStats = {
    targetDims: [...norm.dims],
    targetVoxelSize: voxelSizes(norm.affine),
    inputScale: scale,
    axes,
    slices: 0,
    slicesRun: 0,
    tilesRun: 0,
    tilesPerSlice: 0,
    tileSize: [lm.card.slice.height, lm.card.slice.width],
    evaluations: new Array<number>(k).fill(0),
    seconds: 0,
  };
  if (o.slices !== undefined) slicesToRun(norm.dims[axisDim(axes[0] as Axis)], o.slices, axes);
  for (const axis of axes) {
    const r = await enhanceAlongAxis(pipe, norm, axis, settings, o.onProgress, o.profiler, o.slices);
    for (let i = 0; i < n; i++) sum[i] = (sum[i] as number) + (r.output[i] as number);
    r.experts.forEach((e, j) => e.forEach((v, i) => ((expertSum[j] as Float32Array)[i] = ((expertSum[j] as Float32Array)[i] as number) + v)));
    r.gates.forEach((e, j) => e.forEach((v, i) => ((gateSum[j] as Float32Array)[i] = ((gateSum[j] as Float32Array)[i] as number) + v)));
    stats.slices += norm.dims[axisDim(axis)];
    stats.slicesRun += r.slicesRun;
    stats.tilesRun += r.tilesRun;
    stats.tilesPerSlice = Math.max(stats.tilesPerSlice, r.tilesPerSlice);
    stats.tileSize = r.tileSize;
    r.evaluations.forEach((e, j) => (stats.evaluations[j] = (stats.evaluations[j] as number) + e));
  }
  const toUnits = (acc: Float32Array): Volume => {
    const data = new Float32Array(n);
    const outScale = scale * (lm.card.hrToLrScale ?? 1);
    for (let i = 0; i < n; i++) data[i] = Math.max(0, ((acc[i] as number) / axes.length) * outScale);
    return { data, dims: norm.dims, affine: norm.affine };
  };
  const gateVolume = (acc: Float32Array): Volume => {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (acc[i] as number) / axes.length;
    return { data, dims: norm.dims, affine: norm.affine };
  };
  // With --like, hand the volumes back on that grid exactly (the RAS grid is a permutation/flip of it).
  const back = o.like === undefined ? (v: Volume): Volume => v : (v: Volume): Volume => reorient(v, orientationCode((o.like as Grid).affine));
  const output = back(toUnits(sum));
  stats.targetDims = [...output.dims];
  stats.targetVoxelSize = voxelSizes(output.affine);
  stats.seconds = (performance.now() - t0) / 1000;
  return {
    output,
    ...(settings.explain ? { experts: expertSum.map((e) => back(toUnits(e))), gates: gateSum.map((g) => back(gateVolume(g))) } : {}),
    stats,
    options: settings,
  };
}
