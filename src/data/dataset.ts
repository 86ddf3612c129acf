// Reading a prepared slice data set: random access by (split, index) for training and evaluation.
//
//   using ds = openSliceDataset("data/colin");
//   ds.size("train");                              // number of slices
//   const s = ds.getSlice("train", 17);            // Float32Arrays + where it came from
//   const b = ds.getBatch("train", [3, 9, 1], { device: "cuda", dtype: "float32" });
//   // b.cond [3, 3, H, W], b.hr / b.bias / b.g [3, 1, H, W]; the caller disposes them (or uses tidy)
//
// Index i of a split counts slices over its shards in manifest order. Shard headers are read when the
// data set is opened (so a damaged shard fails there); slice bytes are read on demand. At most
// MAX_OPEN_SHARDS file descriptors stay open (least recently used are closed).
import { join } from "node:path";
import * as T from "../torch/index.js";
import { readManifest, ManifestError, type DatasetManifest } from "./manifest.js";
import { SHARD_TENSORS, ShardReader, type SliceArrays, type SliceMeta } from "./shards.js";
import { SPLITS, type SplitName } from "./split.js";

const MAX_OPEN_SHARDS = 32;

export interface Slice extends SliceArrays {
  readonly meta: SliceMeta;
}

export interface Batch {
  /** [B, 3, H, W]: LR slices k-1, k, k+1. */
  readonly cond: T.Tensor;
  /** [B, 1, H, W] each. */
  readonly hr: T.Tensor;
  readonly bias: T.Tensor;
  readonly g: T.Tensor;
  readonly meta: readonly SliceMeta[];
}

export interface SliceDataset {
  readonly dir: string;
  readonly manifest: DatasetManifest;
  readonly height: number;
  readonly width: number;
  size(split: SplitName): number;
  getSlice(split: SplitName, index: number): Slice;
  getBatch(split: SplitName, indices: readonly number[], options?: T.TensorOptions): Batch;
  /** Total bytes read from shard files so far (headers included). */
  bytesRead(): number;
  close(): void;
  [Symbol.dispose](): void;
}

function checkSplit(split: string): SplitName {
  if (!SPLITS.includes(split as SplitName)) throw new RangeError(`split must be "train", "val" or "test", got ${JSON.stringify(split)}`);
  return split as SplitName;
}

export function openSliceDataset(dir: string): SliceDataset {
  const manifest = readManifest(dir);
  const { height, width } = manifest.settings;
  const readers: Record<SplitName, ShardReader[]> = { train: [], val: [], test: [] };
  const starts: Record<SplitName, number[]> = { train: [], val: [], test: [] };
  for (const split of SPLITS) {
    let start = 0;
    for (const info of manifest.shards[split]) {
      const r = new ShardReader(join(dir, info.file));
      if (r.count !== info.count) throw new ManifestError(dir, `shard ${info.file} holds ${r.count} slices, the manifest says ${info.count}`);
      if (r.height !== height || r.width !== width) throw new ManifestError(dir, `shard ${info.file} holds ${r.height}x${r.width} slices, the manifest says ${height}x${width}`);
      readers[split].push(r);
      starts[split].push(start);
      start += info.count;
    }
  }
  const open: ShardReader[] = []; // most recently used last
  let closed = false;

  const touch = (r: ShardReader): void => {
    const at = open.indexOf(r);
    if (at >= 0) open.splice(at, 1);
    open.push(r);
    while (open.length > MAX_OPEN_SHARDS) (open.shift() as ShardReader).close();
  };

  const locate = (split: SplitName, index: number): [ShardReader, number] => {
    if (closed) throw new Error(`data set ${dir} is closed`);
    const n = manifest.counts[split];
    if (!Number.isInteger(index) || index < 0 || index >= n) {
      throw new RangeError(`data set ${dir}: ${split} index ${index} is outside 0..${n - 1} (${n} slices)`);
    }
    const s = starts[split];
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((s[mid] as number) <= index) lo = mid;
      else hi = mid - 1;
    }
    const r = readers[split][lo] as ShardReader;
    touch(r);
    return [r, index - (s[lo] as number)];
  };

  const ds: SliceDataset = {
    dir,
    manifest,
    height,
    width,
    size: (split) => manifest.counts[checkSplit(split)],
    getSlice(split, index) {
      const [r, i] = locate(checkSplit(split), index);
      return { ...r.read(i), meta: r.meta[i] as SliceMeta };
    },
    getBatch(split, indices, options = {}) {
      checkSplit(split);
      if (!Array.isArray(indices) || indices.length === 0) throw new RangeError("getBatch: indices must be a non-empty list");
      const b = indices.length;
      const hw = height * width;
      const arrays = { cond: new Float32Array(b * 3 * hw), hr: new Float32Array(b * hw), bias: new Float32Array(b * hw), g: new Float32Array(b * hw) };
      const meta: SliceMeta[] = [];
      indices.forEach((index, k) => {
        const [r, i] = locate(split, index);
        for (const name of SHARD_TENSORS) r.readInto(name, i, arrays[name], k * (name === "cond" ? 3 : 1) * hw);
        meta.push(r.meta[i] as SliceMeta);
      });
      const made: T.Tensor[] = [];
      try {
        const make = (a: Float32Array, c: number): T.Tensor => {
          const t = T.tensor(a, [b, c, height, width], { dtype: options.dtype ?? "float32", ...(options.device !== undefined ? { device: options.device } : {}) });
          made.push(t);
          return t;
        };
        return { cond: make(arrays.cond, 3), hr: make(arrays.hr, 1), bias: make(arrays.bias, 1), g: make(arrays.g, 1), meta };
      } catch (e) {
        for (const t of made) t.dispose();
        throw e;
      }
    },
    bytesRead: () => SPLITS.reduce((a, s) => a + readers[s].reduce((x, r) => x + r.bytesRead, 0), 0),
    close() {
      closed = true;
      for (const r of open) r.close();
      open.length = 0;
    },
    [Symbol.dispose]() {
      ds.close();
    },
  };
  return ds;
}
