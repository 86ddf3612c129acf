// Blocks of the encoder/decoder: GroupNorm group rule, ResBlock skip, resampling
// shapes, attention residual, input checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import { AttnBlock, Downsample, normGroups, ResBlock, Upsample } from "../../../src/models/vqvae/index.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

test("normGroups: 32 groups for wide layers, at least two channels per group for narrow ones", () => {
  const cases: [number, number][] = [
    [512, 32],
    [256, 32],
    [128, 32],
    [64, 32],
    [48, 24],
    [32, 16],
    [16, 8],
    [8, 4],
    [6, 3],
    [3, 1],
    [1, 1],
  ];
  for (const [c, g] of cases) assert.equal(normGroups(c), g, `channels ${c}`);
});

test("ResBlock: 1x1 shortcut only when channels change; output shape; zero residual branch gives the shortcut", () => {
  const same = new ResBlock(8, 8);
  const wide = new ResBlock(8, 16);
  assert.ok(!same.namedParameters().some(([k]) => k.startsWith("nin_shortcut")));
  assert.deepEqual(
    wide.namedParameters().filter(([k]) => k.startsWith("nin_shortcut")).map(([k, p]) => [k, p.shape]),
    [
      ["nin_shortcut.weight", [16, 8, 1, 1]],
      ["nin_shortcut.bias", [16]],
    ],
  );
  T.tidy(() => {
    const x = T.randn([2, 8, 6, 6]);
    assert.deepEqual(wide.forward(x).shape, [2, 16, 6, 6]);
    // With conv2 zeroed the residual branch vanishes: same -> x, wide -> nin_shortcut(x).
    T.noGrad(() => {
      for (const b of [same, wide]) {
        b.conv2.weight.zero_();
        b.conv2.bias?.zero_();
      }
    });
    assertClose(same.forward(x).toArray(), x.toArray(), { atol: 1e-6 });
    assertClose(wide.forward(x).toArray(), (wide.ninShortcut as T.nn.Conv2d).forward(x).toArray(), { atol: 1e-6 });
    assertThrowsMatching(() => same.forward(T.zeros([2, 4, 6, 6])), /ResBlock\(8, 8\)\.forward: x must be \[B, 8, H, W\], got \[2, 4, 6, 6\]/);
  });
  same.dispose();
  wide.dispose();
});

test("Downsample halves and Upsample doubles H and W; Downsample rejects odd sizes", () => {
  const down = new Downsample(4);
  const up = new Upsample(4);
  T.tidy(() => {
    assert.deepEqual(down.forward(T.randn([1, 4, 8, 12])).shape, [1, 4, 4, 6]);
    assert.deepEqual(up.forward(T.randn([1, 4, 4, 6])).shape, [1, 4, 8, 12]);
    assertThrowsMatching(() => down.forward(T.randn([1, 4, 7, 8])), /H and W must be even, got \[1, 4, 7, 8\]/);
  });
  down.dispose();
  up.dispose();
});

test("AttnBlock: residual (zero projection returns x); a spatial permutation of the input permutes the output", () => {
  T.manualSeed(3);
  const attn = new AttnBlock(8);
  T.tidy(() => {
    const x = T.randn([1, 8, 4, 4]);
    const y = attn.forward(x);
    assert.deepEqual(y.shape, [1, 8, 4, 4]);
    // Self-attention over all positions has no positional term: flipping the grid flips the output.
    assertClose(attn.forward(x.flip(2, 3)).toArray(), y.flip(2, 3).toArray(), { atol: 1e-5, rtol: 1e-4 });
    T.noGrad(() => {
      attn.projOut.weight.zero_();
      attn.projOut.bias?.zero_();
    });
    assertClose(attn.forward(x).toArray(), x.toArray(), { atol: 1e-7 });
  });
  attn.dispose();
});
