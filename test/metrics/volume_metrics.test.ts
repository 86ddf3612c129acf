// Volume metrics against goldens from test/fixtures/make_metrics_golden.py (scipy implementation of
// scikit-image's SSIM, scipy's gaussian_laplace for HFEN) and against a direct-convolution reference.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  extractSlice,
  gaussianKernel1d,
  hfen,
  mse,
  perSliceMetrics,
  psnr,
  reflectIndex,
  rmse,
  ssim2d,
  ssim3d,
  type Dims3,
} from "../../src/metrics/volume_metrics.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { loadGolden, goldenLabels } from "./golden.js";




const g = loadGolden();
const pred = Float32Array.from(g.pred);
const ref = Float32Array.from(g.ref);
const TOL = { atol: 1e-10, rtol: 1e-10 };

test("whole-volume MSE, RMSE, PSNR, SSIM, HFEN match the scipy goldens", () => {
  assertClose(mse(pred, ref), g.volume.mse, TOL);
  assertClose(rmse(pred, ref), Math.sqrt(g.volume.mse), TOL);
  assertClose(psnr(pred, ref, g.dataRange), g.volume.psnr, TOL);
  assertClose(ssim3d(pred, ref, g.dims, g.dataRange), g.volume.ssim, TOL);
  assertClose(hfen(pred, ref, g.dims), g.volume.hfen, TOL);
});

test("masked metrics match the goldens (SSIM over the cropped interior inside the mask)", () => {
  const mask = goldenLabels(g.dims);
  assert.equal(mask.reduce((s, v) => s + (v ? 1 : 0), 0), g.masked.voxels);
  assertClose(mse(pred, ref, mask), g.masked.mse, TOL);
  assertClose(psnr(pred, ref, g.dataRange, mask), g.masked.psnr, TOL);
  const s = ssim3d(pred, ref, g.dims, g.dataRange, { mask });
  assertClose(s, g.masked.ssim, TOL);
  assert.notEqual(s, g.volume.ssim);
  assertClose(hfen(pred, ref, g.dims, { mask }), g.masked.hfen, TOL);
});

test("per-slice metrics across k and across i match the 2-D goldens", () => {
  for (const axis of [2, 0] as const) {
    const got = perSliceMetrics(pred, ref, g.dims, g.dataRange, axis);
    const want = g.slices[String(axis)]!;
    assert.equal(got.length, want.length);
    got.forEach((s, n) => {
      const w = want[n]!;
      assert.equal(s.index, n);
      assertClose([s.mse, s.psnr, s.ssim, s.hfen], [w.mse, w.psnr, w.ssim, w.hfen], { ...TOL, message: `axis ${axis} slice ${n}` });
    });
  }
});

// ---- direct-convolution reference (no separability, no rolling cache) ----

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function directSsim3d(x: Float32Array, y: Float32Array, dims: Dims3, R: number): number {
  const [nx, ny, nz] = dims;
  const r = 5;
  const gk = gaussianKernel1d(1.5, 0, r);
  const at = (a: Float32Array, i: number, j: number, k: number) => a[reflectIndex(i, nx) + nx * (reflectIndex(j, ny) + ny * reflectIndex(k, nz))]!;
  let sum = 0;
  let n = 0;
  for (let k = r; k < nz - r; k++)
    for (let j = r; j < ny - r; j++)
      for (let i = r; i < nx - r; i++) {
        let ux = 0, uy = 0, uxx = 0, uyy = 0, uxy = 0;
        for (let c = -r; c <= r; c++)
          for (let b = -r; b <= r; b++)
            for (let a = -r; a <= r; a++) {
              const w = gk[a + r]! * gk[b + r]! * gk[c + r]!;
              const p = at(x, i + a, j + b, k + c);
              const q = at(y, i + a, j + b, k + c);
              ux += w * p;
              uy += w * q;
              uxx += w * p * p;
              uyy += w * q * q;
              uxy += w * p * q;
            }
        const c1 = (0.01 * R) ** 2;
        const c2 = (0.03 * R) ** 2;
        sum += ((2 * ux * uy + c1) * (2 * (uxy - ux * uy) + c2)) / ((ux * ux + uy * uy + c1) * (uxx - ux * ux + uyy - uy * uy + c2));
        n++;
      }
  return sum / n;
}

/** LoG by one full 3-D kernel: sum over axes of (second derivative on that axis) x (Gaussian on the others). */
function directLog(a: Float64Array, dims: Dims3): Float64Array {
  const [nx, ny, nz] = dims;
  const r = 6;
  const g0 = gaussianKernel1d(1.5, 0, r);
  const g2 = gaussianKernel1d(1.5, 2, r);
  const out = new Float64Array(a.length);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        let s = 0;
        for (let c = -r; c <= r; c++)
          for (let b = -r; b <= r; b++)
            for (let q = -r; q <= r; q++) {
              const [x0, y0, z0, x2, y2, z2] = [g0[q + r]!, g0[b + r]!, g0[c + r]!, g2[q + r]!, g2[b + r]!, g2[c + r]!];
              const w = x2 * y0 * z0 + x0 * y2 * z0 + x0 * y0 * z2;
              s += w * a[reflectIndex(i + q, nx) + nx * (reflectIndex(j + b, ny) + ny * reflectIndex(k + c, nz))]!;
            }
        out[i + nx * (j + ny * k)] = s;
      }
  return out;
}

test("ssim3d and hfen agree with a direct 3-D convolution on a random non-integer volume", () => {
  const dims: Dims3 = [13, 12, 12];
  const rnd = lcg(11);
  const n = dims[0] * dims[1] * dims[2];
  const y = Float32Array.from({ length: n }, () => 3 * rnd());
  const x = Float32Array.from(y, (v) => v + 0.4 * (rnd() - 0.5));
  const R = 3;
  assertClose(ssim3d(x, y, dims, R), directSsim3d(x, y, dims, R), { atol: 1e-12, rtol: 1e-10 });
  const ld = directLog(Float64Array.from(x, (v, i) => v - y[i]!), dims);
  const lr = directLog(Float64Array.from(y), dims);
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) {
    num += ld[i]! ** 2;
    den += lr[i]! ** 2;
  }
  assertClose(hfen(x, y, dims), Math.sqrt(num / den), { atol: 1e-12, rtol: 1e-10 });
});

test("identical volumes: SSIM 1, PSNR +Infinity, RMSE 0, HFEN 0", () => {
  const dims: Dims3 = [11, 11, 11];
  const rnd = lcg(3);
  const y = Float32Array.from({ length: 11 ** 3 }, () => rnd());
  assertClose(ssim3d(y, y, dims, 1), 1, { atol: 1e-12, rtol: 0 });
  assert.equal(psnr(y, y, 1), Infinity);
  assert.equal(rmse(y, y), 0);
  assert.equal(hfen(y, y, dims), 0);
  assertClose(ssim2d(y.subarray(0, 121), y.subarray(0, 121), 11, 11, 1), 1, { atol: 1e-12, rtol: 0 });
});

test("scipy's reflect border mode and the kernels", () => {
  assert.deepEqual([-3, -2, -1, 0, 2, 3, 4, 5, 6, 7].map((i) => reflectIndex(i, 3)), [2, 1, 0, 0, 2, 2, 1, 0, 0, 1]);
  assert.deepEqual([-2, 0, 1, 2].map((i) => reflectIndex(i, 1)), [0, 0, 0, 0]);
  const g0 = gaussianKernel1d(1.5, 0, 5);
  assert.equal(g0.length, 11);
  assertClose(g0.reduce((s, v) => s + v, 0), 1, { atol: 1e-15, rtol: 0 });
  // Second derivative: the normalised Gaussian times (x^2 / s^4 - 1 / s^2), as scipy (values from
  // scipy.ndimage._filters._gaussian_kernel1d(1.5, 2, 6)[6] and [0]); symmetric, so ramps vanish.
  const g2 = gaussianKernel1d(1.5, 2, 6);
  assertClose([g2[6]!, g2[0]!], [-0.11820633651603152, 0.0005948071242359486], { atol: 0, rtol: 1e-12 });
  assertClose(g2.reduce((s, v, t) => s + v * (t - 6), 0), 0, { atol: 1e-15, rtol: 0 });
});

test("extractSlice takes the right voxels along each axis", () => {
  const dims: Dims3 = [2, 3, 4];
  const data = Float32Array.from({ length: 24 }, (_, i) => i); // value = i + 2 (j + 3 k)
  assert.deepEqual(Array.from(extractSlice(data, dims, 2, 1).data), [6, 7, 8, 9, 10, 11]);
  const s1 = extractSlice(data, dims, 1, 2);
  assert.deepEqual([s1.w, s1.h, ...s1.data.slice(0, 4)], [2, 4, 4, 5, 10, 11]);
  const s0 = extractSlice(data, dims, 0, 1);
  assert.deepEqual([s0.w, s0.h, ...s0.data.slice(0, 4)], [3, 4, 1, 3, 5, 7]);
  assertThrowsMatching(() => extractSlice(data, dims, 0, 2), /slice 2 does not exist along axis 0/);
});

test("bad input gives clear errors", () => {
  const a = new Float32Array(10 * 11 * 11);
  assertThrowsMatching(() => ssim3d(a, a, [10, 11, 11], 1), /ssim3d: image of \[10, 11, 11\] is smaller than the 11-voxel SSIM window/);
  assertThrowsMatching(() => ssim3d(a, a.subarray(1), [10, 11, 11], 1), /ssim3d: pred has 1210 values and ref 1209/);
  assertThrowsMatching(() => ssim3d(a, a, [10, 11, 11], 0), /dataRange must be a positive finite number, got 0/);
  assertThrowsMatching(() => hfen(a, a, [10, 11, 11], { mask: new Uint8Array(3) }), /hfen: mask has 3 values/);
  assertThrowsMatching(() => psnr(a, a, NaN), /psnr: dataRange must be a positive finite number/);
  assert.ok(Number.isNaN(mse(a, a, new Uint8Array(a.length))), "an empty mask gives NaN");
});
