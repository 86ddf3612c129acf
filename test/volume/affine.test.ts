import { test } from "node:test";
import assert from "node:assert/strict";
import { applyToPoint, gridFor, identity, invert, multiply, voxelSizes } from "../../src/volume/affine.js";
import type { Volume } from "../../src/volume/volume.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { affineFrom, rotation, scaleColumns } from "./volumes.js";

const vol = (dims: [number, number, number], affine: number[]): Volume => ({ data: new Float32Array(dims[0] * dims[1] * dims[2]), dims, affine });

test("multiply composes row-major 4x4 matrices", () => {
  const a = affineFrom([1, 2, 0, 0, 1, 0, 0, 0, 3], [1, 2, 3]);
  const b = affineFrom([0, 1, 0, 1, 0, 0, 0, 0, 1], [4, 5, 6]);
  // a * b * p == a * (b * p) for a point p
  const p: [number, number, number] = [0.5, -2, 7];
  assertClose(applyToPoint(multiply(a, b), p), applyToPoint(a, applyToPoint(b, p)), { atol: 1e-12 });
  assert.deepEqual(multiply(a, identity()), a);
  assert.deepEqual(multiply(a, b).slice(12), [0, 0, 0, 1]);
});

test("invert gives the inverse of an oblique anisotropic affine", () => {
  const a = affineFrom(scaleColumns(rotation(20, -35, 50), [0.7, 1.2, 3]), [-90, 126, -72]);
  const inv = invert(a);
  assertClose(multiply(a, inv), identity(), { atol: 1e-12 });
  assertClose(multiply(inv, a), identity(), { atol: 1e-12 });
  // A general (non-affine) matrix needing a row swap.
  const m = [0, 2, 1, 0, 1, 0, 0, 3, 0, 1, 4, 0, 2, 0, 0, 1];
  assertClose(multiply(m, invert(m)), identity(), { atol: 1e-12 });
});

test("invert is scale-invariant: tiny and huge but regular matrices invert", () => {
  for (const s of [1e-6, 1e6]) {
    const a = affineFrom([s, 0, 0, 0, s, 0, 0, 0, s], [s, 0, 0]);
    assertClose(multiply(a, invert(a)), identity(), { atol: 1e-9 });
  }
});

test("invert throws naming a singular matrix", () => {
  assertThrowsMatching(() => invert(affineFrom([1, 0, 0, 0, 0, 0, 0, 0, 1], [0, 0, 0]), "source affine"), /source affine is singular/);
  // Two parallel columns (rank 2) and a nearly parallel pair at 1e-14.
  assertThrowsMatching(() => invert(affineFrom([1, 2, 0, 1, 2, 0, 0, 0, 1], [0, 0, 0])), /singular/);
  assertThrowsMatching(() => invert(affineFrom([1, 1, 0, 0, 1e-14, 0, 0, 0, 1], [0, 0, 0])), /singular/);
  assertThrowsMatching(() => invert([1, 2, 3]), /16 finite numbers/);
});

test("applyToPoint and voxelSizes read the columns", () => {
  const r = rotation(10, 20, 30);
  const a = affineFrom(scaleColumns(r, [0.7, 1.5, 2.5]), [1, 2, 3]);
  assertClose(voxelSizes(a), [0.7, 1.5, 2.5], { atol: 1e-12 });
  assertClose(applyToPoint(a, [0, 0, 0]), [1, 2, 3], { atol: 1e-12 });
  assertClose(applyToPoint(a, [0, 2, 0]), [1 + 3 * r[1]!, 2 + 3 * r[4]!, 3 + 3 * r[7]!], { atol: 1e-12 });
});

test("gridFor keeps the FOV centre and rounds dims: 181 x 1 mm -> 121 x 1.5 mm", () => {
  const a = affineFrom([1, 0, 0, 0, 1, 0, 0, 0, 1], [-90, -126, -72]);
  const v = vol([181, 217, 181], a);
  const g = gridFor(v, 1.5);
  assert.deepEqual(g.dims, [121, 145, 121]); // 120.67, 144.67, 120.67 rounded
  assertClose(voxelSizes(g.affine), [1.5, 1.5, 1.5], { atol: 1e-12 });
  assertClose(applyToPoint(g.affine, [60, 72, 60]), applyToPoint(a, [90, 108, 90]), { atol: 1e-9 });
  // The new FOV spans 181.5 mm: each face moves out by 0.25 mm.
  assertClose(applyToPoint(g.affine, [-0.5, -0.5, -0.5]), [-90.5 - 0.25, -126.5 - 0.25, -72.5 - 0.25], { atol: 1e-9 });
});

test("gridFor preserves FOV faces exactly when the size ratio divides, for oblique anisotropic affines", () => {
  const a = affineFrom(scaleColumns(rotation(15, -5, 40), [1, 2, 3]), [10, -20, 30]);
  const v = vol([10, 6, 4], a);
  const g = gridFor(v, [0.5, 0.5, 1.5]);
  assert.deepEqual(g.dims, [20, 24, 8]);
  assertClose(voxelSizes(g.affine), [0.5, 0.5, 1.5], { atol: 1e-12 });
  for (const [p, q] of [
    [[-0.5, -0.5, -0.5], [-0.5, -0.5, -0.5]],
    [[9.5, 5.5, 3.5], [19.5, 23.5, 7.5]],
  ] as const) {
    assertClose(applyToPoint(g.affine, q), applyToPoint(a, p), { atol: 1e-9, message: `face corner ${p.join(",")}` });
  }
  // Column directions are kept.
  for (let c = 0; c < 3; c++) {
    const old = [a[c]!, a[4 + c]!, a[8 + c]!];
    const neu = [g.affine[c]!, g.affine[4 + c]!, g.affine[8 + c]!];
    const no = Math.hypot(...old);
    const nn = Math.hypot(...neu);
    assertClose(neu.map((x) => x / nn), old.map((x) => x / no), { atol: 1e-12 });
  }
});

test("gridFor rounds halves up and never returns fewer than one voxel", () => {
  const v = vol([3, 1, 5], identity());
  assert.deepEqual(gridFor(v, 2).dims, [2, 1, 3]); // 1.5 -> 2, 0.5 -> 1, 2.5 -> 3
  assert.deepEqual(gridFor(v, 100).dims, [1, 1, 1]);
});

test("gridFor rejects non-positive or malformed voxel sizes, naming the value", () => {
  const v = vol([4, 4, 4], identity());
  assertThrowsMatching(() => gridFor(v, 0), /voxel size must be a positive/, /got 0/);
  assertThrowsMatching(() => gridFor(v, -1.5), /voxel size must be a positive/, /-1\.5/);
  assertThrowsMatching(() => gridFor(v, [1, 0, 1]), /voxel size/, /\[1,0,1\]/);
  assertThrowsMatching(() => gridFor(v, Number.NaN), /voxel size/);
  assertThrowsMatching(() => gridFor(v, [1, 1] as unknown as [number, number, number]), /3 of them/);
});
