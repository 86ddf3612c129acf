// Distance transform and binary morphology against brute force on small masks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { distanceTransform, squaredDistanceTransform } from "../../../src/preprocess/segment/distance.js";
import { close, connectedComponents, countMask, dice, dilate, erode, fillHoles, largestComponent, touching6 } from "../../../src/preprocess/segment/morphology.js";
import { Random } from "../../../src/util/random.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

type D3 = [number, number, number];

function randomMask(dims: D3, p: number, seed: number): Uint8Array {
  const r = new Random(seed, "segment-morph");
  return Uint8Array.from({ length: dims[0] * dims[1] * dims[2] }, () => (r.uniform() < p ? 1 : 0));
}

function bruteDistance(feature: Uint8Array, dims: D3, s: D3, outside = false): Float64Array {
  const [nx, ny, nz] = dims;
  const out = new Float64Array(feature.length);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        let best = Infinity;
        for (let c = 0; c < nz; c++) {
          for (let b = 0; b < ny; b++) {
            for (let a = 0; a < nx; a++) {
              if (feature[a + nx * (b + ny * c)] === 0) continue;
              best = Math.min(best, Math.hypot(s[0] * (i - a), s[1] * (j - b), s[2] * (k - c)));
            }
          }
        }
        if (outside) best = Math.min(best, s[0] * Math.min(i + 1, nx - i), s[1] * Math.min(j + 1, ny - j), s[2] * Math.min(k + 1, nz - k));
        out[i + nx * (j + ny * k)] = best;
      }
    }
  }
  return out;
}

test("distanceTransform equals brute force with anisotropic voxels, with and without the outside as feature", () => {
  const dims: D3 = [9, 7, 6];
  const spacing: D3 = [0.7, 1.3, 2.1];
  for (const [p, seed] of [
    [0.03, 1],
    [0.2, 2],
    [0.6, 3],
  ] as const) {
    const m = randomMask(dims, p, seed);
    assert.ok(countMask(m) > 0);
    assertClose(distanceTransform(m, dims, spacing), bruteDistance(m, dims, spacing), { atol: 1e-5, rtol: 1e-6, message: `p ${p}` });
    assertClose(distanceTransform(m, dims, spacing, { outsideIsFeature: true }), bruteDistance(m, dims, spacing, true), { atol: 1e-5, rtol: 1e-6 });
  }
});

test("distanceTransform: no feature gives Infinity (finite with the outside as feature); bad input is named", () => {
  const dims: D3 = [4, 3, 2];
  const none = new Uint8Array(24);
  assert.ok(distanceTransform(none, dims, [1, 1, 1]).every((d) => d === Infinity));
  const d = squaredDistanceTransform(none, dims, [1, 1, 1], { outsideIsFeature: true });
  assert.equal(d[0], 1);
  assertThrowsMatching(() => distanceTransform(new Uint8Array(5), dims, [1, 1, 1]), /mask has 5 voxels, dims \[4, 3, 2\] need 24/);
  assertThrowsMatching(() => distanceTransform(none, dims, [1, 0, 1]), /voxel sizes must be 3 positive numbers/);
});

test("dilate and erode by a radius in mm are the ball operations; closing fills a narrow gap", () => {
  const dims: D3 = [15, 15, 15];
  const n = 15 ** 3;
  const point = new Uint8Array(n);
  point[7 + 15 * (7 + 15 * 7)] = 1;
  const ball = dilate(point, dims, [1, 1, 2], 4);
  // A ball of radius 4 mm around the centre: |di| <= 4, |dj| <= 4 and |dk| <= 2 voxels.
  for (let k = 0; k < 15; k++) {
    for (let j = 0; j < 15; j++) {
      for (let i = 0; i < 15; i++) {
        const inside = Math.hypot(i - 7, j - 7, 2 * (k - 7)) <= 4;
        assert.equal(ball[i + 15 * (j + 15 * k)], inside ? 1 : 0);
      }
    }
  }
  // Eroding that ball by 1 mm leaves the voxels more than 1 mm from every outside voxel.
  const eroded = erode(ball, dims, [1, 1, 2], 1);
  const dOut = bruteDistance(Uint8Array.from(ball, (v) => 1 - v), dims, [1, 1, 2]);
  for (let i = 0; i < n; i++) assert.equal(eroded[i], ball[i] === 1 && (dOut[i] as number) > 1 ? 1 : 0);
  // A full volume erodes from its faces unless the outside is ignored.
  const full = new Uint8Array(n).fill(1);
  assert.equal(erode(full, dims, [1, 1, 1], 1.5)[0], 0);
  assert.equal(countMask(erode(full, dims, [1, 1, 1], 1.5, true)), n);
  // Two slabs with a 2-voxel gap: closing by 2 mm joins them and keeps their outer faces.
  const slabs = new Uint8Array(n);
  for (let k = 0; k < 15; k++) for (let j = 0; j < 15; j++) for (let i = 0; i < 15; i++) if ((i >= 2 && i <= 5) || (i >= 8 && i <= 11)) slabs[i + 15 * (j + 15 * k)] = 1;
  const closed = close(slabs, dims, [1, 1, 1], 2);
  for (let i = 0; i < 15; i++) assert.equal(closed[i + 15 * (7 + 15 * 7)], i >= 2 && i <= 11 ? 1 : 0, `i ${i}`);
  // A slab on a face is closed as if the outside were empty: it neither erodes from the face nor grows.
  const face = new Uint8Array(n);
  for (let k = 0; k < 15; k++) for (let j = 0; j < 15; j++) for (let i = 0; i <= 3; i++) face[i + 15 * (j + 15 * k)] = 1;
  assert.deepEqual(close(face, dims, [1, 1, 1], 3), face);
  assertThrowsMatching(() => dilate(point, dims, [1, 1, 1], -1), /radius must be a finite number >= 0/);
});

test("connected components (6-connectivity), largest component, hole filling, touching6 and dice", () => {
  const dims: D3 = [6, 5, 4];
  const at = (i: number, j: number, k: number) => i + 6 * (j + 5 * k);
  const m = new Uint8Array(120);
  // a 2x2x2 cube, a diagonal neighbour of it (separate under 6-connectivity), a 3-voxel bar
  for (const [i, j, k] of [
    [0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1],
    [2, 2, 2],
    [5, 4, 1], [5, 4, 2], [5, 4, 3],
  ] as const) m[at(i, j, k)] = 1;
  const { labels, sizes } = connectedComponents(m, dims);
  // numbered in scan order: the bar's first voxel (index 59) comes before the single voxel (74)
  assert.deepEqual(sizes, [8, 3, 1]);
  assert.equal(labels[at(5, 4, 3)], 2);
  assert.equal(labels[at(2, 2, 2)], 3);
  assert.equal(countMask(largestComponent(m, dims)), 8);
  assert.equal(countMask(largestComponent(new Uint8Array(120), dims)), 0);
  // A hollow 3x3x3 shell with a hole at its centre; a shell open to a face is not filled.
  const shell = new Uint8Array(7 * 7 * 7);
  const s = (i: number, j: number, k: number) => i + 7 * (j + 7 * k);
  for (let k = 2; k <= 4; k++) for (let j = 2; j <= 4; j++) for (let i = 2; i <= 4; i++) if (!(i === 3 && j === 3 && k === 3)) shell[s(i, j, k)] = 1;
  const filled = fillHoles(shell, [7, 7, 7]);
  assert.equal(filled[s(3, 3, 3)], 1);
  assert.equal(countMask(filled), 27);
  shell[s(3, 3, 2)] = 0; // a tunnel from the hole to the outside
  assert.equal(fillHoles(shell, [7, 7, 7])[s(3, 3, 3)], 0);
  const a = new Uint8Array(120);
  const b = new Uint8Array(120);
  a[at(2, 2, 2)] = 1;
  a[at(4, 2, 2)] = 1;
  b[at(2, 3, 2)] = 1; // face neighbour of the first
  b[at(5, 3, 3)] = 1; // only a corner neighbour of the second
  assert.deepEqual([...touching6(a, b, dims).entries()].filter(([, v]) => v).map(([i]) => i), [at(2, 2, 2)]);
  assertClose(dice(a, b), 0);
  assertClose(dice(a, a), 1);
  assertClose(dice(m, largestComponent(m, dims)), (2 * 8) / (12 + 8), { atol: 1e-12 });
  assertThrowsMatching(() => dice(a, new Uint8Array(3)), /masks differ in size/);
});
