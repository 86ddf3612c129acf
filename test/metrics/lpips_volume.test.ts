// LPIPS of a volume slice by slice (src/metrics/lpips_volume.ts) against the Python goldens:
// slicing, [-1, 1] scaling by the reference range, 3-channel replication, skipping constant slices.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { Lpips } from "../../src/metrics/lpips.js";
import { lpipsVolume } from "../../src/metrics/lpips_volume.js";
import { dataRange } from "../../src/volume/volume.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { FIXTURES, goldenVolume, loadLpipsGolden } from "./lpips_formula.js";

const g = loadLpipsGolden().volume;
const { pred, ref } = goldenVolume(g);
const [lo, hi] = dataRange(ref);

test("per-slice LPIPS and the mean match the goldens; the constant slice is skipped", () => {
  using model = Lpips.fromFiles(`${FIXTURES}lpips_vgg_tiny.pth`, `${FIXTURES}lpips_vgg_tiny_lin.pth`);
  assertClose(hi - lo, g.dataRange, { atol: 0, rtol: 1e-12 });
  const r = lpipsVolume(model, pred, ref, g.dims, { axis: 2, low: lo, range: hi - lo });
  assert.equal(r.axis, 2);
  assert.deepEqual(r.skipped, [g.skippedSlice]);
  assert.deepEqual(r.slices.map((s) => s.index), g.slices.map((s) => s.index));
  assertClose(r.slices.map((s) => s.lpips), g.slices.map((s) => s.lpips), { atol: 1e-5, rtol: 0 });
  assertClose(r.mean, g.mean, { atol: 1e-5, rtol: 0 });
  // A batch of one slice or of three gives the same numbers; memory does not grow with the slice count.
  const before = T.memory().numTensors;
  const one = lpipsVolume(model, pred, ref, g.dims, { axis: 2, low: lo, range: hi - lo, batch: 1 });
  const three = lpipsVolume(model, pred, ref, g.dims, { axis: 2, low: lo, range: hi - lo, batch: 3 });
  assert.equal(T.memory().numTensors, before);
  assertClose(one.slices.map((s) => s.lpips), r.slices.map((s) => s.lpips), { atol: 1e-7, rtol: 1e-6 });
  assertClose(three.slices.map((s) => s.lpips), r.slices.map((s) => s.lpips), { atol: 1e-7, rtol: 1e-6 });
  // pred == ref: every used slice is 0.
  const same = lpipsVolume(model, ref, ref, g.dims, { low: lo, range: hi - lo });
  assert.equal(same.slices.length, 10);
  assertClose(same.slices.map((s) => s.lpips), new Array(10).fill(0), { atol: 1e-12, rtol: 0 });
  // A larger range shrinks the images' contrast and so changes the score.
  const wide = lpipsVolume(model, pred, ref, g.dims, { low: lo, range: 4 * (hi - lo) });
  assert.ok(Math.abs(wide.mean - r.mean) > 1e-4);
});

test("slices too small for the network, a constant reference and bad arguments are clear errors", () => {
  using model = Lpips.fromFiles(`${FIXTURES}lpips_vgg_tiny.pth`, `${FIXTURES}lpips_vgg_tiny_lin.pth`);
  assertThrowsMatching(
    () => lpipsVolume(model, pred, ref, g.dims, { axis: 0, low: lo, range: 1 }),
    /slices across axis 0 are 16x11 voxels, but the vgg LPIPS network needs at least 16x16; choose another axis/,
  );
  const flat = new Float32Array(ref.length).fill(3);
  const none = lpipsVolume(model, pred, flat, g.dims, { low: 0, range: 1 });
  assert.ok(Number.isNaN(none.mean));
  assert.deepEqual(none.skipped, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assertThrowsMatching(() => lpipsVolume(model, pred, ref, g.dims, { low: lo, range: 0 }), /range must be a positive finite number, got 0/);
  assertThrowsMatching(() => lpipsVolume(model, pred.subarray(1), ref, g.dims, { low: lo, range: 1 }), /pred has 3167 values and ref 3168/);
  assertThrowsMatching(() => lpipsVolume(model, pred, ref, g.dims, { low: lo, range: 1, batch: 0 }), /batch must be a positive integer, got 0/);
});
