import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { openSliceDataset } from "../../src/data/dataset.js";
import { normaliseIntensity } from "../../src/data/normalise.js";
import { prepareDataset, type PrepareProgress } from "../../src/data/prepare.js";
import { extractSlice, sliceGeometry } from "../../src/data/slicing.js";
import { SPLITS } from "../../src/data/split.js";
import { reorient } from "../../src/volume/reorient.js";
import { phantom, tempDir, writeVolume } from "./phantom.js";

const SIZE = { height: 32, width: 32 } as const;

function filesOf(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));
}

test("simulated single subject: reproducible bytes, slab split without leakage, slices equal the volumes", async () => {
  const { dir, cleanup } = tempDir();
  try {
    // An LAS volume (i runs to the left): prepare reorients it to RAS before slicing.
    const las = phantom([24, 28, 20], [-1, 0, 0, 11.5, 0, 1, 0, -13.5, 0, 0, 1, -9.5, 0, 0, 0, 1]);
    const hrPath = writeVolume(join(dir, "sub-a.nii.gz"), las);
    const progress: PrepareProgress[] = [];
    const opts = { source: { kind: "simulate" as const, hr: [hrPath] }, ...SIZE, shardSize: 4, seed: 3 };
    const r1 = await prepareDataset({ ...opts, output: join(dir, "one"), onProgress: (p) => progress.push(p) });
    await prepareDataset({ ...opts, output: join(dir, "two") });
    const one = filesOf(join(dir, "one"));
    const two = filesOf(join(dir, "two"));
    assert.deepEqual([...one.keys()], [...two.keys()]);
    for (const [f, bytes] of one) assert.ok(bytes.equals(two.get(f) as Buffer), `${f} is byte-identical across runs`);
    const other = await prepareDataset({ ...opts, seed: 4, output: join(dir, "three") });
    assert.notEqual(other.manifest.pairs[0]?.acquisition?.seed, r1.manifest.pairs[0]?.acquisition?.seed);
    assert.ok(!filesOf(join(dir, "three")).get("train-00000.safetensors")?.equals(one.get("train-00000.safetensors") as Buffer), "another seed, other data");

    const m = r1.manifest;
    assert.equal(m.split.method, "slabs");
    assert.equal(m.pairs[0]?.grid.originalOrientation, "LAS");
    assert.deepEqual(m.pairs[0]?.grid.affine, [1, 0, 0, -11.5, 0, 1, 0, -13.5, 0, 0, 1, -9.5, 0, 0, 0, 1]);
    const acq = m.pairs[0]?.acquisition;
    assert.ok(acq !== undefined && acq.voxelSize >= 1.4 && acq.voxelSize <= 2.1 && acq.snr >= 15 && acq.snr <= 40);
    assert.deepEqual(progress.at(-1), { pairsDone: 1, pairs: 1, stage: "done sub-a", slicesWritten: m.counts.train + m.counts.val + m.counts.test });
    const s = m.pairs[0]?.slices;
    assert.ok(s !== undefined);
    assert.equal(s.total, 20);
    assert.equal(s.skipped + s.unused + s.train + s.val + s.test, 20);

    using ds = openSliceDataset(r1.output);
    const indices = Object.fromEntries(SPLITS.map((sp) => [sp, Array.from({ length: ds.size(sp) }, (_, i) => ds.getSlice(sp, i).meta.index)]));
    assert.deepEqual(SPLITS.map((sp) => ds.size(sp)), [m.counts.train, m.counts.val, m.counts.test]);
    for (const held of [...(indices.val as number[]), ...(indices.test as number[])]) {
      for (const t of indices.train as number[]) assert.ok(Math.abs(held - t) >= 4, `held-out slice ${held} vs train slice ${t}`);
    }

    // The HR target is the normalised, RAS-reoriented HR slice; neighbouring slices share condition channels.
    const hrNorm = normaliseIntensity(reorient(las, "RAS")).volume;
    const geo = sliceGeometry(hrNorm.dims, "z", 32, 32);
    for (const sp of SPLITS) {
      for (let i = 0; i < ds.size(sp); i++) {
        const sl = ds.getSlice(sp, i);
        assert.deepEqual(Array.from(sl.hr), Array.from(extractSlice(hrNorm, geo, sl.meta.index)), `hr of ${sp} ${i}`);
        assert.ok(sl.cond.every((x) => x >= 0 && x <= 1));
        if (i + 1 < ds.size(sp) && ds.getSlice(sp, i + 1).meta.index === sl.meta.index + 1) {
          const next = ds.getSlice(sp, i + 1);
          assert.deepEqual(Array.from(sl.cond.subarray(2 * 1024)), Array.from(next.cond.subarray(1024, 2048)), "k+1 channel = next slice's k channel");
          assert.deepEqual(Array.from(sl.cond.subarray(1024, 2048)), Array.from(next.cond.subarray(0, 1024)), "k channel = next slice's k-1 channel");
        }
      }
    }
    // Lazy: opening reads the shard headers; one slice then costs exactly its 6 float32 channels.
    using fresh = openSliceDataset(r1.output);
    const opened = fresh.bytesRead();
    fresh.getSlice("test", 0);
    assert.equal(fresh.bytesRead() - opened, 6 * 32 * 32 * 4);
  } finally {
    cleanup();
  }
});

test("getBatch stacks slices into [B, C, H, W] tensors of the requested dtype without leaking", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const hrPath = writeVolume(join(dir, "a.nii.gz"), phantom());
    const r = await prepareDataset({ output: join(dir, "ds"), source: { kind: "simulate", hr: [hrPath] }, ...SIZE, shardSize: 1 });
    using ds = openSliceDataset(r.output);
    const n = ds.size("train");
    assert.ok(n >= 2);
    const before = T.memory().numTensors;
    const b = ds.getBatch("train", [n - 1, 0, n - 1], { dtype: "float64" });
    assert.deepEqual(b.cond.shape, [3, 3, 32, 32]);
    assert.deepEqual(b.hr.shape, [3, 1, 32, 32]);
    assert.equal(b.g.dtype, "float64");
    const last = ds.getSlice("train", n - 1);
    const first = ds.getSlice("train", 0);
    const cond = b.cond.toArray();
    const f32 = (a: ArrayLike<number>): number[] => Array.from(Float32Array.from(a));
    assert.deepEqual(f32(cond.slice(0, 3072)), Array.from(last.cond));
    assert.deepEqual(f32(cond.slice(3072, 6144)), Array.from(first.cond));
    assert.deepEqual(f32(cond.slice(6144)), Array.from(last.cond));
    assert.deepEqual(f32(b.bias.toArray().slice(1024, 2048)), Array.from(first.bias));
    assert.deepEqual(f32(b.hr.toArray().slice(0, 1024)), Array.from(last.hr));
    assert.deepEqual(b.meta.map((x) => x.index), [last.meta.index, first.meta.index, last.meta.index]);
    for (const t of [b.cond, b.hr, b.bias, b.g]) t.dispose();
    assert.equal(T.memory().numTensors, before);
    assert.throws(() => ds.getBatch("train", [n]), /train index \d+ is outside 0\.\.\d+/);
    assert.throws(() => ds.getBatch("dev" as "train", [0]), /split must be "train", "val" or "test", got "dev"/);
  } finally {
    cleanup();
  }
});

test("several acquisitions per source stay together; 3 sources split 1/1/1 by subject", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const hr = [1, 2, 3].map((s) => writeVolume(join(dir, `sub-${s}.nii.gz`), phantom([20, 22, 12], undefined, s)));
    const r = await prepareDataset({ output: join(dir, "ds"), source: { kind: "simulate", hr }, ...SIZE, pairsPerVolume: 2, seed: 9 });
    const m = r.manifest;
    assert.equal(m.split.method, "subjects");
    assert.equal(m.pairs.length, 6);
    assert.deepEqual(m.pairs.map((p) => p.subject), ["sub-1", "sub-1", "sub-2", "sub-2", "sub-3", "sub-3"]);
    assert.notEqual(m.pairs[0]?.acquisition?.seed, m.pairs[1]?.acquisition?.seed, "each acquisition has its own simulation seed");
    assert.deepEqual(m.split.assignments.map((a) => a.split).sort(), ["test", "train", "val"]);
    using ds = openSliceDataset(r.output);
    for (const sp of SPLITS) {
      const subjects = new Set(Array.from({ length: ds.size(sp) }, (_, i) => ds.getSlice(sp, i).meta.subject));
      assert.equal(subjects.size, 1, `${sp} holds one subject`);
      const want = m.split.assignments.find((a) => a.split === sp)?.subject as string;
      assert.ok(subjects.has(want));
      const pairs = new Set(Array.from({ length: ds.size(sp) }, (_, i) => ds.getSlice(sp, i).meta.pair));
      assert.equal(pairs.size, 2, `${sp} holds both acquisitions of ${want}`);
    }
  } finally {
    cleanup();
  }
});
