// The whole simulated acquisition (simulate.ts): grids and world consistency, the parts switched off
// one by one, the noise level against the WM-based SNR, the bias map against the image it shaped,
// reproducibility, the HR-grid output, and parameter checking.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyToPoint, gridFor } from "../../src/volume/affine.js";
import { kspaceDownsample } from "../../src/simulate/kspace_lowpass.js";
import { checkAcquisitionParams, simulateAcquisition, type AcquisitionParams } from "../../src/simulate/simulate.js";
import { whiteMatterMean } from "../../src/simulate/white_matter.js";
import type { Volume } from "../../src/volume/volume.js";
import { Random } from "../../src/util/random.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { affineFrom, analytic, at, rotation, scaleColumns } from "../volume/volumes.js";

const AFFINE = affineFrom(scaleColumns(rotation(0, 0, 12), [1, 1, 1]), [-15, -20, -8]);
const DIMS = [32, 32, 24] as const;

/** A smooth brain-like phantom: WM core (100), GM shell (60), CSF (20), background 0; jittered. */
function phantom(): Volume {
  const r = new Random(5, "phantom");
  const c = applyToPoint(AFFINE, [15.5, 15.5, 11.5]);
  return analytic(DIMS, AFFINE, (x, y, z) => {
    const d = Math.hypot((x - c[0]) / 13, (y - c[1]) / 13, (z - c[2]) / 10);
    const level = d < 0.55 ? 100 : d < 0.8 ? 60 : d < 0.95 ? 20 : 0;
    return level === 0 ? 0 : level + r.uniformRange(-1, 1);
  });
}

const P = (o: Partial<AcquisitionParams> = {}): AcquisitionParams => ({ voxelSize: 2, snr: 20, bias: 0.3, gradwarp: 1, seed: 1, ...o });

test("the image and every map are on the LR grid from gridFor, with the FOV centre kept", () => {
  const hr = phantom();
  const r = simulateAcquisition(hr, P({ voxelSize: [2, 2, 3] }));
  const g = gridFor(hr, [2, 2, 3]);
  assert.deepEqual(r.lrGrid, g);
  for (const v of [r.image, r.bias, r.g, r.jacobian, ...r.displacement]) {
    assert.deepEqual(v.dims, [16, 16, 8]);
    assert.deepEqual(v.affine, g.affine);
  }
  const centre = (dims: readonly number[], a: readonly number[]) => applyToPoint(a, [(dims[0]! - 1) / 2, (dims[1]! - 1) / 2, (dims[2]! - 1) / 2]);
  assertClose(centre(r.image.dims, r.image.affine), centre(hr.dims, hr.affine), { atol: 1e-9 });
});

test("with no noise, bias or warp the result is the k-space truncated image and neutral maps", () => {
  const hr = phantom();
  const r = simulateAcquisition(hr, P({ snr: Infinity, bias: 0, gradwarp: 0 }));
  const lr = kspaceDownsample(hr, { voxelSize: 2 });
  assert.deepEqual(r.image.data, Float32Array.from(lr.data, Math.abs)); // a magnitude image
  assert.ok(r.bias.data.every((x) => x === 1));
  assert.ok(r.g.data.every((x) => x === 0));
  assert.ok(r.jacobian.data.every((x) => x === 1));
  for (const d of r.displacement) assert.ok(d.data.every((x) => x === 0));
  assert.equal(r.sigma, 0);
  assert.ok(Number.isNaN(r.wmMean) && !r.wmEstimated);
});

test("noise sigma is the HR WM mean / SNR, and the image noise has that level", () => {
  const hr = phantom();
  const noisy = simulateAcquisition(hr, P({ voxelSize: 1.25, snr: 10, gradwarp: 0 }));
  const clean = simulateAcquisition(hr, P({ voxelSize: 1.25, snr: Infinity, gradwarp: 0 }));
  const wm = whiteMatterMean(hr);
  assertClose(wm, 100, { atol: 0.2, rtol: 0 });
  assert.ok(noisy.wmEstimated);
  assertClose(noisy.wmMean, wm, { rtol: 0, atol: 0 });
  assertClose(noisy.sigma, wm / 10, { rtol: 1e-12 });
  // Where the clean LR signal is bright the Rician noise is near Gaussian: std(noisy - clean) = sigma.
  const diff: number[] = [];
  for (let q = 0; q < clean.image.data.length; q++) if (clean.image.data[q]! > 60) diff.push(noisy.image.data[q]! - clean.image.data[q]!);
  assert.ok(diff.length > 1000, `${diff.length} bright voxels`);
  const mean = diff.reduce((a, x) => a + x, 0) / diff.length;
  const std = Math.sqrt(diff.reduce((a, x) => a + (x - mean) ** 2, 0) / diff.length);
  assertClose(std, noisy.sigma, { rtol: 0.07, atol: 0 }); // SE of a std over 1000+ values is ~2 %
  // An explicit WM level replaces the estimate.
  const given = simulateAcquisition(hr, P({ snr: 10, gradwarp: 0 }), { wmMean: 250 });
  assert.equal(given.sigma, 25);
  assert.ok(!given.wmEstimated);
});

test("the bias map is the field that shaped the image (a constant object)", () => {
  const flat: Volume = { data: new Float32Array(32 * 32 * 24).fill(100), dims: DIMS, affine: AFFINE };
  // At the HR voxel size nothing is truncated (trigonometric interpolation at the samples is exact),
  // so the image is 100 * b voxel by voxel.
  const r = simulateAcquisition(flat, P({ voxelSize: 1, snr: Infinity, bias: 0.8, gradwarp: 0, seed: 4 }));
  assert.deepEqual(r.image.dims, DIMS);
  assertClose(r.image.data, Float32Array.from(r.bias.data, (b) => 100 * b), { rtol: 1e-5, atol: 0 });
  const range = [Math.min(...r.bias.data), Math.max(...r.bias.data)];
  assert.ok(range[0]! >= Math.exp(-0.4) - 1e-6 && range[1]! <= Math.exp(0.4) + 1e-6 && range[1]! - range[0]! > 0.1, `b range ${range}`);
});

test("same seed, same bytes; another seed, another image; streams keep the noise independent of the bias", () => {
  const hr = phantom();
  const a = simulateAcquisition(hr, P({ gradwarp: 1.5 }));
  const b = simulateAcquisition(hr, P({ gradwarp: 1.5 }));
  const bytes = (v: Volume) => Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength);
  for (const key of ["image", "bias", "g", "jacobian"] as const) assert.ok(bytes(a[key]).equals(bytes(b[key])), key);
  const c = simulateAcquisition(hr, P({ gradwarp: 1.5, seed: 2 }));
  assert.ok(!bytes(a.image).equals(bytes(c.image)));
  assert.ok(!bytes(a.bias).equals(bytes(c.bias)));
  assert.ok(!bytes(a.g).equals(bytes(c.g)));
  // g is |u| on the output grid, within the requested maximum.
  const gMax = Math.max(...a.g.data);
  assert.ok(gMax <= 1.5 * (1 + 1e-6) && gMax > 0.5, `max g ${gMax}`);
  // The noise draws do not depend on the other parameters: on an empty volume only the noise remains.
  const empty: Volume = { data: new Float32Array(hr.data.length), dims: DIMS, affine: AFFINE };
  const n1 = simulateAcquisition(empty, P({ bias: 0.2 }), { wmMean: 100 });
  const n2 = simulateAcquisition(empty, P({ bias: 0.7, gradwarp: 2 }), { wmMean: 100 });
  assert.ok(bytes(n1.image).equals(bytes(n2.image)));
});

test("onHrGrid: back on the HR grid; a band-limited volume comes back close to itself", () => {
  // Low frequencies only (kept by 2 mm truncation), in voxel coordinates of the HR grid.
  const smooth: Volume = {
    data: Float32Array.from({ length: 32 * 32 * 24 }, (_, q) => {
      const i = q % 32;
      const j = Math.floor(q / 32) % 32;
      const k = Math.floor(q / 1024);
      return 50 + 10 * Math.cos((2 * Math.PI * i) / 32) * Math.sin((2 * Math.PI * 2 * j) / 32 + 0.5) + 5 * Math.cos((2 * Math.PI * k) / 24);
    }),
    dims: DIMS,
    affine: AFFINE,
  };
  const r = simulateAcquisition(smooth, P({ snr: Infinity, bias: 0, gradwarp: 0 }), { onHrGrid: true });
  assert.deepEqual(r.image.dims, smooth.dims);
  assert.deepEqual(r.image.affine, smooth.affine);
  for (const v of [r.bias, r.g, r.jacobian]) assert.deepEqual(v.dims, smooth.dims);
  let worst = 0;
  for (let k = 4; k < 20; k++) for (let j = 4; j < 28; j++) for (let i = 4; i < 28; i++) worst = Math.max(worst, Math.abs(at(r.image, i, j, k) - at(smooth, i, j, k)));
  assert.ok(worst < 0.3, `largest interior error ${worst} (amplitude 15)`); // cubic B-spline from 2 mm samples
});

test("a 2-D multi-slice acquisition differs from the 3-D one only through the slice axis", () => {
  const hr = phantom();
  const p = P({ voxelSize: [2, 2, 4], snr: Infinity, bias: 0, gradwarp: 0 });
  const threeD = simulateAcquisition(hr, p);
  const slices = simulateAcquisition(hr, p, { sliceProfile: { axis: 2, shape: "rect" } });
  assert.deepEqual(slices.image.dims, threeD.image.dims);
  assert.notDeepEqual(slices.image.data, threeD.image.data);
});

test("checkAcquisitionParams accepts good values and names bad ones", () => {
  assert.deepEqual(checkAcquisitionParams(P()), P());
  assert.deepEqual(checkAcquisitionParams(P({ snr: Infinity, voxelSize: [1, 2, 3] })).voxelSize, [1, 2, 3]);
  const bad: [unknown, RegExp][] = [
    [null, /must be an object/],
    [{ ...P(), extra: 1 }, /unknown key "extra"/],
    [{ voxelSize: 2, snr: 20, bias: 0, gradwarp: 0 }, /"seed" is missing/],
    [P({ voxelSize: 0 }), /voxelSize must be a positive finite number/],
    [P({ voxelSize: [1, 2] as unknown as number }), /voxelSize must be a positive number of mm or 3 of them, got \[1,2\]/],
    [P({ snr: 0 }), /snr must be a positive number \(Infinity for no noise\), got 0/],
    [P({ snr: Number.NaN }), /snr must be a positive number/],
    [P({ snr: "20" as unknown as number }), /snr must be a positive number .*got "20"/],
    [P({ bias: -0.1 }), /bias must be a finite number >= 0 \(0 for none\), got -0.1/],
    [P({ gradwarp: Infinity }), /gradwarp must be a finite number of mm >= 0/],
    [P({ seed: 1.5 }), /seed must be an integer from 0 to 4294967295, got 1.5/],
    [P({ seed: -1 }), /seed must be an integer/],
  ];
  for (const [p, re] of bad) assertThrowsMatching(() => checkAcquisitionParams(p), re);
  const hr = phantom();
  assertThrowsMatching(() => simulateAcquisition(hr, P(), { wmMean: -1 }), /wmMean must be a positive finite intensity, got -1/);
  assertThrowsMatching(() => simulateAcquisition(hr, P(), { onHrGrid: "yes" as unknown as boolean }), /onHrGrid must be true or false/);
  assertThrowsMatching(() => simulateAcquisition(hr, P(), { sliceProfile: { axis: 5 as 0 } }), /axis must be 0, 1 or 2/);
  assertThrowsMatching(() => simulateAcquisition(hr, P(), { onHRGrid: true } as unknown as { onHrGrid: boolean }), /unknown option "onHRGrid"/);
  const flat: Volume = { data: new Float32Array(hr.data.length).fill(7), dims: DIMS, affine: AFFINE };
  assertThrowsMatching(() => simulateAcquisition(flat, P()), /no tissue contrast/, /wmMean/);
});
