// The VQ-VAE ceiling volume: the put-back path restores prepare's slices onto the reference slab
// exactly (the HR slices themselves come back as the reference, up to the normalisation's clip), the
// crop/pad arithmetic is undone for both cases, and the tiny VQ-VAE's ceiling equals decode(encode(x))
// computed here slice by slice; scored by the demo's scoring it is a normal row.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { openSliceDataset, type SliceDataset } from "../../src/data/dataset.js";
import { extractSlice, sliceGeometry } from "../../src/data/slicing.js";
import { encoderInput } from "../../src/models/vqvae/encoder_input.js";
import { loadVqvae } from "../../src/models/vqvae/load.js";
import type { VQVAE } from "../../src/models/vqvae/index.js";
import { writeNifti } from "../../src/nifti/index.js";
import { ceilingSlab, heldoutPair, putBackSlice, scoreCeiling, vqvaeReconstruction } from "../../src/demo/ceiling.js";
import { cropVolume } from "../../src/demo/slab.js";
import { loadSource } from "../../src/demo/source.js";
import { heldoutFromManifest } from "../../src/model_dir/heldout.js";
import type { Volume } from "../../src/volume/volume.js";
import { tempDir } from "../data/phantom.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { demoFixture, type DemoFixture } from "./fixture.js";

let dir: string;
let cleanup: () => void;
let fx: DemoFixture;
let ds: SliceDataset;
let vqvae: VQVAE;
const inputs = { useBias: true, useGradwarp: true };
const identity = (x: T.Tensor): T.Tensor => x.narrow(1, 0, 1);

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-ceiling-"));
  fx = await demoFixture(dir);
  ds = openSliceDataset(fx.dataDir);
  vqvae = loadVqvae(join(fx.modelDir, "vqvae")).model;
});
after(() => {
  vqvae.dispose();
  ds.close();
  cleanup();
});

/** The reference slab as the demo cuts it: the source in RAS, slab slices along the axis. */
function referenceSlab(): Volume {
  const h = heldoutFromManifest(fx.manifest);
  return cropVolume(loadSource(h.source).ras, 2, h.slab.first, h.slab.last);
}

test("the HR slices through the put-back path are the reference slab (clipped at the normalisation divisor)", () => {
  const tensors = T.memory().numTensors;
  const c = ceilingSlab(ds, identity, { inputs, batch: 3 });
  assert.equal(T.memory().numTensors, tensors, "no tensor is left behind");
  const ref = referenceSlab();
  const { pair, slab } = heldoutPair(fx.manifest);
  assert.deepEqual(c.slab, slab);
  assert.equal(c.pair, pair.id);
  assert.equal(c.scale, pair.scale.hr);
  assert.deepEqual(c.volume.dims, ref.dims);
  assertClose(Array.from(c.volume.affine), Array.from(ref.affine), { atol: 1e-9, rtol: 0 });
  assert.deepEqual(c.missing, []);
  assert.equal(c.slices, slab.last - slab.first + 1);
  assert.equal(c.croppedVoxelsPerSlice, 0, "52x60 slices are padded to 64x64, nothing cropped");
  const clipped = Float32Array.from(ref.data, (v) => Math.min(v, c.scale));
  let worst = 0;
  for (let q = 0; q < clipped.length; q++) worst = Math.max(worst, Math.abs((c.volume.data[q] as number) - (clipped[q] as number)));
  assert.ok(worst <= 1e-5 * c.scale, `the put-back slab differs from the reference by up to ${worst}`);
  assert.ok(ref.data.some((v) => v > c.scale), "the fixture has voxels above the divisor, so the clip is exercised");

  // Scored by the demo's code against the clipped reference: an exact match up to float rounding.
  const refFile = join(dir, "clipped_reference.nii.gz");
  writeNifti(refFile, { ...ref, data: clipped });
  const { scores, scope } = scoreCeiling({ volume: c.volume, file: join(dir, "identity_ceiling.nii.gz"), reference: refFile, regionsDir: null, axis: 2 });
  assert.equal(scope.scope, "slab");
  assert.ok(scores.volume.psnr > 120, `PSNR ${scores.volume.psnr}`);
  assertClose(scores.volume.ssim, 1, { atol: 1e-6, rtol: 0 });
});

test("putBackSlice undoes a centre crop and a centre pad", () => {
  for (const dims of [[70, 50, 3], [40, 36, 2]] as [number, number, number][]) {
    const v: Volume = { data: Float32Array.from({ length: dims[0] * dims[1] * dims[2] }, (_, i) => 1 + (i % 97)), dims, affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] };
    const g = sliceGeometry(dims, "z", 48, 48);
    const back = new Float32Array(v.data.length).fill(-1);
    let lost = 0;
    for (let k = 0; k < dims[2]; k++) lost = putBackSlice(back, dims, g, k, extractSlice(v, g, k), 2);
    const expectLost = dims[0] * dims[1] - Math.min(dims[0], 48) * Math.min(dims[1], 48);
    assert.equal(lost, expectLost);
    let zeros = 0;
    for (let q = 0; q < back.length; q++) {
      if (back[q] === 0) zeros++;
      else assert.equal(back[q], 2 * (v.data[q] as number));
    }
    assert.equal(zeros, expectLost * dims[2], `dims ${dims}: the cropped voxels are 0, all others restored`);
  }
  const g = sliceGeometry([40, 36, 2], "z", 48, 48);
  assertThrowsMatching(() => putBackSlice(new Float32Array(40 * 36 * 2), [40, 36, 2], g, 2, new Float32Array(48 * 48), 1), /slice 2 is outside 0\.\.1/);
  assertThrowsMatching(() => putBackSlice(new Float32Array(40 * 36 * 2), [40, 36, 2], g, 0, new Float32Array(10), 1), /10 values, not 48x48/);
});

test("the VQ-VAE ceiling is decode(encode([x, g, b])) of each test slice, placed back and rescaled", () => {
  const c = ceilingSlab(ds, vqvaeReconstruction(vqvae, false), { inputs });
  const { pair, slab } = heldoutPair(fx.manifest);
  assert.ok(c.volume.data.every((v) => Number.isFinite(v) && v >= 0));
  // Independently: slice slab.first + 1 through encode().zq and decode() (no latent scaling involved).
  const k = slab.first + 1;
  let index = -1;
  for (let i = 0; i < ds.size("test"); i++) if (ds.getSlice("test", i).meta.index === k) index = i;
  assert.ok(index >= 0);
  const mine = T.tidy(() =>
    T.noGrad(() => {
      const b = ds.getBatch("test", [index]);
      return vqvae.decode(vqvae.encode(encoderInput(b.hr, b.g, b.bias, inputs)).zq, { lr: b.cond }).narrow(1, 0, 1).contiguous().data() as Float32Array;
    }),
  );
  const dims = c.volume.dims;
  const g = sliceGeometry(dims, "z", ds.height, ds.width);
  const expected = new Float32Array(dims[0] * dims[1] * dims[2]);
  putBackSlice(expected, dims, g, k - slab.first, mine, pair.scale.hr);
  const plane = dims[0] * dims[1];
  const off = (k - slab.first) * plane;
  assertClose(c.volume.data.subarray(off, off + plane), expected.subarray(off, off + plane), { atol: 1e-4 * pair.scale.hr, rtol: 1e-4 });

  // The latent is already quantised, so snapping it to the codebook changes nothing but rounding.
  const snapped = ceilingSlab(ds, vqvaeReconstruction(vqvae, true), { inputs });
  assertClose(snapped.volume.data, c.volume.data, { atol: 1e-4 * pair.scale.hr, rtol: 1e-4 });

  // Without b and g the encoder input differs, and so does the ceiling.
  const nobg = ceilingSlab(ds, vqvaeReconstruction(vqvae, false), { inputs: { useBias: false, useGradwarp: false } });
  assert.ok(nobg.volume.data.some((v, q) => Math.abs(v - (c.volume.data[q] as number)) > 1e-3), "the b/g ablation reaches the encoder");
});

test("bad options and a wrong reconstruction are refused with a clear message", () => {
  assertThrowsMatching(() => ceilingSlab(ds, identity, { inputs, batch: 0 }), /batch must be a positive integer, got 0/);
  const tensors = T.memory().numTensors;
  assertThrowsMatching(() => ceilingSlab(ds, (x) => x, { inputs }), /the reconstruction must be \[\d+, 1, 64, 64\], got \[\d+, 3, 64, 64\]/);
  assert.equal(T.memory().numTensors, tensors, "a failed batch leaves no tensor behind");
});
