import { test } from "node:test";
import assert from "node:assert/strict";
import { cubicWeights, interpolateBSpline, mirrorIndex, prefilterBSpline, POLE } from "../../src/volume/bspline.js";
import { identity } from "../../src/volume/affine.js";
import type { Volume } from "../../src/volume/volume.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { analytic, beta3, bsplineCoefficientsDense, reflect, rng } from "./volumes.js";

function randomVolume(dims: [number, number, number], seed: number): Volume {
  const r = rng(seed);
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let q = 0; q < data.length; q++) data[q] = 100 * r() - 30;
  return { data, dims, affine: identity() };
}

test("pole is sqrt(3) - 2 and the weights are the cubic B-spline", () => {
  assertClose(POLE, -0.2679491924311228, { atol: 1e-15 });
  const w = new Float64Array(4);
  for (const t of [0, 0.1, 0.5, 0.93]) {
    cubicWeights(t, w);
    assertClose(w, [beta3(t + 1), beta3(t), beta3(t - 1), beta3(t - 2)], { atol: 1e-15, message: `t=${t}` });
    assertClose(w[0]! + w[1]! + w[2]! + w[3]!, 1, { atol: 1e-15 });
    // Linear precision: sum_k w_k (k - 1) = t.
    assertClose(-w[0]! + w[2]! + 2 * w[3]!, t, { atol: 1e-15 });
  }
});

test("mirrorIndex is whole-sample symmetric", () => {
  const n = 5;
  const got = [-6, -5, -4, -1, 0, 3, 4, 5, 8, 9, 13].map((i) => mirrorIndex(i, n));
  assert.deepEqual(got, [2, 3, 4, 1, 0, 3, 4, 3, 0, 1, 3]);
  for (let i = -20; i <= 20; i++) for (const m of [1, 2, 3, 7]) assert.equal(mirrorIndex(i, m), reflect(i, m), `i=${i} n=${m}`);
});

test("prefilter matches a dense solve of the interpolation system (exact and truncated initialisation)", () => {
  // nx = 30 > horizon uses the truncated causal sum, ny = 5 and nz = 2 the exact mirror sum.
  for (const dims of [
    [30, 5, 2],
    [1, 7, 3],
  ] as [number, number, number][]) {
    const v = randomVolume(dims, 11);
    const got = prefilterBSpline(v).coefficients;
    const want = bsplineCoefficientsDense(v);
    assertClose(got, want, { atol: 2e-5, rtol: 1e-6, message: `dims ${dims.join("x")}` });
  }
});

test("interpolation at the grid points returns the data", () => {
  for (const dims of [
    [23, 17, 12],
    [2, 3, 40],
    [1, 1, 9],
  ] as [number, number, number][]) {
    const v = randomVolume(dims, 3);
    const c = prefilterBSpline(v);
    const got = new Float32Array(v.data.length);
    let o = 0;
    for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) got[o++] = interpolateBSpline(c, i, j, k);
    assertClose(got, v.data, { atol: 1e-4, rtol: 1e-5, message: `dims ${dims.join("x")}` });
  }
});

test("prefiltering does not modify its input and a constant stays constant", () => {
  const v = randomVolume([6, 5, 4], 9);
  const copy = Float32Array.from(v.data);
  prefilterBSpline(v);
  assert.deepEqual(v.data, copy);
  const flat: Volume = { data: new Float32Array(120).fill(7.25), dims: [6, 5, 4], affine: identity() };
  assertClose(prefilterBSpline(flat).coefficients, new Float32Array(120).fill(7.25), { atol: 1e-5 });
});

test("a smooth mirror-symmetric function is reproduced off-grid to 3e-4, over 100x better than trilinear", () => {
  // cos(pi m x / (n-1)) is symmetric about both boundary samples, so the mirror boundary is exact.
  const dims: [number, number, number] = [25, 21, 17];
  const f = (x: number, y: number, z: number): number =>
    Math.cos((Math.PI * 3 * x) / (dims[0] - 1)) * Math.cos((Math.PI * 2 * y) / (dims[1] - 1)) * Math.cos((Math.PI * 2 * z) / (dims[2] - 1));
  const v = analytic(dims, identity(), f);
  const c = prefilterBSpline(v);
  const r = rng(5);
  let maxErr = 0;
  let maxLinErr = 0;
  for (let s = 0; s < 2000; s++) {
    const p = [r() * (dims[0] - 1), r() * (dims[1] - 1), r() * (dims[2] - 1)] as const;
    maxErr = Math.max(maxErr, Math.abs(interpolateBSpline(c, p[0], p[1], p[2]) - f(p[0], p[1], p[2])));
    // Trilinear for comparison.
    const q = p.map(Math.floor);
    let lin = 0;
    for (let dk = 0; dk < 2; dk++)
      for (let dj = 0; dj < 2; dj++)
        for (let di = 0; di < 2; di++) {
          const w = (1 - Math.abs(p[0] - q[0]! - di)) * (1 - Math.abs(p[1] - q[1]! - dj)) * (1 - Math.abs(p[2] - q[2]! - dk));
          lin += w * f(Math.min(q[0]! + di, dims[0] - 1), Math.min(q[1]! + dj, dims[1] - 1), Math.min(q[2]! + dk, dims[2] - 1));
        }
    maxLinErr = Math.max(maxLinErr, Math.abs(lin - f(p[0], p[1], p[2])));
  }
  // Measured: 1.3e-4 (B-spline) and 4.5e-2 (trilinear) for these wavelengths (12 to 16 voxels).
  assert.ok(maxErr < 3e-4, `B-spline max error ${maxErr}`);
  assert.ok(maxLinErr > 100 * maxErr, `trilinear ${maxLinErr} should be far worse than B-spline ${maxErr}`);
});

test("prefilterBSpline rejects a volume whose data length does not match its dims", () => {
  const bad: Volume = { data: new Float32Array(10), dims: [2, 2, 2], affine: identity() };
  assertThrowsMatching(() => prefilterBSpline(bad), /prefilterBSpline: volume/, /10 values/, /need 8/);
});
