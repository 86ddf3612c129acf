// The shipped default model (models/default) routes by what it sees and its experts differ (issue 19
// point 4): these tests fail on a model whose gates ignore the input (the turn-1 default: zero spatial
// variance, the same weights for noise) or whose experts are interchangeable (cosine 1.000).
// Input: three slices of the held-out slab of ch2bet, simulated as the model's own acquisition.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { DEFAULT_MODEL_DIR } from "../../src/model_dir/default_dir.js";
import { readHeldout } from "../../src/model_dir/heldout.js";
import { MoEDiffSRPipeline } from "../../src/inference/pipeline.js";
import { acquisitionScale, enhanceVolume, type EnhanceResult } from "../../src/inference/enhance.js";
import { loadSource } from "../../src/demo/source.js";
import { cropGrid, cropVolume } from "../../src/demo/slab.js";
import { simulateAcquisition } from "../../src/simulate/simulate.js";
import type { Grid } from "../../src/volume/affine.js";
import type { Volume } from "../../src/volume/volume.js";

const heldout = readHeldout(DEFAULT_MODEL_DIR);
const SLICES: [number, number] = [heldout.slab.first + 4, heldout.slab.first + 6];

interface Run {
  brain: Uint8Array;
  brainResult: EnhanceResult;
  noiseResult: EnhanceResult;
  kinds: number[];
}

let cached: Run | null = null;
async function run(): Promise<Run> {
  if (cached !== null) return cached;
  assert.ok(existsSync(heldout.source.path), `${heldout.source.path} is installed by setup (Debian package mricron-data)`);
  const hr = loadSource(heldout.source).ras;
  const a = heldout.acquisition;
  const sim = simulateAcquisition(hr, { voxelSize: a.voxelSize, snr: a.snr, bias: a.bias, gradwarp: a.gradwarp, seed: a.seed });
  const hrGrid: Grid = { dims: [hr.dims[0], hr.dims[1], hr.dims[2]], affine: Array.from(hr.affine) };
  const like = cropGrid(hrGrid, 2, SLICES[0], SLICES[1]);
  const pipe = MoEDiffSRPipeline.fromDir(DEFAULT_MODEL_DIR);
  try {
    const inputScale = acquisitionScale(sim.image, hrGrid, pipe.card);
    const settings = { explain: true, like, inputScale, seed: 0 };
    const brainResult = await enhanceVolume(pipe, sim.image, settings);
    // The same grid and intensity range, uniform noise instead of a head.
    let state = 12345;
    const noise: Volume = {
      ...sim.image,
      data: sim.image.data.map(() => {
        state = (state * 1103515245 + 12345) % 2147483648;
        return (state / 2147483648) * inputScale;
      }),
    };
    const noiseResult = await enhanceVolume(pipe, noise, settings);
    const ref = cropVolume(hr, 2, SLICES[0], SLICES[1]);
    const brain = Uint8Array.from(ref.data, (x) => (x > 0 ? 1 : 0));
    cached = { brain, brainResult, noiseResult, kinds: [...pipe.config.model.experts] };
    return cached;
  } finally {
    pipe.dispose();
  }
}

const inside = (v: Volume, mask: Uint8Array): number[] => [...v.data].filter((_, i) => mask[i] !== 0);
const mean = (x: number[]): number => x.reduce((s, v) => s + v, 0) / x.length;
const std = (x: number[]): number => {
  const m = mean(x);
  return Math.sqrt(mean(x.map((v) => (v - m) ** 2)));
};

test("the shipped model's gates vary across the brain (spatial sd >= 0.05 for some expert)", async () => {
  const r = await run();
  const gates = r.brainResult.gates ?? [];
  assert.equal(gates.length, r.kinds.length, "explain returns one gate map per expert");
  const sds = gates.map((g) => std(inside(g, r.brain)));
  assert.ok(Math.max(...sds) >= 0.05, `gate sd inside the brain per expert: ${sds.map((s) => s.toFixed(4)).join(", ")}`);
});

test("the shipped model's gates depend on the input: a head and uniform noise are routed differently", async () => {
  const r = await run();
  const head = (r.brainResult.gates ?? []).map((g) => mean(inside(g, r.brain)));
  const noise = (r.noiseResult.gates ?? []).map((g) => mean(inside(g, r.brain)));
  const diff = Math.max(...head.map((h, i) => Math.abs(h - (noise[i] as number))));
  assert.ok(diff >= 0.05, `mean gates inside the brain mask: head ${head.map((x) => x.toFixed(3)).join("/")}, noise ${noise.map((x) => x.toFixed(3)).join("/")}`);
});

test("the shipped model's experts differ: each pair's own estimates differ inside the brain", async () => {
  const r = await run();
  const experts = r.brainResult.experts ?? [];
  assert.equal(experts.length, r.kinds.length);
  const values = experts.map((e) => inside(e, r.brain));
  const scale = mean(values[0] as number[]);
  for (let i = 0; i < values.length; i++) {
    for (let j = i + 1; j < values.length; j++) {
      const a = values[i] as number[];
      const b = values[j] as number[];
      const mad = mean(a.map((x, v) => Math.abs(x - (b[v] as number))));
      assert.ok(mad / scale >= 0.005, `E${r.kinds[i]} vs E${r.kinds[j]}: mean |difference| ${mad.toPrecision(3)} = ${((100 * mad) / scale).toFixed(2)}% of the brain mean`);
    }
  }
});
