// N4 bias correction on Colin27 (ch2bet, resampled to 3 mm to keep the test to seconds) with a known
// synthetic field from the simulator (randomBiasField, strength 0.4: b in [0.82, 1.22] over the FOV).
//
// Colin27 has its own smooth inhomogeneity (part real bias, part regional tissue composition that any
// histogram-sharpening method partly takes for bias): on the clean image the estimate has a std of
// about 0.03 in log, as large as the synthetic field's (about 0.03 inside the brain). So the raw
// correlation of the estimate with the synthetic field alone is not a measure of accuracy there.
// Two checks with a truth that is known:
// - a phantom made from Colin27's anatomy (3 tissue classes of the 1 mm image at their class means,
//   resampled to 3 mm, which gives partial volume), bias-free by construction: the estimated field
//   correlates >= 0.95 with the synthetic one inside the brain;
// - Colin27 itself: the change the synthetic field makes to the estimate (estimate on the biased
//   image minus estimate on the clean one) correlates >= 0.95 with it, with a slope near 1 (the added
//   field is attributed to bias, in full), and the white-matter CV drops clearly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readNifti, toVolume } from "../../../src/nifti/index.js";
import { automaticMask } from "../../../src/preprocess/n4/mask.js";
import { n4BiasCorrection } from "../../../src/preprocess/n4/n4.js";
import { validVoxels } from "../../../src/preprocess/n4/shrink.js";
import { biasFieldOnGrid, randomBiasField } from "../../../src/simulate/bias_field.js";
import { resampleToVoxelSize } from "../../../src/volume/resample.js";
import { estimateWhiteMatter } from "../../../src/simulate/white_matter.js";
import type { Volume } from "../../../src/volume/volume.js";
import { Random } from "../../../src/util/random.js";

const COLIN = "/usr/share/mricron/templates/ch2bet.nii.gz";
const OPTIONS = { shrink: 2 } as const;

const colin1mm = toVolume(readNifti(COLIN));
const colin = resampleToVoxelSize(colin1mm, 3, { interpolation: "trilinear" });
const classes = estimateWhiteMatter(colin1mm);
const [csf, gm, wm] = classes.classMeans;
const brain = Uint8Array.from(colin.data, (x) => (x > 0 ? 1 : 0));
/** White matter of the clean image: above the GM/WM midpoint. */
const wmMask = Uint8Array.from(colin.data, (x) => (x > (gm + wm) / 2 ? 1 : 0));
const bias = biasFieldOnGrid(randomBiasField(colin, 0.4, new Random(1, "bias")), colin);
const trueLog = Float64Array.from(bias.data, Math.log);

function times(v: Volume, b: Volume): Volume {
  return { ...v, data: v.data.map((x, i) => x * b.data[i]!) };
}

/** Pearson correlation and regression slope of y on x over the mask. */
function correlation(x: ArrayLike<number>, y: ArrayLike<number>, mask: Uint8Array): { r: number; slope: number } {
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) (n++, (sx += x[i]!), (sy += y[i]!));
  const mx = sx / n;
  const my = sy / n;
  let cxx = 0;
  let cyy = 0;
  let cxy = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    cxx += (x[i]! - mx) ** 2;
    cyy += (y[i]! - my) ** 2;
    cxy += (x[i]! - mx) * (y[i]! - my);
  }
  return { r: cxy / Math.sqrt(cxx * cyy), slope: cxy / cxx };
}

function cv(data: ArrayLike<number>, mask: Uint8Array): number {
  let n = 0;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) (n++, (s += data[i]!), (s2 += data[i]! ** 2));
  const mean = s / n;
  return Math.sqrt(s2 / n - mean * mean) / mean;
}

test("on a bias-free phantom with Colin27's anatomy the estimated field correlates >= 0.95 with the truth", () => {
  const labels = { ...colin1mm, data: colin1mm.data.map((x) => (x <= classes.threshold ? 0 : x < (csf + gm) / 2 ? csf : x < (gm + wm) / 2 ? gm : wm)) };
  const phantom = resampleToVoxelSize(labels, 3, { interpolation: "trilinear" });
  // Pure white matter (no partial volume): the class value itself.
  const pwm = Uint8Array.from(phantom.data, (x) => (Math.abs(x - wm) < 1e-3 * wm ? 1 : 0));
  const biased = times(phantom, bias);
  const r = n4BiasCorrection(biased, OPTIONS);
  const { r: corr, slope } = correlation(trueLog, r.logField, Uint8Array.from(phantom.data, (x) => (x > 0 ? 1 : 0)));
  assert.ok(corr >= 0.95, `correlation ${corr}`);
  assert.ok(slope > 0.9 && slope < 1.1, `slope ${slope}`);
  // Pure WM is constant in the phantom: its CV after correction is what is left of the field
  // (with a correlation r the field error is about sqrt(1 - r^2) ~ 0.2 of the field).
  assert.ok(cv(r.corrected.data, pwm) < 0.3 * cv(biased.data, pwm), `WM CV ${cv(biased.data, pwm)} -> ${cv(r.corrected.data, pwm)}`);
});

test("on Colin27 the synthetic field is attributed to bias in full and the white-matter CV drops", () => {
  const biased = times(colin, bias);
  const clean = n4BiasCorrection(colin, OPTIONS);
  const r = n4BiasCorrection(biased, OPTIONS);
  const change = r.logField.map((x, i) => x - clean.logField[i]!);
  const { r: corr, slope } = correlation(trueLog, change, brain);
  assert.ok(corr >= 0.95, `correlation of the change with the synthetic field ${corr}`);
  assert.ok(slope > 0.9 && slope < 1.1, `slope ${slope}`);
  const before = cv(biased.data, wmMask);
  const after = cv(r.corrected.data, wmMask);
  assert.ok(after < 0.85 * before, `WM CV ${before} -> ${after}`);
  // The result is consistent: input = corrected * field, and the log field has mean 0 in the brain.
  for (let i = 0; i < biased.data.length; i += 997) {
    assert.ok(Math.abs(r.corrected.data[i]! * r.field.data[i]! - biased.data[i]!) <= 1e-4 * Math.abs(biased.data[i]!) + 1e-6);
  }
  const { valid } = validVoxels(biased, automaticMask(biased).mask);
  let mean = 0;
  let n = 0;
  for (let i = 0; i < valid.length; i++) if (valid[i]) (n++, (mean += r.logField[i]!));
  assert.equal(n, r.maskVoxels - r.excludedVoxels);
  assert.ok(Math.abs(mean / n) < 1e-9, `mean log field over the mask ${mean / n}`);
  assert.deepEqual(r.levels.length, 4);
  assert.ok(r.levels.every((l) => l.iterations >= 1 && l.iterations <= 50));
});
