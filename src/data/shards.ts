// Shards: the slices of one split, in safetensors files of up to `shardSize` slices each.
//
// A shard holds four float32 tensors, slice-major so that one slice of each is one contiguous run of
// bytes:
//   cond [n, 3, H, W]   the LR condition: slices k-1, k, k+1 (normalised LR on the HR grid)
//   hr   [n, 1, H, W]   the HR target slice k (normalised)
//   bias [n, 1, H, W]   b: log bias field (see channels.ts)
//   g    [n, 1, H, W]   g: gradient-nonlinearity displacement magnitude, mm (see channels.ts)
// and string metadata: format "moediff-sr-slices", version, split, axis, and "slices", a JSON list of
// {pair, subject, index} per slice (pair = index into the data-set manifest's pairs).
//
// The reader parses only the header when opened and then reads, per slice, the four byte ranges it
// needs with positioned reads (no whole-file reads, no memory mapping); it counts the bytes it read.
import { closeSync, openSync, readSync } from "node:fs";
import { endianness } from "node:os";
import { join } from "node:path";
import * as T from "../torch/index.js";
import type { SplitName } from "./split.js";

export const SHARD_FORMAT = "moediff-sr-slices";
export const SHARD_VERSION = 1;
export const SHARD_TENSORS = ["cond", "hr", "bias", "g"] as const;
export type ShardTensor = (typeof SHARD_TENSORS)[number];
export const CHANNELS: Readonly<Record<ShardTensor, number>> = { cond: 3, hr: 1, bias: 1, g: 1 };

/** Where a slice came from. */
export interface SliceMeta {
  /** Index of the pair (acquisition) in the data-set manifest. */
  readonly pair: number;
  readonly subject: string;
  /** Slice index along the slicing axis of the (RAS-reoriented) HR grid. */
  readonly index: number;
}

/** One slice's arrays: cond has 3*H*W values, the others H*W. */
export interface SliceArrays {
  readonly cond: Float32Array;
  readonly hr: Float32Array;
  readonly bias: Float32Array;
  readonly g: Float32Array;
}

export interface ShardInfo {
  /** File name relative to the data-set directory. */
  readonly file: string;
  readonly count: number;
}

export class ShardError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`shard ${file}: ${problem}`);
    this.name = "ShardError";
  }
}

function checkEndianness(): void {
  if (endianness() !== "LE") throw new Error("shards: this machine is big-endian; the float32 shards are little-endian and are read without conversion");
}

/** Buffers slices of one split and writes a shard every `shardSize` slices. */
export class ShardWriter {
  readonly #dir: string;
  readonly #split: SplitName;
  readonly #axis: string;
  readonly #hw: number;
  readonly #height: number;
  readonly #width: number;
  readonly #size: number;
  readonly #buffers: Record<ShardTensor, Float32Array>;
  #meta: SliceMeta[] = [];
  readonly #shards: ShardInfo[] = [];

  constructor(dir: string, split: SplitName, o: { height: number; width: number; shardSize: number; axis: string }) {
    if (!Number.isInteger(o.shardSize) || o.shardSize < 1) throw new RangeError(`shard size must be a positive integer, got ${o.shardSize}`);
    checkEndianness();
    this.#dir = dir;
    this.#split = split;
    this.#axis = o.axis;
    this.#height = o.height;
    this.#width = o.width;
    this.#hw = o.height * o.width;
    this.#size = o.shardSize;
    const n = o.shardSize * this.#hw;
    this.#buffers = { cond: new Float32Array(3 * n), hr: new Float32Array(n), bias: new Float32Array(n), g: new Float32Array(n) };
  }

  /** Appends a slice (its arrays are copied). */
  add(s: SliceArrays, meta: SliceMeta): void {
    const i = this.#meta.length;
    for (const name of SHARD_TENSORS) {
      const want = CHANNELS[name] * this.#hw;
      if (s[name].length !== want) throw new RangeError(`ShardWriter.add: ${name} must hold ${want} values, got ${s[name].length}`);
      this.#buffers[name].set(s[name], i * want);
    }
    this.#meta.push({ pair: meta.pair, subject: meta.subject, index: meta.index });
    if (this.#meta.length === this.#size) this.#flush();
  }

  /** Writes the last, partial shard; returns every shard written. */
  finish(): ShardInfo[] {
    if (this.#meta.length > 0) this.#flush();
    return this.#shards.slice();
  }

  #flush(): void {
    const n = this.#meta.length;
    const file = `${this.#split}-${String(this.#shards.length).padStart(5, "0")}.safetensors`;
    const tensors: Record<string, T.Tensor> = {};
    try {
      for (const name of SHARD_TENSORS) {
        const c = CHANNELS[name];
        tensors[name] = T.tensor(this.#buffers[name].subarray(0, n * c * this.#hw), [n, c, this.#height, this.#width], { dtype: "float32" });
      }
      T.io.saveFile(join(this.#dir, file), tensors, {
        format: SHARD_FORMAT,
        version: String(SHARD_VERSION),
        split: this.#split,
        axis: this.#axis,
        slices: JSON.stringify(this.#meta),
      });
    } finally {
      for (const t of Object.values(tensors)) t.dispose();
    }
    this.#shards.push({ file, count: n });
    this.#meta = [];
  }
}

/** Lazy random access to the slices of one shard file. */
export class ShardReader {
  readonly path: string;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly meta: readonly SliceMeta[];
  /** Bytes read from the file so far (header included). */
  bytesRead = 0;
  readonly #offsets: Record<ShardTensor, number>;
  #fd: number | null = null;

  constructor(path: string) {
    checkEndianness();
    this.path = path;
    let header;
    try {
      header = T.io.readHeader(path);
    } catch (e) {
      throw new ShardError(path, e instanceof Error ? e.message : String(e));
    }
    this.bytesRead = header.dataStart;
    const md = header.metadata;
    if (md.format !== SHARD_FORMAT) throw new ShardError(path, `not a moediff-sr slice shard (metadata format is ${JSON.stringify(md.format)}); re-run moediff-sr prepare`);
    if (md.version !== String(SHARD_VERSION)) throw new ShardError(path, `shard version ${md.version}, this program reads version ${SHARD_VERSION}; re-run moediff-sr prepare`);
    let meta: unknown;
    try {
      meta = JSON.parse(md.slices ?? "");
    } catch {
      throw new ShardError(path, `metadata "slices" is not valid JSON`);
    }
    if (!Array.isArray(meta) || meta.some((m) => typeof m?.subject !== "string" || !Number.isInteger(m?.index) || !Number.isInteger(m?.pair))) {
      throw new ShardError(path, `metadata "slices" must be a list of {pair, subject, index}`);
    }
    this.meta = meta as SliceMeta[];
    this.count = meta.length;
    const offsets: Partial<Record<ShardTensor, number>> = {};
    let hw: [number, number] | null = null;
    for (const name of SHARD_TENSORS) {
      const info = header.tensors.get(name);
      if (info === undefined) throw new ShardError(path, `tensor ${JSON.stringify(name)} is missing`);
      const [n, c, h, w] = info.shape;
      if (info.dtype !== "float32" || info.shape.length !== 4 || n !== this.count || c !== CHANNELS[name]) {
        throw new ShardError(path, `${name} must be float32 [${this.count}, ${CHANNELS[name]}, H, W], got ${info.dtype} [${info.shape.join(", ")}]`);
      }
      if (hw === null) hw = [h as number, w as number];
      else if (hw[0] !== h || hw[1] !== w) throw new ShardError(path, `${name} is ${h}x${w} but cond is ${hw[0]}x${hw[1]}`);
      offsets[name] = header.dataStart + info.dataOffsets[0];
    }
    this.#offsets = offsets as Record<ShardTensor, number>;
    this.height = (hw as [number, number])[0];
    this.width = (hw as [number, number])[1];
  }

  #open(): number {
    if (this.#fd === null) {
      try {
        this.#fd = openSync(this.path, "r");
      } catch (e) {
        throw new ShardError(this.path, `cannot open: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return this.#fd;
  }

  /** Reads tensor `name` of slice i into out[offset ...]. */
  readInto(name: ShardTensor, i: number, out: Float32Array, offset = 0): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new RangeError(`shard ${this.path}: slice ${i} is outside 0..${this.count - 1}`);
    const n = CHANNELS[name] * this.height * this.width;
    if (offset < 0 || offset + n > out.length) throw new RangeError(`ShardReader.readInto: output buffer too small for ${name}`);
    const fd = this.#open();
    const bytes = new Uint8Array(out.buffer, out.byteOffset + 4 * offset, 4 * n);
    const pos = this.#offsets[name] + i * 4 * n;
    let done = 0;
    while (done < bytes.length) {
      const got = readSync(fd, bytes, done, bytes.length - done, pos + done);
      if (got === 0) throw new ShardError(this.path, `the file ended while reading slice ${i} (truncated?)`);
      done += got;
    }
    this.bytesRead += bytes.length;
  }

  /** The arrays of slice i (freshly allocated). */
  read(i: number): SliceArrays {
    const hw = this.height * this.width;
    const s = { cond: new Float32Array(3 * hw), hr: new Float32Array(hw), bias: new Float32Array(hw), g: new Float32Array(hw) };
    for (const name of SHARD_TENSORS) this.readInto(name, i, s[name]);
    return s;
  }

  close(): void {
    if (this.#fd !== null) {
      closeSync(this.#fd);
      this.#fd = null;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
