// LPIPS of a 3-D volume against a reference, slice by slice: LPIPS is a 2-D network, so every
// slice across `axis` is compared as an image, and the volume's score is the mean over slices.
//
// Design decisions (LPIPS was made for RGB photographs; these adapt it to one MR channel):
// - A slice becomes an image [3, h, w] by replicating it into the three channels, with
//   intensities mapped to [-1, 1] by the data range used for PSNR: 2 (x - low) / range - 1, where
//   low is the reference minimum and range is max - min of the reference (or the given range).
//   Values are not clipped: a prediction outside the reference's range lands outside [-1, 1].
// - Slices whose reference is constant (no reference signal, e.g. empty background) are skipped:
//   a featureless reference slice says nothing perceptual and would weigh the mean towards zero.
// - The slice plane is as in volume_metrics.ts's extractSlice: axis 2 gives i by j images
//   (i along the width), axis 1 i by k, axis 0 j by k.
// - Slices go through the network in batches (default 8), each batch inside T.tidy, so memory
//   stays flat whatever the number of slices.
import * as T from "../torch/index.js";
import { extractSlice, type Axis, type Dims3 } from "./volume_metrics.js";
import type { Lpips } from "./lpips.js";

export interface LpipsSliceScore {
  index: number;
  lpips: number;
}

export interface LpipsVolumeResult {
  axis: Axis;
  /** Mean LPIPS over the slices used (NaN when every slice was skipped). */
  mean: number;
  /** Slices compared, in order. */
  slices: LpipsSliceScore[];
  /** Indices of the slices skipped because their reference is constant. */
  skipped: number[];
}

export interface LpipsVolumeOptions {
  /** Slice axis (default 2). */
  axis?: Axis;
  /** The intensity mapped to -1 (the reference minimum). */
  low: number;
  /** The data range mapped to a width of 2 (as used for PSNR). */
  range: number;
  /** Slices per forward pass (default 8). */
  batch?: number;
}

/** LPIPS of every slice of `pred` against `ref` (dims [nx, ny, nz], i fastest) across `axis`. */
export function lpipsVolume(model: Lpips, pred: ArrayLike<number>, ref: ArrayLike<number>, dims: Dims3, o: LpipsVolumeOptions): LpipsVolumeResult {
  const axis: Axis = o.axis ?? 2;
  const batch = o.batch ?? 8;
  if (axis !== 0 && axis !== 1 && axis !== 2) throw new RangeError(`lpipsVolume: axis must be 0, 1 or 2, got ${String(axis)}`);
  for (const d of dims) if (!Number.isInteger(d) || d < 1) throw new RangeError(`lpipsVolume: dims must be positive integers, got [${dims.join(", ")}]`);
  const n = dims[0] * dims[1] * dims[2];
  if (pred.length !== n || ref.length !== n) throw new RangeError(`lpipsVolume: pred has ${pred.length} values and ref ${ref.length}; dims [${dims.join(", ")}] need ${n} each`);
  if (!(o.range > 0) || !Number.isFinite(o.range)) throw new RangeError(`lpipsVolume: range must be a positive finite number, got ${o.range}`);
  if (!Number.isFinite(o.low)) throw new RangeError(`lpipsVolume: low must be a finite number, got ${o.low}`);
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`lpipsVolume: batch must be a positive integer, got ${batch}`);
  const [w, h] = axis === 2 ? [dims[0], dims[1]] : axis === 1 ? [dims[0], dims[2]] : [dims[1], dims[2]];
  const min = model.net.minInputSize;
  if (w < min || h < min) {
    throw new RangeError(`lpipsVolume: slices across axis ${axis} are ${w}x${h} voxels, but the ${model.netName} LPIPS network needs at least ${min}x${min}; choose another axis`);
  }
  const scaled = (v: number): number => (2 * (v - o.low)) / o.range - 1;
  const slices: LpipsSliceScore[] = [];
  const skipped: number[] = [];
  const pending: { index: number; pred: Float64Array; ref: Float64Array }[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    const m = pending.length;
    // Float64 here; the tensor is rounded to the model's dtype once.
    const a = new Float64Array(m * w * h);
    const b = new Float64Array(m * w * h);
    pending.forEach((s, j) => {
      for (let t = 0; t < w * h; t++) {
        a[j * w * h + t] = scaled(s.pred[t] as number);
        b[j * w * h + t] = scaled(s.ref[t] as number);
      }
    });
    const opts = { dtype: model.shift.dtype, device: model.shift.device };
    const values = T.tidy(() =>
      T.inferenceMode(() => {
        const x0 = T.tensor(a, [m, 1, h, w], opts).expand(m, 3, h, w);
        const x1 = T.tensor(b, [m, 1, h, w], opts).expand(m, 3, h, w);
        return model.forward(x0, x1).double().toArray();
      }),
    );
    pending.forEach((s, j) => slices.push({ index: s.index, lpips: values[j] as number }));
    pending.length = 0;
  };
  for (let s = 0; s < dims[axis]; s++) {
    const r = extractSlice(ref, dims, axis, s).data;
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of r) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!(hi > lo)) {
      skipped.push(s);
      continue;
    }
    pending.push({ index: s, pred: extractSlice(pred, dims, axis, s).data, ref: r });
    if (pending.length === batch) flush();
  }
  flush();
  const mean = slices.length === 0 ? NaN : slices.reduce((acc, s) => acc + s.lpips, 0) / slices.length;
  return { axis, mean, slices, skipped };
}
