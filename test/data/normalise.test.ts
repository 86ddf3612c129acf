import { test } from "node:test";
import assert from "node:assert/strict";
import { normaliseIntensity } from "../../src/data/normalise.js";
import { percentile } from "../../src/util/percentile.js";
import { Rng } from "../../src/data/rng.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

/** numpy.percentile's default ("linear") by sorting: the reference the quickselect must match. */
function sortedPercentile(values: readonly number[], p: number): number {
  const a = [...values].sort((x, y) => x - y);
  const r = (p / 100) * (a.length - 1);
  const lo = Math.floor(r);
  const hi = Math.ceil(r);
  return (a[lo] as number) + (r - lo) * ((a[hi] as number) - (a[lo] as number));
}

test("percentile interpolates between order statistics as numpy does", () => {
  const v = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted order
  assertClose(percentile(v, 99.5), 99.505, { atol: 1e-9 }); // rank 98.505 between 99 and 100
  assert.equal(percentile(v, 50), 50.5);
  assert.equal(percentile(v, 0), 1);
  assert.equal(percentile(v, 100), 100);
  assert.equal(percentile([7], 99.5), 7);
  const input = Float32Array.from([3, 1, 2]);
  percentile(input, 50);
  assert.deepEqual(Array.from(input), [3, 1, 2], "the input is not reordered");
});

test("percentile agrees with a sort-based reference on random data with ties", () => {
  const rng = new Rng(7, "test");
  for (const n of [2, 3, 10, 101, 1000]) {
    const v = Array.from({ length: n }, () => Math.fround(Math.floor(rng.uniform(0, 50)) / 4));
    for (const p of [0, 1, 25, 50, 90, 99.5, 100]) {
      assertClose(percentile(v, p), sortedPercentile(v, p), { atol: 1e-6, message: `n ${n} p ${p}` });
    }
  }
});

test("normaliseIntensity divides by the 99.5th percentile of voxels above the mean and clips to [0, 1]", () => {
  // 800 background zeros and the values 1..200: mean 20.1, so the foreground is 21..200 (180 voxels),
  // whose 99.5th percentile is at rank 0.995 * 179 = 178.105: 199 + 0.105 * (200 - 199) = 199.105.
  const data = new Float32Array(1000);
  for (let i = 0; i < 200; i++) data[800 + i] = i + 1;
  data[0] = -5; // a negative value is clipped to 0
  const dims: [number, number, number] = [10, 10, 10];
  const r = normaliseIntensity({ data, dims, affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] });
  assertClose(r.threshold, (200 * 201) / 2 / 1000 - 5 / 1000, { atol: 1e-9 });
  assert.equal(r.foregroundVoxels, 180);
  assertClose(r.scale, 199.105, { atol: 1e-4 });
  const out = r.volume.data;
  assert.equal(out[0], 0);
  assert.equal(out[1], 0);
  assertClose(out[899] as number, 100 / 199.105, { atol: 1e-6 });
  assert.equal(out[999], 1, "200 > scale clips to 1");
  assertClose(out[998] as number, 199 / 199.105, { atol: 1e-6, message: "199 < scale is not clipped" });
});

test("normaliseIntensity rejects NaN, empty and constant volumes with clear messages", () => {
  const dims: [number, number, number] = [2, 2, 2];
  const affine = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  const nan = new Float32Array(8).fill(1);
  nan[3] = Number.NaN;
  assertThrowsMatching(() => normaliseIntensity({ data: nan, dims, affine }, "HR x.nii"), /HR x\.nii: 1 voxels are NaN or Inf \(the first at voxel index 3\)/);
  assertThrowsMatching(() => normaliseIntensity({ data: new Float32Array(8), dims, affine }, "LR"), /LR: the volume is empty \(every voxel is 0\)/);
  assertThrowsMatching(() => normaliseIntensity({ data: new Float32Array(8).fill(4), dims, affine }, "LR"), /constant \(every voxel is 4\)/);
});
