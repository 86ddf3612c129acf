// Regions (mask, label map, label names) and metrics per region against the scipy goldens.
import { test } from "node:test";
import assert from "node:assert/strict";
import { hfen, ssim3d, mse, perSliceMetrics, type Dims3 } from "../../src/metrics/volume_metrics.js";
import { parseLabelNames, regionMetrics, regionsFromLabels, regionsFromMask, volumeAndRegionMetrics } from "../../src/metrics/regions.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { loadGolden, goldenLabels } from "./golden.js";




const g = loadGolden();
const pred = Float32Array.from(g.pred);
const ref = Float32Array.from(g.ref);
const TOL = { atol: 1e-10, rtol: 1e-10 };

test("per-label metrics match the goldens, with names from a lookup", () => {
  const labels = goldenLabels(g.dims);
  const set = regionsFromLabels(labels, new Map([[2, "right"]]));
  assert.deepEqual(set.names, ["label 1", "right"]);
  assert.deepEqual(set.labels, [1, 2]);
  const got = regionMetrics(pred, ref, g.dims, g.dataRange, set);
  for (const [n, r] of got.entries()) {
    const w = g.labels[String(n + 1)]!;
    assert.equal(r.voxels, w.voxels);
    assertClose([r.mse, r.rmse, r.psnr, r.ssim, r.hfen], [w.mse, Math.sqrt(w.mse), w.psnr, w.ssim, w.hfen], { ...TOL, message: r.name });
    assert.ok(r.ssimVoxels > 0 && r.ssimVoxels < r.voxels);
  }
});

test("a mask region equals the masked volume metrics; a whole-volume region equals the volume metrics", () => {
  const mask = goldenLabels(g.dims);
  const [m] = regionMetrics(pred, ref, g.dims, g.dataRange, regionsFromMask(mask));
  assert.equal(m!.name, "mask");
  assertClose([m!.mse, m!.psnr, m!.ssim, m!.hfen], [g.masked.mse, g.masked.psnr, g.masked.ssim, g.masked.hfen], TOL);
  const [all] = regionMetrics(pred, ref, g.dims, g.dataRange, regionsFromMask(new Float32Array(pred.length).fill(0.5)));
  assertClose(
    [all!.mse, all!.ssim, all!.hfen],
    [mse(pred, ref), ssim3d(pred, ref, g.dims, g.dataRange), hfen(pred, ref, g.dims)],
    TOL,
  );
});

test("a region entirely within 5 voxels of the border has no SSIM (NaN, ssimVoxels 0) but has the other metrics", () => {
  const dims: Dims3 = g.dims;
  const border = new Uint8Array(pred.length);
  for (let i = 0; i < dims[0] * dims[1]; i++) border[i] = 1; // slice k = 0
  const [r] = regionMetrics(pred, ref, dims, g.dataRange, regionsFromMask(border));
  assert.ok(Number.isNaN(r!.ssim));
  assert.equal(r!.ssimVoxels, 0);
  assertClose(r!.mse, mse(pred, ref, border), TOL);
  assert.ok(Number.isFinite(r!.hfen) && r!.hfen > 0);
});

test("label names: JSON, TSV with a header, FreeSurfer-style LUT; bad lines are named", () => {
  assert.deepEqual([...parseLabelNames('{"2": "Left WM", "41": "Right WM"}')], [[2, "Left WM"], [41, "Right WM"]]);
  assert.deepEqual([...parseLabelNames("index\tname\n1\tcortex grey\n\n# c\n2\twhite matter\n")], [[1, "cortex grey"], [2, "white matter"]]);
  assert.deepEqual([...parseLabelNames("0  Unknown  0 0 0 0\n17  Left-Hippocampus  220 216 20 0\n")], [[0, "Unknown"], [17, "Left-Hippocampus"]]);
  assertThrowsMatching(() => parseLabelNames("1\tA\nx\tB\n", "lut.tsv"), /lut.tsv: line 2: label value 'x' is not an integer/);
  assertThrowsMatching(() => parseLabelNames('{"a": "A"}', "n.json"), /n.json: key "a": label value 'a' is not an integer/);
  assertThrowsMatching(() => parseLabelNames('{"1": 3}', "n.json"), /the name of label 1 must be a string/);
  assertThrowsMatching(() => parseLabelNames("{oops", "n.json"), /n.json: not valid JSON/);
});

test("empty masks, empty or non-integer label maps and size mismatches are clear errors", () => {
  assertThrowsMatching(() => regionsFromMask(new Float32Array(8), "brain"), /brain: the mask is empty/);
  assertThrowsMatching(() => regionsFromLabels(new Float32Array(8)), /no nonzero label/);
  assertThrowsMatching(() => regionsFromLabels(Float32Array.of(0, 1, 2.5)), /voxel 2 has the non-integer value 2.5/);
  const set = regionsFromMask(Float32Array.of(1, 0));
  assertThrowsMatching(() => regionMetrics(pred, ref, g.dims, g.dataRange, set), /the regions cover 2 voxels/);
});

test("planar: SSIM and HFEN of a stack of slices are the 2-D per-slice definitions; PSNR does not change", () => {
  const [nx, ny] = g.dims;
  const nz = 2;
  const n = nx * ny * nz;
  const p = pred.subarray(0, n);
  const r = ref.subarray(0, n);
  const mask = new Float32Array(n).fill(1);
  const got = volumeAndRegionMetrics(p, r, [nx, ny, nz], g.dataRange, [regionsFromMask(mask, "all")], { planar: true });
  const slices = perSliceMetrics(p, r, [nx, ny, nz], g.dataRange, 2);
  // Every slice has the same number of interior voxels, so the stack's SSIM is the mean of the slices'.
  assertClose([got.volume.ssim], [(slices[0]!.ssim + slices[1]!.ssim) / 2], { ...TOL });
  assertClose([got.regions[0]![0]!.ssim], [got.volume.ssim], { ...TOL });
  assertClose([got.volume.mse], [mse(p, r)], { ...TOL });
  assert.ok(Number.isFinite(got.volume.hfen));
});
