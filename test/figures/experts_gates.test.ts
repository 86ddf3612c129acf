// `figures experts` and `figures gates` from a synthetic `enhance --explain` directory.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeExperts } from "../../src/figures/experts.js";
import { makeGates, GATE_ALPHA } from "../../src/figures/gates.js";
import { readExplainDir } from "../../src/figures/explain.js";
import { colourLut, CUBEHELIX } from "../../src/figures/colormaps.js";
import { assertThrowsMatching } from "../helpers.js";
import { DIMS, inSphere, phantom, pngPixel, put, readPng, rejectsMatching, runFigures, tempDir, volumeOf } from "./helpers.js";

const root = tempDir("explain");
after(() => rmSync(root, { recursive: true, force: true }));

const REF = put(root, "hr.nii.gz", volumeOf(phantom));
/** Each expert is off by a constant inside the brain: E1 +1, E2 +2, E3 -3; SR +0.5. */
const OFFSETS = [1, 2, -3];
const GATES = [0.2, 0.3, 0.5];

function explainDir(name: string, opts: { output?: string; skip?: string[] } = {}): string {
  const dir = join(root, name);
  mkdirSync(dir);
  const json = { format: "moediff-sr-explain", version: 1, experts: [1, 2, 3], gating: "spatial", axis: 2, output: opts.output ?? "", mode: "joint" };
  writeFileSync(join(dir, "explain.json"), JSON.stringify(json));
  OFFSETS.forEach((d, i) => {
    const e = `expert_E${i + 1}.nii.gz`;
    if (!(opts.skip ?? []).includes(e)) put(dir, e, volumeOf((a, b, c) => phantom(a, b, c) + (inSphere(a, b, c) ? d : 0)));
    const g = `gate_E${i + 1}.nii.gz`;
    if (!(opts.skip ?? []).includes(g)) put(dir, g, volumeOf(() => GATES[i]!));
  });
  return dir;
}

const SR = put(root, "sr.nii.gz", volumeOf((a, b, c) => phantom(a, b, c) + (inSphere(a, b, c) ? 0.5 : 0)));
const FULL = explainDir("full", { output: SR });

test("experts: one shared hot scale (99th pct in the brain), MAE titles, colour bar ends", async () => {
  const out = join(root, "experts.png");
  await runFigures("experts", "--explain", FULL, "--ref", REF, "-o", out);
  const png = readPng(out);
  const fig = makeExperts({ explain: FULL, ref: REF });
  assert.equal(png.width, fig.canvas.width);
  assert.equal(png.height, fig.canvas.height);
  assert.equal(fig.sr, SR, "explain.json's output is used when --sr is absent");
  // Differences in the brain are 1, 2, 3 and 0.5 in equal numbers: the 99th percentile is 3.
  assert.equal(fig.scaleMax, 3);
  assert.deepEqual(
    fig.panels[0]!.map((p) => p.title),
    ["E1 |diff|  MAE 1", "E2 |diff|  MAE 2", "E3 |diff|  MAE 3", "SR |diff|  MAE 0.5"],
  );
  // Brain voxel (12, 14) of each slice -> display (12, 13); hot(1/3) red, hot(2/3) yellow, hot(1) white.
  const s = fig.cells[0]![0]!.image.w / DIMS[0];
  const at = (col: number, x: number, y: number) => {
    const b = fig.cells[1]![col]!.image;
    return pngPixel(png, b.x + x * s + 1, b.y + y * s + 1);
  };
  assert.deepEqual(at(0, 12, 13), [255, 0, 0]);
  assert.deepEqual(at(1, 12, 13), [255, 255, 0]);
  assert.deepEqual(at(2, 12, 13), [255, 255, 255]);
  assert.deepEqual(at(0, 0, 0), [0, 0, 0], "outside the brain the experts agree with the reference");
  const bar = fig.colourBar!;
  assert.deepEqual(pngPixel(png, bar.x + (bar.w >> 1), bar.y), [255, 255, 255], "bar top = hot(1)");
  assert.deepEqual(pngPixel(png, bar.x + (bar.w >> 1), bar.y + bar.h - 1), [0, 0, 0], "bar bottom = hot(0)");
});

test("experts: --sr overrides; without --sr and a missing output the SR column is skipped", () => {
  const noOut = explainDir("no-output", { output: join(root, "gone.nii.gz") });
  const fig = makeExperts({ explain: noOut, ref: REF, slices: [10] });
  assert.equal(fig.sr, null);
  assert.equal(fig.panels[0]!.length, 3);
  const withSr = makeExperts({ explain: noOut, ref: REF, sr: SR, slices: [10] });
  assert.equal(withSr.panels[0]!.length, 4);
  assert.equal(readExplainDir(noOut, { experts: true, gates: true }).outputAsWritten, join(root, "gone.nii.gz"));
});

test("explain errors: missing files, bad explain.json, expert on another grid; nothing written", async () => {
  const missing = explainDir("missing", { skip: ["expert_E2.nii.gz", "gate_E3.nii.gz"] });
  const out = join(root, "bad.png");
  await rejectsMatching(runFigures("experts", "--explain", missing, "--ref", REF, "-o", out), /lacks expert_E2\.nii\.gz/, /enhance --explain/);
  await rejectsMatching(runFigures("gates", "--explain", missing, "-o", out), /lacks gate_E3\.nii\.gz/);
  assertThrowsMatching(() => readExplainDir(join(root, "nowhere"), { experts: true, gates: false }), /--explain .*nowhere does not exist/);
  const badJson = join(root, "bad-json");
  mkdirSync(badJson);
  writeFileSync(join(badJson, "explain.json"), JSON.stringify({ format: "other", version: 1 }));
  assertThrowsMatching(() => readExplainDir(badJson, { experts: true, gates: false }), /"format" must be "moediff-sr-explain"/);
  const wrongGrid = explainDir("wrong-grid");
  put(wrongGrid, "expert_E3.nii.gz", volumeOf(phantom, [24, 28, 19]));
  await rejectsMatching(runFigures("experts", "--explain", wrongGrid, "--ref", REF, "-o", out), /expert E3 .* is not on the grid of --ref/);
  await rejectsMatching(runFigures("experts", "--explain", FULL, "--ref", REF, "--slices", "3,99", "-o", out), /slice 99 is out of range/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(root).filter((f) => f.endsWith(".tmp")), []);
});

test("gates: cubehelix 0..1 colours, means in titles, colour bar ends", async () => {
  const out = join(root, "gates.png");
  await runFigures("gates", "--explain", FULL, "-o", out);
  const png = readPng(out);
  const fig = makeGates({ explain: FULL });
  assert.equal(png.width, fig.canvas.width);
  assert.equal(png.height, fig.canvas.height);
  // Default slices follow explain.json's output (the SR): the brain spans k = 2..18.
  assert.deepEqual(fig.slices, [7, 10, 13]);
  fig.means.forEach((row) => row.forEach((m, j) => assert.ok(Math.abs(m - GATES[j]!) < 1e-6)));
  const lut = colourLut(CUBEHELIX.map);
  fig.cells[0]!.forEach((c, j) => {
    const i = 3 * Math.round(255 * GATES[j]!);
    assert.deepEqual(pngPixel(png, c.image.x + 3, c.image.y + 3), [lut[i], lut[i + 1], lut[i + 2]]);
  });
  const bar = fig.colourBar!;
  assert.deepEqual(pngPixel(png, bar.x + 2, bar.y), [255, 255, 255], "cubehelix(1) is white");
  assert.deepEqual(pngPixel(png, bar.x + 2, bar.y + bar.h - 1), [0, 0, 0], "cubehelix(0) is black");
});

test("gates over a background: alpha-blended inside the brain, grey outside, mean over the brain", async () => {
  const bgPath = put(root, "bg.nii.gz", volumeOf((a, b, c) => (inSphere(a, b, c) ? 100 : 0)));
  const fig = makeGates({ explain: FULL, background: bgPath, slices: [10] });
  const lut = colourLut(CUBEHELIX.map);
  const s = fig.cells[0]![0]!.image.w / DIMS[0];
  const c = fig.cells[0]![1]!; // E2, gate 0.3
  const inside = fig.canvas.pixel(c.image.x + 12 * s + 1, c.image.y + 13 * s + 1);
  const k = 3 * Math.round(255 * 0.3);
  // Background window 0.5..99.5th percentile = [0, 100]: the brain is white (255), outside black.
  assert.deepEqual(inside, [0, 1, 2].map((q) => Math.round(GATE_ALPHA * lut[k + q]! + (1 - GATE_ALPHA) * 255)));
  assert.deepEqual(fig.canvas.pixel(c.image.x + 1, c.image.y + 1), [0, 0, 0]);
  assert.ok(Math.abs(fig.means[0]![1]! - 0.3) < 1e-6);
  const other = put(root, "bg_other.nii.gz", volumeOf(phantom, [24, 27, 20]));
  assertThrowsMatching(() => makeGates({ explain: FULL, background: other }), /--background .* is not on the grid of the gate maps/);
});

test("gates outside [0, 1] give a warning on stderr", async () => {
  const dir = explainDir("out-of-range");
  put(dir, "gate_E1.nii.gz", volumeOf(() => 1.5));
  const r = await runFigures("gates", "--explain", dir, "--slices", "4", "-o", join(root, "g2.png"));
  assert.match(r.stderr, /warning: gate E1 has values in \[1\.5, 1\.5\], outside \[0, 1\]/);
});
