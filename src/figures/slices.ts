// Slices for display: which voxel axes go across and up the screen, extraction of one slice as a
// row-major image (row 0 at the top), percentiles, the brain mask and the default slice choice.
//
// Display convention (decided here; the spec only asks for LR | SR | HR panels): neurological, i.e.
// the patient's left on the image's left, read from the affine's dominant world axis of each voxel
// axis (RAS+ world, as NIfTI's). Axial slices: right of the screen = patient right, anterior up.
// Coronal: patient right to the right, superior up. Sagittal: anterior on the left, superior up. When
// the affine is too oblique to tell two axes apart, voxel order is shown unflipped and the caption says so.
// --axis and --slices are voxel axes and voxel indices (0-based) of the volume, as in `evaluate`.
import type { Volume } from "../volume/volume.js";

export type Axis = 0 | 1 | 2;
export type Plane = "axial" | "coronal" | "sagittal";

/** How voxel axes map onto the screen for slices across `axis`. */
export interface DisplayOrientation {
  readonly axis: Axis;
  readonly plane: Plane | "oblique";
  /** Voxel axis along the screen's x (left to right) and whether its index runs right to left. */
  readonly across: { readonly voxelAxis: Axis; readonly reversed: boolean };
  /** Voxel axis along the screen's y (top to bottom) and whether its index runs bottom to top. */
  readonly down: { readonly voxelAxis: Axis; readonly reversed: boolean };
  /** For captions, e.g. "neurological: patient left on image left, anterior up". */
  readonly description: string;
}

/** A slice ready to display: width x height values, row-major, row 0 at the top of the screen. */
export interface DisplaySlice {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

/** Dominant world axis (0 R, 1 A, 2 S) and its sign for each voxel axis (columns of the affine). */
function dominantAxes(affine: readonly number[]): { world: number; sign: number }[] {
  const out: { world: number; sign: number }[] = [];
  for (let c = 0; c < 3; c++) {
    const col = [affine[c]!, affine[4 + c]!, affine[8 + c]!];
    let w = 0;
    for (let r = 1; r < 3; r++) if (Math.abs(col[r]!) > Math.abs(col[w]!)) w = r;
    out.push({ world: w, sign: col[w]! < 0 ? -1 : 1 });
  }
  return out;
}

const PLANES: Record<number, { plane: Plane; right: [number, number]; up: [number, number]; text: string }> = {
  // slice normal's world axis -> [world axis, sign] to the screen's right and up
  2: { plane: "axial", right: [0, 1], up: [1, 1], text: "neurological: patient left on image left, anterior up" },
  1: { plane: "coronal", right: [0, 1], up: [2, 1], text: "neurological: patient left on image left, superior up" },
  0: { plane: "sagittal", right: [1, -1], up: [2, 1], text: "anterior on the left, superior up" },
};

export function displayOrientation(affine: readonly number[], axis: Axis): DisplayOrientation {
  const others = ([0, 1, 2] as Axis[]).filter((a) => a !== axis) as [Axis, Axis];
  const dom = dominantAxes(affine);
  const worlds = new Set(dom.map((d) => d.world));
  const spec = PLANES[dom[axis]!.world]!;
  if (worlds.size === 3) {
    const across = others.find((a) => dom[a]!.world === spec.right[0])!;
    const down = others.find((a) => a !== across)!;
    return {
      axis,
      plane: spec.plane,
      across: { voxelAxis: across, reversed: dom[across]!.sign !== spec.right[1] },
      // Row 0 is the top: an index growing toward "up" must be reversed.
      down: { voxelAxis: down, reversed: dom[down]!.sign === spec.up[1] },
      description: spec.text,
    };
  }
  return {
    axis,
    plane: "oblique",
    across: { voxelAxis: others[0], reversed: false },
    down: { voxelAxis: others[1], reversed: false },
    description: "orientation not readable from the affine: voxel order, unflipped",
  };
}

/** Slice `index` across `o.axis` of `v` in display order. */
export function extractSlice(v: Volume, o: DisplayOrientation, index: number): DisplaySlice {
  const n = v.dims[o.axis];
  if (!Number.isInteger(index) || index < 0 || index >= n) throw new RangeError(`slice ${index} is out of range for axis ${o.axis} (0..${n - 1})`);
  const strides = [1, v.dims[0], v.dims[0] * v.dims[1]];
  const width = v.dims[o.across.voxelAxis];
  const height = v.dims[o.down.voxelAxis];
  const sa = strides[o.across.voxelAxis]!;
  const sd = strides[o.down.voxelAxis]!;
  const base = index * strides[o.axis]!;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const vy = o.down.reversed ? height - 1 - y : y;
    for (let x = 0; x < width; x++) {
      const vx = o.across.reversed ? width - 1 - x : x;
      data[y * width + x] = v.data[base + vy * sd + vx * sa]!;
    }
  }
  return { width, height, data };
}

/** The p-th percentile (0..100) with linear interpolation between order statistics (numpy's default). NaN when empty. */
export function percentile(values: ArrayLike<number>, p: number): number {
  return percentiles(values, [p])[0]!;
}

export function percentiles(values: ArrayLike<number>, ps: readonly number[]): number[] {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  return ps.map((p) => {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be in [0, 100], got ${p}`);
    if (n === 0) return NaN;
    const pos = (p / 100) * (n - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(n - 1, lo + 1);
    return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
  });
}

/** Fraction of the reference maximum above which a voxel counts as brain. */
export const BRAIN_FRACTION = 0.05;

/** The brain threshold of a reference volume: 5% of its maximum. */
export function brainThreshold(ref: Volume): number {
  let max = -Infinity;
  for (let i = 0; i < ref.data.length; i++) if (ref.data[i]! > max) max = ref.data[i]!;
  return BRAIN_FRACTION * max;
}

/** 1 where slice > threshold (and the threshold is positive), else 0. */
export function maskOf(slice: DisplaySlice, threshold: number): Uint8Array {
  const m = new Uint8Array(slice.data.length);
  if (threshold > 0) for (let i = 0; i < m.length; i++) m[i] = slice.data[i]! > threshold ? 1 : 0;
  return m;
}

/** First and last index along `axis` holding a voxel above `threshold`; null when none does. */
export function brainExtent(ref: Volume, axis: Axis, threshold: number): [number, number] | null {
  if (!(threshold > 0)) return null;
  const [nx, ny] = ref.dims;
  let lo = Infinity;
  let hi = -Infinity;
  for (let idx = 0; idx < ref.data.length; idx++) {
    if (!(ref.data[idx]! > threshold)) continue;
    const i = idx % nx;
    const j = Math.floor(idx / nx) % ny;
    const k = Math.floor(idx / (nx * ny));
    const s = axis === 0 ? i : axis === 1 ? j : k;
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** Default slices: 30%, 50% and 70% of the brain extent along `axis` (of the whole axis without a brain), deduplicated. */
export function defaultSlices(ref: Volume | null, axis: Axis, n: number): number[] {
  const extent = ref === null ? null : brainExtent(ref, axis, brainThreshold(ref));
  const [lo, hi] = extent ?? [0, n - 1];
  return [...new Set([0.3, 0.5, 0.7].map((f) => Math.round(lo + f * (hi - lo))))];
}

/** Parses "--slices 3,10,12" (integers, at least one). */
export function parseSliceList(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p)) throw new Error(`--slices expects comma-separated slice indices such as 40,60,80, got '${text}'`);
    out.push(Number(p));
  }
  return out;
}

/** Throws unless every slice lies in 0..n-1. */
export function checkSlices(slices: readonly number[], axis: Axis, n: number): void {
  if (slices.length === 0) throw new RangeError("--slices: give at least one slice index");
  for (const s of slices) {
    if (!Number.isInteger(s) || s < 0 || s >= n) throw new RangeError(`--slices: slice ${s} is out of range for axis ${axis}, which has ${n} slices (0..${n - 1})`);
  }
}

/** Intensity-weighted centre of the masked pixels, [x, y]; the slice centre when the mask is empty. */
export function centreOfMass(slice: DisplaySlice, mask: Uint8Array): [number, number] {
  let sw = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < slice.height; y++) {
    for (let x = 0; x < slice.width; x++) {
      const i = y * slice.width + x;
      if (mask[i] !== 1) continue;
      const w = Math.max(0, slice.data[i]!);
      sw += w;
      sx += w * x;
      sy += w * y;
    }
  }
  return sw > 0 ? [sx / sw, sy / sw] : [(slice.width - 1) / 2, (slice.height - 1) / 2];
}

/** Smallest integer factor that makes the shorter side at least `minSide` px. */
export function upscaleFactor(width: number, height: number, minSide = 256): number {
  return Math.max(1, Math.ceil(minSide / Math.min(width, height)));
}
