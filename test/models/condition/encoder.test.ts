// ConditionEncoder: output shape, wiring (patch embedding -> Swin blocks per
// scale -> global blocks -> LayerNorm) recomputed by hand from the parts, the
// parameter count formula, gradients, and memory over training steps together
// with the gating network.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import { ConditionEncoder, type ConditionEncoderConfig } from "../../../src/models/condition/swin.js";
import { GatingNetwork } from "../../../src/models/gating.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

T.setNumThreads(1);
const tidyTest = (name: string, fn: () => void): void => {
  test(name, () => T.tidy(fn));
};

const small = (o: Partial<ConditionEncoderConfig> = {}): ConditionEncoderConfig => ({
  inChannels: 1,
  dim: 16,
  patchSizes: [64, 32, 16],
  depth: 2,
  numHeads: 2,
  windowSize: 4,
  mlpRatio: 4,
  ...o,
});

tidyTest("z_c is [B, 84, d] at 128x128 and the grids come back", () => {
  T.manualSeed(30);
  const enc = new ConditionEncoder(small());
  const { zc, grids } = enc.forward(T.randn([2, 1, 128, 128]));
  assert.deepEqual(zc.shape, [2, 84, 16]);
  assert.deepEqual(grids, [[2, 2], [4, 4], [8, 8]]);
  assert.equal(T.all(zc.isfinite()).item(), 1);
  assertThrowsMatching(() => enc.forward(T.randn([1, 1, 100, 100])), /multiples of 64/);
  enc.dispose();
});

tidyTest("forward is patch embedding, every Swin block on each scale's own grid, global blocks, final LayerNorm", () => {
  T.manualSeed(31);
  for (const globalDepth of [0, 1]) {
    const enc = new ConditionEncoder(small({ globalDepth, depth: 3 })).eval();
    const y = T.randn([1, 1, 128, 128]);
    const { zc } = enc.forward(y);
    const { tokens, grids } = enc.patchEmbed.forward(y);
    let offset = 0;
    const parts = grids.map((g) => {
      let x = tokens.narrow(1, offset, g[0] * g[1]);
      offset += g[0] * g[1];
      for (const blk of enc.blocks) x = blk.forward(x, g);
      return x;
    });
    let z = T.cat(parts, 1);
    for (const blk of enc.globalBlocks) z = blk.forward(z);
    assertClose(zc.toArray(), enc.norm.forward(z).toArray(), { atol: 1e-5, message: `globalDepth ${globalDepth}` });
    assert.deepEqual(
      [...enc.blocks].map((b) => b.shifted),
      [false, true, false],
    );
    enc.dispose();
  }
});

tidyTest("without global blocks scales do not mix; with one they do", () => {
  T.manualSeed(32);
  const y = T.randn([1, 1, 128, 128]);
  // Change only the bottom-right 64x64 quadrant of the slice.
  const y2 = y.clone();
  y2.narrow(2, 64, 64).narrow(3, 64, 64).add_(T.randn([1, 1, 64, 64]));
  for (const [globalDepth, mixes] of [[0, false], [1, true]] as const) {
    const enc = new ConditionEncoder(small({ globalDepth, depth: 2 })).eval();
    const a = enc.forward(y).zc;
    const b = enc.forward(y2).zc;
    // Token (0,0) of the 8x8 grid (index 4 + 16): the regular block confines the change
    // to the bottom-right 4x4 window, and in the shifted block (0,0) sees only its own
    // 2x2 masked region; only a global block can carry the change to it.
    const d = a.select(1, 20).sub(b.select(1, 20)).abs().amax().item();
    assert.equal(d > 1e-6, mixes, `globalDepth ${globalDepth}: change ${d}`);
    enc.dispose();
  }
});

function expectedCount(c: ConditionEncoderConfig, globalDepth: number): number {
  const d = c.dim;
  const hid = Math.round(d * c.mlpRatio);
  const embed = c.patchSizes.reduce((a, p) => a + c.inChannels * p * p * d + d, 0) + c.patchSizes.length * d + 2 * d;
  const mlp = d * hid + hid + hid * d + d;
  const attn = 3 * d * d + 3 * d + d * d + d;
  const table = (2 * c.windowSize - 1) ** 2 * c.numHeads;
  const swin = 4 * d + attn + table + mlp;
  const global = 4 * d + attn + mlp;
  return embed + c.depth * swin + globalDepth * global + 2 * d;
}

tidyTest("parameter count matches the formula (state dict keys named as Swin)", () => {
  const c = small({ depth: 4, dim: 32, numHeads: 4 });
  const enc = new ConditionEncoder(c);
  assert.equal(enc.numParameters(), expectedCount(c, 1));
  const keys = [...enc.stateDict().keys()];
  for (const k of [
    "patch_embed.scale_embed",
    "patch_embed.proj.2.weight",
    "blocks.1.attn.relative_position_bias_table",
    "blocks.1.attn.relative_position_index",
    "blocks.3.mlp.fc2.bias",
    "global_blocks.0.attn.qkv.weight",
    "norm.weight",
  ]) {
    assert.ok(keys.includes(k), `missing ${k}`);
  }
  enc.dispose();
});

tidyTest("gradients reach the patch embedding, every bias table and the global block", () => {
  T.manualSeed(33);
  const enc = new ConditionEncoder(small());
  const { zc } = enc.forward(T.randn([2, 1, 64, 64]));
  zc.mul(T.randnLike(zc)).sum().backward();
  for (const [name, p] of enc.namedParameters()) {
    const g = p.grad;
    assert.ok(g !== null && g.abs().sum().item() > 0, `${name} has no gradient`);
  }
  enc.dispose();
});

tidyTest("eval mode is deterministic with dropout; training mode is not", () => {
  T.manualSeed(34);
  const enc = new ConditionEncoder(small({ dropout: 0.5 }));
  const y = T.randn([1, 1, 64, 64]);
  const t1 = enc.forward(y).zc.toArray();
  const t2 = enc.forward(y).zc.toArray();
  assert.notDeepEqual(t1, t2);
  enc.eval();
  assert.deepEqual(enc.forward(y).zc.toArray(), enc.forward(y).zc.toArray());
  enc.dispose();
});

tidyTest("config errors name the field", () => {
  assertThrowsMatching(() => new ConditionEncoder(small({ numHeads: 3 })), /numHeads must divide dim 16/);
  assertThrowsMatching(() => new ConditionEncoder(small({ depth: -1 })), /depth must be a non-negative integer/);
  assertThrowsMatching(() => new ConditionEncoder(small({ windowSize: 0 })), /windowSize must be a positive integer/);
  assertThrowsMatching(() => new ConditionEncoder(small({ dropout: 1 })), /dropout must be in \[0, 1\)/);
});

test("encoder + gating training steps do not grow memory", () => {
  T.manualSeed(35);
  const enc = new ConditionEncoder(small({ dim: 8, numHeads: 2, depth: 2 }));
  const gate = new GatingNetwork({ dim: 8, numExperts: 3, gamma: 0.1, usageDecay: 0.99, mode: "spatial", hidden: 16 });
  const opt = new T.optim.AdamW([...enc.parameters(), ...gate.parameters()], { lr: 1e-3 });
  const y = T.randn([2, 1, 64, 64]);
  const target = T.tensor([[0.7, 0.2, 0.1], [0.1, 0.2, 0.7]]);
  const step = (): number =>
    T.tidy(() => {
      opt.zeroGrad();
      const { zc, grids } = enc.forward(y);
      const { weights } = gate.forward(zc, { grids });
      const loss = weights.clamp(1e-8).log().mul(target).sum().neg();
      loss.backward();
      opt.step();
      return loss.item();
    });
  step();
  step();
  const mem0 = T.memory();
  for (let i = 0; i < 8; i++) step();
  const mem1 = T.memory();
  assert.equal(mem1.numTensors, mem0.numTensors, "live tensors");
  assert.equal(mem1.numBytes, mem0.numBytes, "native bytes");
  opt.dispose();
  enc.dispose();
  gate.dispose();
  y.dispose();
  target.dispose();
});
