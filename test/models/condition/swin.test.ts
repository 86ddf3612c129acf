// Swin blocks: window partition/reverse, the relative position index, window
// plans and masks by hand, the (shifted, padded, clamped) window attention
// against a naive per-token JS reference, and which outputs a perturbed token
// can reach in regular and shifted blocks.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import {
  SwinBlock,
  WindowAttention,
  planWindows,
  relativePositionIndex,
  windowAttentionMask,
  windowPartition,
  windowReverse,
} from "../../../src/models/condition/swin.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

T.setNumThreads(1);
const tidyTest = (name: string, fn: () => void): void => {
  test(name, () => T.tidy(fn));
};

tidyTest("windowPartition lays out windows row-major and windowReverse inverts it", () => {
  const [b, h, w, c, ws] = [2, 8, 12, 3, 4];
  const x = T.arange(0, b * h * w * c).reshape(b, h, w, c);
  const win = windowPartition(x, ws);
  assert.deepEqual(win.shape, [b * 2 * 3, 16, c]);
  const xs = x.toArray();
  const ys = win.toArray();
  for (let bi = 0; bi < b; bi++) {
    for (let wy = 0; wy < 2; wy++) {
      for (let wx = 0; wx < 3; wx++) {
        for (let t = 0; t < 16; t++) {
          const r = wy * ws + Math.floor(t / ws);
          const col = wx * ws + (t % ws);
          const k = bi * 6 + wy * 3 + wx;
          for (let ch = 0; ch < c; ch++) {
            assert.equal(ys[(k * 16 + t) * c + ch], xs[((bi * h + r) * w + col) * c + ch]);
          }
        }
      }
    }
  }
  assert.deepEqual(windowReverse(win, ws, h, w).toArray(), xs);
  assertThrowsMatching(() => windowPartition(T.zeros([1, 6, 8, 2]), 4), /multiples of 4/, /\[1, 6, 8, 2\]/);
  assertThrowsMatching(() => windowReverse(T.zeros([5, 16, 2]), 4, 8, 8), /windows must be \[B\*4, 16, C\]/);
});

tidyTest("relative position index of a 2x2 window matches the Swin definition worked by hand", () => {
  // Tokens (0,0), (0,1), (1,0), (1,1); index = (dy + 1) * 3 + (dx + 1).
  const byHand = [4, 3, 1, 0, 5, 4, 2, 1, 7, 6, 4, 3, 8, 7, 5, 4];
  assert.deepEqual(relativePositionIndex(2), byHand);
  const attn = new WindowAttention(4, 2, 2);
  assert.deepEqual(attn.relativePositionIndex.shape, [4, 4]);
  assert.equal(attn.relativePositionIndex.dtype, "int64");
  assert.deepEqual(attn.relativePositionIndex.toArray(), byHand);
  assert.deepEqual(attn.relativePositionBiasTable.shape, [9, 2]);
  // A 2x2 window inside a table made for 3x3: offsets centred on 2, rows of 5.
  assert.deepEqual(relativePositionIndex(2, 3), [12, 11, 7, 6, 13, 12, 8, 7, 17, 16, 12, 11, 18, 17, 13, 12]);
  attn.dispose();
});

tidyTest("window plans follow Swin's rule and pad to multiples of the window", () => {
  assert.deepEqual(planWindows([16, 16], 8, true), { window: 8, shift: 4, hp: 16, wp: 16 });
  assert.deepEqual(planWindows([16, 16], 8, false), { window: 8, shift: 0, hp: 16, wp: 16 });
  assert.deepEqual(planWindows([8, 8], 8, true), { window: 8, shift: 0, hp: 8, wp: 8 });
  assert.deepEqual(planWindows([4, 4], 8, true), { window: 4, shift: 0, hp: 4, wp: 4 });
  assert.deepEqual(planWindows([2, 4], 4, true), { window: 2, shift: 0, hp: 2, wp: 4 });
  assert.deepEqual(planWindows([6, 10], 4, true), { window: 4, shift: 2, hp: 8, wp: 12 });
});

tidyTest("shift mask on an 8x8 grid with window 4, shift 2, counted by hand", () => {
  const plan = planWindows([8, 8], 4, true);
  assert.equal(windowAttentionMask([8, 8], planWindows([8, 8], 4, false)), null);
  const m = windowAttentionMask([8, 8], plan);
  assert.ok(m !== null);
  assert.equal(m.length, 4 * 16 * 16);
  const visible = (k: number): number => m.slice(k * 256, (k + 1) * 256).filter((v) => v === 0).length;
  // Window 0 is one region; windows 1 and 2 are two 4x2 / 2x4 regions; window 3 is four 2x2 regions.
  assert.deepEqual([0, 1, 2, 3].map(visible), [256, 16 * 8, 16 * 8, 16 * 4]);
  assert.ok(m.every((v) => v === 0 || v === -1e4));
  // Window 1, query token 0 (rolled (0,4) -> original (2,6)) sees the keys of columns 4-5 only.
  const row = Array.from(m.slice(256, 256 + 16));
  assert.deepEqual(row.map((v) => (v === 0 ? 1 : 0)), [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
  // Padding only: a 6x6 grid, window 4, no shift -> keys in rows/cols 6-7 are hidden.
  const p = windowAttentionMask([6, 6], planWindows([6, 6], 4, false));
  assert.ok(p !== null);
  assert.deepEqual([0, 1, 2, 3].map((k) => p.slice(k * 256, (k + 1) * 256).filter((v) => v === 0).length), [256, 16 * 8, 16 * 8, 16 * 4]);
});

/** A naive per-query reference of the shifted/padded window attention, written from Swin's definition. */
function naiveWindowMsa(blk: SwinBlock, x: number[], b: number, grid: [number, number], c: number): number[] {
  const [gh, gw] = grid;
  const heads = blk.attn.numHeads;
  const hd = c / heads;
  const W = blk.windowSize;
  // Swin's rule, restated.
  const small = Math.min(gh, gw) <= W;
  const w = small ? Math.min(gh, gw) : W;
  const s = small || !blk.shifted ? 0 : Math.floor(W / 2);
  const hp = Math.ceil(gh / w) * w;
  const wp = Math.ceil(gw / w) * w;
  const mod = (a: number, n: number): number => ((a % n) + n) % n;
  const band = (p: number, n: number): number => (s === 0 ? 0 : p < n - w ? 0 : p < n - s ? 1 : 2);
  const qkvW = blk.attn.qkv.weight.toArray();
  const qkvB = (blk.attn.qkv.bias as T.Tensor).toArray();
  const projW = blk.attn.proj.weight.toArray();
  const projB = (blk.attn.proj.bias as T.Tensor).toArray();
  const table = blk.attn.relativePositionBiasTable.toArray();
  const l = gh * gw;
  const out: number[] = [];
  for (let bi = 0; bi < b; bi++) {
    const tok = (n: number): number[] => x.slice((bi * l + n) * c, (bi * l + n + 1) * c);
    const qkv = Array.from({ length: l }, (_, n) => {
      const t = tok(n);
      return Array.from({ length: 3 * c }, (_, o) => (qkvB[o] as number) + t.reduce((a, v, i) => a + v * (qkvW[o * c + i] as number), 0));
    });
    const pos = (n: number): [number, number] => [mod(Math.floor(n / gw) - s, hp), mod((n % gw) - s, wp)];
    for (let i = 0; i < l; i++) {
      const [yi, xi] = pos(i);
      const keys: number[] = [];
      for (let j = 0; j < l; j++) {
        const [yj, xj] = pos(j);
        const sameWindow = Math.floor(yi / w) === Math.floor(yj / w) && Math.floor(xi / w) === Math.floor(xj / w);
        const sameRegion = band(yi, hp) === band(yj, hp) && band(xi, wp) === band(xj, wp);
        if (sameWindow && sameRegion) keys.push(j);
      }
      const concat: number[] = [];
      for (let h = 0; h < heads; h++) {
        const q = (qkv[i] as number[]).slice(h * hd, (h + 1) * hd);
        const logits = keys.map((j) => {
          const [yj, xj] = pos(j);
          const k = (qkv[j] as number[]).slice(c + h * hd, c + (h + 1) * hd);
          const idx = (yi - yj + W - 1) * (2 * W - 1) + (xi - xj + W - 1);
          return q.reduce((a, v, d) => a + v * (k[d] as number), 0) / Math.sqrt(hd) + (table[idx * heads + h] as number);
        });
        const mx = Math.max(...logits);
        const e = logits.map((v) => Math.exp(v - mx));
        const z = e.reduce((a, v) => a + v, 0);
        for (let d = 0; d < hd; d++) {
          concat.push(keys.reduce((a, j, kk) => a + ((e[kk] as number) / z) * ((qkv[j] as number[])[2 * c + h * hd + d] as number), 0));
        }
      }
      for (let o = 0; o < c; o++) out.push((projB[o] as number) + concat.reduce((a, v, d) => a + v * (projW[o * c + d] as number), 0));
    }
  }
  return out;
}

const msaCases: { grid: [number, number]; window: number; shifted: boolean; what: string }[] = [
  { grid: [8, 8], window: 4, shifted: false, what: "regular" },
  { grid: [8, 8], window: 4, shifted: true, what: "shifted" },
  { grid: [6, 6], window: 4, shifted: false, what: "padded" },
  { grid: [6, 6], window: 4, shifted: true, what: "shifted and padded" },
  { grid: [6, 10], window: 4, shifted: true, what: "non-square, shifted and padded" },
  { grid: [2, 2], window: 4, shifted: true, what: "clamped to the grid (2x2 window from a 7x7 table)" },
  { grid: [4, 8], window: 4, shifted: true, what: "min side equals the window: no shift" },
];

for (const k of msaCases) {
  tidyTest(`window attention matches a naive per-token reference: ${k.what}`, () => {
    T.manualSeed(10);
    const c = 8;
    const blk = new SwinBlock({ dim: c, numHeads: 2, mlpRatio: 4 }, k.window, k.shifted);
    T.noGrad(() => T.nn.init.normal_(blk.attn.relativePositionBiasTable, 0, 1)); // make the bias matter
    const l = k.grid[0] * k.grid[1];
    const x = T.randn([2, l, c]);
    const got = blk.windowMsa(x, k.grid);
    assert.deepEqual(got.shape, [2, l, c]);
    assertClose(got.toArray(), naiveWindowMsa(blk, x.toArray(), 2, k.grid, c), { atol: 2e-5, rtol: 1e-4 });
    blk.dispose();
  });
}

/** Grid positions whose block output changes when token (r, c) of the input is perturbed. */
function reach(blk: SwinBlock, grid: [number, number], r: number, c: number): Set<string> {
  const [gh, gw] = grid;
  const dim = blk.attn.dim;
  const x = T.randn([1, gh * gw, dim]);
  const bump = T.zeros([1, gh * gw, dim]);
  bump.select(1, r * gw + c).copy_(T.randn([1, dim]).mul(3).squeeze(0));
  const d = blk.forward(x.add(bump), grid).sub(blk.forward(x, grid)).abs().amax(-1).toArray();
  const out = new Set<string>();
  d.forEach((v, n) => {
    if (v > 1e-6) out.add(`${Math.floor(n / gw)},${n % gw}`);
  });
  return out;
}
const square = (rows: number[], cols: number[]): Set<string> => new Set(rows.flatMap((r) => cols.map((c) => `${r},${c}`)));

tidyTest("a perturbed token reaches only its own window (regular) or its own masked region (shifted)", () => {
  T.manualSeed(11);
  const grid: [number, number] = [8, 8];
  const regular = new SwinBlock({ dim: 8, numHeads: 2, mlpRatio: 4 }, 4, false).eval();
  const shifted = new SwinBlock({ dim: 8, numHeads: 2, mlpRatio: 4 }, 4, true).eval();
  assert.deepEqual(reach(regular, grid, 0, 0), square([0, 1, 2, 3], [0, 1, 2, 3]));
  assert.deepEqual(reach(regular, grid, 5, 6), square([4, 5, 6, 7], [4, 5, 6, 7]));
  // Shifted by 2: (3,3) lands in the unmasked top-left rolled window, original rows/cols 2-5.
  assert.deepEqual(reach(shifted, grid, 3, 3), square([2, 3, 4, 5], [2, 3, 4, 5]));
  // (0,0) wraps into the bottom-right rolled window, which the mask splits in four:
  // without the mask it would reach 16 tokens, with it only its 2x2 region.
  assert.deepEqual(reach(shifted, grid, 0, 0), square([0, 1], [0, 1]));
  assert.deepEqual(reach(shifted, grid, 7, 7), square([6, 7], [6, 7]));
  // (0,3) wraps only in rows: its region is rows 0-1 x columns 2-5.
  assert.deepEqual(reach(shifted, grid, 0, 3), square([0, 1], [2, 3, 4, 5]));
  regular.dispose();
  shifted.dispose();
});

tidyTest("padded tokens are invisible: a 6x6 grid reaches only real tokens of its window", () => {
  T.manualSeed(12);
  const blk = new SwinBlock({ dim: 8, numHeads: 2, mlpRatio: 4 }, 4, false).eval();
  assert.deepEqual(reach(blk, [6, 6], 5, 5), square([4, 5], [4, 5]));
  assert.deepEqual(reach(blk, [6, 6], 1, 4), square([0, 1, 2, 3], [4, 5]));
  blk.dispose();
});

tidyTest("SwinBlock checks its input against the grid", () => {
  const blk = new SwinBlock({ dim: 8, numHeads: 2, mlpRatio: 4 }, 4, false);
  assertThrowsMatching(() => blk.forward(T.zeros([1, 60, 8]), [8, 8]), /x must be \[B, 64, 8\] for grid 8x8/, /got \[1, 60, 8\]/);
  assertThrowsMatching(() => new WindowAttention(10, 4, 3), /dim 10 must be divisible by numHeads 3/);
  blk.dispose();
});
