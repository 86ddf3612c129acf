// Display orientation, slice extraction, percentiles, default slices and --slices checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { centreOfMass, checkSlices, defaultSlices, displayOrientation, extractSlice, maskOf, parseSliceList, percentile, upscaleFactor } from "../../src/figures/slices.js";
import { assertThrowsMatching } from "../helpers.js";
import { AFFINE, DIMS, inSphere, phantom, volumeOf } from "./helpers.js";

const code = (i: number, j: number, k: number) => i + 100 * j + 10000 * k;

test("RAS axial: patient right to the right, anterior (high j) at the top", () => {
  const v = volumeOf(code);
  const o = displayOrientation(AFFINE, 2);
  assert.equal(o.plane, "axial");
  assert.match(o.description, /neurological/);
  const s = extractSlice(v, o, 5);
  assert.equal(s.width, DIMS[0]);
  assert.equal(s.height, DIMS[1]);
  assert.equal(s.data[0], code(0, DIMS[1] - 1, 5)); // top-left: i = 0 (left), j max (anterior)
  assert.equal(s.data[s.width - 1], code(DIMS[0] - 1, DIMS[1] - 1, 5));
  assert.equal(s.data[(s.height - 1) * s.width], code(0, 0, 5));
});

test("LAS (x flipped) is flipped back so the patient's left stays on the left", () => {
  const las = [-1, 0, 0, 12, 0, 1, 0, -14, 0, 0, 1, -10, 0, 0, 0, 1];
  const v = volumeOf(code, DIMS, las);
  const o = displayOrientation(las, 2);
  assert.equal(o.across.reversed, true);
  const s = extractSlice(v, o, 0);
  // i = nx-1 is the most leftward voxel (x = 12 - 23 = -11 mm), so it is on the left.
  assert.equal(s.data[0], code(DIMS[0] - 1, DIMS[1] - 1, 0));
});

test("coronal and sagittal: superior up; sagittal anterior on the left", () => {
  const v = volumeOf(code);
  const cor = displayOrientation(AFFINE, 1);
  assert.equal(cor.plane, "coronal");
  const c = extractSlice(v, cor, 3);
  assert.equal(c.width, DIMS[0]);
  assert.equal(c.height, DIMS[2]);
  assert.equal(c.data[0], code(0, 3, DIMS[2] - 1));
  const sag = displayOrientation(AFFINE, 0);
  assert.equal(sag.plane, "sagittal");
  const s = extractSlice(v, sag, 4);
  assert.equal(s.width, DIMS[1]);
  assert.equal(s.data[0], code(4, DIMS[1] - 1, DIMS[2] - 1)); // anterior (j max) left, superior top
});

test("an affine whose voxel axes share a world axis shows voxel order unflipped", () => {
  const oblique = [1, 1, 0, 0, 0.1, 0.2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  const o = displayOrientation(oblique, 2);
  assert.equal(o.plane, "oblique");
  assert.equal(o.across.reversed, false);
  assert.equal(o.down.reversed, false);
});

test("percentile interpolates between order statistics like numpy", () => {
  const v = [5, 1, 4, 2, 3];
  assert.equal(percentile(v, 0), 1);
  assert.equal(percentile(v, 100), 5);
  assert.equal(percentile(v, 50), 3);
  assert.equal(percentile(v, 12.5), 1.5);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test("default slices sit at 30/50/70% of the brain extent", () => {
  const v = volumeOf(phantom);
  // The sphere spans k = 2..18 along axis 2.
  assert.deepEqual(defaultSlices(v, 2, DIMS[2]), [Math.round(2 + 0.3 * 16), 10, Math.round(2 + 0.7 * 16)]);
  assert.deepEqual(defaultSlices(null, 2, 11), [3, 5, 7]);
});

test("--slices parsing and range checks give clear messages", () => {
  assert.deepEqual(parseSliceList("3, 7,12"), [3, 7, 12]);
  assertThrowsMatching(() => parseSliceList("3,x"), /--slices expects comma-separated slice indices/);
  assertThrowsMatching(() => parseSliceList("-1"), /--slices expects/);
  assertThrowsMatching(() => checkSlices([3, 20], 2, 20), /slice 20 is out of range for axis 2, which has 20 slices \(0\.\.19\)/);
  checkSlices([0, 19], 2, 20);
});

test("centre of mass of the sphere's mask and the upscale factor", () => {
  const v = volumeOf((i, j, k) => (inSphere(i, j, k) ? 1 : 0));
  const s = extractSlice(v, displayOrientation(AFFINE, 2), 10);
  const [cx, cy] = centreOfMass(s, maskOf(s, 0.5));
  assert.ok(Math.abs(cx - 12) < 1e-9 && Math.abs(cy - (DIMS[1] - 1 - 14)) < 1e-9, `centre (${cx}, ${cy})`);
  assert.equal(upscaleFactor(24, 28), 11);
  assert.equal(upscaleFactor(300, 256), 1);
});
