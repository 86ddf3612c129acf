// K-space truncation and slice profiles (src/simulate/kspace_lowpass.ts): analytic cosines that must be
// kept exactly, removed, or scaled by the profile's transfer function; the matrix path (kspaceResample)
// against the FFT path (kspaceLowpass); the spectrum above the cutoff; no tensor leaks.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { gridFor, multiply } from "../../src/volume/affine.js";
import { frequencyWeights, kspaceDownsample, kspaceLowpass, kspaceResample } from "../../src/simulate/kspace_lowpass.js";
import type { Volume } from "../../src/volume/volume.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { affineFrom, analytic, rng, rotation, scaleColumns } from "../volume/volumes.js";

const TAU = 2 * Math.PI;
/** 32 x 24 x 16 voxels of 1 mm; world x = i - 10, y = j + 4, z = k - 7. */
const AFFINE = affineFrom([1, 0, 0, 0, 1, 0, 0, 0, 1], [-10, 4, -7]);
const DIMS = [32, 24, 16] as const;
const wx = (x: number) => x + 10; // voxel coordinate along i of world x
const wy = (y: number) => y - 4;
const wz = (z: number) => z + 7;

/** A low-frequency part (kept at 2 mm: |k| <= n / 4) and a high-frequency part (removed). */
const low = (x: number, y: number, z: number) =>
  3 + Math.cos((TAU * 3 * wx(x)) / 32) + 0.5 * Math.cos((TAU * 2 * wy(y)) / 24 + 0.3) * Math.cos((TAU * wz(z)) / 16 - 1);
const high = (x: number, y: number, z: number) =>
  Math.cos((TAU * 12 * wx(x)) / 32) + 0.7 * Math.sin((TAU * 9 * wy(y)) / 24) + 0.4 * Math.cos((TAU * 6 * wz(z)) / 16) * Math.cos((TAU * wx(x)) / 32);

test("3-D truncation to 2 mm keeps low frequencies exactly at the LR voxel centres and removes high ones", () => {
  const hr = analytic(DIMS, AFFINE, (x, y, z) => low(x, y, z) + high(x, y, z));
  const lr = kspaceDownsample(hr, { voxelSize: 2 });
  const grid = gridFor(hr, 2);
  assert.deepEqual(lr.dims, [16, 12, 8]);
  assert.deepEqual(lr.affine, grid.affine);
  // The LR voxel centres fall between HR centres (x = 2u + 0.5): the kept part is evaluated there exactly.
  assertClose(lr.data, analytic(lr.dims, lr.affine, low).data, { atol: 2e-5, rtol: 0 });
});

test("a frequency exactly at the LR Nyquist is kept, one step above is removed", () => {
  // 32 voxels of 1 mm at 2 mm: cutoff 1/4 cycle/mm = k 8.
  const at = (k: number) => analytic(DIMS, AFFINE, (x) => Math.cos((TAU * k * wx(x)) / 32));
  const kept = kspaceLowpass(at(8), { voxelSize: 2 });
  assertClose(kept.data, at(8).data, { atol: 1e-5, rtol: 0 });
  const removed = kspaceLowpass(at(9), { voxelSize: 2 });
  assertClose(removed.data, new Float32Array(removed.data.length), { atol: 1e-5, rtol: 0 });
});

test("frequencyWeights: box to the LR Nyquist; Gaussian and rect transfer functions of the slice profile", () => {
  assert.deepEqual(Array.from(frequencyWeights(12, 1, 3)), [1, 1, 1, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(frequencyWeights(11, 1, 1)), [1, 1, 1, 1, 1, 1]);
  const g = frequencyWeights(20, 0.5, 2, { shape: "gaussian", thickness: 3 });
  const sigma = 3 / (2 * Math.sqrt(2 * Math.log(2)));
  for (let k = 0; k <= 10; k++) assertClose(g[k]!, Math.exp(-2 * Math.PI ** 2 * sigma ** 2 * (k / 10) ** 2), { atol: 1e-15 });
  const r = frequencyWeights(20, 0.5, 2, { shape: "rect", thickness: 3 });
  assertClose(r[0]!, 1);
  assertClose(r[3]!, Math.sin(Math.PI * 0.9) / (Math.PI * 0.9), { atol: 1e-15 });
});

test("2-D multi-slice: the slice axis is filtered by the profile and sampled at slice centres", () => {
  // Along z: 16 slices of 1 mm -> 3 mm slices (gridFor: 5 slices centred on the FOV). In-plane unchanged (1 mm).
  const kz = 3;
  const f = kz / 16; // cycles/mm
  const base = (x: number, y: number, z: number) => 2 + Math.cos((TAU * kz * wz(z)) / 16 + 0.4) + 0 * x * y;
  const hr = analytic(DIMS, AFFINE, base);
  const grid = gridFor(hr, [1, 1, 3]);
  for (const [shape, thickness, h] of [
    ["gaussian", 3, Math.exp(-2 * Math.PI ** 2 * (3 / (2 * Math.sqrt(2 * Math.log(2)))) ** 2 * f * f)],
    ["rect", 3, Math.sin(Math.PI * 3 * f) / (Math.PI * 3 * f)],
    ["gaussian", 1.5, Math.exp(-2 * Math.PI ** 2 * (1.5 / (2 * Math.sqrt(2 * Math.log(2)))) ** 2 * f * f)],
  ] as const) {
    const lr = kspaceResample(hr, grid, { voxelSize: [1, 1, 3], sliceProfile: { axis: 2, shape, thickness } });
    const expected = analytic(grid.dims, grid.affine, (x, y, z) => 2 + h * Math.cos((TAU * kz * wz(z)) / 16 + 0.4));
    assertClose(lr.data, expected.data, { atol: 2e-5, rtol: 0, message: `${shape} ${thickness}` });
  }
  // Without a profile the same grid is a 3-D truncation: k = 3 is above the 3 mm cutoff (16 / 6 = 2.67).
  const truncated = kspaceResample(hr, grid, { voxelSize: [1, 1, 3] });
  assertClose(truncated.data, new Float32Array(truncated.data.length).fill(2), { atol: 2e-5, rtol: 0 });
});

/** A random volume with an oblique, anisotropic affine and odd and even sizes. */
function randomVolume(dims: readonly [number, number, number], seed: number): Volume {
  const r = rng(seed);
  const affine = affineFrom(scaleColumns(rotation(10, -20, 35), [0.8, 1.1, 1.3]), [3, -40, 12]);
  return { data: Float32Array.from({ length: dims[0] * dims[1] * dims[2] }, () => r() * 100), dims, affine };
}

test("kspaceResample onto the volume's own grid equals the FFT low-pass (3-D and multi-slice)", () => {
  const v = randomVolume([13, 10, 9], 1);
  for (const filter of [
    { voxelSize: [2, 1.7, 3.1] as const },
    { voxelSize: [2, 2, 3] as const, sliceProfile: { axis: 1 as const, shape: "rect" as const } },
    { voxelSize: 1.9, sliceProfile: { axis: 0 as const, shape: "gaussian" as const, thickness: 2.5 } },
  ]) {
    const viaMatrix = kspaceResample(v, v, filter);
    const viaFft = kspaceLowpass(v, filter);
    assertClose(viaMatrix.data, viaFft.data, { atol: 2e-4, rtol: 0, message: JSON.stringify(filter) });
  }
});

test("after the low-pass no spectral energy is left above the cutoff on any axis", () => {
  const v = randomVolume([12, 9, 10], 2);
  const out = kspaceLowpass(v, { voxelSize: [2.5, 3, 2.2] });
  const sizes = [0.8, 1.1, 1.3];
  const cut = [2.5, 3, 2.2].map((s) => 1 / (2 * s));
  T.tidy(() => {
    const spec = (d: Float32Array) => T.fftn(T.tensor(d, [10, 9, 12], { dtype: "float64" })).abs().data() as Float64Array;
    const a = spec(out.data);
    const b = spec(v.data);
    let above = 0;
    let keptError = 0;
    for (let k = 0; k < 10; k++) {
      for (let j = 0; j < 9; j++) {
        for (let i = 0; i < 12; i++) {
          const q = i + 12 * (j + 9 * k);
          const f = [Math.min(i, 12 - i) / (12 * sizes[0]!), Math.min(j, 9 - j) / (9 * sizes[1]!), Math.min(k, 10 - k) / (10 * sizes[2]!)];
          if (f.some((x, a) => x > cut[a]!)) above = Math.max(above, a[q]!);
          else keptError = Math.max(keptError, Math.abs(a[q]! - b[q]!));
        }
      }
    }
    assert.ok(above < 1e-3, `largest |X| above the cutoff: ${above}`);
    assert.ok(keptError < 1e-2, `largest change of a kept |X|: ${keptError}`);
    assert.ok(b.reduce((s, x) => Math.max(s, x), 0) > 100, "the input has energy to remove");
  });
});

test("kspaceResample frees every tensor it makes", () => {
  const v = randomVolume([8, 7, 6], 3);
  kspaceDownsample(v, { voxelSize: 2 }); // warm up op resolution
  const before = T.memory().numTensors;
  kspaceDownsample(v, { voxelSize: 2 });
  kspaceLowpass(v, { voxelSize: 2 });
  assert.equal(T.memory().numTensors, before);
});

test("bad grids and filters are rejected with what to do", () => {
  const v = randomVolume([8, 7, 6], 4);
  const turned = { dims: [8, 7, 6] as const, affine: multiply(v.affine, affineFrom(rotation(0, 0, 30), [0, 0, 0])) };
  assertThrowsMatching(() => kspaceResample(v, turned, { voxelSize: 2 }), /axes must be parallel/, /resample\(\)/);
  assertThrowsMatching(() => kspaceDownsample(v, { voxelSize: 0 }), /kspaceDownsample: voxelSize must be a positive finite number/);
  assertThrowsMatching(() => kspaceDownsample(v, { voxelSize: 2, sliceProfile: { axis: 3 as 0 } }), /axis must be 0, 1 or 2/);
  assertThrowsMatching(() => kspaceDownsample(v, { voxelSize: 2, sliceProfile: { axis: 0, shape: "sinc" as "rect" } }), /"gaussian" or "rect"/);
  assertThrowsMatching(() => kspaceDownsample(v, { voxelSize: 2, sliceProfile: { axis: 0, thickness: -1 } }), /thickness must be a positive number/);
});
