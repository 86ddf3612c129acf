// enhanceVolumeUNet: the output lies on exactly the grid `enhance` gives (at the card's voxel size, at
// --voxel, and on a --like grid); an untrained U-Net (the identity on the B-spline slice) returns the
// B-spline-resampled input, normalised and scaled back as enhance does (hrToLrScale included); the
// result does not depend on the batch; no tensor is left behind; wrong directories are refused.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../../src/torch/index.js";
import { enhanceVolumeUNet, loadUNetModel } from "../../../src/inference/unet_enhance.js";
import { enhanceVolume } from "../../../src/inference/enhance.js";
import { MoEDiffSRPipeline } from "../../../src/inference/pipeline.js";
import { gridFor, type Grid } from "../../../src/volume/affine.js";
import { reorient } from "../../../src/volume/reorient.js";
import { resample } from "../../../src/volume/resample.js";
import type { Volume } from "../../../src/volume/volume.js";
import { phantom, tempDir } from "../../data/phantom.js";
import { writeTinyModelDir } from "../../inference/tiny_model.js";
import { writeTinyUNetDir } from "./tiny_unet.js";

let dir: string;
let cleanup: () => void;
let identity: string;
let perturbed: string;
let moe: string;
// A 2 mm LR volume in LPS-like orientation (x flipped), so reorientation is exercised.
const lr = phantom([30, 36, 12], [-2, 0, 0, 29, 0, 2, 0, -35, 0, 0, 2, -11, 0, 0, 0, 1]);
const like: Grid = { dims: [40, 48, 16], affine: [1.5, 0, 0, -29.25, 0, 1.5, 0, -35.25, 0, 0, 1.5, -11.25, 0, 0, 0, 1] };

before(() => {
  ({ dir, cleanup } = tempDir("moediff-unet-enhance-"));
  identity = writeTinyUNetDir(join(dir, "identity"), { card: { hrToLrScale: 1.5 } });
  perturbed = writeTinyUNetDir(join(dir, "perturbed"), { perturb: true });
  moe = writeTinyModelDir(join(dir, "moe"));
});
after(() => cleanup());

const sameGrid = (a: Volume, b: Volume, what: string): void => {
  assert.deepEqual(a.dims, b.dims, `${what}: dims`);
  a.affine.forEach((v, i) => assert.ok(Math.abs(v - (b.affine[i] as number)) < 1e-6, `${what}: affine[${i}] ${v} vs ${b.affine[i]}`));
};

test("the output grid is enhance's: at the card's voxel size, at a given voxel size, and exactly a --like grid", async () => {
  const pipe = MoEDiffSRPipeline.fromDir(moe);
  try {
    for (const o of [{}, { voxelSize: 1.5 }, { like }]) {
      const e = await enhanceVolume(pipe, lr, { ...o, steps: 1, seed: 1 });
      const u = await enhanceVolumeUNet(perturbed, lr, o);
      sameGrid(u.output, e.output, JSON.stringify(o));
      assert.deepEqual(u.stats.targetDims, e.stats.targetDims);
      assert.equal(u.stats.slices, e.stats.slices);
    }
  } finally {
    pipe.dispose();
  }
});

test("an untrained U-Net returns the B-spline input, clipped at the normalisation divisor and scaled by hrToLrScale; skipped slices are 0", async () => {
  const scale = 80;
  const r = await enhanceVolumeUNet(identity, lr, { inputScale: scale });
  const ras = reorient(lr, "RAS");
  const bspline = resample(ras, gridFor(ras, 1), { interpolation: "bspline", fill: 0 });
  sameGrid(r.output, bspline, "B-spline grid");
  const [nx, ny, nz] = r.output.dims;
  let compared = 0;
  let worst = 0;
  for (let k = 0; k < nz; k++) {
    const at = (i: number, j: number): number => i + nx * (j + ny * k);
    let signal = false;
    for (let q = 0; q < nx * ny && !signal; q++) signal = (r.output.data[k * nx * ny + q] as number) > 0;
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const got = r.output.data[at(i, j)] as number;
        const want = signal ? 1.5 * Math.min(scale, Math.max(0, bspline.data[at(i, j)] as number)) : 0;
        worst = Math.max(worst, Math.abs(got - want));
      }
    }
    if (signal) compared++;
  }
  assert.ok(compared >= nz / 2, `${compared} of ${nz} slices had signal`);
  assert.equal(r.stats.slicesRun, compared);
  assert.ok(worst < 1e-3, `largest difference ${worst}`);
  assert.equal(r.stats.inputScale, scale);
});

test("the result does not depend on the batch; several axes average; a loaded model stays usable and nothing leaks", async () => {
  const u = loadUNetModel(perturbed);
  try {
    const before = T.memory().numTensors;
    const one = await enhanceVolumeUNet(u, lr, { batch: 1 });
    const five = await enhanceVolumeUNet(u, lr, { batch: 5 });
    assert.equal(T.memory().numTensors, before, "live tensors before and after");
    let diff = 0;
    one.output.data.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - (five.output.data[i] as number)))));
    const top = one.output.data.reduce((m, v) => Math.max(m, v), 0);
    assert.ok(top > 10 && diff <= 1e-5 * top, `batch 1 vs 5: ${diff} (largest value ${top}; float32 sums in another order)`);
    const ident = await enhanceVolumeUNet(identity, lr);
    assert.ok(one.output.data.some((v, i) => Math.abs(v - (ident.output.data[i] as number) / 1.5) > 1e-3), "the perturbed U-Net is not the identity");
    const all = await enhanceVolumeUNet(u, lr, { axes: ["x", "y", "z"] });
    assert.deepEqual(all.stats.axes, ["x", "y", "z"]);
    assert.equal(all.stats.slices, one.output.dims[0] + one.output.dims[1] + one.output.dims[2]);
    sameGrid(all.output, one.output, "three axes");
    let moved = 0;
    all.output.data.forEach((v, i) => (moved = Math.max(moved, Math.abs(v - (one.output.data[i] as number)))));
    assert.ok(moved > 0, "averaging three axes changes the result");
  } finally {
    u.dispose();
  }
});

test("refusals: a missing directory, a MoEDiff-SR run, a directory without a card, unfinished training, bad options", async () => {
  await assert.rejects(() => enhanceVolumeUNet(join(dir, "nowhere"), lr), /U-Net directory .*nowhere does not exist \(train one with `moediff-sr train-unet DATA -o/);
  await assert.rejects(() => enhanceVolumeUNet(moe, lr), /is a MoEDiff-SR run \(from `moediff-sr train`\), not a U-Net; enhance with it using `moediff-sr enhance --model/);
  await assert.rejects(() => enhanceVolumeUNet(join(moe, "vqvae"), lr), /is a VQ-VAE \(from `moediff-sr train-vqvae`\), not a U-Net/);
  const noCard = writeTinyUNetDir(join(dir, "nocard"));
  rmSync(join(noCard, "card.json"));
  await assert.rejects(() => enhanceVolumeUNet(noCard, lr), /has no card\.json/);
  const unfinished = writeTinyUNetDir(join(dir, "unfinished"));
  rmSync(join(unfinished, "model.safetensors"));
  await assert.rejects(() => enhanceVolumeUNet(unfinished, lr), /is not a trained U-Net directory: missing model\.safetensors/);
  await assert.rejects(() => enhanceVolumeUNet(perturbed, lr, { batch: 0 }), /batch must be a positive integer, got 0/);
  await assert.rejects(() => enhanceVolumeUNet(perturbed, lr, { overlap: 64 }), /overlap must be an integer in \[0, 64\), got 64/);
  await assert.rejects(() => enhanceVolumeUNet(perturbed, lr, { axes: ["z", "z"] }), /axes must be distinct/);
  const empty: Volume = { ...lr, data: new Float32Array(lr.data.length) };
  await assert.rejects(() => enhanceVolumeUNet(perturbed, empty), /the input has no usable signal|no brain signal/);
});
