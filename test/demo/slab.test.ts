// Slab geometry: cropping keeps world positions, the context range, and the LR cut that interpolates
// the slab exactly as the whole LR volume does (the reason for the prefilter margin).
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyToPoint, gridFor } from "../../src/volume/affine.js";
import { resample } from "../../src/volume/resample.js";
import type { Volume } from "../../src/volume/volume.js";
import { contextRange, cropData, cropGrid, cropVolume, lrRangeFor, PREFILTER_MARGIN, type Dim } from "../../src/demo/slab.js";
import { assertThrowsMatching } from "../helpers.js";

/** A volume whose value encodes its voxel index, on an oblique-free but shifted, scaled grid. */
function indexed(dims: [number, number, number]): Volume {
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let q = 0; q < data.length; q++) data[q] = q;
  return { data, dims, affine: [0.9, 0, 0, -10, 0, 1.1, 0, 5, 0, 0, 1.3, -7, 0, 0, 0, 1] };
}

test("cropVolume along each axis: values and world positions of the kept voxels are unchanged", () => {
  const v = indexed([5, 6, 7]);
  for (const dim of [0, 1, 2] as Dim[]) {
    const c = cropVolume(v, dim, 2, 3);
    const dims = [5, 6, 7];
    dims[dim] = 2;
    assert.deepEqual(c.dims, dims);
    for (let k = 0; k < c.dims[2]; k++) {
      for (let j = 0; j < c.dims[1]; j++) {
        for (let i = 0; i < c.dims[0]; i++) {
          const src = [i, j, k] as [number, number, number];
          src[dim] += 2;
          const q: number = i + c.dims[0] * (j + c.dims[1] * k);
          assert.equal(c.data[q], src[0] + 5 * (src[1] + 6 * src[2]));
          const a = applyToPoint(c.affine, [i, j, k]);
          const b = applyToPoint(v.affine, src);
          a.forEach((x, r) => assert.ok(Math.abs(x - (b[r] as number)) < 1e-12));
        }
      }
    }
  }
  const mask = cropData(Uint8Array.from(v.data, (x) => x % 2), v.dims, 2, 6, 6);
  assert.ok(mask instanceof Uint8Array);
  assert.equal(mask.length, 30);
  assertThrowsMatching(() => cropGrid({ dims: [5, 6, 7], affine: v.affine }, 2, 3, 7), /slices 3\.\.7 are not inside 0\.\.6/);
  assertThrowsMatching(() => cropData(v.data, v.dims, 1, 4, 2), /slices 4\.\.2/);
});

test("contextRange adds one slice each side, clipped to the volume", () => {
  assert.deepEqual(contextRange(101, 113, 181), [100, 114]);
  assert.deepEqual(contextRange(0, 3, 10), [0, 4]);
  assert.deepEqual(contextRange(5, 9, 10), [4, 9]);
});

test("the LR cut interpolates the slab as the whole LR volume does (cubic B-spline, trilinear, nearest)", () => {
  // A smooth-ish random HR volume at 1 mm, its 1.7 mm LR grid, and a 5-slice HR slab along y.
  const dims: [number, number, number] = [20, 70, 18];
  const hr: Volume = { data: new Float32Array(20 * 70 * 18), dims, affine: [1, 0, 0, -9.5, 0, 1, 0, -34.5, 0, 0, 1, -8.5, 0, 0, 0, 1] };
  const lrGrid = gridFor(hr, 1.7);
  let s = 12345;
  const lrData = new Float32Array(lrGrid.dims[0] * lrGrid.dims[1] * lrGrid.dims[2]).map(() => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return 50 + 50 * (s / 2147483648);
  });
  const lr: Volume = { data: lrData, dims: lrGrid.dims as [number, number, number], affine: lrGrid.affine };
  const target = cropGrid({ dims, affine: hr.affine }, 1, 30, 34);
  const [l0, l1] = lrRangeFor(lrGrid, target, 1);
  assert.ok(l0 > 0 && l1 < lrGrid.dims[1] - 1, `the cut ${l0}..${l1} must be strictly inside 0..${lrGrid.dims[1] - 1} for this test`);
  assert.ok(l1 - l0 + 1 >= 2 * PREFILTER_MARGIN + 3);
  const cut = cropVolume(lr, 1, l0, l1);
  for (const interpolation of ["bspline", "trilinear", "nearest"] as const) {
    const a = resample(cut, target, { interpolation, fill: 0 });
    const b = resample(lr, target, { interpolation, fill: 0 });
    let worst = 0;
    for (let q = 0; q < a.data.length; q++) worst = Math.max(worst, Math.abs((a.data[q] as number) - (b.data[q] as number)));
    assert.ok(worst <= 1e-4, `${interpolation}: the cut differs from the whole volume by ${worst} (values 50..100)`);
  }
  // Without the margin the B-spline prefilter sees the cut's faces.
  const [m0, m1] = lrRangeFor(lrGrid, target, 1, 0);
  const bare = resample(cropVolume(lr, 1, m0, m1), target, { interpolation: "bspline", fill: 0 });
  const full = resample(lr, target, { interpolation: "bspline", fill: 0 });
  let worst = 0;
  for (let q = 0; q < bare.data.length; q++) worst = Math.max(worst, Math.abs((bare.data[q] as number) - (full.data[q] as number)));
  assert.ok(worst > 1e-2, `no margin should change the interpolation noticeably, changed by ${worst}`);
});
