import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openSliceDataset } from "../../src/data/dataset.js";
import { prepareDataset } from "../../src/data/prepare.js";
import { percentile } from "../../src/util/percentile.js";
import { SPLITS } from "../../src/data/split.js";
import type { Volume } from "../../src/volume/volume.js";
import { assertClose } from "../helpers.js";
import { phantom, tempDir, writeVolume } from "./phantom.js";

const SIZE = { height: 32, width: 32 } as const;
/** The HR phantom's grid (1 mm, centred) and an LR phantom of the same anatomy at 2 mm, optionally shifted. */
const hrPhantom = (scale = 1): Volume => phantom([24, 28, 20], undefined, scale);
const lrPhantom = (scale = 1, shift = 0): Volume => phantom([12, 14, 10], [2, 0, 0, -11 + shift, 0, 2, 0, -13, 0, 0, 2, -9, 0, 0, 0, 1], scale);

function writePair(dir: string, subject: string, scale: number, shift = 0): string {
  mkdirSync(join(dir, subject), { recursive: true });
  writeVolume(join(dir, subject, "hr.nii.gz"), hrPhantom(scale));
  writeVolume(join(dir, subject, "lr.nii.gz"), lrPhantom(scale, shift));
  return `${subject},${subject}/lr.nii.gz,${subject}/hr.nii.gz`;
}

const noPartials = (dir: string): void => assert.deepEqual(readdirSync(dir).filter((f) => f.includes(".partial-")), [], "no temporary directory is left");

test("10 real subjects split 8:1:1 by subject; missing b/g maps give zero channels and a note", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rows = Array.from({ length: 10 }, (_, i) => writePair(dir, `sub-${String(i).padStart(2, "0")}`, 1 + i / 10));
    writeFileSync(join(dir, "pairs.csv"), ["subject,lr,hr", ...rows].join("\n"));
    const notes: string[] = [];
    const r = await prepareDataset({ output: join(dir, "ds"), source: { kind: "pairs", manifest: join(dir, "pairs.csv") }, ...SIZE, shardSize: 16, log: (m) => notes.push(m) });
    const m = r.manifest;
    assert.equal(m.split.method, "subjects");
    const n = (s: string): number => m.split.assignments.filter((a) => a.split === s).length;
    assert.deepEqual([n("train"), n("val"), n("test")], [8, 1, 1]);
    assert.equal(notes.filter((x) => /no bias map given; its b channel is zero/.test(x)).length, 10);
    assert.equal(notes.filter((x) => /no gdc warp given; its g channel is zero/.test(x)).length, 10);
    assert.ok(m.pairs.every((p) => p.kind === "real" && p.channels.bias === "zero" && p.lr !== undefined && (p.overlap ?? 0) > 0.99));
    using ds = openSliceDataset(r.output);
    const splitOf = new Map(m.split.assignments.map((a) => [a.subject, a.split]));
    for (const sp of SPLITS) {
      for (let i = 0; i < ds.size(sp); i++) {
        const s = ds.getSlice(sp, i);
        assert.equal(splitOf.get(s.meta.subject), sp, `slice of ${s.meta.subject} in ${sp}`);
        if (i === 0) assert.ok(s.bias.every((x) => x === 0) && s.g.every((x) => x === 0));
      }
    }
    assert.equal(ds.size("val") + ds.size("test") + ds.size("train"), 10 * 18);
  } finally {
    cleanup();
  }
});

test("real pair with a bias file and a 3-frame gdc warp: b = ln(field) - brain median, g = |u|", async () => {
  const { dir, cleanup } = tempDir();
  try {
    writePair(dir, "s1", 1);
    const hr = hrPhantom();
    const field = new Float32Array(hr.data.length);
    const warp = new Float32Array(3 * hr.data.length);
    const n = hr.data.length;
    for (let q = 0; q < n; q++) {
      const i = q % 24;
      field[q] = Math.exp(0.02 * (i - 5));
      warp[q] = 0.3; // x
      warp[n + q] = -0.4; // y
      warp[2 * n + q] = 1.2; // z: |u| = 1.3
    }
    writeVolume(join(dir, "bias.nii.gz"), { ...hr, data: field });
    writeVolume(join(dir, "warp.nii.gz"), { data: warp, dims: [24, 28, 20, 3], affine: hr.affine } as unknown as Volume);
    writeFileSync(join(dir, "pairs.json"), JSON.stringify({ pairs: [{ subject: "s1", lr: "s1/lr.nii.gz", hr: "s1/hr.nii.gz", bias: "bias.nii.gz", gdc: "warp.nii.gz" }] }));
    const r = await prepareDataset({ output: join(dir, "ds"), source: { kind: "pairs", manifest: join(dir, "pairs.json") }, ...SIZE });
    assert.deepEqual(r.manifest.pairs[0]?.channels, { bias: "file", g: "file" });
    // Reference: median of 0.02 (i - 5) over brain voxels (normalised HR > 0.05 <=> phantom > 0 here).
    const brain: number[] = [];
    for (let q = 0; q < n; q++) if ((hr.data[q] as number) > 0) brain.push(0.02 * ((q % 24) - 5));
    const median = percentile(brain, 50);
    using ds = openSliceDataset(r.output);
    const s = ds.getSlice("train", 0);
    // Column c of the 32-wide slice is i = c - 4 (24 -> 32 pads 4 each side); row 16 is j = 18.
    for (const c of [4, 10, 27]) assertClose(s.bias[16 * 32 + c] as number, 0.02 * (c - 4 - 5) - median, { atol: 1e-5 });
    assert.equal(s.bias[16 * 32 + 2], 0, "padding");
    assertClose(s.g[16 * 32 + 10] as number, 1.3, { atol: 1e-5 });
    assert.equal(s.g[16 * 32 + 31], 0, "padding");
  } finally {
    cleanup();
  }
});

test("a failing pair leaves no output and no temporary directory (atomic output)", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rows = [writePair(dir, "a", 1), writePair(dir, "b", 1.2), writePair(dir, "c", 1.4, 500)];
    writeFileSync(join(dir, "pairs.csv"), ["subject,lr,hr", ...rows].join("\n"));
    await assert.rejects(
      prepareDataset({ output: join(dir, "ds"), source: { kind: "pairs", manifest: join(dir, "pairs.csv") }, ...SIZE, shardSize: 2 }),
      /line 4 \(subject c\): the LR volume .*c\/lr\.nii\.gz covers only 0\.0% of the HR brain .* in world space \(at least 50% needed\); they are not in the same space: co-register LR to HR first/,
    );
    assert.equal(existsSync(join(dir, "ds")), false);
    noPartials(dir);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      prepareDataset({ output: join(dir, "ds"), source: { kind: "simulate", hr: [join(dir, "a", "hr.nii.gz")] }, ...SIZE, signal: controller.signal }),
      /prepare was interrupted; nothing was written/,
    );
    assert.equal(existsSync(join(dir, "ds")), false);
    noPartials(dir);
  } finally {
    cleanup();
  }
});

test("an existing output is refused unless --force, and --force replaces only a data set", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const hr = writeVolume(join(dir, "a.nii.gz"), phantom());
    const out = join(dir, "ds");
    const base = { output: out, source: { kind: "simulate" as const, hr: [hr] }, ...SIZE };
    mkdirSync(out);
    await prepareDataset(base); // an empty directory is fine
    const first = readFileSync(join(out, "manifest.json"), "utf8");
    await assert.rejects(prepareDataset({ ...base, seed: 2 }), /output .*ds exists and is not empty; choose another -o, or pass --force to replace it/);
    assert.equal(readFileSync(join(out, "manifest.json"), "utf8"), first);
    await prepareDataset({ ...base, seed: 2, force: true });
    assert.notEqual(readFileSync(join(out, "manifest.json"), "utf8"), first);
    noPartials(dir);
    const precious = join(dir, "precious");
    mkdirSync(precious);
    writeFileSync(join(precious, "thesis.tex"), "x");
    await assert.rejects(prepareDataset({ ...base, output: precious, force: true }), /holds no manifest\.json: --force replaces only a data set written by moediff-sr prepare/);
    assert.deepEqual(readdirSync(precious), ["thesis.tex"]);
    writeFileSync(join(dir, "file"), "x");
    await assert.rejects(prepareDataset({ ...base, output: join(dir, "file") }), /exists and is not a directory/);
  } finally {
    cleanup();
  }
});

test("bad inputs: missing, empty and NaN volumes, bad ranges", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = join(dir, "ds");
    const sim = (hr: string[], extra = {}) => prepareDataset({ output: out, source: { kind: "simulate", hr }, ...SIZE, ...extra });
    await assert.rejects(sim([join(dir, "none.nii.gz")]), /HR volume .*none\.nii\.gz does not exist/);
    const empty = writeVolume(join(dir, "empty.nii.gz"), { ...phantom(), data: new Float32Array(24 * 28 * 20) });
    await assert.rejects(sim([empty]), /HR volume .*empty\.nii\.gz: the volume is empty \(every voxel is 0\)/);
    const nanData = phantom().data.slice();
    nanData[100] = Number.NaN;
    const nan = writeVolume(join(dir, "nan.nii.gz"), { ...phantom(), data: nanData });
    await assert.rejects(sim([nan]), /1 of 13440 voxels are not finite/);
    const good = writeVolume(join(dir, "good.nii.gz"), phantom());
    await assert.rejects(sim([good], { ranges: { snr: [40, 15] } }), /SNR range 40:15 has lo > hi/);
    await assert.rejects(sim([good], { ranges: { voxel: [0, 1] } }), /voxel size range 0:1 must be > 0/);
    await assert.rejects(sim([good], { height: 0 }), /slice height must be a positive integer, got 0/);
    await assert.rejects(sim([good], { minBrain: 1.5 }), /minimum brain fraction must be in \[0, 1\], got 1\.5/);
    await assert.rejects(sim([good], { minBrain: 1 }), /subject "good" has no slice with enough brain to keep/);
    assert.equal(existsSync(out), false);
    noPartials(dir);
  } finally {
    cleanup();
  }
});
