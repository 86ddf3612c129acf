// Tissue classes and the brain mask on synthetic T1-like volumes with known truth, and the errors for
// bad input (empty mask, constant image, too few voxels, NaN).
import { test } from "node:test";
import assert from "node:assert/strict";
import { segmentTissues, TISSUE_LABEL_NAMES } from "../../../src/preprocess/segment/tissue.js";
import { brainMask, detectSkullStripped } from "../../../src/preprocess/segment/brain_mask.js";
import { segment } from "../../../src/preprocess/segment/index.js";
import { dice } from "../../../src/preprocess/segment/morphology.js";
import { parseLabelNames } from "../../../src/metrics/regions.js";
import { Random } from "../../../src/util/random.js";
import type { Volume } from "../../../src/volume/volume.js";
import { assertThrowsMatching } from "../../helpers.js";

const DIMS = [56, 60, 52] as const;
const N = DIMS[0] * DIMS[1] * DIMS[2];
const AFFINE = [1, 0, 0, -27.5, 0, 1, 0, -29.5, 0, 0, 1, -25.5, 0, 0, 0, 1];

/**
 * A T1-like head at 1 mm: brain ellipsoid (semi-axes 22, 24, 20 mm) with WM core, a folded GM ribbon
 * and CSF (sulci, a rim, a central ventricle), intensities CSF 30, GM 70, WM 105 with Gaussian noise
 * (sd 6) times a smooth field; with `head`, a dark 4 mm skull/CSF layer, a bright scalp and a noisy
 * background; without, zeros outside the brain (skull-stripped).
 */
function t1Phantom(head: boolean, seed = 1, field = 0.15) {
  const r = new Random(seed, "segment-t1");
  const data = new Float32Array(N);
  const truth = new Uint8Array(N);
  /** The brain inside its outer CSF rim (what a threshold-based extraction can see). */
  const parenchyma = new Uint8Array(N);
  for (let k = 0, idx = 0; k < DIMS[2]; k++) {
    for (let j = 0; j < DIMS[1]; j++) {
      for (let i = 0; i < DIMS[0]; i++, idx++) {
        const x = i - 27.5, y = j - 29.5, z = k - 25.5;
        const rho = Math.hypot(x / 22, y / 24, z / 20);
        const b = Math.exp(field * (x / 28 - (z / 26) ** 2));
        let v: number;
        if (rho <= 1) {
          const fold = 0.06 * Math.sin(Math.atan2(y, x) * 7) * Math.cos(Math.acos(Math.max(-1, Math.min(1, z / (20 * rho + 1e-9)))) * 5);
          const c = rho > 0.95 || Math.hypot(x / 5, y / 8, z / 5) <= 1 ? 1 : rho > 0.72 + fold ? 2 : 3;
          truth[idx] = c;
          parenchyma[idx] = rho <= 0.95 ? 1 : 0;
          v = [30, 70, 105][c - 1]!;
        } else if (!head) {
          v = 0;
        } else {
          const rHead = Math.hypot(x / 26.5, y / 28.5, z / 24.5);
          v = rho <= 1.17 && rHead < 0.94 ? 20 : rHead <= 1 ? 150 : 6;
        }
        data[idx] = v === 0 ? 0 : Math.max(0.5, (v + r.normal(0, v === 6 ? 3 : 6)) * b);
      }
    }
  }
  return { volume: { data, dims: [...DIMS] as [number, number, number], affine: AFFINE } as Volume, truth, parenchyma };
}

test("segmentTissues labels a noisy, biased phantom (accuracy, order of classes, bias field, label names)", () => {
  const { volume, truth } = t1Phantom(false, 2, 0.3);
  const mask = Uint8Array.from(truth, (c) => (c > 0 ? 1 : 0));
  const r = segmentTissues(volume, mask);
  let right = 0;
  let inMask = 0;
  for (let i = 0; i < N; i++) {
    if (mask[i] === 0) {
      assert.equal(r.labels[i], 0);
      assert.equal(r.bias[i], 1);
      continue;
    }
    inMask++;
    if (r.labels[i] === truth[i]) right++;
  }
  assert.ok(right / inMask > 0.97, `accuracy ${right / inMask}`);
  assert.ok(r.means[0]! < r.means[1]! && r.means[1]! < r.means[2]!);
  assert.equal(r.counts.reduce((a, b) => a + b, 0), inMask);
  assert.ok(Math.abs(r.fractions.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  // the same phantom without the MRF or the field model is labelled worse
  const plain = segmentTissues(volume, mask, { mrfIterations: 0, biasDegree: 0 });
  let rightPlain = 0;
  for (let i = 0; i < N; i++) if (mask[i] && plain.labels[i] === truth[i]) rightPlain++;
  assert.ok(rightPlain < right, `plain ${rightPlain} vs ${right}`);
  assert.ok(plain.mrfChanges.length === 0 && r.mrfChanges[0]! > 0);
  // the estimated field follows the true one: brighter at +x
  let lo = 0, hi = 0, nlo = 0, nhi = 0;
  for (let k = 0, idx = 0; k < DIMS[2]; k++) for (let j = 0; j < DIMS[1]; j++) for (let i = 0; i < DIMS[0]; i++, idx++) {
    if (!mask[idx] || Math.abs(k - 25.5) > 5) continue;
    if (i < 16) { lo += r.bias[idx]!; nlo++; }
    if (i > 40) { hi += r.bias[idx]!; nhi++; }
  }
  const ratio = hi / nhi / (lo / nlo);
  assert.ok(ratio > 1.25 && ratio < 1.5, `field ratio +x / -x ${ratio} (truth ~${Math.exp(0.3 * (26 / 28)).toFixed(3)})`);
  assert.deepEqual([...parseLabelNames(JSON.stringify(TISSUE_LABEL_NAMES))], [[1, "CSF"], [2, "GM"], [3, "WM"]]);
});

test("brainMask: support of a skull-stripped image, extraction from a head; detection tells them apart", () => {
  const stripped = t1Phantom(false).volume;
  const withHead = t1Phantom(true);
  const c1 = detectSkullStripped(stripped);
  const c2 = detectSkullStripped(withHead.volume);
  assert.equal(c1.skullStripped, true, JSON.stringify(c1));
  assert.equal(c2.skullStripped, false, JSON.stringify(c2));
  // a zero voxel inside the stripped brain is a hole: filled
  const holed = { ...stripped, data: stripped.data.slice() };
  const centre = 27 + 56 * (29 + 60 * 25);
  holed.data[centre] = 0;
  const b1 = brainMask(holed);
  assert.equal(b1.method, "support");
  assert.equal(b1.mask[centre], 1);
  const truthBrain = Uint8Array.from(withHead.truth, (c) => (c > 0 ? 1 : 0));
  assert.ok(dice(b1.mask, truthBrain) > 0.999);
  const b2 = brainMask(withHead.volume);
  assert.equal(b2.method, "threshold");
  assert.ok(b2.brainThreshold! > 20 && b2.brainThreshold! < 70, `threshold ${b2.brainThreshold}`);
  // the extraction keeps tissue brighter than the dark layer: the brain inside its 1 mm CSF rim
  const d = dice(b2.mask, withHead.parenchyma);
  assert.ok(d > 0.97, `Dice with the brain inside its CSF rim ${d}`);
  // forcing the method
  assert.equal(brainMask(withHead.volume, { skullStripped: true }).method, "support");
  assertThrowsMatching(() => brainMask({ ...stripped, data: new Float32Array(N).fill(7) }), /the image is constant \(every voxel is 7\)/);
  assertThrowsMatching(() => brainMask({ ...stripped, data: new Float32Array(N) }), /constant \(every voxel is 0\)/);
  assertThrowsMatching(() => brainMask(stripped, { erodeMm: -1 }), /erodeMm must be a number >= 0/);
});

test("segment: bad inputs get clear errors", () => {
  const { volume, truth } = t1Phantom(false);
  const mask = Uint8Array.from(truth, (c) => (c > 0 ? 1 : 0));
  assertThrowsMatching(() => segmentTissues(volume, new Uint8Array(N)), /the brain mask is empty/);
  assertThrowsMatching(() => segment(volume, { mask: new Float32Array(N) }), /the supplied mask is empty/);
  assertThrowsMatching(() => segment(volume, { mask: new Float32Array(10) }), /the mask has 10 voxels, the image 174720/);
  const few = new Uint8Array(N);
  for (let i = 0; i < 50; i++) few[centreIndex() + i] = 1;
  assertThrowsMatching(() => segmentTissues(volume, few), /only 50 brain voxels; at least 100 are needed to fit 3 tissue classes/);
  const flat = { ...volume, data: Float32Array.from(volume.data, (v, i) => (mask[i] ? 80 : v)) };
  assertThrowsMatching(() => segmentTissues(flat, mask), /every brain voxel has the intensity 80: no tissue contrast/);
  const twoLevels = { ...volume, data: Float32Array.from(volume.data, (v, i) => (mask[i] ? (i % 2 ? 40 : 90) : v)) };
  assertThrowsMatching(() => segmentTissues(twoLevels, mask), /fewer than 3 distinct levels/);
  const nan = { ...volume, data: volume.data.slice() };
  nan.data[5] = Number.NaN;
  nan.data[9] = Infinity;
  assertThrowsMatching(() => segment(nan), /2 voxels are NaN or Inf .*label map cannot be computed.*--non-finite zero/);
  assertThrowsMatching(() => segmentTissues(volume, mask, { variance: "none" as "tied" }), /variance must be "tied" or "free"/);
  assertThrowsMatching(() => segmentTissues(volume, mask, { mrfBeta: -1 }), /mrfBeta must be a number >= 0/);
  assertThrowsMatching(() => segmentTissues(volume, mask, { biasDegree: 1.5 }), /biasDegree must be an integer from 0 to 8/);
});

function centreIndex(): number {
  return 20 + 56 * (29 + 60 * 25);
}
