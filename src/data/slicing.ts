// Cutting a volume into 2-D slices for the data set.
//
// Slice axis: "x", "y" or "z" names a VOXEL axis (0, 1, 2) of the volume. prepare reorients every
// volume to RAS first (exactly, by permuting/flipping voxel axes), so there x = sagittal (R-L),
// y = coronal (A-P), z = axial (S-I) slices.
//
// In-plane orientation: the two remaining voxel axes, the lower-numbered one along the columns
// (fastest, width) and the higher-numbered one along the rows (height):
//   axis z: image[r][c] = v(i = c, j = r, k)      axis y: image[r][c] = v(i = c, j, k = r)
//   axis x: image[r][c] = v(i, j = c, k = r)
// Slices are row-major Float32Arrays of H*W values (index r * W + c), no flips, so stacking them back
// along the axis restores the voxel order. (For RAS volumes row 0 is posterior/inferior: flip rows
// to display with anterior/superior up.)
//
// Centre crop/pad to H x W: output row r reads native row r + floor((n - H) / 2) (columns likewise),
// and reads outside the native slice give 0. So a crop drops floor((n-H)/2) rows at the start and the
// rest at the end; a pad of H - n rows puts ceil((H-n)/2) rows before and floor((H-n)/2) after.
//
// The condition of slice k has 3 channels: slices k-1, k, k+1, with the edge slice repeated at the
// ends (slice 0's "k-1" channel is slice 0).
import type { Volume } from "../volume/volume.js";

export type Axis = "x" | "y" | "z";
export const AXES: readonly Axis[] = ["x", "y", "z"];

export function parseAxis(a: string): Axis {
  if (a === "x" || a === "y" || a === "z") return a;
  throw new RangeError(`slice axis must be "x", "y" or "z", got ${JSON.stringify(a)}`);
}

/** How slices along `axis` of a volume map onto H x W images. */
export interface SliceGeometry {
  readonly axis: Axis;
  /** Voxel axis index of the slice axis, and of the in-plane row and column axes. */
  readonly sliceDim: 0 | 1 | 2;
  readonly rowDim: 0 | 1 | 2;
  readonly colDim: 0 | 1 | 2;
  /** Number of slices along the axis. */
  readonly count: number;
  /** Native slice size (rows x columns) before crop/pad. */
  readonly nativeHeight: number;
  readonly nativeWidth: number;
  /** Output size. */
  readonly height: number;
  readonly width: number;
  /** Output row r reads native row r + rowOffset (negative: padding); columns likewise. */
  readonly rowOffset: number;
  readonly colOffset: number;
}

export function sliceGeometry(dims: readonly [number, number, number], axis: Axis, height: number, width: number): SliceGeometry {
  for (const [name, s] of [["height", height], ["width", width]] as const) {
    if (!Number.isInteger(s) || s < 1) throw new RangeError(`slice ${name} must be a positive integer, got ${s}`);
  }
  const sliceDim = axis === "x" ? 0 : axis === "y" ? 1 : 2;
  const [colDim, rowDim] = sliceDim === 0 ? ([1, 2] as const) : sliceDim === 1 ? ([0, 2] as const) : ([0, 1] as const);
  const nativeHeight = dims[rowDim];
  const nativeWidth = dims[colDim];
  return {
    axis,
    sliceDim,
    rowDim,
    colDim,
    count: dims[sliceDim],
    nativeHeight,
    nativeWidth,
    height,
    width,
    rowOffset: Math.floor((nativeHeight - height) / 2),
    colOffset: Math.floor((nativeWidth - width) / 2),
  };
}

function strides(dims: readonly [number, number, number]): [number, number, number] {
  return [1, dims[0], dims[0] * dims[1]];
}

/**
 * Writes slice k of `v` (cropped/padded to the geometry's H x W) into out[offset .. offset + H*W).
 * Returns out.
 */
export function extractSlice(v: Volume, g: SliceGeometry, k: number, out = new Float32Array(g.height * g.width), offset = 0): Float32Array {
  if (!Number.isInteger(k) || k < 0 || k >= g.count) {
    throw new RangeError(`extractSlice: slice ${k} is outside 0..${g.count - 1} along axis ${g.axis}`);
  }
  if (v.dims[g.rowDim] !== g.nativeHeight || v.dims[g.colDim] !== g.nativeWidth || v.dims[g.sliceDim] !== g.count) {
    throw new RangeError(`extractSlice: volume dims [${v.dims.join(", ")}] do not match the slice geometry`);
  }
  if (offset < 0 || offset + g.height * g.width > out.length) throw new RangeError("extractSlice: output buffer too small");
  const st = strides(v.dims);
  const base = k * st[g.sliceDim];
  const rs = st[g.rowDim];
  const cs = st[g.colDim];
  const d = v.data;
  // Output columns that read inside the native slice: c0 <= c < c1.
  const c0 = Math.max(0, -g.colOffset);
  const c1 = Math.min(g.width, g.nativeWidth - g.colOffset);
  for (let r = 0; r < g.height; r++) {
    const o = offset + r * g.width;
    const nr = r + g.rowOffset;
    if (nr < 0 || nr >= g.nativeHeight || c1 <= c0) {
      out.fill(0, o, o + g.width);
      continue;
    }
    out.fill(0, o, o + c0);
    let q = base + nr * rs + (c0 + g.colOffset) * cs;
    for (let c = c0; c < c1; c++, q += cs) out[o + c] = d[q] as number;
    out.fill(0, o + c1, o + g.width);
  }
  return out;
}

/** Writes the 3-channel condition [k-1, k, k+1] (edges repeated) into out[offset .. offset + 3*H*W). */
export function extractCondition(v: Volume, g: SliceGeometry, k: number, out = new Float32Array(3 * g.height * g.width), offset = 0): Float32Array {
  if (!Number.isInteger(k) || k < 0 || k >= g.count) {
    throw new RangeError(`extractCondition: slice ${k} is outside 0..${g.count - 1} along axis ${g.axis}`);
  }
  const hw = g.height * g.width;
  extractSlice(v, g, Math.max(0, k - 1), out, offset);
  extractSlice(v, g, k, out, offset + hw);
  extractSlice(v, g, Math.min(g.count - 1, k + 1), out, offset + 2 * hw);
  return out;
}
