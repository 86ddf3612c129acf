// Scoring the demo's files: on a grid at least as thick as the SSIM window the scores are
// `moediff-sr evaluate`'s (runEvaluate's) exactly; on a thinner slab, which evaluate refuses, the same
// definitions give PSNR, RMSE, HFEN and the per-slice 2-D metrics, and the 3-D SSIM is n/a with a note.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeNifti } from "../../src/nifti/index.js";
import { runEvaluate } from "../../src/evaluate/evaluate.js";
import { hfen, mse, perSliceMetrics, psnrFromMse } from "../../src/metrics/volume_metrics.js";
import { METHODS, scoreScope, SSIM_WINDOW, type MethodKey } from "../../src/demo/score.js";
import type { Volume } from "../../src/volume/volume.js";
import { tempDir } from "../data/phantom.js";

let dir: string;
let cleanup: () => void;
before(() => ({ dir, cleanup } = tempDir("moediff-report-eval-")));
after(() => cleanup());

/** Writes the reference, every method's prediction and two region masks on a [16, ny, nz] grid into DIR/name. */
function writeSet(name: string, nz: number, ny = 14): { ref: string; files: Record<MethodKey, string>; regions: string; vols: Record<string, Volume> } {
  const root = join(dir, name);
  mkdirSync(join(root, "regions"), { recursive: true });
  const dims: [number, number, number] = [16, ny, nz];
  const affine = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  const n = 16 * ny * nz;
  const field = (f: (i: number, j: number, k: number) => number): Volume => {
    const data = new Float32Array(n);
    for (let q = 0; q < n; q++) data[q] = f(q % 16, Math.floor(q / 16) % ny, Math.floor(q / (16 * ny)));
    return { data, dims, affine };
  };
  const vols: Record<string, Volume> = { reference: field((i, j, k) => 50 + 30 * Math.sin(i / 2) * Math.cos(j / 3) + k) };
  METHODS.forEach((m, t) => (vols[m.key] = field((i, j, k) => 50 + 30 * Math.sin(i / 2 + 0.1 * t) * Math.cos(j / 3) + k + t)));
  for (const [key, v] of Object.entries(vols)) writeNifti(join(root, `${key}.nii.gz`), v);
  const inner = field((i, j) => (i > 3 && i < 12 && j > 3 && j < 10 ? 1 : 0));
  writeNifti(join(root, "regions", "brain.nii.gz"), inner, { dtype: "uint8" });
  writeNifti(join(root, "regions", "empty.nii.gz"), field(() => 0), { dtype: "uint8" });
  const files = Object.fromEntries(METHODS.map((m) => [m.key, join(root, `${m.key}.nii.gz`)])) as Record<MethodKey, string>;
  return { ref: join(root, "reference.nii.gz"), files, regions: join(root, "regions"), vols };
}

test("a grid as thick as the SSIM window: the scores are runEvaluate's", () => {
  const s = writeSet("thick", SSIM_WINDOW);
  const scope = scoreScope("slab", s.ref, s.files, s.regions, 2);
  assert.equal(scope.note, null);
  assert.deepEqual(scope.regionsSkipped, ["empty"]);
  for (const m of scope.methods) {
    const r = runEvaluate({ pred: s.files[m.method], ref: s.ref, regions: s.regions, perSlice: true, axis: 2 });
    assert.deepEqual(m.volume, r.volume);
    assert.deepEqual(m.regions, r.regions.map(({ set: _set, ...x }) => x));
    assert.deepEqual(m.perSlice, r.slices?.metrics);
    assert.ok(Number.isFinite(m.volume.ssim));
    const mean = (m.perSlice as { ssim: number }[]).reduce((a, x) => a + x.ssim, 0) / SSIM_WINDOW;
    assert.ok(Math.abs(m.sliceMeans.ssim - mean) < 1e-12);
  }
});

test("a slab thinner than the SSIM window: same definitions, the 3-D SSIM n/a with a note", () => {
  const s = writeSet("thin", 4);
  assert.throws(() => runEvaluate({ pred: s.files.enhanced, ref: s.ref }), /smaller than the 11-voxel SSIM window/);
  const scope = scoreScope("slab", s.ref, s.files, s.regions, 2);
  assert.match(scope.note ?? "", /thinner than the 11-voxel window of the 3-D SSIM/);
  assert.deepEqual(scope.regionsSkipped, ["empty"]);
  const ref = s.vols.reference as Volume;
  const range = Math.max(...ref.data) - Math.min(...ref.data);
  assert.equal(scope.dataRange, range);
  const mask = Uint8Array.from((s.vols.reference as Volume).data, (_v, q) => (q % 16 > 3 && q % 16 < 12 && Math.floor(q / 16) % 14 > 3 && Math.floor(q / 16) % 14 < 10 ? 1 : 0));
  for (const m of scope.methods) {
    const pred = s.vols[m.method] as Volume;
    assert.equal(m.volume.psnr, psnrFromMse(mse(pred.data, ref.data), range));
    assert.equal(m.volume.hfen, hfen(pred.data, ref.data, ref.dims));
    assert.ok(Number.isNaN(m.volume.ssim));
    const brain = m.regions.find((r) => r.name === "brain");
    assert.equal(brain?.voxels, mask.reduce((a, x) => a + x, 0));
    assert.equal(brain?.psnr, psnrFromMse(mse(pred.data, ref.data, mask), range));
    assert.equal(brain?.hfen, hfen(pred.data, ref.data, ref.dims, { mask }));
    assert.deepEqual(m.perSlice, perSliceMetrics(pred.data, ref.data, ref.dims, range, 2));
    assert.ok(Number.isFinite(m.sliceMeans.ssim));
  }
});

test("with LPIPS weights: the whole grid's and the brain's LPIPS, as evaluate computes them, thick and thin", async () => {
  const { FIXTURES } = await import("../metrics/lpips_formula.js");
  const { evaluate, loadLpipsScorer } = await import("../../src/evaluate/evaluate.js");
  const backbone = `${FIXTURES}lpips_vgg_tiny.pth`;
  const linear = `${FIXTURES}lpips_vgg_tiny_lin.pth`;
  const scorer = await loadLpipsScorer({ lpipsBackbone: backbone, lpipsLinear: linear });
  try {
    // 16x16 slices: the tiny VGG's smallest input.
    const s = writeSet("lpips-thick", SSIM_WINDOW, 16);
    const scope = scoreScope("slab", s.ref, s.files, s.regions, 2, { lpips: { scorer, backbone, linear } });
    for (const m of scope.methods) {
      const r = await evaluate({ pred: s.files[m.method], ref: s.ref, regions: s.regions, perSlice: true, axis: 2, lpipsBackbone: backbone, lpipsLinear: linear });
      assert.deepEqual(m.lpips, { value: r.lpips?.value, brain: r.lpips?.brain?.value });
      assert.ok(Number.isFinite(m.lpips?.brain ?? Number.NaN));
    }
    assert.notEqual(scope.methods[0]?.lpips?.value, scope.methods[4]?.lpips?.value, "the methods differ");
    // The thin path (evaluate refuses the grid) gives the same definitions.
    const t = writeSet("lpips-thin", 4, 16);
    const thin = scoreScope("slab", t.ref, t.files, t.regions, 2, { lpips: { scorer, backbone, linear } });
    const ref = t.vols.reference as Volume;
    const low = Math.min(...ref.data);
    const range = Math.max(...ref.data) - low;
    for (const m of thin.methods) {
      const pred = t.vols[m.method] as Volume;
      assert.equal(m.lpips?.value, scorer.score(pred.data, ref.data, ref.dims, { axis: 2, low, range }).mean);
      assert.ok(Number.isFinite(m.lpips?.brain ?? Number.NaN));
    }
  } finally {
    scorer.dispose();
  }
});
