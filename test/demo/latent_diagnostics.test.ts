// The latent diagnostics: rho and cos of synthetic latents whose answers are known (z_out = z_LR gives
// rho 0; z_out = z_HR gives rho 1 and cos 1; the opposite direction cos -1), sums over blocks equal to
// the whole; hrTarget gives the HR slices, b and g exactly as prepare stored them; and the pass on a tiny
// model: its z_out decodes to the enhanced output, and with the 3T slice itself as the "HR" target z_HR
// is z_LR to the bit (the two latents come from the same tiles through the same encoder).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { openSliceDataset } from "../../src/data/dataset.js";
import { extractSlice, sliceGeometry } from "../../src/data/slicing.js";
import { acquisitionScale, enhanceVolume, prepareInput } from "../../src/inference/enhance.js";
import { MoEDiffSRPipeline } from "../../src/inference/pipeline.js";
import { simulateAcquisition } from "../../src/simulate/simulate.js";
import { hrTarget, latentDiagnostics, latentGap, LatentGapSum } from "../../src/demo/latent_diagnostics.js";
import { contextRange, cropGrid, cropVolume, lrRangeFor } from "../../src/demo/slab.js";
import { loadSource } from "../../src/demo/source.js";
import { heldoutFromManifest } from "../../src/model_dir/heldout.js";
import type { Volume } from "../../src/volume/volume.js";
import { tempDir } from "../data/phantom.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { demoFixture, type DemoFixture } from "./fixture.js";

test("rho and cos of known latents: z_LR gives rho 0, z_HR rho 1 and cos 1, the opposite cos -1", () => {
  const zLr = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 3);
  const zHr = Float32Array.from(zLr, (v, i) => v + Math.cos(2 * i) + 0.5);
  const along = (t: number): Float32Array => Float32Array.from(zLr, (v, i) => v + t * ((zHr[i] as number) - v));

  const still = latentGap(zLr, zLr, zHr);
  assert.equal(still.rho, 0);
  assert.ok(Number.isNaN(still.cos), "no movement: no direction");
  assert.ok(still.gap > 0);

  const reached = latentGap(zHr, zLr, zHr);
  assertClose([reached.rho, reached.cos], [1, 1], { atol: 1e-12, rtol: 0 });
  assertClose(reached.moved, reached.gap, { atol: 1e-12, rtol: 0 });

  const half = latentGap(along(0.5), zLr, zHr);
  assertClose([half.rho, half.cos], [0.5, 1], { atol: 1e-6, rtol: 0 });
  const away = latentGap(along(-2), zLr, zHr);
  assertClose([away.rho, away.cos], [2, -1], { atol: 1e-6, rtol: 0 });

  // A move orthogonal to z_HR - z_LR: cos 0, rho its length over the gap.
  const d = Float32Array.from(zHr, (v, i) => v - (zLr[i] as number));
  const o = new Float64Array(d.length);
  o[0] = d[1] as number;
  o[1] = -(d[0] as number);
  const side = latentGap(Float32Array.from(zLr, (v, i) => v + (o[i] as number)), zLr, zHr);
  assertClose(side.cos, 0, { atol: 1e-6, rtol: 0 });
  assertClose(side.rho, Math.hypot(d[0] as number, d[1] as number) / Math.hypot(...d), { atol: 1e-6, rtol: 0 });

  // z_HR = z_LR: no gap, rho undefined.
  assert.ok(Number.isNaN(latentGap(zHr, zLr, zLr).rho));
});

test("LatentGapSum: blocks add up to the whole; bad lengths are refused", () => {
  const n = 40;
  const a = Float32Array.from({ length: n }, (_, i) => Math.sin(0.7 * i));
  const b = Float32Array.from({ length: n }, (_, i) => Math.cos(0.3 * i));
  const c = Float32Array.from({ length: n }, (_, i) => 0.1 * i - 2);
  const whole = latentGap(a, b, c);
  const s = new LatentGapSum();
  s.add(a, b, c, 0, 15);
  s.add(a, b, c, 15, 25);
  assert.equal(s.count, n);
  const parts = s.result();
  assertClose([parts.rho, parts.cos, parts.moved, parts.gap], [whole.rho, whole.cos, whole.moved, whole.gap], { atol: 1e-12, rtol: 1e-12 });
  assertThrowsMatching(() => s.add(a, b.subarray(1), c), /same length, got 40, 39, 40/);
  assertThrowsMatching(() => s.add(a, b, c, 30, 20), /values 30\.\.50 are outside the 40 given/);
});

let dir: string;
let cleanup: () => void;
let fx: DemoFixture;

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-latent-"));
  fx = await demoFixture(dir);
});
after(() => cleanup());

/** The demo's inputs for the fixture's held-out slab: the HR source, the simulation, the grids. */
function slabInputs() {
  const h = heldoutFromManifest(fx.manifest);
  const pair = fx.manifest.pairs.find((p) => p.subject === h.source.subject)!;
  const hr = loadSource(h.source).ras;
  const a = h.acquisition;
  const sim = simulateAcquisition(hr, { voxelSize: a.voxelSize, snr: a.snr, bias: a.bias, gradwarp: a.gradwarp, seed: a.seed });
  const hrGrid = { dims: [hr.dims[0], hr.dims[1], hr.dims[2]] as [number, number, number], affine: Array.from(hr.affine) };
  const [c0, c1] = contextRange(h.slab.first, h.slab.last, hr.dims[2]);
  const grid = cropGrid(hrGrid, 2, c0, c1);
  const [l0, l1] = lrRangeFor(sim.lrGrid, grid, 2);
  return { h, pair, hr, sim, hrGrid, c0, c1, grid, lr: cropVolume(sim.image, 2, l0, l1) };
}

test("hrTarget: the HR slices, b and g exactly as prepare stored them for the test slab", () => {
  const { h, pair, hr, sim, c0, c1 } = slabInputs();
  const t = hrTarget(hr, sim, 2, c0, c1, 99.5);
  const ds = openSliceDataset(fx.dataDir);
  try {
    const geo = sliceGeometry(t.x.dims, "z", ds.height, ds.width);
    let checked = 0;
    for (let i = 0; i < ds.size("test"); i++) {
      const s = ds.getSlice("test", i);
      if (s.meta.pair !== pair.id) continue;
      const k = s.meta.index - c0;
      for (const [name, v, stored] of [["x", t.x, s.hr], ["b", t.b, s.bias], ["g", t.g, s.g]] as const) {
        const mine = extractSlice(v as Volume, geo, k);
        let worst = 0;
        mine.forEach((x, q) => (worst = Math.max(worst, Math.abs(x - (stored[q] as number)))));
        assert.ok(worst < 1e-5, `${name} of slice ${s.meta.index} differs from the data set's by ${worst}`);
      }
      checked++;
    }
    assert.equal(checked, h.slab.last - h.slab.first + 1);
    assert.ok(t.b.data.some((v) => v !== 0) && t.g.data.some((v) => v !== 0), "the fixture has a bias field and a warp");
  } finally {
    ds.close();
  }
});

test("the pass on a tiny model: z_out is the enhanced output's latent; the 3T slice as target gives z_HR = z_LR", async () => {
  const { h, hr, sim, hrGrid, c0, c1, grid, lr } = slabInputs();
  const pipe = MoEDiffSRPipeline.fromDir(fx.modelDir);
  try {
    const settings = pipe.resolveOptions({ steps: 2, seed: 3, batch: 2 });
    const inputScale = acquisitionScale(sim.image, hrGrid, pipe.card);
    const enhanced = await enhanceVolume(pipe, lr, { ...settings, inputScale, like: grid, axes: ["z"] });
    const first = h.slab.first - c0;
    const last = h.slab.last - c0;
    const tensors = T.memory().numTensors;
    const progress: [number, number][] = [];
    const r = latentDiagnostics(pipe, { lr, grid, inputScale, target: hrTarget(hr, sim, 2, c0, c1, 99.5), first, last, settings, output: enhanced.output, onProgress: (d, n) => progress.push([d, n]) });
    assert.equal(T.memory().numTensors, tensors, "no tensor left behind");
    assert.deepEqual(progress.at(-1), [r.tiles, r.tiles], "progress ends at every tile");
    assert.equal(progress.length, Math.ceil(r.tiles / settings.batch), "one report per batch");
    assert.ok(r.decodedVsOutput !== null && r.decodedVsOutput < 1e-5, `decoding z_out differs from the enhanced output by ${r.decodedVsOutput}`);
    assert.ok(r.slices.length > 0 && r.slices.every((k) => k >= first && k <= last));
    assert.equal(r.tiles, r.slices.length, "one fitted tile per slice");
    assert.equal(r.values, r.tiles * r.latentShape[0] * r.latentShape[1] * r.latentShape[2]);
    assert.ok(r.rho > 0 && Number.isFinite(r.rho) && r.cos >= -1 && r.cos <= 1, `rho ${r.rho}, cos ${r.cos}`);
    assertClose(r.rho, r.moved / r.gap, { atol: 0, rtol: 1e-12 });

    // Another seed moves the latent elsewhere: the pass follows the settings, and the output check notices.
    const other = latentDiagnostics(pipe, { lr, grid, inputScale, target: hrTarget(hr, sim, 2, c0, c1, 99.5), first, last, settings: { ...settings, seed: 4 }, output: enhanced.output });
    assert.notEqual(other.moved, r.moved);
    assert.ok((other.decodedVsOutput as number) > 1e-4, "a z_out of other noise does not decode to this output");

    // The normalised 3T input itself as the target, with no b and g: z_HR is z_LR exactly.
    const { norm } = prepareInput(lr, { like: grid, inputScale }, pipe.card);
    const zeros: Volume = { ...norm, data: new Float32Array(norm.data.length) };
    const same = latentDiagnostics(pipe, { lr, grid, inputScale, target: { x: norm, g: zeros, b: zeros }, first, last, settings });
    assert.equal(same.gap, 0);
    assert.ok(Number.isNaN(same.rho));
    assert.equal(same.moved, r.moved, "the same z_out and z_LR");
    assert.equal(same.decodedVsOutput, null, "no output to check against");

    assertThrowsMatching(() => latentDiagnostics(pipe, { lr, grid, inputScale, target: { x: norm, g: zeros, b: zeros }, first, last, settings: { ...settings, steps: 0 } }), /steps 0 samples nothing/);
    assertThrowsMatching(() => latentDiagnostics(pipe, { lr, grid, inputScale, target: { x: norm, g: zeros, b: zeros }, first, last: 99, settings }), /slices \d+\.\.99 are not inside/);
  } finally {
    pipe.dispose();
  }
});
