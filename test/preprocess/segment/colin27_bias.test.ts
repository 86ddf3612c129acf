// Bias robustness on real anatomy: Colin27 (ch2bet, 3 mm to keep this fast) multiplied by a smooth
// field that is not a polynomial (a Gaussian bump, log amplitude 0.5, sd 70 mm, off-centre: +-28%), so
// the in-EM polynomial field cannot represent it exactly. The labels of the biased image should
// match those of the clean image far better than without the field model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readNifti, toVolume } from "../../../src/nifti/index.js";
import { resampleToVoxelSize } from "../../../src/volume/resample.js";
import { applyToPoint } from "../../../src/volume/affine.js";
import { segment } from "../../../src/preprocess/segment/index.js";
import { dice } from "../../../src/preprocess/segment/morphology.js";

const COLIN = "/usr/share/mricron/templates/ch2bet.nii.gz";

function classDice(a: Uint8Array, b: Uint8Array, c: number): number {
  return dice(
    a.map((v) => (v === c ? 1 : 0)),
    b.map((v) => (v === c ? 1 : 0)),
  );
}

test("Colin27 under a non-polynomial bias field: labels close to the clean ones, field recovered", () => {
  assert.ok(existsSync(COLIN), `${COLIN} is missing: run scripts/setup.sh (it installs the Debian package mricron-data)`);
  const clean = resampleToVoxelSize(toVolume(readNifti(COLIN)), 3);
  const [nx, ny, nz] = clean.dims;
  const logField = new Float64Array(clean.data.length);
  for (let k = 0, i = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let ii = 0; ii < nx; ii++, i++) {
        const [x, y, z] = applyToPoint(clean.affine, [ii, j, k]);
        logField[i] = 0.5 * Math.exp(-((x - 50) ** 2 + (y + 40) ** 2 + (z - 40) ** 2) / (2 * 70 * 70)) - 0.25;
      }
    }
  }
  const biased = { ...clean, data: clean.data.map((v, i) => v * Math.exp(logField[i]!)) };
  const reference = segment(clean, { regions: false });
  const corrected = segment(biased, { regions: false });
  const ignored = segment(biased, { regions: false, biasDegree: 0 });
  const d = [2, 3].map((c) => classDice(corrected.tissue.labels, reference.tissue.labels, c));
  const d0 = [2, 3].map((c) => classDice(ignored.tissue.labels, reference.tissue.labels, c));
  assert.ok(d[0]! > 0.92 && d[1]! > 0.92, `GM/WM Dice with the field model ${d}`);
  assert.ok(d[0]! > d0[0]! + 0.05 && d[1]! > d0[1]! + 0.08, `GM/WM Dice ${d} vs ${d0} without the field model`);
  // the estimated field (relative to the one found on the clean image) follows the true one
  let n = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (let i = 0; i < clean.data.length; i++) {
    if (!reference.brain[i]) continue;
    const a = Math.log(corrected.tissue.bias[i]! / reference.tissue.bias[i]!);
    const b = logField[i]!;
    n++; sa += a; sb += b; saa += a * a; sbb += b * b; sab += a * b;
  }
  const corr = (sab / n - (sa / n) * (sb / n)) / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
  assert.ok(corr > 0.9, `field correlation ${corr}`);
});
