// prepare --randomise end to end on a small phantom with and without its skull: reproducible bytes,
// another seed other data, all three slice axes and both skull variants, whole subjects per split,
// every draw in the manifest, and a slice regenerated from the manifest equals the stored one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openSliceDataset } from "../../../src/data/dataset.js";
import { prepareDataset } from "../../../src/data/prepare.js";
import type { RandomisedManifest, RandomisedPairRecord } from "../../../src/data/randomise/build.js";
import { drawSubject, loadRandomiseSource, SubjectGenerator } from "../../../src/data/randomise/subject.js";
import { extractSlice, sliceGeometry } from "../../../src/data/slicing.js";
import { SPLITS } from "../../../src/data/split.js";
import { tempDir, writeVolume } from "../phantom.js";
import { headPhantom } from "./phantom.js";

const files = (dir: string): Map<string, Buffer> => new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]));

test("prepare --randomise: reproducible, all orientations and skull variants, whole subjects per split, regenerable from the manifest", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = headPhantom(40);
    const hr = writeVolume(join(dir, "ph.nii.gz"), p.head);
    const stripped = writeVolume(join(dir, "ph_brain.nii.gz"), p.brain);
    const opts = { source: { kind: "simulate" as const, hr: [hr] }, height: 48, width: 48, shardSize: 16, seed: 4, randomise: { subjects: 3, slicesPerView: 3, stripped: [stripped] } };
    const stages: string[] = [];
    const r1 = await prepareDataset({ ...opts, output: join(dir, "a"), onProgress: (s) => stages.push(s.stage) });
    await prepareDataset({ ...opts, output: join(dir, "b") });
    const a = files(join(dir, "a"));
    const b = files(join(dir, "b"));
    assert.deepEqual([...a.keys()], [...b.keys()]);
    for (const [f, bytes] of a) assert.ok(bytes.equals(b.get(f) as Buffer), `${f} is byte-identical across runs`);
    await prepareDataset({ ...opts, seed: 5, output: join(dir, "c") });
    const c = files(join(dir, "c"));
    assert.ok(!(c.get("manifest.json") as Buffer).equals(a.get("manifest.json") as Buffer), "another seed, another manifest");
    assert.ok(!(c.get("train-00000.safetensors") as Buffer).equals(a.get("train-00000.safetensors") as Buffer), "another seed, other slices");
    assert.ok(stages.includes("segmenting ph") && stages.includes("done ph-r003"), stages.join(" | "));

    const m = r1.manifest as RandomisedManifest;
    const pairs = m.pairs as readonly RandomisedPairRecord[];
    assert.equal(m.split.method, "subjects");
    assert.equal(pairs.length, 3 * 2 * 3, "3 subjects x 2 skull variants x 3 axes");
    assert.deepEqual([...new Set(pairs.map((x) => x.axis))].sort(), ["x", "y", "z"]);
    assert.deepEqual([...new Set(pairs.map((x) => x.randomised.variant))].sort(), ["brain", "head"]);
    assert.equal(pairs.find((x) => x.randomised.variant === "brain")?.hr.path, stripped);
    assert.equal(m.randomisation.sources[0]?.maskFrom, "companion");

    // Every stored slice: its pair's subject, a slice index along that pair's axis; subjects never straddle splits.
    using ds = openSliceDataset(r1.output);
    const splitOf = new Map<string, string>();
    const axes = new Set<string>();
    for (const sp of SPLITS) {
      assert.ok(ds.size(sp) > 0, `${sp} has slices`);
      for (let i = 0; i < ds.size(sp); i++) {
        const meta = ds.getSlice(sp, i).meta;
        const pair = pairs[meta.pair] as RandomisedPairRecord;
        assert.equal(pair.subject, meta.subject);
        assert.ok(meta.index >= 0 && meta.index < pair.slices.total);
        axes.add(pair.axis);
        assert.equal(splitOf.get(meta.subject) ?? sp, sp, `${meta.subject} in one split`);
        splitOf.set(meta.subject, sp);
      }
    }
    assert.deepEqual([...axes].sort(), ["x", "y", "z"]);
    assert.equal(splitOf.size, 3);
    assert.equal(ds.size("train") + ds.size("val") + ds.size("test"), 3 * 2 * 3 * 3);

    // The manifest records every draw: they are drawSubject's, and they rebuild the stored slices.
    const ranges = (m.settings.randomise as { ranges: Parameters<typeof drawSubject>[4] }).ranges;
    for (const s of m.randomisation.subjects) {
      const d = drawSubject(m.settings.seed, s.index, s.source, s.subject, ranges);
      assert.deepEqual([s.anatomy, s.contrast, s.slicesSeed], [d.anatomy, d.contrast, d.slicesSeed]);
      for (const v of ["head", "brain"] as const) {
        const rec = s.variants[v];
        assert.ok(rec !== undefined);
        const { wmMean, sigma, ...drawn } = rec.acquisition;
        assert.deepEqual(drawn, d.acquisition[v]);
        assert.ok(wmMean > 0 && sigma > 0);
        assert.ok(rec.targetClassMeans[0] < rec.targetClassMeans[1] && rec.targetClassMeans[1] < rec.targetClassMeans[2]);
      }
    }
    const testSlice = ds.getSlice("test", 0);
    const pair = pairs[testSlice.meta.pair] as RandomisedPairRecord;
    const rec = m.randomisation.subjects[pair.randomised.subject];
    assert.ok(rec !== undefined);
    const src = loadRandomiseSource("ph", hr, { stripped });
    const regen = new SubjectGenerator(src, drawSubject(m.settings.seed, rec.index, rec.source, rec.subject, ranges)).variant(pair.randomised.variant);
    const geo = sliceGeometry(regen.hrNorm.dims, pair.axis, 48, 48);
    assert.deepEqual(Array.from(extractSlice(regen.hrNorm, geo, testSlice.meta.index)), Array.from(testSlice.hr));
  } finally {
    cleanup();
  }
});

test("prepare --randomise rejects what it cannot do", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const hr = writeVolume(join(dir, "ph.nii.gz"), headPhantom(40).brain);
    const base = { output: join(dir, "x"), source: { kind: "simulate" as const, hr: [hr] } };
    await assert.rejects(prepareDataset({ ...base, randomise: { subjects: 2 } }), /--randomise needs an integer number of subjects >= 3/);
    await assert.rejects(prepareDataset({ ...base, randomise: { subjects: 3, slicesPerView: -1 } }), /slices per view must be an integer >= 0/);
    await assert.rejects(prepareDataset({ ...base, pairsPerVolume: 2, randomise: { subjects: 3 } }), /--pairs-per-volume does not apply with --randomise/);
    await assert.rejects(prepareDataset({ ...base, randomise: { subjects: 3, stripped: [] } }), /randomise\.stripped has 0 entries for 1 HR volumes/);
    await assert.rejects(prepareDataset({ ...base, ranges: { snr: [0, 10] }, randomise: { subjects: 3 } }), /SNR range 0:10 must lie within/);
  } finally {
    cleanup();
  }
});
