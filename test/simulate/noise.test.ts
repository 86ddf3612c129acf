// Rician noise (rician.ts) against the Rician/Rayleigh moments, and the white-matter level the SNR
// refers to (white_matter.ts) on a three-tissue phantom and on degenerate volumes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Random } from "../../src/util/random.js";
import { addRicianNoise, ricianNoise } from "../../src/simulate/rician.js";
import { estimateWhiteMatter, whiteMatterMean } from "../../src/simulate/white_matter.js";
import type { Volume } from "../../src/volume/volume.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { affineFrom } from "../volume/volumes.js";

const AFFINE = affineFrom([1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 0, 0]);

function moments(d: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < d.length; i++) s += d[i]!;
  const mean = s / d.length;
  for (let i = 0; i < d.length; i++) s2 += (d[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(s2 / d.length) };
}

test("Rician noise: Gaussian-like at high SNR, Rayleigh in zero background", () => {
  const n = 40_000;
  const sigma = 5;
  const bright = ricianNoise(new Float32Array(n).fill(100), sigma, new Random(1, "noise"));
  const b = moments(bright);
  // Mean of a Rician with nu = 100, sigma = 5: ~ nu + sigma^2 / (2 nu) = 100.125; SE of the mean 0.025.
  assertClose(b.mean, 100.125, { atol: 0.12, rtol: 0 });
  assertClose(b.std, sigma, { rtol: 0.03, atol: 0 });
  const dark = ricianNoise(new Float32Array(n), sigma, new Random(2, "noise"));
  const d = moments(dark);
  assertClose(d.mean, sigma * Math.sqrt(Math.PI / 2), { rtol: 0.01, atol: 0 }); // SE ~0.3 %
  assertClose(d.std, sigma * Math.sqrt(2 - Math.PI / 2), { rtol: 0.02, atol: 0 });
  assert.ok(dark.every((x) => x >= 0));
});

test("Rician noise: sigma 0 is the magnitude |s|; seeded; in place allowed", () => {
  const s = Float32Array.from([3, -2, 0, 7.5, -0.25]);
  assert.deepEqual(Array.from(ricianNoise(s, 0, new Random(1))), [3, 2, 0, 7.5, 0.25]);
  const v: Volume = { data: Float32Array.from({ length: 500 }, (_, i) => i % 50), dims: [10, 10, 5], affine: AFFINE };
  const a = addRicianNoise(v, 2, 7);
  assert.deepEqual(a.data, addRicianNoise(v, 2, 7).data);
  assert.notDeepEqual(a.data, addRicianNoise(v, 2, 8).data);
  assert.deepEqual(a.dims, v.dims);
  const copy = new Float32Array(v.data);
  ricianNoise(copy, 2, new Random(7, "noise"), copy);
  assert.deepEqual(copy, a.data);
  assertThrowsMatching(() => ricianNoise(s, -1, new Random(1)), /sigma must be a finite number >= 0, got -1/);
  assertThrowsMatching(() => ricianNoise(s, 1, new Random(1), new Float32Array(2)), /out has 2 values, signal 5/);
});

/** 32^3: half background 0, then CSF 20, GM 60, WM 100 slabs, with +-3 deterministic jitter. */
function phantom(): Volume {
  const r = new Random(3, "phantom");
  const n = 32;
  const data = new Float32Array(n * n * n);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const level = k < 16 ? 0 : j < 6 ? 20 : j < 16 ? 60 : 100;
        data[i + n * (j + n * k)] = level === 0 ? 0 : level + r.uniformRange(-3, 3);
      }
    }
  }
  return { data, dims: [n, n, n], affine: AFFINE };
}

test("white matter: the brightest of three k-means classes of the foreground", () => {
  const e = estimateWhiteMatter(phantom());
  assertClose(e.mean, 100, { atol: 0.1, rtol: 0 });
  assertClose(Array.from(e.classMeans), [20, 60, 100], { atol: 0.1, rtol: 0 });
  assert.deepEqual(Array.from(e.classCounts), [32 * 16 * 6, 32 * 16 * 10, 32 * 16 * 16]);
  // The 99th percentile is in WM; the threshold is 10 % of it.
  assert.ok(e.p99 > 97 && e.p99 < 103, `p99 ${e.p99}`);
  assertClose(e.threshold, 0.1 * e.p99);
  assert.equal(e.foregroundCount, 32 * 16 * 32);
  assert.equal(whiteMatterMean(phantom()), e.mean);
});

test("white matter: empty, constant, two-level and non-finite volumes throw saying what to do", () => {
  const v = (f: (i: number) => number): Volume => ({ data: Float32Array.from({ length: 1000 }, (_, i) => f(i)), dims: [10, 10, 10], affine: AFFINE });
  assertThrowsMatching(() => whiteMatterMean(v(() => 0)), /0 of 1000 voxels are positive/, /--wm-mean/);
  assertThrowsMatching(() => whiteMatterMean(v(() => -5)), /positive/);
  assertThrowsMatching(() => whiteMatterMean(v(() => 42)), /constant \(42\)/, /no tissue contrast/);
  assertThrowsMatching(() => whiteMatterMean(v((i) => (i % 2 ? 60 : 100))), /fewer than 3 intensity levels/);
  assertThrowsMatching(() => whiteMatterMean(v((i) => (i === 5 ? Number.NaN : i))), /voxel 5 is not finite/);
});
