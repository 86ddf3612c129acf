// The VQ-VAE reconstruction ceiling (SPEC section 4: "its held-out reconstruction PSNR is the ceiling
// of the whole system") as a VOLUME on the held-out slab, so it is scored like every other row of the
// comparison table: by the demo's own scoring (evaluate.ts scoreScope) against the same reference file.
//
//  1. The held-out pair and slab are those heldoutFromManifest names (heldout.ts): the first simulated
//     pair of the subject that has a test slab.
//  2. Each of that pair's test-split slices inside the slab is encoded from the encoder input the
//     diffusion model was trained on, [x, g, b] (src/models/vqvae/encoder_input.ts, with the model's b/g
//     ablations), to the diffusion latent z0 = scaleFactor * zq and decoded back — exactly what a
//     perfect sampler would hand the decoder. `snapToCodebook` is passed to decodeLatent as sampling
//     does; since z0 is already quantised, snapping it is a no-op up to rounding (both are reported).
//  3. The slices are put back on the HR grid: prepare's centre crop/pad is undone (slicing.ts: output
//     row r holds native row r + rowOffset); native voxels the crop dropped, and slab slices missing
//     from the test split (too little brain, so prepare skipped them), are 0 and counted.
//  4. Intensities return to the source's units: max(0, v * scale.hr), the HR normalisation divisor
//     of the pair (normalise.ts), clamped at 0 as enhance clamps its output. Normalisation clipped the
//     HR slices at 1, so even a perfect autoencoder cannot exceed the divisor: voxels brighter than it
//     (the top 0.5% of the foreground) stay part of the ceiling's error, as they are of every model's.
// The model's own rows are scaled by the LR acquisition's divisor times the card's hrToLrScale
// (enhance); the ceiling uses the pair's HR divisor, the best an autoencoder of normalised HR slices
// can be given.
import { join } from "node:path";
import * as T from "../torch/index.js";
import type { SliceDataset } from "../data/dataset.js";
import type { DatasetManifest, PairRecord } from "../data/manifest.js";
import { sliceGeometry, type SliceGeometry } from "../data/slicing.js";
import type { VQVAE } from "../models/vqvae/index.js";
import { encoderInput, type EncoderInputOptions } from "../models/vqvae/encoder_input.js";
import { writeNifti } from "../nifti/index.js";
import { axisDim } from "../model_dir/card.js";
import type { Volume } from "../volume/volume.js";
import { METHODS, scoreScope, type MethodKey, type MethodScores, type ScopeLpips, type ScopeScores } from "./score.js";
import { heldoutFromManifest, type HeldoutSlab } from "../model_dir/heldout.js";
import { cropGrid, type Dim } from "./slab.js";

/** Encoder input [B, 3, H, W] and the slices' 3T condition [B, 3, H, W] -> the normalised HR estimate [B, 1, H, W]. */
export type Reconstruct = (x: T.Tensor, lr: T.Tensor) => T.Tensor;

/** decode(encode(x)) through the diffusion latent, as sampling decodes (see the header). */
export function vqvaeReconstruction(vqvae: VQVAE, snapToCodebook: boolean): Reconstruct {
  return (x, lr) =>
    T.tidy(() => {
      const z0 = vqvae.encodeLatent(x);
      return vqvae.decodeLatent(z0, { quantize: snapToCodebook, lr }).narrow(1, 0, 1);
    });
}

export interface HeldoutPair {
  readonly pair: PairRecord;
  readonly slab: HeldoutSlab;
}

/** The pair and slab heldout.json describes for this data set. */
export function heldoutPair(manifest: DatasetManifest): HeldoutPair {
  const h = heldoutFromManifest(manifest);
  const pair = manifest.pairs.find((p) => p.subject === h.source.subject && p.kind === "simulated" && p.acquisition !== undefined);
  if (pair === undefined) throw new RangeError(`heldoutPair: no simulated pair of subject ${h.source.subject} (internal error: heldoutFromManifest found one)`);
  return { pair, slab: h.slab };
}

/**
 * Writes one H x W slice image (as prepare cut it, `g` = the geometry of the target volume) into slice
 * k of `data` (laid out on the volume's dims, i fastest), as max(0, value * scale). Native voxels
 * the crop dropped are set to 0. Returns how many native voxels had no value.
 */
export function putBackSlice(data: Float32Array, dims: readonly [number, number, number], g: SliceGeometry, k: number, image: Float32Array, scale: number): number {
  if (!Number.isInteger(k) || k < 0 || k >= g.count) throw new RangeError(`putBackSlice: slice ${k} is outside 0..${g.count - 1}`);
  if (image.length !== g.height * g.width) throw new RangeError(`putBackSlice: the image has ${image.length} values, not ${g.height}x${g.width}`);
  if (data.length !== dims[0] * dims[1] * dims[2]) throw new RangeError(`putBackSlice: ${data.length} values do not fill dims [${dims.join(", ")}]`);
  if (dims[g.sliceDim] !== g.count || dims[g.rowDim] !== g.nativeHeight || dims[g.colDim] !== g.nativeWidth) {
    throw new RangeError(`putBackSlice: dims [${dims.join(", ")}] do not match the slice geometry`);
  }
  const st = [1, dims[0], dims[0] * dims[1]];
  const base = k * (st[g.sliceDim] as number);
  const rs = st[g.rowDim] as number;
  const cs = st[g.colDim] as number;
  let lost = 0;
  for (let nr = 0; nr < g.nativeHeight; nr++) {
    const r = nr - g.rowOffset;
    for (let nc = 0; nc < g.nativeWidth; nc++) {
      const c = nc - g.colOffset;
      const q = base + nr * rs + nc * cs;
      if (r < 0 || r >= g.height || c < 0 || c >= g.width) {
        data[q] = 0;
        lost++;
      } else {
        data[q] = Math.max(0, (image[r * g.width + c] as number) * scale);
      }
    }
  }
  return lost;
}

export interface CeilingOptions {
  readonly inputs: EncoderInputOptions;
  /** Slices per forward pass (default 4). */
  readonly batch?: number;
  readonly device?: T.Device;
}

export interface CeilingSlab {
  /** On the slab of the HR (RAS) grid, in the source's intensity units. */
  readonly volume: Volume;
  readonly slab: HeldoutSlab;
  /** The pair (manifest id) whose test slices were used, and its HR divisor. */
  readonly pair: number;
  readonly scale: number;
  /** Slab slices reconstructed, and those the test split lacks (left 0), as HR indices. */
  readonly slices: number;
  readonly missing: readonly number[];
  /** Native voxels per slice the in-plane crop dropped (left 0). */
  readonly croppedVoxelsPerSlice: number;
}

/** Reconstructs the held-out slab of `ds` with `reconstruct` (see the header). */
export function ceilingSlab(ds: SliceDataset, reconstruct: Reconstruct, o: CeilingOptions): CeilingSlab {
  const batch = o.batch ?? 4;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`ceilingSlab: batch must be a positive integer, got ${batch}`);
  const device = o.device ?? T.getDefaultDevice();
  const { pair, slab } = heldoutPair(ds.manifest);
  const dim = axisDim(slab.axis) as Dim;
  const grid = cropGrid({ dims: pair.grid.dims, affine: pair.grid.affine }, dim, slab.first, slab.last);
  const dims = grid.dims as [number, number, number];
  const geo = sliceGeometry(dims, slab.axis, ds.height, ds.width);
  if (geo.rowOffset !== pair.crop.rowOffset || geo.colOffset !== pair.crop.colOffset) {
    throw new RangeError(
      `ceilingSlab: the data set's manifest records the crop offsets (${pair.crop.rowOffset}, ${pair.crop.colOffset}) for pair ${pair.id}, but its grid and slice size give (${geo.rowOffset}, ${geo.colOffset}); the manifest is inconsistent: re-run moediff-sr prepare`,
    );
  }
  // The pair's test slices inside the slab, by HR index.
  const wanted = new Map<number, number>();
  for (let i = 0; i < ds.size("test"); i++) {
    const m = ds.getSlice("test", i).meta;
    if (m.pair === pair.id && m.index >= slab.first && m.index <= slab.last) wanted.set(m.index, i);
  }
  const indices = [...wanted.keys()].sort((a, b) => a - b);
  if (indices.length === 0) {
    throw new RangeError(`ceilingSlab: the test split of ${ds.dir} holds no slice of pair ${pair.id} in the held-out slab ${slab.axis} ${slab.first}..${slab.last}; the data set does not match its manifest: re-run moediff-sr prepare`);
  }
  const missing: number[] = [];
  for (let k = slab.first; k <= slab.last; k++) if (!wanted.has(k)) missing.push(k);
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  const kept = (native: number, size: number, offset: number): number => Math.max(0, Math.min(native, size + offset) - Math.max(0, offset));
  const cropped = geo.nativeHeight * geo.nativeWidth - kept(geo.nativeHeight, geo.height, geo.rowOffset) * kept(geo.nativeWidth, geo.width, geo.colOffset);
  const hw = ds.height * ds.width;
  for (let s = 0; s < indices.length; s += batch) {
    const part = indices.slice(s, s + batch);
    const out = T.tidy(() =>
      T.inferenceMode(() => {
        const b = ds.getBatch("test", part.map((k) => wanted.get(k) as number), { device });
        const x = encoderInput(b.hr, b.g, b.bias, o.inputs);
        const r = reconstruct(x, b.cond);
        if (r.ndim !== 4 || r.size(0) !== part.length || r.size(1) !== 1 || r.size(2) !== ds.height || r.size(3) !== ds.width) {
          throw new RangeError(`ceilingSlab: the reconstruction must be [${part.length}, 1, ${ds.height}, ${ds.width}], got [${r.shape.join(", ")}]`);
        }
        return r.to("float32").contiguous().data() as Float32Array;
      }),
    );
    part.forEach((k, j) => {
      putBackSlice(data, dims, geo, k - slab.first, out.subarray(j * hw, (j + 1) * hw), pair.scale.hr);
    });
  }
  return {
    volume: { data, dims, affine: grid.affine },
    slab,
    pair: pair.id,
    scale: pair.scale.hr,
    slices: indices.length,
    missing,
    croppedVoxelsPerSlice: cropped,
  };
}

export interface ScoreCeilingOptions {
  readonly volume: Volume;
  /** Where to write the volume (a .nii.gz path). */
  readonly file: string;
  /** The slab reference the demo wrote (OUT/reference.nii.gz), and its region masks (or null). */
  readonly reference: string;
  readonly regionsDir: string | null;
  /** The demo's other files; the ceiling file stands in for any not given (only its own row is used). */
  readonly baselines?: Readonly<Partial<Record<Exclude<MethodKey, "enhanced">, string>>>;
  readonly axis: Dim;
  /** LPIPS weights: the LPIPS columns too. */
  readonly lpips?: ScopeLpips;
}

/** Writes the ceiling volume and scores it with the demo's scoring; returns its row and the whole scope. */
export function scoreCeiling(o: ScoreCeilingOptions): { scores: MethodScores; scope: ScopeScores } {
  writeNifti(o.file, o.volume, { description: "moediff-sr VQ-VAE reconstruction ceiling" });
  const files = Object.fromEntries(METHODS.map((m) => [m.key, m.key === "enhanced" ? o.file : (o.baselines?.[m.key] ?? o.file)])) as Record<MethodKey, string>;
  const scope = scoreScope("slab", o.reference, files, o.regionsDir, o.axis, { lpips: o.lpips });
  const scores = scope.methods.find((m) => m.method === "enhanced");
  if (scores === undefined) throw new Error("scoreCeiling: internal error: scoreScope returned no row for the ceiling");
  return { scores, scope };
}

/** The default file name of a ceiling volume in DIR. */
export const ceilingFile = (dir: string, snap: boolean): string => join(dir, snap ? "ceiling_snapped.nii.gz" : "ceiling.nii.gz");
