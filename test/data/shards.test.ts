import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { ShardReader, ShardWriter, type SliceArrays } from "../../src/data/shards.js";
import { assertThrowsMatching } from "../helpers.js";
import { tempDir } from "./phantom.js";

const H = 3;
const W = 4;
const HW = H * W;

/** Slice i with values that name the slice, the tensor and the position. */
function slice(i: number): SliceArrays {
  const fill = (n: number, base: number): Float32Array => Float32Array.from({ length: n }, (_, q) => base + q);
  return { cond: fill(3 * HW, 1000 * i), hr: fill(HW, 1000 * i + 100), bias: fill(HW, -1000 * i - 200), g: fill(HW, 1000 * i + 300.5) };
}

test("shards: written slices come back identical, shard by shard, with their metadata", () => {
  const { dir, cleanup } = tempDir();
  try {
    const w = new ShardWriter(dir, "train", { height: H, width: W, shardSize: 2, axis: "z" });
    for (let i = 0; i < 5; i++) w.add(slice(i), { pair: i % 2, subject: `s${i}`, index: 10 + i });
    const shards = w.finish();
    assert.deepEqual(shards, [
      { file: "train-00000.safetensors", count: 2 },
      { file: "train-00001.safetensors", count: 2 },
      { file: "train-00002.safetensors", count: 1 },
    ]);
    let i = 0;
    for (const s of shards) {
      using r = new ShardReader(join(dir, s.file));
      assert.equal(r.count, s.count);
      assert.deepEqual([r.height, r.width], [H, W]);
      for (let j = 0; j < r.count; j++, i++) {
        const got = r.read(j);
        const want = slice(i);
        for (const k of ["cond", "hr", "bias", "g"] as const) assert.deepEqual(Array.from(got[k]), Array.from(want[k]), `${k} of slice ${i}`);
        assert.deepEqual(r.meta[j], { pair: i % 2, subject: `s${i}`, index: 10 + i });
      }
    }
    // A standard safetensors file: the engine's loader sees [n, C, H, W] float32 tensors.
    const loaded = T.io.loadFile(join(dir, "train-00001.safetensors"));
    try {
      assert.deepEqual(loaded.tensors.get("cond")?.shape, [2, 3, H, W]);
      assert.deepEqual(loaded.tensors.get("g")?.shape, [2, 1, H, W]);
      assert.equal(loaded.metadata.split, "train");
      assert.equal(loaded.metadata.axis, "z");
    } finally {
      for (const t of loaded.tensors.values()) t.dispose();
    }
  } finally {
    cleanup();
  }
});

test("the reader reads only the header and the bytes of the slices asked for", () => {
  const { dir, cleanup } = tempDir();
  try {
    const w = new ShardWriter(dir, "val", { height: H, width: W, shardSize: 50, axis: "y" });
    for (let i = 0; i < 50; i++) w.add(slice(i), { pair: 0, subject: "a", index: i });
    const [info] = w.finish();
    const path = join(dir, (info as { file: string }).file);
    using r = new ShardReader(path);
    const header = r.bytesRead;
    assert.ok(header > 8 && header < 4096, `header ${header} bytes`);
    const s = r.read(37);
    assert.equal(s.hr[5], 37 * 1000 + 100 + 5);
    assert.equal(r.bytesRead - header, 6 * HW * 4, "one slice: 3 + 1 + 1 + 1 channels of float32");
    const out = new Float32Array(2 * HW);
    r.readInto("g", 3, out, HW);
    assert.equal(out[HW], 3300.5);
    assert.equal(out[0], 0, "readInto writes only its range");
    assert.ok(r.bytesRead < statSync(path).size / 4, `read ${r.bytesRead} of ${statSync(path).size} bytes`);
    assertThrowsMatching(() => r.read(50), /slice 50 is outside 0\.\.49/);
  } finally {
    cleanup();
  }
});

test("damaged or foreign shards are refused with clear messages", () => {
  const { dir, cleanup } = tempDir();
  try {
    const w = new ShardWriter(dir, "test", { height: H, width: W, shardSize: 4, axis: "x" });
    for (let i = 0; i < 3; i++) w.add(slice(i), { pair: 0, subject: "a", index: i });
    const path = join(dir, (w.finish()[0] as { file: string }).file);
    const size = statSync(path).size;
    const copy = join(dir, "copy.safetensors");
    writeFileSync(copy, readFileSync(path));
    truncateSync(copy, size - 10);
    assertThrowsMatching(() => new ShardReader(copy), /shard .*copy\.safetensors: .*truncated/);
    const other = join(dir, "other.safetensors");
    const t = T.zeros([2, 2]);
    T.io.saveFile(other, { x: t }, { format: "something-else" });
    t.dispose();
    assertThrowsMatching(() => new ShardReader(other), /not a moediff-sr slice shard/);
    assertThrowsMatching(() => new ShardReader(join(dir, "missing.safetensors")), /missing\.safetensors: .*cannot open/);
    const bad = new ShardWriter(dir, "train", { height: H, width: W, shardSize: 4, axis: "x" });
    assertThrowsMatching(() => bad.add({ ...slice(0), hr: new Float32Array(5) }, { pair: 0, subject: "a", index: 0 }), /hr must hold 12 values, got 5/);
  } finally {
    cleanup();
  }
});
