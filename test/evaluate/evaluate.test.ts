// `moediff-sr evaluate` through runEvaluate (no process spawning): NIfTI files in, report and JSON out.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeNifti } from "../../src/nifti/index.js";
import { runEvaluate, type EvaluateReport } from "../../src/evaluate/evaluate.js";
import { formatReport, reportToJson } from "../../src/evaluate/report_text.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { loadGolden } from "../metrics/golden.js";

const g = loadGolden();
const TOL = { atol: 1e-9, rtol: 1e-9 };

const work = mkdtempSync(join(tmpdir(), "moediff-evaluate-"));
after(() => rmSync(work, { recursive: true, force: true }));

const AFFINE = [1.2, 0, 0, -9, 0, 1.2, 0, -8, 0, 0, 1.2, -7, 0, 0, 0, 1];
const [nx, ny, nz] = g.dims;
const n = nx * ny * nz;

function put(name: string, data: ArrayLike<number>, affine: number[] = AFFINE, dims: [number, number, number] = g.dims): string {
  const p = join(work, name);
  writeNifti(p, { data: Float32Array.from(data), dims, affine });
  return p;
}

/** Golden label rule (make_metrics_golden.py). */
const labels = Float32Array.from({ length: n }, (_, idx) => {
  const i = idx % nx;
  const j = Math.floor(idx / nx) % ny;
  const k = Math.floor(idx / (nx * ny));
  return (i - 8) ** 2 + (j - 7) ** 2 + (k - 6) ** 2 <= 10 ? (i < 8 ? 1 : 2) : 0;
});
const PRED = put("pred.nii.gz", g.pred);
const REF = put("ref.nii.gz", g.ref);
const MASK = put("mask.nii", Float32Array.from(labels, (v) => (v > 0 ? 1 : 0)));
const LABELS = put("labels.nii.gz", labels);

test("volume, mask and label metrics match the goldens; JSON round-trips", () => {
  const names = join(work, "names.json");
  writeFileSync(names, '{"1": "left", "2": "right"}');
  const r = runEvaluate({ pred: PRED, ref: REF, mask: MASK, labels: LABELS, labelNames: names });
  assert.deepEqual(r.dims, g.dims);
  assertClose(r.voxelSize, [1.2, 1.2, 1.2], { atol: 1e-6 });
  assert.equal(r.dataRange, g.dataRange);
  assert.equal(r.dataRangeSource, "reference");
  assert.deepEqual(r.resampled, []);
  const v = r.volume;
  assertClose([v.mse, v.rmse, v.psnr, v.ssim, v.hfen], [g.volume.mse, Math.sqrt(g.volume.mse), g.volume.psnr, g.volume.ssim, g.volume.hfen], TOL);
  assert.deepEqual(r.regions.map((x) => [x.set, x.name, x.label]), [["mask", "mask", 1], ["labels", "left", 1], ["labels", "right", 2]]);
  const want = [g.masked, g.labels["1"]!, g.labels["2"]!];
  r.regions.forEach((x, i) => assertClose([x.mse, x.psnr, x.ssim, x.hfen], [want[i]!.mse, want[i]!.psnr, want[i]!.ssim, want[i]!.hfen], TOL));
  assert.equal(r.slices, undefined);
  const back = JSON.parse(reportToJson(r)) as EvaluateReport;
  assert.deepEqual(back.volume, r.volume);
  const text = formatReport(r);
  assert.match(text, new RegExp(`^volume\\s+${g.volume.psnr.toFixed(3)}\\s+${g.volume.ssim.toFixed(4)}\\s`, "m"));
  assert.match(text, /^right\s+/m);
});

test("--per-slice --axis 0 and --data-range", () => {
  const r = runEvaluate({ pred: PRED, ref: REF, perSlice: true, axis: 0 });
  assert.equal(r.slices!.axis, 0);
  assert.equal(r.slices!.metrics.length, nx);
  r.slices!.metrics.forEach((s, i) => {
    const w = g.slices["0"]![i]!;
    assertClose([s.mse, s.psnr, s.ssim, s.hfen], [w.mse, w.psnr, w.ssim, w.hfen], TOL);
  });
  assert.match(formatReport(r), /per slice across axis 0/);
  const r2 = runEvaluate({ pred: PRED, ref: REF, dataRange: 2 * g.dataRange });
  assert.equal(r2.dataRangeSource, "option");
  assertClose(r2.volume.psnr, g.volume.psnr + 20 * Math.log10(2), TOL);
  assert.ok(r2.volume.ssim > g.volume.ssim, "a larger range raises C1, C2 and so SSIM");
});

test("identical images: PSNR Infinity is written as the string \"Infinity\" in JSON", () => {
  const r = runEvaluate({ pred: REF, ref: REF });
  assert.equal(r.volume.psnr, Infinity);
  assertClose(r.volume.ssim, 1, { atol: 1e-12, rtol: 0 });
  const j = JSON.parse(reportToJson(r)) as { volume: { psnr: unknown; hfen: unknown } };
  assert.equal(j.volume.psnr, "Infinity");
  assert.equal(j.volume.hfen, 0);
  assert.match(formatReport(r), /^volume\s+inf\s+1\.0000/m);
});

test("grids: 1e-5 mm off is the same grid; more needs --resample, which resamples pred onto the reference", () => {
  const near = put("near.nii", g.pred, AFFINE.map((v, i) => (i === 3 ? v + 1e-5 : v)));
  assertClose(runEvaluate({ pred: near, ref: REF }).volume.mse, g.volume.mse, TOL);
  const shifted = put("shifted.nii", g.pred, AFFINE.map((v, i) => (i === 3 ? v + 0.6 : v)));
  assertThrowsMatching(() => runEvaluate({ pred: shifted, ref: REF }), /pred .*shifted\.nii is not on the reference grid \(affines differ by up to 0\.6 mm\); pass --resample/);
  const r = runEvaluate({ pred: shifted, ref: REF, resample: true });
  assert.deepEqual(r.resampled, ["pred"]);
  assert.notEqual(r.volume.mse, g.volume.mse);
  const small = put("small.nii", new Float32Array(11 * 11 * 11).fill(1), AFFINE, [11, 11, 11]);
  assertThrowsMatching(() => runEvaluate({ pred: PRED, ref: REF, mask: small }), /mask .*small\.nii is not on the reference grid \(dims \[11, 11, 11\] vs \[16, 15, 13\]\)/);
  // Nearest-neighbour resampling of the 11^3 mask (same origin and spacing) covers i, j, k < 11.
  const rm = runEvaluate({ pred: PRED, ref: REF, mask: small, resample: true, labels: LABELS });
  assert.deepEqual(rm.resampled, ["mask"]);
  assert.equal(rm.regions[0]!.voxels, 11 * 11 * 11);
});

test("NaN voxels, empty masks, constant references and bad options are clear errors", () => {
  const nan = put("nan.nii", Float32Array.from(g.pred, (v, i) => (i === 5 ? NaN : v)));
  assertThrowsMatching(() => runEvaluate({ pred: nan, ref: REF }), /NaN|non-finite/i);
  const zeroed = runEvaluate({ pred: nan, ref: REF, nonFinite: "zero" });
  assert.ok(zeroed.volume.mse > g.volume.mse);
  const empty = put("empty.nii", new Float32Array(n));
  assertThrowsMatching(() => runEvaluate({ pred: PRED, ref: REF, mask: empty }), /the mask is empty/);
  assertThrowsMatching(() => runEvaluate({ pred: PRED, ref: empty }), /is constant \(max - min = 0\): pass --data-range/);
  assertThrowsMatching(() => runEvaluate({ pred: PRED, ref: REF, labelNames: "x.json" }), /--label-names needs --labels/);
  assertThrowsMatching(() => runEvaluate({ pred: PRED, ref: REF, dataRange: -1 }), /--data-range must be a positive number, got -1/);
});

test("--regions DIR: one region per mask file, overlapping masks allowed, empty masks skipped", () => {
  const dir = join(work, "regions");
  mkdirSync(dir);
  const left = Float32Array.from(labels, (v) => (v === 1 ? 1 : 0));
  const both = Float32Array.from(labels, (v) => (v > 0 ? 1 : 0));
  writeNifti(join(dir, "left.nii.gz"), { data: left, dims: g.dims, affine: AFFINE });
  writeNifti(join(dir, "both.nii"), { data: both, dims: g.dims, affine: AFFINE });
  writeNifti(join(dir, "empty.nii.gz"), { data: new Float32Array(n), dims: g.dims, affine: AFFINE });
  writeFileSync(join(dir, "regions.json"), "{}");
  const r = runEvaluate({ pred: PRED, ref: REF, regions: dir });
  assert.deepEqual(r.regions.map((x) => [x.set, x.name]), [["regions", "both"], ["regions", "left"]]);
  assert.deepEqual(r.regionsSkipped, ["empty"]);
  // The same numbers as the golden label and mask regions: overlapping masks are scored independently.
  const [bothR, leftR] = r.regions as [EvaluateReport["regions"][number], EvaluateReport["regions"][number]];
  assertClose([bothR.mse, bothR.ssim, bothR.hfen], [g.masked.mse, g.masked.ssim, g.masked.hfen], TOL);
  assertClose([leftR.mse, leftR.ssim, leftR.hfen], [g.labels["1"]!.mse, g.labels["1"]!.ssim, g.labels["1"]!.hfen], TOL);
  assert.match(formatReport(r), /empty on this grid, skipped: empty/);
  const none = join(work, "no-masks");
  mkdirSync(none);
  assertThrowsMatching(() => runEvaluate({ pred: PRED, ref: REF, regions: none }), /holds no NIfTI mask/);
  assertThrowsMatching(() => runEvaluate({ pred: PRED, ref: REF, regions: join(work, "missing") }), /is not a readable directory/);
});

test("the table leads with the brain: the --regions mask 'brain' (else --mask) before the whole grid; PSNR, SSIM, HFEN before RMSE", () => {
  const dir = join(work, "brain-regions");
  mkdirSync(dir);
  const brain = Float32Array.from(labels, (v) => (v > 0 ? 1 : 0));
  writeNifti(join(dir, "brain.nii.gz"), { data: brain, dims: g.dims, affine: AFFINE });
  writeNifti(join(dir, "a_left.nii.gz"), { data: Float32Array.from(labels, (v) => (v === 1 ? 1 : 0)), dims: g.dims, affine: AFFINE });
  const r = runEvaluate({ pred: PRED, ref: REF, regions: dir });
  const lines = formatReport(r).split("\n");
  const header = lines.findIndex((l) => /^\s+PSNR dB\s+SSIM\s+HFEN\s+RMSE\s+voxels$/.test(l));
  assert.ok(header > 0, lines.join("\n"));
  assert.match(lines[header - 1] ?? "", /^brain first: the --regions mask 'brain'; then the whole grid/);
  assert.deepEqual(lines.slice(header + 1, header + 4).map((l) => l.split(/\s+/)[0]), ["brain", "volume", "a_left"], "brain, whole grid, then the other regions");
  const b = r.regions.find((x) => x.name === "brain")!;
  assertClose([b.psnr, b.ssim, b.hfen], [g.masked.psnr, g.masked.ssim, g.masked.hfen], TOL);
  assert.match(lines[header + 1] ?? "", new RegExp(`^brain\\s+${b.psnr.toFixed(3)}\\s+${b.ssim.toFixed(4)}\\s+${b.hfen.toFixed(4)}\\s+\\S+\\s+${b.voxels}$`));
  // --mask stands for the brain when no --regions brain is given.
  const m = formatReport(runEvaluate({ pred: PRED, ref: REF, mask: MASK, labels: LABELS }));
  assert.match(m, /brain first: the --mask region[^\n]*\n\s+PSNR dB[^\n]*\nmask \(brain\)\s[^\n]*\nvolume\s/);
  // Without any mask the table says that whole-grid figures are all there is.
  assert.match(formatReport(runEvaluate({ pred: PRED, ref: REF })), /no brain mask given .*whole-grid figures only/);
});
