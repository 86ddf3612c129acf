// Enhancing a whole volume with the regression U-Net baseline (`moediff-sr train-unet`), exactly as
// `enhance` prepares and returns a volume (src/inference/enhance.ts), so the two are compared on equal
// terms:
//  1. the LR volume is reoriented to RAS and resampled onto the target grid with cubic B-splines
//     (prepareInput: the model card's voxel size, `voxelSize`, or the grid of `like`), and normalised
//     as in training (or divided by `inputScale`);
//  2. slice by slice along each axis, the condition (slices k-1, k, k+1) is cut into the same tiles
//     enhance uses (the card's slice size, or one tile fitted to a smaller slice, rounded up to the
//     U-Net's size multiple 2^(levels-1)); tiles without signal are skipped (0), the others run through
//     the U-Net in batches (inference mode) and are blended back with the same ramps;
//     With `slices` (one axis), only those slices of the RAS target grid run (as enhance's `slices`).
//  3. per-axis volumes are averaged, intensities multiplied by the input's divisor times the card's
//     hrToLrScale, negatives set to 0, and with `like` the result is put exactly on that grid.
// The U-Net is deterministic: no seeds, and the output does not depend on `batch`.
//
//   const unet = loadUNetModel("runs/unet");                     // or pass the directory itself
//   const { output } = await enhanceVolumeUNet(unet, lr, { like: referenceGrid });
//   unet.dispose();
import { join } from "node:path";
import * as T from "../torch/index.js";
import type { Volume } from "../volume/volume.js";
import { voxelSizes, type Grid, type Vec3 } from "../volume/affine.js";
import { orientationCode, reorient } from "../volume/reorient.js";
import { extractCondition, sliceGeometry, type Axis, type SliceGeometry } from "../data/slicing.js";
import { axisDim, readModelCard, type ModelCard } from "../model_dir/card.js";
import { loadUNet } from "../models/unet/load.js";
import { assertFiniteModule } from "../model_dir/finite_weights.js";
import type { UNet } from "../models/unet/unet.js";
import type { UNetRunConfig } from "../models/unet/config.js";
import { EnhanceError, hasSignal, insertSlice, MIN_SIGNAL_MM2, prepareInput, slicesToRun, type EnhanceProgress, type EnhanceStats } from "./enhance.js";
import { ENHANCE_DEFAULTS } from "./pipeline.js";
import { blendWeights, fittedTileSize, TileBlender, tilePlan, type Tile } from "./tiling.js";

/** A trained U-Net directory loaded for inference. */
export interface LoadedUNet {
  readonly dir: string;
  readonly model: UNet;
  readonly config: UNetRunConfig;
  readonly card: ModelCard;
  readonly device: T.Device;
  /** Frees the weights. */
  dispose(): void;
}

export interface UNetEnhanceOptions {
  /** Target voxel size in mm (default: the model card's). Ignored when `like` is given. */
  voxelSize?: number | Vec3;
  /** Put the output exactly on this grid (e.g. a reference HR volume's). */
  like?: Grid;
  /** Slice axes (RAS voxel axes); several = the average of the per-axis results. Default: the card's. */
  axes?: readonly Axis[];
  /** Divide the input by this instead of its own percentile (as enhance's inputScale; see acquisitionScale). */
  inputScale?: number;
  /** Run only these slice indices along the (single) axis of the RAS target grid; the others are 0 (as enhance). */
  slices?: readonly number[];
  /** Tiles per forward pass (default 4); the output does not depend on it. */
  batch?: number;
  /** Tile overlap in pixels where a slice is larger than the card's slice size (default: enhance's, 32). */
  overlap?: number;
  /** Run a slice smaller than the card's slice size on a tile fitted to it (default true, as enhance). */
  fitTiles?: boolean;
  /** Where to load the weights when given a directory (default: the engine's default device). */
  device?: T.Device;
  onProgress?: (p: EnhanceProgress) => void;
}

/** enhance's statistics, less the expert evaluations (the U-Net has no experts). */
export type UNetEnhanceStats = Omit<EnhanceStats, "evaluations">;

export interface UNetEnhanceResult {
  /** The 7T-like volume on the target grid (RAS, or exactly `like`), in the input's intensity units. */
  output: Volume;
  stats: UNetEnhanceStats;
}

export const UNET_ENHANCE_DEFAULTS = Object.freeze({ batch: 4, overlap: ENHANCE_DEFAULTS.overlap, fitTiles: true });

/** Loads a `train-unet` directory (config.json, model.safetensors, card.json) for inference. */
export function loadUNetModel(dir: string, o: { device?: T.Device } = {}): LoadedUNet {
  const device = o.device ?? T.getDefaultDevice();
  const { model, config } = loadUNet(dir, device);
  try {
    assertFiniteModule(model, join(dir, "model.safetensors"), `copy ${dir} again from where it came from (\`moediff-sr train-unet\` writes it)`, EnhanceError);
    const card = readModelCard(dir);
    const m = model.sizeMultiple;
    if (card.slice.height % m !== 0 || card.slice.width % m !== 0) {
      throw new EnhanceError(`${dir}: the card's ${card.slice.height}x${card.slice.width} slices are not multiples of the U-Net's size multiple ${m}`);
    }
    if (config.model.inChannels !== 3) throw new EnhanceError(`${dir}: this U-Net takes ${config.model.inChannels} input channels; volumes are enhanced from 3 (slices k-1, k, k+1)`);
    return { dir, model, config, card, device, dispose: () => model.dispose() };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

interface Settings {
  batch: number;
  overlap: number;
  fitTiles: boolean;
}

function resolveSettings(o: UNetEnhanceOptions, card: ModelCard): Settings {
  const s = { batch: o.batch ?? UNET_ENHANCE_DEFAULTS.batch, overlap: o.overlap ?? UNET_ENHANCE_DEFAULTS.overlap, fitTiles: o.fitTiles ?? UNET_ENHANCE_DEFAULTS.fitTiles };
  if (!Number.isInteger(s.batch) || s.batch < 1) throw new EnhanceError(`batch must be a positive integer, got ${s.batch}`);
  const side = Math.min(card.slice.height, card.slice.width);
  if (!Number.isInteger(s.overlap) || s.overlap < 0 || s.overlap >= side) throw new EnhanceError(`overlap must be an integer in [0, ${side}), got ${s.overlap}`);
  return s;
}

async function alongAxis(u: LoadedUNet, norm: Volume, axis: Axis, s: Settings, onProgress: UNetEnhanceOptions["onProgress"], slices: readonly number[] | undefined) {
  const { height, width } = u.card.slice;
  const m = u.model.sizeMultiple;
  const native = sliceGeometry(norm.dims, axis, height, width);
  const fit = (n: number, size: number): number => (s.fitTiles ? fittedTileSize(n, size, m) : size);
  const [th, tw] = [fit(native.nativeHeight, height), fit(native.nativeWidth, width)];
  const geom = sliceGeometry(norm.dims, axis, th, tw);
  const voxel = voxelSizes(norm.affine);
  const minSignal = Math.max(1, Math.ceil(MIN_SIGNAL_MM2 / ((voxel[geom.rowDim] as number) * (voxel[geom.colDim] as number))));
  const tiles = tilePlan(geom.nativeHeight, geom.nativeWidth, th, tw, s.overlap);
  const weights = blendWeights(th, tw, tiles.length > 1 ? Math.max(1, s.overlap >> 1) : 0);
  const hw = th * tw;
  const output = new Float32Array(norm.data.length);

  const items: { slice: number; tile: Tile }[] = [];
  const tilesOfSlice = new Map<number, number>();
  const one = new Float32Array(3 * hw);
  for (const k of slicesToRun(geom.count, slices, [axis])) {
    let n = 0;
    for (const tile of tiles) {
      extractCondition(norm, { ...geom, ...tile }, k, one, 0);
      if (hasSignal(one, hw, hw, minSignal)) {
        items.push({ slice: k, tile });
        n++;
      }
    }
    if (n > 0) tilesOfSlice.set(k, n);
  }

  const blenders = new Map<number, { blender: TileBlender; left: number }>();
  let slicesDone = 0;
  let tilesDone = 0;
  const report = (): void => onProgress?.({ axis, slicesDone, slices: tilesOfSlice.size, tilesDone, tiles: items.length });
  report();
  for (let start = 0; start < items.length; start += s.batch) {
    const batch = items.slice(start, start + s.batch);
    const cond = new Float32Array(batch.length * 3 * hw);
    batch.forEach((it, i) => extractCondition(norm, { ...geom, ...it.tile }, it.slice, cond, i * 3 * hw));
    const images = T.tidy(() =>
      T.inferenceMode(() => {
        const y = T.tensor(cond, [batch.length, 3, th, tw], { dtype: "float32", device: u.device });
        return u.model.forward(y).to("float32").cpu().contiguous().data() as Float32Array;
      }),
    );
    batch.forEach((it, i) => {
      let b = blenders.get(it.slice);
      if (b === undefined) {
        b = { blender: new TileBlender(geom.nativeHeight, geom.nativeWidth, weights, th, tw), left: tilesOfSlice.get(it.slice) as number };
        blenders.set(it.slice, b);
      }
      b.blender.add(it.tile, images, i * hw);
      tilesDone++;
      if (--b.left === 0) {
        insertSlice(output, norm.dims, geom, it.slice, b.blender.result(0)); // pixels only skipped tiles covered are 0
        blenders.delete(it.slice);
        slicesDone++;
      }
    });
    report();
    await new Promise<void>((resolve) => setImmediate(resolve)); // let a progress display redraw
  }
  return { output, slicesRun: tilesOfSlice.size, tilesRun: items.length, tilesPerSlice: tiles.length, tileSize: [th, tw] as [number, number] };
}

/**
 * Enhances `lr` with a trained U-Net (a `train-unet` directory, or one loaded with loadUNetModel, which
 * the caller then disposes) onto the grid `enhance` would use; see the top of this file.
 */
export async function enhanceVolumeUNet(unet: string | LoadedUNet, lr: Volume, o: UNetEnhanceOptions = {}): Promise<UNetEnhanceResult> {
  const u = typeof unet === "string" ? loadUNetModel(unet, o.device === undefined ? {} : { device: o.device }) : unet;
  try {
    const t0 = performance.now();
    const s = resolveSettings(o, u.card);
    const axes = [...(o.axes ?? [u.card.slice.axis])];
    if (axes.length === 0 || new Set(axes).size !== axes.length) throw new EnhanceError(`axes must be distinct, one or more of x, y, z; got [${axes.join(", ")}]`);
    const { norm, scale } = prepareInput(lr, o, u.card);
    if (o.slices !== undefined) slicesToRun(norm.dims[axisDim(axes[0] as Axis)], o.slices, axes);
    const n = norm.data.length;
    const sum = new Float32Array(n);
    const stats: UNetEnhanceStats = {
      targetDims: [...norm.dims],
      targetVoxelSize: voxelSizes(norm.affine),
      inputScale: scale,
      axes,
      slices: 0,
      slicesRun: 0,
      tilesRun: 0,
      tilesPerSlice: 0,
      tileSize: [u.card.slice.height, u.card.slice.width],
      seconds: 0,
    };
    for (const axis of axes) {
      const r = await alongAxis(u, norm, axis, s, o.onProgress, o.slices);
      for (let i = 0; i < n; i++) sum[i] = (sum[i] as number) + (r.output[i] as number);
      stats.slices += norm.dims[axisDim(axis)];
      stats.slicesRun += r.slicesRun;
      stats.tilesRun += r.tilesRun;
      stats.tilesPerSlice = Math.max(stats.tilesPerSlice, r.tilesPerSlice);
      stats.tileSize = r.tileSize;
    }
    const outScale = scale * (u.card.hrToLrScale ?? 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.max(0, ((sum[i] as number) / axes.length) * outScale);
    const ras: Volume = { data, dims: norm.dims, affine: norm.affine };
    const output = o.like === undefined ? ras : reorient(ras, orientationCode(o.like.affine));
    stats.targetDims = [...output.dims];
    stats.targetVoxelSize = voxelSizes(output.affine);
    stats.seconds = (performance.now() - t0) / 1000;
    return { output, stats };
  } finally {
    if (typeof unet === "string") u.dispose();
  }
}
