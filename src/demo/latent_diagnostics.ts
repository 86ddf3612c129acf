// Where the diffusion moved the latent (SPEC section 6: "latent models also report rho and cos"), on the
// held-out slab:
//
//   z_LR   the condition latent: the 3T slice through the frozen VQ-VAE encoder, [y, 0, 0] (where every
//          chain starts from, and what the "autoencoder only" row decodes)
//   z_HR   the encoder latent of the HR reference, from the encoder input the diffusion model was trained
//          on, [x, g, b] with the pair's simulated g and b (as ceiling.ts and prepare make them), with the
//          model's b/g ablations
//   z_out  the sampler's final latent, before any codebook snap and the decoder
//
//   rho = |z_out - z_LR| / |z_HR - z_LR|           cos = <z_out - z_LR, z_HR - z_LR> / (|z_out - z_LR| |z_HR - z_LR|)
//
// with Frobenius norms over every latent value of every tile the model ran on the slab's slices (the
// slices with signal). rho 0 and cos undefined: the sampler did not move (the autoencoder alone);
// rho 1 and cos 1: it reached the 7T latent; cos <= 0: it moved away from it.
//
// The tiles, their condition and their seeds are enhance's (src/inference/enhance.ts: one fitted tile
// per slice, or the model's tiles, with the seed mixSeed(mixSeed(seed, axis dim), slice * 4096 + tile)),
// so z_out is the latent of the enhanced output itself; the pass checks that by comparing its decoded
// tiles with the enhanced volume (`decodedVsOutput`). Where a slice has several tiles, each tile counts
// on its own (overlaps are counted in every tile that covers them).
import * as T from "../torch/index.js";
import { hasSignal, MIN_SIGNAL_MM2, prepareInput, tileSize } from "../inference/enhance.js";
import type { EnhanceSettings, MoEDiffSRPipeline } from "../inference/pipeline.js";
import { mixSeed } from "../inference/moe_sampler.js";
import { encoderInput } from "../models/vqvae/encoder_input.js";
import { axisDim } from "../model_dir/card.js";
import { extractCondition, extractSlice, sliceGeometry, type Axis } from "../data/slicing.js";
import { logBiasChannel } from "../data/channels.js";
import { normaliseIntensity } from "../data/normalise.js";
import { biasFieldOnGrid } from "../simulate/bias_field.js";
import { gradwarpMaps } from "../simulate/gradwarp.js";
import type { SimulationResult } from "../simulate/simulate.js";
import { voxelSizes, type Grid } from "../volume/affine.js";
import type { Volume } from "../volume/volume.js";
import { tilePlan } from "../inference/tiling.js";
import { cropVolume, type Dim } from "./slab.js";

/** rho and cos of one set of latents, and the two norms they come from. */
export interface LatentGap {
  /** |z_out - z_LR| / |z_HR - z_LR|; NaN when z_HR = z_LR. */
  readonly rho: number;
  /** cos(z_out - z_LR, z_HR - z_LR); NaN when either difference is 0. */
  readonly cos: number;
  /** |z_out - z_LR| and |z_HR - z_LR| (Frobenius). */
  readonly moved: number;
  readonly gap: number;
}

/** Sums over tiles, in float64: |z_out - z_LR|^2, |z_HR - z_LR|^2 and their inner product. */
export class LatentGapSum {
  private moved2 = 0;
  private gap2 = 0;
  private dot = 0;
  /** Latent values added. */
  count = 0;

  /** Adds one block of latents (equal lengths, same layout). */
  add(zOut: ArrayLike<number>, zLr: ArrayLike<number>, zHr: ArrayLike<number>, offset = 0, length = zOut.length - offset): void {
    if (zLr.length !== zOut.length || zHr.length !== zOut.length) {
      throw new RangeError(`LatentGapSum.add: z_out, z_LR and z_HR must have the same length, got ${zOut.length}, ${zLr.length}, ${zHr.length}`);
    }
    if (!(Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= zOut.length)) {
      throw new RangeError(`LatentGapSum.add: values ${offset}..${offset + length} are outside the ${zOut.length} given`);
    }
    for (let i = offset; i < offset + length; i++) {
      const lr = zLr[i] as number;
      const a = (zOut[i] as number) - lr;
      const b = (zHr[i] as number) - lr;
      this.moved2 += a * a;
      this.gap2 += b * b;
      this.dot += a * b;
    }
    this.count += length;
  }

  result(): LatentGap {
    const moved = Math.sqrt(this.moved2);
    const gap = Math.sqrt(this.gap2);
    return { rho: gap > 0 ? moved / gap : Number.NaN, cos: moved > 0 && gap > 0 ? this.dot / (moved * gap) : Number.NaN, moved, gap };
  }
}

/** rho and cos of whole arrays (LatentGapSum over one block). */
export function latentGap(zOut: ArrayLike<number>, zLr: ArrayLike<number>, zHr: ArrayLike<number>): LatentGap {
  const s = new LatentGapSum();
  s.add(zOut, zLr, zHr);
  return s.result();
}

/** What the demo records (DemoReport.latent). */
export interface LatentDiagnostics extends LatentGap {
  /** Slice indices of the pass's grid (along the model's slice axis) whose tiles were used. */
  readonly slices: readonly number[];
  readonly tiles: number;
  /** One tile's latent [C, h, w]. */
  readonly latentShape: readonly [number, number, number];
  /** Latent values in the norms. */
  readonly values: number;
  /**
   * Largest |decoded z_out - enhanced output| over the pass's tiles, in normalised intensities (the
   * output divided by its scale); null where slices have several tiles (blended). ~0: z_out is the
   * enhanced output's latent.
   */
  readonly decodedVsOutput: number | null;
  readonly seconds: number;
}

/** The HR target as training saw it, on `grid` (a box of the HR grid): x normalised, g and b. */
export interface HrTarget {
  readonly x: Volume;
  readonly g: Volume;
  readonly b: Volume;
}

/**
 * The HR reference with the channels prepare stored for a simulated pair (src/data/pair_volumes.ts):
 * x = the whole HR volume normalised (its own percentile, clipped to [0, 1]), b = the log bias field
 * centred on the whole brain, g = |u| of the warp; each cut to voxels first..last along `dim`.
 */
export function hrTarget(hr: Volume, sim: Pick<SimulationResult, "biasField" | "gradwarpField">, dim: Dim, first: number, last: number, percentile: number): HrTarget {
  const hrGrid: Grid = { dims: [hr.dims[0], hr.dims[1], hr.dims[2]], affine: Array.from(hr.affine) };
  const norm = normaliseIntensity(hr, "HR reference", percentile).volume;
  const b = { ...hr, data: logBiasChannel(biasFieldOnGrid(sim.biasField, hrGrid), norm, "simulated bias field") };
  const x = cropVolume(norm, dim, first, last);
  const g = gradwarpMaps(sim.gradwarpField, { dims: x.dims, affine: Array.from(x.affine) }).magnitude;
  return { x, g, b: cropVolume(b, dim, first, last) };
}

export interface LatentPassOptions {
  /** The LR acquisition (RAS) and the grid enhance put it on (the HR grid or a box of it). */
  readonly lr: Volume;
  readonly grid: Grid;
  /** enhance's inputScale (the whole acquisition's divisor), or undefined for the input's own. */
  readonly inputScale?: number;
  /** The HR target on `grid` (hrTarget). */
  readonly target: HrTarget;
  /** Slice indices of `grid` along the model's slice axis to use (inclusive). */
  readonly first: number;
  readonly last: number;
  /** The settings enhance ran with (steps >= 1). */
  readonly settings: EnhanceSettings;
  /** enhance's output on `grid` (in units), to check z_out against; optional. */
  readonly output?: Volume;
  /** After every batch: tiles done, tiles in all. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Runs the model on the tiles enhance ran on slices first..last and measures rho and cos. */
export function latentDiagnostics(pipe: MoEDiffSRPipeline, o: LatentPassOptions): LatentDiagnostics {
  const t0 = performance.now();
  const s = o.settings;
  if (s.steps === 0) throw new RangeError("latentDiagnostics: steps 0 samples nothing (rho is 0 by definition); give the settings of a diffusion run");
  const card = pipe.card;
  const axis: Axis = card.slice.axis;
  const dim = axisDim(axis) as Dim;
  const { norm, scale } = prepareInput(o.lr, { like: o.grid, ...(o.inputScale !== undefined ? { inputScale: o.inputScale } : {}) }, card);
  for (const [name, v] of Object.entries(o.target)) {
    if (v.dims.join() !== norm.dims.join()) throw new RangeError(`latentDiagnostics: the target's ${name} is [${v.dims.join(", ")}], the enhanced grid [${norm.dims.join(", ")}]`);
  }
  if (!(Number.isInteger(o.first) && Number.isInteger(o.last) && o.first >= 0 && o.last >= o.first && o.last < norm.dims[dim])) {
    throw new RangeError(`latentDiagnostics: slices ${o.first}..${o.last} are not inside 0..${norm.dims[dim] - 1} along ${axis}`);
  }
  // enhance's tiles (enhance.ts enhanceAlongAxis): the same geometry, signal test and seeds.
  const [th, tw] = tileSize(pipe, norm.dims, axis, s.fitTiles);
  const geom = sliceGeometry(norm.dims, axis, th, tw);
  const tiles = tilePlan(geom.nativeHeight, geom.nativeWidth, th, tw, s.overlap);
  const voxel = voxelSizes(norm.affine);
  const minSignal = Math.max(1, Math.ceil(MIN_SIGNAL_MM2 / ((voxel[geom.rowDim] as number) * (voxel[geom.colDim] as number))));
  const hw = th * tw;
  const items: { slice: number; tileIndex: number; tile: (typeof tiles)[number] }[] = [];
  const cond1 = new Float32Array(3 * hw);
  for (let k = o.first; k <= o.last; k++) {
    tiles.forEach((tile, tileIndex) => {
      extractCondition(norm, { ...geom, ...tile }, k, cond1, 0);
      if (hasSignal(cond1, hw, hw, minSignal)) items.push({ slice: k, tileIndex, tile });
    });
  }
  const outScale = scale * (card.hrToLrScale ?? 1);
  const checkOutput = o.output !== undefined && tiles.length === 1;
  const outTile = new Float32Array(hw);
  let worst = 0;
  const sum = new LatentGapSum();
  let shape: [number, number, number] = [0, 0, 0];
  const { vqvae } = pipe.loaded;
  const inputs = pipe.config.inputs;
  for (let start = 0; start < items.length; start += s.batch) {
    const batch = items.slice(start, start + s.batch);
    const b = batch.length;
    const cond = new Float32Array(b * 3 * hw);
    const x = new Float32Array(b * hw);
    const g = new Float32Array(b * hw);
    const bias = new Float32Array(b * hw);
    batch.forEach((it, i) => {
      const tg = { ...geom, ...it.tile };
      extractCondition(norm, tg, it.slice, cond, i * 3 * hw);
      extractSlice(o.target.x, tg, it.slice, x, i * hw);
      extractSlice(o.target.g, tg, it.slice, g, i * hw);
      extractSlice(o.target.b, tg, it.slice, bias, i * hw);
    });
    const seeds = batch.map((it) => mixSeed(mixSeed(s.seed, dim), it.slice * 4096 + it.tileIndex));
    const y = T.tensor(cond, [b, 3, th, tw], { dtype: "float32", device: pipe.device });
    let r;
    try {
      r = pipe.sampleTiles(y, seeds, { ...s, explain: false, returnLatent: true });
    } finally {
      y.dispose();
    }
    const l = r.latents;
    if (l === undefined) throw new Error("latentDiagnostics: internal error: the pipeline returned no latent");
    const zHr = T.tidy(() =>
      T.inferenceMode(() => {
        const t = (a: Float32Array): T.Tensor => T.tensor(a, [b, 1, th, tw], { dtype: "float32", device: pipe.device });
        return vqvae.encodeLatent(encoderInput(t(x), t(g), t(bias), inputs)).to("float32").contiguous().data() as Float32Array;
      }),
    );
    if (zHr.length !== l.final.length) throw new Error(`latentDiagnostics: internal error: z_HR has ${zHr.length} values, z_out ${l.final.length}`);
    sum.add(l.final, l.condition, zHr);
    shape = [l.shape[1], l.shape[2], l.shape[3]];
    o.onProgress?.(start + b, items.length);
    if (checkOutput) {
      batch.forEach((it, i) => {
        extractSlice(o.output as Volume, { ...geom, ...it.tile }, it.slice, outTile, 0);
        // Only the part of the tile that lies on the slice (the rest is padding).
        for (let rr = 0; rr < th; rr++) {
          const nr = rr + it.tile.rowOffset; // a tile's offsets replace the geometry's
          if (nr < 0 || nr >= geom.nativeHeight) continue;
          for (let c = 0; c < tw; c++) {
            const nc = c + it.tile.colOffset;
            if (nc < 0 || nc >= geom.nativeWidth) continue;
            const q = rr * tw + c;
            worst = Math.max(worst, Math.abs(Math.max(0, r.images[i * hw + q] as number) - (outTile[q] as number) / outScale));
          }
        }
      });
    }
  }
  return {
    ...sum.result(),
    slices: [...new Set(items.map((it) => it.slice))],
    tiles: items.length,
    latentShape: shape,
    values: sum.count,
    decodedVsOutput: checkOutput && items.length > 0 ? worst : null,
    seconds: (performance.now() - t0) / 1000,
  };
}
