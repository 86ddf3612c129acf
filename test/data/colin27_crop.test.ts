// The real default source, on a small crop: Colin27 (ch2bet.nii.gz from Debian's mricron-data, which
// scripts/setup.sh installs) -> simulate -> prepare. Checks the numbers a user would check by hand:
// the white-matter level, the noise level it implies, world-space alignment of the LR grid, and a
// data set whose split leaves no held-out slice next to a training slice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readNifti, toVolume } from "../../src/nifti/index.js";
import { applyToPoint } from "../../src/volume/affine.js";
import { simulateAcquisition } from "../../src/simulate/simulate.js";
import type { Volume } from "../../src/volume/volume.js";
import { prepareDataset } from "../../src/data/prepare.js";
import { openSliceDataset } from "../../src/data/dataset.js";
import { DEFAULT_HR_CANDIDATES } from "../../src/data/prepare_options.js";
import { tempDir, writeVolume } from "./phantom.js";

const COLIN = DEFAULT_HR_CANDIDATES[0];

/** The block [i0, i0+n) x [j0, j0+m) x [k0, k0+l) of v, with its affine shifted to keep world positions. */
function crop(v: Volume, [i0, j0, k0]: readonly number[], [n, m, l]: readonly [number, number, number]): Volume {
  const [nx, ny] = v.dims;
  const data = new Float32Array(n * m * l);
  for (let k = 0; k < l; k++) for (let j = 0; j < m; j++) for (let i = 0; i < n; i++) data[i + n * (j + m * k)] = v.data[i + i0! + nx * (j + j0! + ny * (k + k0!))]!;
  const a = [...v.affine];
  const origin = applyToPoint(v.affine, [i0!, j0!, k0!]);
  a[3] = origin[0];
  a[7] = origin[1];
  a[11] = origin[2];
  return { data, dims: [n, m, l], affine: a };
}

test("Colin27 crop: simulate and prepare give plausible, aligned, leak-free data", async () => {
  assert.ok(existsSync(COLIN), `${COLIN} is missing: run scripts/setup.sh (it installs the Debian package mricron-data)`);
  const colin = toVolume(readNifti(COLIN));
  assert.deepEqual(colin.dims, [181, 217, 181]);
  // A 64 x 64 x 36 block through the centrum semiovale and cortex (world z from 20 to 55 mm).
  const block = crop(colin, [58, 76, 91], [64, 64, 36]);
  const { dir, cleanup } = tempDir("moediff-colin-");
  try {
    const sim = simulateAcquisition(block, { voxelSize: 1.5, snr: 20, bias: 0.3, gradwarp: 0.5, seed: 7 });
    // Colin27 (ch2bet) white matter sits around 105-112 on its 0-133 scale.
    assert.ok(sim.wmMean > 95 && sim.wmMean < 120, `WM mean ${sim.wmMean}`);
    assert.ok(Math.abs(sim.sigma - sim.wmMean / 20) < 1e-9);
    assert.deepEqual(sim.image.dims, [43, 43, 24]);
    // the LR grid keeps the block's field-of-view centre
    const centre = (v: Volume): number[] => applyToPoint(v.affine, [(v.dims[0] - 1) / 2, (v.dims[1] - 1) / 2, (v.dims[2] - 1) / 2]);
    centre(sim.image).forEach((c, i) => assert.ok(Math.abs(c - centre(block)[i]!) < 1e-6, `FOV centre axis ${i}`));
    const maxG = sim.g.data.reduce((m, x) => Math.max(m, x), 0);
    assert.ok(maxG > 0.2 && maxG <= 0.5 + 1e-6, `max |u| ${maxG} mm`);

    const hr = writeVolume(join(dir, "colin-crop.nii.gz"), block);
    const r = await prepareDataset({ source: { kind: "simulate", hr: [hr] }, output: join(dir, "data"), height: 64, width: 64, seed: 5 });
    const m = r.manifest;
    assert.equal(m.split.method, "slabs");
    assert.ok(m.counts.train > 0 && m.counts.val > 0 && m.counts.test > 0, `counts ${JSON.stringify(m.counts)}`);
    using ds = openSliceDataset(r.output);
    const indexOf = (split: "train" | "val" | "test"): number[] => Array.from({ length: ds.size(split) }, (_, i) => ds.getSlice(split, i).meta.index);
    const train = indexOf("train");
    for (const k of [...indexOf("val"), ...indexOf("test")]) {
      const nearest = Math.min(...train.map((t) => Math.abs(t - k)));
      assert.ok(nearest >= 4, `held-out slice ${k} is ${nearest} slices from a training slice`);
    }
    // normalised HR brain intensities lie in [0, 1] and white matter is bright
    const s = ds.getSlice("train", Math.floor(ds.size("train") / 2));
    const max = s.hr.reduce((a, x) => Math.max(a, x), 0);
    assert.ok(max <= 1 && max > 0.9, `HR slice max ${max}`);
  } finally {
    cleanup();
  }
});
