// Covering an in-plane slice of any size with the model's fixed tile (its training slice size).
//
// Along each in-plane axis of native length n and tile length S:
// - n <= S: one tile, centred, padded with zeros (offset floor((n - S) / 2) < 0), exactly as prepare
//   centres a slice on its H x W canvas;
// - n > S: ceil((n - overlap) / (S - overlap)) tiles with offsets spread evenly from 0 to n - S, so
//   neighbours overlap by at least `overlap` pixels.
// A slice smaller than the tile along an axis is run on a fitted tile instead (fittedTileSize): its
// length rounded up to the model's size multiple, never more than the tile. The model is
// convolutional with sinusoidal token positions (it is trained on crops), so it runs on any multiple;
// the padding it no longer sees is zeros.
// Overlapping predictions are blended with weights that ramp linearly from 1/(ramp+1) at a tile's
// edge up to 1 at `ramp` pixels inside it (the same on every edge; where only one tile covers a pixel
// its weight cancels), which hides the seams without discarding any pixel.

/** Offsets (native index of a tile's first pixel) along one axis. */
export function tileOffsets(n: number, tile: number, overlap: number): number[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`tileOffsets: length must be a positive integer, got ${n}`);
  if (!Number.isInteger(tile) || tile < 1) throw new RangeError(`tileOffsets: tile must be a positive integer, got ${tile}`);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= tile) throw new RangeError(`tileOffsets: overlap must be an integer in [0, ${tile}), got ${overlap}`);
  if (n <= tile) return [Math.floor((n - tile) / 2)];
  const count = Math.ceil((n - overlap) / (tile - overlap));
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(Math.round(((n - tile) * i) / (count - 1)));
  return out;
}

/**
 * The tile length along an axis of native length n: `tile` when n >= tile, else n rounded up to a
 * multiple of `multiple` (at most `tile`).
 */
export function fittedTileSize(n: number, tile: number, multiple: number): number {
  if (!Number.isInteger(multiple) || multiple < 1) throw new RangeError(`fittedTileSize: multiple must be a positive integer, got ${multiple}`);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`fittedTileSize: length must be a positive integer, got ${n}`);
  if (!Number.isInteger(tile) || tile < 1 || tile % multiple !== 0) throw new RangeError(`fittedTileSize: tile must be a positive multiple of ${multiple}, got ${tile}`);
  return n >= tile ? tile : Math.min(tile, Math.ceil(n / multiple) * multiple);
}

export interface Tile {
  readonly rowOffset: number;
  readonly colOffset: number;
}

/** Every tile of an nRows x nCols slice, rows outer. */
export function tilePlan(nRows: number, nCols: number, height: number, width: number, overlap: number): Tile[] {
  const rows = tileOffsets(nRows, height, Math.min(overlap, height - 1));
  const cols = tileOffsets(nCols, width, Math.min(overlap, width - 1));
  return rows.flatMap((r) => cols.map((c) => ({ rowOffset: r, colOffset: c })));
}

/** The blending weight of a tile pixel (separable ramp over `ramp` pixels at every edge). */
export function blendWeights(height: number, width: number, ramp: number): Float32Array {
  const edge = (i: number, n: number): number => (ramp <= 0 ? 1 : Math.min(1, (Math.min(i, n - 1 - i) + 1) / (ramp + 1)));
  const w = new Float32Array(height * width);
  for (let r = 0; r < height; r++) {
    const wr = edge(r, height);
    for (let c = 0; c < width; c++) w[r * width + c] = wr * edge(c, width);
  }
  return w;
}

/**
 * Accumulates weighted tiles into an nRows x nCols image; `result()` divides by the weight sum.
 * A pixel no tile covered is an error, or `uncovered` when given (e.g. 0 where background tiles
 * were skipped).
 */
export class TileBlender {
  readonly #sum: Float64Array;
  readonly #weight: Float64Array;
  constructor(
    readonly nRows: number,
    readonly nCols: number,
    readonly weights: Float32Array,
    readonly height: number,
    readonly width: number,
  ) {
    this.#sum = new Float64Array(nRows * nCols);
    this.#weight = new Float64Array(nRows * nCols);
  }

  /** Adds a height x width tile (row-major) placed at `tile`; pixels outside the image are dropped. */
  add(tile: Tile, values: ArrayLike<number>, valueOffset = 0): void {
    for (let r = 0; r < this.height; r++) {
      const nr = r + tile.rowOffset;
      if (nr < 0 || nr >= this.nRows) continue;
      for (let c = 0; c < this.width; c++) {
        const nc = c + tile.colOffset;
        if (nc < 0 || nc >= this.nCols) continue;
        const w = this.weights[r * this.width + c] as number;
        const j = nr * this.nCols + nc;
        this.#sum[j] = (this.#sum[j] as number) + w * (values[valueOffset + r * this.width + c] as number);
        this.#weight[j] = (this.#weight[j] as number) + w;
      }
    }
  }

  result(uncovered?: number): Float32Array {
    const out = new Float32Array(this.nRows * this.nCols);
    for (let j = 0; j < out.length; j++) {
      const w = this.#weight[j] as number;
      if (w === 0) {
        if (uncovered === undefined) throw new Error(`TileBlender: pixel ${j} was covered by no tile`);
        out[j] = uncovered;
        continue;
      }
      out[j] = (this.#sum[j] as number) / w;
    }
    return out;
  }
}
