// N4's mask handling and shrinking (src/preprocess/n4/mask.ts, shrink.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { automaticMask, fillHoles, maskFromVolume } from "../../../src/preprocess/n4/mask.js";
import { shrinkPoints, validVoxels } from "../../../src/preprocess/n4/shrink.js";
import type { Volume } from "../../../src/volume/volume.js";
import { assertThrowsMatching } from "../../helpers.js";

const AFFINE = [2, 0, 0, -10, 0, 2, 0, -12, 0, 0, 2, -8, 0, 0, 0, 1];

function volume(dims: [number, number, number], f: (i: number, j: number, k: number) => number, affine = AFFINE): Volume {
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0, v = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, v++) data[v] = f(i, j, k);
  return { data, dims, affine };
}

const inside = (i: number, j: number, k: number, lo: number, hi: number) => i >= lo && i <= hi && j >= lo && j <= hi && k >= lo && k <= hi;

test("fillHoles fills enclosed background but not background connected to the border", () => {
  const dims: [number, number, number] = [10, 10, 10];
  // A closed shell (2..7) with a cavity (4..5), and a cup (open at the top) elsewhere is not needed:
  // the shell's cavity is a hole, the outside is not.
  const shell = volume(dims, (i, j, k) => (inside(i, j, k, 2, 7) && !inside(i, j, k, 4, 5) ? 1 : 0));
  const m = Uint8Array.from(shell.data);
  assert.equal(fillHoles(m, dims), 8);
  assert.equal(m[4 + 10 * (4 + 10 * 4)], 1);
  assert.equal(m[0], 0);
  // Open the cavity to the outside along i: nothing to fill.
  const open = volume(dims, (i, j, k) => (inside(i, j, k, 2, 7) && !inside(i, j, k, 4, 5) && !(j >= 4 && j <= 5 && k >= 4 && k <= 5 && i >= 4) ? 1 : 0));
  assert.equal(fillHoles(Uint8Array.from(open.data), dims), 0);
  assertThrowsMatching(() => fillHoles(new Uint8Array(5), dims), /mask has 5 voxels, dims \[10, 10, 10\] need 1000/);
});

test("the automatic mask: above 10% of the 99th percentile of positive voxels, holes filled", () => {
  const dims: [number, number, number] = [12, 12, 12];
  // Background 1 (noise floor), object 100, a dark enclosed pocket of 3 inside it.
  const v = volume(dims, (i, j, k) => (inside(i, j, k, 5, 6) ? 3 : inside(i, j, k, 2, 9) ? 100 : 1));
  const m = automaticMask(v);
  assert.ok(Math.abs(m.threshold - 10) < 1e-9, `threshold ${m.threshold}`);
  assert.equal(m.filled, 8);
  let count = 0;
  for (const x of m.mask) count += x;
  assert.equal(count, 512);
  assertThrowsMatching(() => automaticMask(volume(dims, () => 0)), /no positive voxels; N4 works on magnitude images/);
});

test("a user's mask must be on the image's grid, finite and not empty", () => {
  const img = volume([6, 5, 4], () => 10);
  const ok = maskFromVolume(volume([6, 5, 4], (i) => (i > 2 ? 2 : 0)), img, "mask m.nii");
  assert.equal(ok.reduce((a, b) => a + b, 0), 60);
  assertThrowsMatching(() => maskFromVolume(volume([6, 5, 3], () => 1), img, "mask m.nii"), /mask m\.nii is 6x5x3, the image is 6x5x4: the mask must be on the image's grid/, /--like IMAGE/);
  const shifted = [...AFFINE];
  shifted[3] = -9;
  assertThrowsMatching(() => maskFromVolume(volume([6, 5, 4], () => 1, shifted), img, "mask m.nii"), /another affine \(entries differ by up to 1\.00 mm\)/);
  assertThrowsMatching(() => maskFromVolume(volume([6, 5, 4], () => 0), img, "mask m.nii"), /mask m\.nii is empty \(no nonzero voxels\)/);
  assertThrowsMatching(() => maskFromVolume(volume([6, 5, 4], (i) => (i === 1 ? Number.NaN : 1)), img, "mask m.nii"), /voxel 1 is NaN; a mask must be finite/);
});

test("valid voxels exclude non-positive and non-finite intensities; shrinking subsamples every f-th voxel", () => {
  const v = volume([9, 8, 7], (i, j, k) => (i === 0 ? 0 : i === 1 && j === 0 ? Number.NaN : i === 2 && j === 0 ? -5 : 1 + i + 10 * j + 100 * k));
  const mask = new Uint8Array(v.data.length).fill(1);
  const { valid, count, excluded } = validVoxels(v, mask);
  assert.equal(excluded, 8 * 7 + 7 + 7);
  assert.equal(count, 9 * 8 * 7 - excluded);
  const p = shrinkPoints(v, valid, 4);
  // Axis positions 2 and 6 (first floor(4/2) = 2, step 4) on every axis; i = 2, j = 0 is negative but j starts at 2.
  assert.equal(p.count, 2 * 2 * 2);
  assert.deepEqual([...new Set(p.x)], [2, 6]);
  assert.deepEqual([...new Set(p.z)], [2, 6]);
  assert.ok(Math.abs(p.logValue[0]! - Math.log(1 + 2 + 20 + 200)) < 1e-12);
  // Factor 1 keeps every valid voxel.
  assert.equal(shrinkPoints(v, valid, 1).count, count);
  // An axis shorter than the offset starts at its last voxel.
  const thin = volume([9, 8, 1], () => 5);
  assert.equal(shrinkPoints(thin, new Uint8Array(72).fill(1), 4).count, 2 * 2);
  assertThrowsMatching(() => shrinkPoints(v, valid, 0), /shrink factor must be a positive integer, got 0/);
});
