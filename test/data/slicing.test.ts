import { test } from "node:test";
import assert from "node:assert/strict";
import { brainFractions, keptSlices } from "../../src/data/brain_fraction.js";
import { extractCondition, extractSlice, sliceGeometry, type Axis } from "../../src/data/slicing.js";
import type { Volume } from "../../src/volume/volume.js";
import { assertThrowsMatching } from "../helpers.js";

const EYE = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

/** v(i, j, k) = 1 + i + 100 j + 10000 k: every voxel value names its position (and is never 0). */
function coded(dims: [number, number, number]): Volume {
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0, q = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, q++) data[q] = 1 + i + 100 * j + 10000 * k;
  return { data, dims, affine: EYE };
}
const code = (i: number, j: number, k: number): number => 1 + i + 100 * j + 10000 * k;

test("axis z: columns are i, rows are j; centre crop of rows and centre pad of columns", () => {
  const v = coded([5, 6, 7]);
  // Rows: 6 -> 4, offset floor(2/2) = 1 (row r reads j = r + 1). Columns: 5 -> 8, offset floor(-3/2) = -2.
  const g = sliceGeometry(v.dims, "z", 4, 8);
  assert.deepEqual([g.rowOffset, g.colOffset, g.count, g.nativeHeight, g.nativeWidth], [1, -2, 7, 6, 5]);
  const s = extractSlice(v, g, 3);
  const at = (r: number, c: number): number => s[r * 8 + c] as number;
  assert.equal(at(0, 2), code(0, 1, 3));
  assert.equal(at(0, 6), code(4, 1, 3));
  assert.equal(at(3, 2), code(0, 4, 3));
  assert.equal(at(2, 4), code(2, 3, 3));
  for (let r = 0; r < 4; r++) for (const c of [0, 1, 7]) assert.equal(at(r, c), 0, `padding at ${r},${c}`);
});

test("axis y: columns are i, rows are k; axis x: columns are j, rows are k", () => {
  const v = coded([5, 6, 7]);
  const gy = sliceGeometry(v.dims, "y", 7, 5); // exact fit
  assert.deepEqual([gy.rowOffset, gy.colOffset], [0, 0]);
  const sy = extractSlice(v, gy, 2);
  assert.equal(sy[0], code(0, 2, 0));
  assert.equal(sy[1], code(1, 2, 0));
  assert.equal(sy[5], code(0, 2, 1));
  assert.equal(sy[6 * 5 + 4], code(4, 2, 6));
  const gx = sliceGeometry(v.dims, "x", 9, 4); // rows 7 -> 9 (pad, offset -1), columns 6 -> 4 (crop, offset 1)
  assert.deepEqual([gx.rowOffset, gx.colOffset], [-1, 1]);
  const sx = extractSlice(v, gx, 4);
  for (let c = 0; c < 4; c++) {
    assert.equal(sx[c], 0, "row 0 is padding");
    assert.equal(sx[8 * 4 + c], 0, "row 8 is padding");
  }
  assert.equal(sx[1 * 4 + 0], code(4, 1, 0));
  assert.equal(sx[7 * 4 + 3], code(4, 4, 6));
});

test("odd crops drop the extra row at the end, odd pads put it at the start", () => {
  const v = coded([3, 7, 2]);
  const crop = sliceGeometry(v.dims, "z", 4, 3); // 7 -> 4: offset floor(3/2) = 1: rows 1..4 kept, 0 and 5, 6 dropped
  const s = extractSlice(v, crop, 0);
  assert.equal(s[0], code(0, 1, 0));
  assert.equal(s[3 * 3], code(0, 4, 0));
  const pad = sliceGeometry(v.dims, "z", 10, 3); // 7 -> 10: offset floor(-3/2) = -2: 2 rows before, 1 after
  const p = extractSlice(v, pad, 0);
  assert.equal(p[1 * 3], 0);
  assert.equal(p[2 * 3], code(0, 0, 0));
  assert.equal(p[8 * 3], code(0, 6, 0));
  assert.equal(p[9 * 3], 0);
});

test("the condition holds slices k-1, k, k+1 with the edge slice repeated", () => {
  const v = coded([4, 4, 5]);
  const g = sliceGeometry(v.dims, "z", 4, 4);
  const hw = 16;
  const channel = (c: Float32Array, ch: number): number[] => Array.from(c.subarray(ch * hw, (ch + 1) * hw));
  const slice = (k: number): number[] => Array.from(extractSlice(v, g, k));
  const mid = extractCondition(v, g, 2);
  assert.deepEqual([channel(mid, 0), channel(mid, 1), channel(mid, 2)], [slice(1), slice(2), slice(3)]);
  const first = extractCondition(v, g, 0);
  assert.deepEqual([channel(first, 0), channel(first, 1), channel(first, 2)], [slice(0), slice(0), slice(1)]);
  const last = extractCondition(v, g, 4);
  assert.deepEqual([channel(last, 0), channel(last, 1), channel(last, 2)], [slice(3), slice(4), slice(4)]);
  assertThrowsMatching(() => extractCondition(v, g, 5), /slice 5 is outside 0\.\.4 along axis z/);
});

test("brain fraction per slice and the minimum-brain threshold", () => {
  // 10 x 10 x 4 slices along z; slice k has 5k voxels above 0.05 (and some at exactly 0.05, which do not count).
  const data = new Float32Array(400);
  for (let k = 0; k < 4; k++) {
    for (let q = 0; q < 5 * k; q++) data[100 * k + q] = 0.5;
    data[100 * k + 99] = 0.05;
  }
  const v: Volume = { data, dims: [10, 10, 4], affine: EYE };
  const f = brainFractions(v, "z");
  assert.deepEqual(Array.from(f), [0, 0.05, 0.1, 0.15]);
  assert.deepEqual(keptSlices(f, 0.05), [1, 2, 3], "exactly 5% is kept");
  assert.deepEqual(keptSlices(f, 0.11), [3]);
  // Along x: column i of every slice; voxels q < 5k in slice k sit at i = q % 10.
  const fx = brainFractions(v, "x" as Axis);
  assert.equal(fx.length, 10);
  assert.equal(fx[0], (0 + 1 + 1 + 2) / 40); // i = 0: q = 0 (k>=1), q = 10 (k = 3)
});
