// MultiScalePatchEmbed: token counts and grids, input checks, token order and
// content (LayerNorm of each convolution output + sinusoidal position + scale
// embedding), recomputed independently.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import { MultiScalePatchEmbed, PAPER_PATCH_SIZES, sincosPositionEmbedding } from "../../../src/models/condition/patch_embed.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

T.setNumThreads(1);
const tidyTest = (name: string, fn: () => void): void => {
  test(name, () => T.tidy(fn));
};

tidyTest("336 tokens at 256x256, 84 at 128x128, 126 at 128x192, grids per scale", () => {
  assert.deepEqual(PAPER_PATCH_SIZES, [64, 32, 16]);
  const pe = new MultiScalePatchEmbed({ inChannels: 1, dim: 8, patchSizes: [...PAPER_PATCH_SIZES] });
  const cases: [number, number, number, [number, number][]][] = [
    [256, 256, 336, [[4, 4], [8, 8], [16, 16]]],
    [128, 128, 84, [[2, 2], [4, 4], [8, 8]]],
    [128, 192, 126, [[2, 3], [4, 6], [8, 12]]],
  ];
  for (const [h, w, n, grids] of cases) {
    const out = pe.forward(T.randn([2, 1, h, w]));
    assert.deepEqual(out.tokens.shape, [2, n, 8], `${h}x${w}`);
    assert.deepEqual(out.grids, grids);
  }
  pe.dispose();
});

tidyTest("sizes not divisible by 64, wrong channels and wrong rank are rejected with a clear message", () => {
  const pe = new MultiScalePatchEmbed({ inChannels: 2, dim: 8, patchSizes: [64, 32, 16] });
  assertThrowsMatching(() => pe.forward(T.zeros([1, 2, 100, 100])), /multiples of 64/, /100x100/);
  assertThrowsMatching(() => pe.forward(T.zeros([1, 2, 128, 96])), /multiples of 64/, /128x96/);
  assertThrowsMatching(() => pe.forward(T.zeros([1, 3, 128, 128])), /y must be \[B, 2, H, W\]/, /\[1, 3, 128, 128\]/);
  assertThrowsMatching(() => pe.forward(T.zeros([2, 128, 128])), /y must be \[B, 2, H, W\]/);
  assertThrowsMatching(() => new MultiScalePatchEmbed({ inChannels: 1, dim: 6, patchSizes: [16] }), /dim must be a positive multiple of 4/);
  assertThrowsMatching(() => new MultiScalePatchEmbed({ inChannels: 1, dim: 8, patchSizes: [] }), /patchSizes must be a non-empty list/);
  // Patch sizes that do not divide each other: their lcm rules.
  const odd = new MultiScalePatchEmbed({ inChannels: 1, dim: 8, patchSizes: [6, 4] });
  assert.equal(odd.multiple, 12);
  assert.deepEqual(odd.forward(T.zeros([1, 1, 24, 12])).grids, [[4, 2], [6, 3]]);
  pe.dispose();
  odd.dispose();
});

/** pe of the token at (r, c) of the grid of patch size p, from the formula in the header. */
function positionByHand(r: number, c: number, p: number, pMin: number, dim: number): number[] {
  const m = dim / 4;
  const u = ((r + 0.5) * p) / pMin;
  const v = ((c + 0.5) * p) / pMin;
  const w = (k: number): number => 1 / Math.pow(10000, k / m);
  return [
    ...Array.from({ length: m }, (_, k) => Math.sin(u * w(k))),
    ...Array.from({ length: m }, (_, k) => Math.cos(u * w(k))),
    ...Array.from({ length: m }, (_, k) => Math.sin(v * w(k))),
    ...Array.from({ length: m }, (_, k) => Math.cos(v * w(k))),
  ];
}

tidyTest("each token is LayerNorm(conv patch) + position + scale embedding, scales in order, row-major", () => {
  T.manualSeed(20);
  const dim = 8;
  const patchSizes = [32, 16];
  const pe = new MultiScalePatchEmbed({ inChannels: 2, dim, patchSizes });
  T.noGrad(() => {
    pe.norm.weight?.copy_(T.randn([dim]));
    pe.norm.bias?.copy_(T.randn([dim]));
  });
  const y = T.randn([2, 2, 64, 96]);
  const { tokens, grids } = pe.forward(y);
  assert.deepEqual(grids, [[2, 3], [4, 6]]);
  const tok = tokens.toArray();
  const n = 6 + 24;
  const gamma = (pe.norm.weight as T.Tensor).toArray();
  const beta = (pe.norm.bias as T.Tensor).toArray();
  const scale = pe.scaleEmbed.toArray();
  let offset = 0;
  patchSizes.forEach((p, s) => {
    const [gh, gw] = grids[s] as [number, number];
    const conv = pe.proj.at(s);
    const full = T.F.conv2d(y, conv.weight, conv.bias, { stride: p }).toArray(); // [2, dim, gh, gw]
    for (const [b, r, c] of [[0, 0, 0], [1, gh - 1, gw - 1], [1, 1, 2]] as const) {
      const feat = Array.from({ length: dim }, (_, ch) => full[((b * dim + ch) * gh + r) * gw + c] as number);
      const mean = feat.reduce((a, v) => a + v, 0) / dim;
      const variance = feat.reduce((a, v) => a + (v - mean) ** 2, 0) / dim;
      const pos = positionByHand(r, c, p, 16, dim);
      const expected = feat.map(
        (v, ch) => ((v - mean) / Math.sqrt(variance + 1e-5)) * (gamma[ch] as number) + (beta[ch] as number) + (pos[ch] as number) + (scale[s * dim + ch] as number),
      );
      const idx = offset + r * gw + c;
      assertClose(tok.slice((b * n + idx) * dim, (b * n + idx + 1) * dim), expected, { atol: 2e-5, message: `scale ${s} (${b},${r},${c})` });
    }
    offset += gh * gw;
  });
  pe.dispose();
});

tidyTest("position embedding: formula values and distinct positions within a scale", () => {
  const grids: [number, number][] = [[2, 2], [4, 4]];
  const pe = sincosPositionEmbedding(grids, [32, 16], 8);
  assert.equal(pe.length, 20 * 8);
  // Token (1, 0) of the 32-grid: centre (1.5 * 2, 0.5 * 2) = (3, 1) in 16-pixel units.
  assertClose(Array.from(pe.slice(2 * 8, 3 * 8)), [Math.sin(3), Math.sin(0.03), Math.cos(3), Math.cos(0.03), Math.sin(1), Math.sin(0.01), Math.cos(1), Math.cos(0.01)], { atol: 1e-6 });
  const keys = new Set<string>();
  for (let t = 4; t < 20; t++) keys.add(Array.from(pe.slice(t * 8, (t + 1) * 8), (v) => v.toFixed(5)).join(","));
  assert.equal(keys.size, 16);
  assertThrowsMatching(() => sincosPositionEmbedding(grids, [32], 8), /2 grids for 1 patch sizes/);
});

tidyTest("dtype is a parameter: float64 layers give float64 tokens", () => {
  const pe = new MultiScalePatchEmbed({ inChannels: 1, dim: 8, patchSizes: [64, 32, 16] }, { dtype: "float64" });
  const { tokens } = pe.forward(T.randn([1, 1, 64, 64], { dtype: "float64" }));
  assert.equal(tokens.dtype, "float64");
  assert.deepEqual(tokens.shape, [1, 1 + 4 + 16, 8]);
  pe.dispose();
});

tidyTest("without absolute positions the tokens follow the content: a 64-pixel shift moves every grid by 64/p cells", () => {
  const gen = new T.Generator({ seed: 3 });
  const y = T.randn([1, 1, 128, 192], { generator: gen });
  const shifted = T.cat([y.narrow(3, 64, 128), y.narrow(3, 0, 64)], 3); // roll left by 64 pixels
  const tokenGrid = (pe: MultiScalePatchEmbed, x: T.Tensor, scale: number, grid: [number, number]): T.Tensor => {
    const out = pe.forward(x);
    const offset = out.grids.slice(0, scale).reduce((a, [gh, gw]) => a + gh * gw, 0);
    return out.tokens.narrow(1, offset, grid[0] * grid[1]).reshape(1, grid[0], grid[1], -1);
  };
  for (const absolutePosition of [false, true]) {
    const pe = new MultiScalePatchEmbed({ inChannels: 1, dim: 8, patchSizes: [64, 32, 16], absolutePosition }, { generator: new T.Generator({ seed: 4 }) });
    // The finest grid (patch 16): 8 x 12 cells; column c of the shifted input is column c + 4 of the original.
    const a = tokenGrid(pe, y, 2, [8, 12]).narrow(2, 4, 8);
    const b = tokenGrid(pe, shifted, 2, [8, 12]).narrow(2, 0, 8);
    const diff = a.sub(b).abs().amax().item();
    if (absolutePosition) assert.ok(diff > 1e-3, `with positions the shifted tokens differ (max ${diff})`);
    else assert.ok(diff < 1e-5, `without positions the shifted tokens are the same tokens (max ${diff})`);
    assert.match(pe.extraRepr(), absolutePosition ? /patchSizes=\[64, 32, 16\]$/ : /absolutePosition=false/);
    pe.dispose();
  }
});
