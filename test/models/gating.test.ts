// GatingNetwork (Eq. 2-4) against an independent JS computation, the usage
// EMA, the frequency term, the spatial variant, upsampling of gate maps,
// gradients and memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { GatingNetwork, PAPER_GATING, upsampleGateMaps, type GatingConfig } from "../../src/models/gating.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

T.setNumThreads(1);
const tidyTest = (name: string, fn: () => void): void => {
  test(name, () => T.tidy(fn));
};

const cfg = (o: Partial<GatingConfig> = {}): GatingConfig => ({
  dim: 6,
  numExperts: 3,
  gamma: 0.1,
  usageDecay: 0.99,
  mode: "global",
  hidden: 5,
  ...o,
});

// ---- an independent reference in plain JS ----

/** erf by its Maclaurin series (|x| < 3 here), accurate to ~1e-12. */
function erf(x: number): number {
  let sum = x;
  let term = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
const softmax = (v: number[]): number[] => {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
};
const dot = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * (b[i] as number), 0);
const cosine = (a: number[], b: number[]): number => dot(a, b) / (Math.sqrt(dot(a, a)) * Math.sqrt(dot(b, b)));
function linear(x: number[], w: number[], b: number[], out: number): number[] {
  const n = x.length;
  return Array.from({ length: out }, (_, o) => (b[o] as number) + dot(x, w.slice(o * n, (o + 1) * n)));
}
function rows(flat: number[], n: number): number[][] {
  return Array.from({ length: flat.length / n }, (_, i) => flat.slice(i * n, (i + 1) * n));
}

/** cos [K][N], scores [K], and G [K] for one sample, as the paper writes Eq. 2-4. */
function reference(g: GatingNetwork, tokens: number[][], usage: number[], gamma: number): { cos: number[][]; scores: number[]; weights: number[] } {
  const lin0 = g.mlp.at(0) as T.nn.Linear;
  const lin2 = g.mlp.at(2) as T.nn.Linear;
  const w0 = lin0.weight.toArray();
  const b0 = (lin0.bias as T.Tensor).toArray();
  const w2 = lin2.weight.toArray();
  const b2 = (lin2.bias as T.Tensor).toArray();
  const d = tokens[0]?.length ?? 0;
  const refined = tokens.map((z) => linear(linear(z, w0, b0, lin0.outFeatures).map(gelu), w2, b2, d));
  const queries = rows(g.queries.toArray(), d);
  const cos = queries.map((q) => refined.map((z) => cosine(q, z)));
  const scores = cos.map((c) => {
    const att = softmax(c); // Eq. 2
    return att.reduce((s, a, n) => s + a * (c[n] as number), 0); // Eq. 3
  });
  const p = softmax(scores);
  const f = softmax(usage.map((c) => -gamma * c));
  const prod = p.map((x, i) => x * (f[i] as number)); // Eq. 4
  const total = prod.reduce((a, b) => a + b, 0);
  return { cos, scores, weights: prod.map((x) => x / total) };
}

tidyTest("global gating matches Eq. 2-4 computed independently (cosines, softmaxes, product, renormalisation)", () => {
  T.manualSeed(1);
  const gamma = 0.7; // larger than the paper's 0.1 so the frequency term is visible
  const g = new GatingNetwork(cfg({ gamma })).eval();
  const usage = [0.5, 0.3, 0.2];
  g.usage.copy_(T.tensor(usage));
  const grids: [number, number][] = [
    [1, 1],
    [2, 2],
  ];
  const zc = T.randn([2, 5, 6]);
  const out = g.forward(zc, { grids });
  assert.deepEqual(out.weights.shape, [2, 3]);
  assert.deepEqual(out.scores.shape, [2, 3]);
  assert.deepEqual(out.cos.shape, [2, 3, 5]);
  assert.equal(out.maps, undefined);
  const z = zc.toArray();
  for (let b = 0; b < 2; b++) {
    const ref = reference(g, rows(z.slice(b * 30, (b + 1) * 30), 6), usage, gamma);
    assertClose(out.cos.select(0, b).toArray(), ref.cos.flat(), { atol: 1e-5, message: `cos b=${b}` });
    assertClose(out.scores.select(0, b).toArray(), ref.scores, { atol: 1e-5, message: `scores b=${b}` });
    assertClose(out.weights.select(0, b).toArray(), ref.weights, { atol: 1e-5, message: `weights b=${b}` });
  }
  assertClose(out.usage.toArray(), usage, { message: "returned usage" });
  // The renormalised product equals softmax(Score - gamma c).
  const alt = out.scores.sub(out.usage.mul(gamma)).softmax(-1);
  assertClose(out.weights.toArray(), alt.toArray(), { atol: 1e-6 });
  g.dispose();
});

tidyTest("weights are >= 0 and sum to 1 in both modes, and paper constants are 0.1 and 0.99", () => {
  assert.equal(PAPER_GATING.gamma, 0.1);
  assert.equal(PAPER_GATING.usageDecay, 0.99);
  assert.equal(PAPER_GATING.numExperts, 3);
  T.manualSeed(2);
  const grids: [number, number][] = [
    [2, 2],
    [4, 4],
    [8, 8],
  ];
  const zc = T.randn([3, 84, 16]).mul(3);
  for (const mode of ["global", "spatial"] as const) {
    const g = new GatingNetwork(cfg({ dim: 16, hidden: 32, mode, temperature: 0.05 }));
    const { weights, maps } = g.forward(zc, { grids });
    assert.ok(weights.amin().item() >= 0, `${mode}: weights >= 0`);
    assertClose(weights.sum(1).toArray(), [1, 1, 1], { atol: 1e-6, message: `${mode}: sums` });
    // With a small temperature the routing is not trivially uniform.
    assert.ok(weights.amax().item() > 0.4, `${mode}: max weight ${weights.amax().item()}`);
    if (mode === "spatial") {
      assert.ok(maps !== undefined);
      assert.deepEqual(maps.shape, [3, 3, 8, 8]);
      assert.ok(maps.amin().item() >= 0);
      const s = maps.sum(1);
      assertClose(s.amin().item(), 1, { atol: 1e-6 });
      assertClose(s.amax().item(), 1, { atol: 1e-6 });
      assertClose(weights.toArray(), maps.mean([2, 3]).toArray(), { atol: 1e-7 });
    }
    g.dispose();
  }
});

tidyTest("usage EMA: decay 0.99 in training only, hand values, returned usage is the one used", () => {
  const g = new GatingNetwork(cfg());
  const third = 1 / 3;
  assertClose(g.usage.toArray(), [third, third, third]);
  // By hand: c = 0.99 * 1/3 + 0.01 * [1, 0, 0] = [0.34, 0.33, 0.33].
  g.updateUsage(T.tensor([
    [1, 0, 0],
    [1, 0, 0],
  ]));
  assertClose(g.usage.toArray(), [0.34, 0.33, 0.33], { atol: 1e-7 });
  // Maps [B, K, h, w] average over batch and positions: mean = [0.5, 0.5, 0].
  g.updateUsage(T.tensor([[[[1, 0]], [[0, 1]], [[0, 0]]]]));
  assertClose(g.usage.toArray(), [0.99 * 0.34 + 0.005, 0.99 * 0.33 + 0.005, 0.99 * 0.33], { atol: 1e-7 });

  g.eval();
  const before = g.usage.toArray();
  g.updateUsage(T.tensor([[0, 0, 1]]));
  assertClose(g.usage.toArray(), before, { atol: 0, rtol: 0, message: "eval: updateUsage is a no-op" });
  const zc = T.randn([2, 5, 6]);
  const grids: [number, number][] = [[1, 1], [2, 2]];
  g.forward(zc, { grids });
  assertClose(g.usage.toArray(), before, { atol: 0, rtol: 0, message: "eval: forward leaves usage" });

  g.train();
  const out = g.forward(zc, { grids });
  assertClose(out.usage.toArray(), before, { atol: 0, rtol: 0, message: "output usage is the pre-update c" });
  const mean = out.weights.mean(0).toArray();
  assertClose(g.usage.toArray(), before.map((c, i) => 0.99 * c + 0.01 * (mean[i] as number)), { atol: 1e-7 });
  const after = g.usage.toArray();
  g.forward(zc, { grids, updateUsage: false });
  assertClose(g.usage.toArray(), after, { atol: 0, rtol: 0, message: "updateUsage: false" });
  assertThrowsMatching(() => g.updateUsage(T.ones([2, 4])), /weights must be \[B, 3\]/, /\[2, 4\]/);
  g.dispose();
});

tidyTest("frequency term: a heavily used expert is down-weighted by exp(-gamma) relative to an unused one", () => {
  T.manualSeed(3);
  const g = new GatingNetwork(cfg()).eval();
  const zc = T.randn([2, 5, 6]);
  const grids: [number, number][] = [[1, 1], [2, 2]];
  const base = g.forward(zc, { grids }).weights;
  g.usage.copy_(T.tensor([1, 0, 0]));
  const used = g.forward(zc, { grids }).weights;
  for (let b = 0; b < 2; b++) {
    const [g0, g1] = base.select(0, b).toArray() as [number, number];
    const [u0, u1] = used.select(0, b).toArray() as [number, number];
    assert.ok(u0 < g0, `expert 0 must lose weight: ${g0} -> ${u0}`);
    assertClose(u0 / u1, (g0 / g1) * Math.exp(-0.1), { rtol: 1e-5 });
  }
  g.dispose();
});

tidyTest("spatial mode: per-token routing of the finest grid as Eq. 4 with the token's cosine", () => {
  T.manualSeed(4);
  const gamma = 0.5;
  const g = new GatingNetwork(cfg({ mode: "spatial", gamma, temperature: 0.5 })).eval();
  const usage = [0.1, 0.6, 0.3];
  g.usage.copy_(T.tensor(usage));
  // Finest grid first, to check it is chosen by size and not position.
  const grids: [number, number][] = [
    [2, 3],
    [1, 1],
  ];
  assert.deepEqual(GatingNetwork.finestGrid(grids), { index: 0, offset: 0 });
  assert.deepEqual(GatingNetwork.finestGrid([[1, 1], [2, 2], [4, 4]]), { index: 2, offset: 5 });
  const zc = T.randn([2, 7, 6]);
  const out = g.forward(zc, { grids });
  assert.ok(out.maps !== undefined);
  assert.deepEqual(out.maps.shape, [2, 3, 2, 3]);
  const cos = out.cos.toArray(); // [2, 3, 7]
  const maps = out.maps.toArray(); // [2, 3, 6]
  const f = softmax(usage.map((c) => -gamma * c));
  for (let b = 0; b < 2; b++) {
    for (let n = 0; n < 6; n++) {
      const logits = [0, 1, 2].map((i) => (cos[b * 21 + i * 7 + n] as number) / 0.5);
      const p = softmax(logits).map((x, i) => x * (f[i] as number));
      const s = p.reduce((a, c) => a + c, 0);
      const got = [0, 1, 2].map((i) => maps[b * 18 + i * 6 + n] as number);
      assertClose(got, p.map((x) => x / s), { atol: 1e-6, message: `b=${b} n=${n}` });
    }
  }
  g.dispose();
});

tidyTest("uniform option returns 1/K weights (and maps) but still computes the scores", () => {
  T.manualSeed(5);
  const grids: [number, number][] = [[1, 1], [2, 2]];
  const zc = T.randn([2, 5, 6]);
  for (const mode of ["global", "spatial"] as const) {
    const g = new GatingNetwork(cfg({ mode })).eval();
    const normal = g.forward(zc, { grids });
    const uni = g.forward(zc, { grids, uniform: true });
    assertClose(uni.weights.toArray(), new Array<number>(6).fill(1 / 3), { atol: 1e-7 });
    assertClose(uni.scores.toArray(), normal.scores.toArray(), { atol: 0, rtol: 0 });
    if (mode === "spatial") assertClose((uni.maps as T.Tensor).toArray(), new Array<number>(24).fill(1 / 3), { atol: 1e-7 });
    g.dispose();
  }
});

tidyTest("upsampleGateMaps: bilinear by hand, sums stay 1, values stay in [0, 1]", () => {
  // One row [a, b] -> 4 columns, align_corners false: [a, .75a+.25b, .25a+.75b, b].
  const maps = T.tensor([[[[0.2, 0.6]], [[0.8, 0.4]]]]);
  const up = upsampleGateMaps(maps, [1, 4]);
  assert.deepEqual(up.shape, [1, 2, 1, 4]);
  assertClose(up.toArray(), [0.2, 0.3, 0.5, 0.6, 0.8, 0.7, 0.5, 0.4], { atol: 1e-6 });

  T.manualSeed(6);
  const m = T.rand([2, 3, 4, 4]).add(0.01);
  const norm = m.div(m.sum(1, true));
  const big = upsampleGateMaps(norm, [32, 24]);
  assert.deepEqual(big.shape, [2, 3, 32, 24]);
  const s = big.sum(1);
  assertClose(s.amin().item(), 1, { atol: 1e-6 });
  assertClose(s.amax().item(), 1, { atol: 1e-6 });
  assert.ok(big.amin().item() >= 0 && big.amax().item() <= 1);
  assertClose(upsampleGateMaps(norm, [4, 4]).toArray(), norm.toArray(), { atol: 1e-6 });
  assertThrowsMatching(() => upsampleGateMaps(T.ones([3, 4, 4]), [8, 8]), /maps must be \[B, K, gh, gw\]/, /\[3, 4, 4\]/);
  assertThrowsMatching(() => upsampleGateMaps(norm, [0, 8]), /size must be two positive integers/);
});

tidyTest("gradients reach the queries and both MLP layers (global and spatial)", () => {
  T.manualSeed(7);
  const grids: [number, number][] = [[1, 1], [2, 2]];
  for (const mode of ["global", "spatial"] as const) {
    const g = new GatingNetwork(cfg({ mode }));
    const zc = T.randn([2, 5, 6], { requiresGrad: true });
    T.tidy(() => {
      const { weights } = g.forward(zc, { grids });
      weights.mul(T.tensor([[1, -2, 0.5], [0.3, 1, -1]])).sum().backward();
    });
    for (const [name, p] of g.namedParameters()) {
      const gr = p.grad;
      assert.ok(gr !== null, `${mode}: ${name} has no gradient`);
      assert.ok(gr.abs().sum().item() > 0, `${mode}: ${name} gradient is zero`);
    }
    assert.ok((zc.grad as T.Tensor).abs().sum().item() > 0, `${mode}: no gradient to zc`);
    g.dispose();
  }
});

test("training steps do not grow memory", () => {
  T.manualSeed(8);
  const g = new GatingNetwork(cfg({ mode: "spatial", dim: 8, hidden: 16 }));
  const opt = new T.optim.AdamW(g.parameters(), { lr: 1e-2 });
  const grids: [number, number][] = [[1, 1], [2, 2], [4, 4]];
  const zc = T.randn([2, 21, 8]);
  const target = T.tensor([[1, 0, 0], [0, 0, 1]]);
  const step = (): number =>
    T.tidy(() => {
      opt.zeroGrad();
      const { weights } = g.forward(zc, { grids });
      const loss = weights.clamp(1e-8).log().mul(target).sum().neg();
      loss.backward();
      opt.step();
      return loss.item();
    });
  const first = step();
  step();
  const mem0 = T.memory();
  let last = first;
  for (let i = 0; i < 20; i++) last = step();
  const mem1 = T.memory();
  assert.equal(mem1.numTensors, mem0.numTensors, "live tensors");
  assert.equal(mem1.numBytes, mem0.numBytes, "native bytes");
  assert.ok(last < first, `the loss must go down: ${first} -> ${last}`);
  g.dispose();
  opt.dispose();
});

tidyTest("bad configs and inputs give clear errors", () => {
  assertThrowsMatching(() => new GatingNetwork(cfg({ mode: "tokens" as "global" })), /mode must be 'global' or 'spatial'/);
  assertThrowsMatching(() => new GatingNetwork(cfg({ usageDecay: 1 })), /usageDecay must be in \[0, 1\)/);
  assertThrowsMatching(() => new GatingNetwork(cfg({ gamma: -1 })), /gamma must be >= 0/);
  assertThrowsMatching(() => new GatingNetwork(cfg({ temperature: 0 })), /temperature must be positive/);
  const g = new GatingNetwork(cfg());
  assertThrowsMatching(() => g.forward(T.randn([2, 6, 6]), { grids: [[1, 1], [2, 2]] }), /zc must be \[B, 5, 6\]/, /got \[2, 6, 6\]/);
  assertThrowsMatching(() => g.forward(T.randn([2, 5, 4]), { grids: [[1, 1], [2, 2]] }), /zc must be \[B, 5, 6\]/);
  assertThrowsMatching(() => g.forward(T.randn([2, 5, 6]), { grids: [] }), /grids must be a non-empty list/);
  g.dispose();
});

tidyTest("dtype is a parameter: float64 gating", () => {
  const g = new GatingNetwork(cfg(), { dtype: "float64" });
  assert.equal(g.queries.dtype, "float64");
  assert.equal(g.usage.dtype, "float64");
  const out = g.forward(T.randn([1, 5, 6], { dtype: "float64" }), { grids: [[1, 1], [2, 2]] });
  assert.equal(out.weights.dtype, "float64");
  assertClose(out.weights.sum().item(), 1, { atol: 1e-12 });
  g.dispose();
});
