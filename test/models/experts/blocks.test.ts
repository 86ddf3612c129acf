// The experts' building blocks against independent computations: the
// sinusoidal closed form, the Laplacian on a quadratic image, DenseBlock
// connectivity, the complex product, modReLU, channel attention ranges,
// non-local reach, cross-attention token use, and hand-counted MACs.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import {
  ChannelAttention,
  ComplexConv2d,
  CrossAttention,
  DenseBlock,
  LaplacianEdgeBlock,
  ModReLU,
  numGroups,
  NonLocalBlock,
  ResBlock,
  sinusoidalEmbedding,
  TimestepEmbedding,
} from "../../../src/models/experts/index.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

const maxAbs = (t: T.Tensor): number => T.tidy(() => t.abs().amax().item());

test("sinusoidalEmbedding matches cos/sin(t * maxPeriod^(-i/half)) for small and large t", () => {
  const ts = [0, 1, 7, 499, 1999];
  for (const [dim, maxPeriod] of [
    [8, 10000],
    [6, 100],
  ] as const) {
    const emb = T.tidy(() => sinusoidalEmbedding(T.tensor(BigInt64Array.from(ts, BigInt), [ts.length]), dim, { maxPeriod }));
    assert.deepEqual(emb.shape, [ts.length, dim]);
    assert.equal(emb.dtype, "float32");
    const half = dim / 2;
    const expected: number[] = [];
    for (const t of ts) {
      const args = Array.from({ length: half }, (_, i) => t * Math.pow(maxPeriod, -i / half));
      expected.push(...args.map(Math.cos), ...args.map(Math.sin));
    }
    assertClose(emb.data(), expected, { atol: 1e-6, rtol: 0, message: `dim ${dim}` });
    emb.dispose();
  }
  const t = T.tensor(BigInt64Array.from([5n]), [1]);
  assertThrowsMatching(() => sinusoidalEmbedding(t, 7), /dim must be an even integer/);
  const t2 = t.reshape(1, 1);
  assertThrowsMatching(() => sinusoidalEmbedding(t2, 8), /t must be 1-D/);
  t.dispose();
  t2.dispose();
});

test("TimestepEmbedding: [B] -> [B, dim], different t give different embeddings, float64 parameters give float64", () => {
  T.manualSeed(1);
  const te = new TimestepEmbedding(8, { dtype: "float64" });
  T.tidy(() => {
    const out = te.forward(T.tensor(BigInt64Array.from([3n, 3n, 900n]), [3]));
    assert.deepEqual(out.shape, [3, 8]);
    assert.equal(out.dtype, "float64");
    const rows = out.toArray();
    assertClose(rows.slice(0, 8), rows.slice(8, 16), { atol: 0, rtol: 0 });
    assert.ok(rows.slice(8, 16).some((v, i) => Math.abs(v - (rows[16 + i] as number)) > 1e-3));
  });
  te.dispose();
});

/** Laplacian with replicate padding, computed directly. */
function laplacianRef(f: (y: number, x: number) => number, h: number, w: number): number[] {
  const at = (y: number, x: number): number => f(Math.min(h - 1, Math.max(0, y)), Math.min(w - 1, Math.max(0, x)));
  const out: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.push(at(y - 1, x) + at(y + 1, x) + at(y, x - 1) + at(y, x + 1) - 4 * at(y, x));
  return out;
}

test("LaplacianEdgeBlock applies exactly the Laplacian: constant 2a + 2b inside a quadratic image, replicate at the border", () => {
  const h = 7;
  const w = 9;
  const f = (y: number, x: number): number => 0.5 * x * x + 0.25 * y * y + 0.3 * x * y - 0.7 * x + 1.1 * y + 2;
  const data = new Float64Array(2 * h * w);
  for (let c = 0; c < 2; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[c * h * w + y * w + x] = (c + 1) * f(y, x);
  const block = new LaplacianEdgeBlock(2, { dtype: "float64" });
  T.tidy(() => {
    const img = T.tensor(data, [1, 2, h, w]);
    const edges = block.edges(img);
    const e = edges.toArray();
    for (let c = 0; c < 2; c++) {
      for (let y = 1; y < h - 1; y++) {
        for (let x = 1; x < w - 1; x++) assertClose(e[c * h * w + y * w + x] as number, (c + 1) * (2 * 0.5 + 2 * 0.25), { atol: 1e-10, message: `interior (${c},${y},${x})` });
      }
    }
    assertClose(e.slice(0, h * w), laplacianRef(f, h, w), { atol: 1e-10, message: "all positions, channel 0" });
    // With the 1x1 projection set to the identity, the block is x + L * x.
    T.noGrad(() => {
      block.proj.weight.copy_(T.eye(2, 2, { dtype: "float64" }).reshape(2, 2, 1, 1));
      block.proj.bias?.zero_();
    });
    assertClose(block.forward(img).data(), img.add(edges).data(), { atol: 1e-10 });
  });
  assert.deepEqual(
    [...block.stateDict().keys()],
    ["proj.weight", "proj.bias"],
    "the fixed kernel is a non-persistent buffer, not a parameter",
  );
  assert.equal(block.numParameters(), 2 * 2 + 2);
  block.dispose();
});

test("DenseBlock: 4 layers of growth 16 give in + 64 channels before the transition; each layer sees all previous maps", () => {
  T.manualSeed(2);
  const inC = 3;
  const block = new DenseBlock(inC, 5, 4, { numLayers: 4, growth: 16 });
  T.tidy(() => {
    const x = T.randn([2, inC, 6, 5]).requiresGrad_();
    const temb = T.randn([2, 4]);
    const feats = block.features(x, temb);
    assert.deepEqual(feats.shape, [2, inC + 4 * 16, 6, 5]);
    assertClose(feats.narrow(1, 0, inC).data(), x.data(), { atol: 0, rtol: 0, message: "the block input is the first map" });
    assert.deepEqual(block.forward(x, temb).shape, [2, 5, 6, 5]);
    for (let k = 0; k < 4; k++) {
      const layer = block.layers.at(k);
      assert.deepEqual(layer.conv.weight.shape, [16, inC + 16 * k, 3, 3], `layer ${k} input width`);
      // d(sum r * y_k)/d(W_k) restricted to map j is a correlation with map j: nonzero iff layer k reads map j.
      const yk = feats.narrow(1, inC + 16 * k, 16);
      const r = T.randn(yk.shape);
      const [gw, gx] = T.grad(yk.mul(r).sum(), [layer.conv.weight, x], { retainGraph: true }) as [T.Tensor, T.Tensor];
      assert.ok(maxAbs(gw.narrow(1, 0, inC)) > 0, `layer ${k} sees the block input`);
      for (let j = 0; j < k; j++) assert.ok(maxAbs(gw.narrow(1, inC + 16 * j, 16)) > 0, `layer ${k} sees layer ${j}'s map`);
      assert.ok(maxAbs(gx) > 0, `layer ${k} depends on x`);
    }
  });
  assertThrowsMatching(() => T.tidy(() => block.features(T.zeros([1, 4, 4, 4]), T.zeros([1, 4]))), /DenseBlock: x must be \[B, 3, h, w\], got \[1, 4, 4, 4\]/);
  block.dispose();
});

test("ComplexConv2d equals the complex product computed with four real convs and, at one pixel, by hand", () => {
  T.manualSeed(3);
  const conv = new ComplexConv2d(2, 3, 3);
  T.tidy(() => {
    const x = T.randn([2, 4, 5, 6]);
    const y = conv.forward(x);
    assert.deepEqual(y.shape, [2, 6, 5, 6]);
    const [xr, xi] = x.chunk(2, 1) as [T.Tensor, T.Tensor];
    const o = { padding: 1 };
    const wr = conv.weightReal;
    const wi = conv.weightImag;
    const re = T.F.conv2d(xr, wr, conv.biasReal, o).sub(T.F.conv2d(xi, wi, null, o));
    const im = T.F.conv2d(xi, wr, conv.biasImag, o).add(T.F.conv2d(xr, wi, null, o));
    assertClose(y.narrow(1, 0, 3).data(), re.data(), { atol: 1e-5, message: "real part" });
    assertClose(y.narrow(1, 3, 3).data(), im.data(), { atol: 1e-5, message: "imaginary part" });
    // Sample 1, output channel 2, pixel (2, 3): sum over c, ky, kx of (wr + i wi)(xr + i xi) + (br + i bi).
    const X = x.toArray();
    const WR = wr.toArray();
    const WI = wi.toArray();
    let sr = conv.biasReal.toArray()[2] as number;
    let si = conv.biasImag.toArray()[2] as number;
    for (let c = 0; c < 2; c++) {
      for (let ky = 0; ky < 3; ky++) {
        for (let kx = 0; kx < 3; kx++) {
          const py = 2 + ky - 1;
          const px = 3 + kx - 1;
          const a = X[((1 * 4 + c) * 5 + py) * 6 + px] as number;
          const b = X[((1 * 4 + 2 + c) * 5 + py) * 6 + px] as number;
          const p = WR[((2 * 2 + c) * 3 + ky) * 3 + kx] as number;
          const q = WI[((2 * 2 + c) * 3 + ky) * 3 + kx] as number;
          sr += p * a - q * b;
          si += p * b + q * a;
        }
      }
    }
    const Y = y.toArray();
    assertClose(Y[((1 * 6 + 2) * 5 + 2) * 6 + 3] as number, sr, { atol: 1e-5 });
    assertClose(Y[((1 * 6 + 5) * 5 + 2) * 6 + 3] as number, si, { atol: 1e-5 });
  });
  conv.dispose();
});

test("ModReLU keeps the phase and maps the magnitude to ReLU(|z| + b)", () => {
  const act = new ModReLU(2, { dtype: "float64" });
  T.noGrad(() => act.bias.copy_(T.tensor([-0.5, 0.25], [2], { dtype: "float64" })));
  T.tidy(() => {
    const x = T.randn([3, 4, 4, 4], { dtype: "float64" });
    const y = act.forward(x);
    const [xr, xi] = x.chunk(2, 1) as [T.Tensor, T.Tensor];
    const [yr, yi] = y.chunk(2, 1) as [T.Tensor, T.Tensor];
    const magX = xr.square().add(xi.square()).add(ModReLU.EPS).sqrt();
    const magY = yr.square().add(yi.square()).sqrt();
    const b = act.bias.reshape(1, 2, 1, 1);
    // |y| = ReLU(|z|_eps + b) |z| / |z|_eps with |z|_eps = sqrt(|z|^2 + eps), the guard against 0/0.
    const want = T.F.relu(magX.add(b)).mul(xr.square().add(xi.square()).sqrt()).div(magX);
    assertClose(magY.data(), want.data(), { atol: 1e-9, message: "magnitude" });
    // Where the output is non-zero its phase equals the input's: yr * xi - yi * xr = 0 and same direction.
    assertClose(yr.mul(xi).sub(yi.mul(xr)).data(), new Float64Array(3 * 2 * 16), { atol: 1e-12, message: "phase" });
    assert.ok(T.tidy(() => T.all(yr.mul(xr).add(yi.mul(xi)).ge(0)).item()) === 1, "no phase flip");
    assert.ok(T.tidy(() => T.any(magY.eq(0)).item()) === 1, "the negative bias zeroes small magnitudes");
  });
  act.dispose();
});

test("ChannelAttention scales lie in (0, 1) and the output is x times them per channel", () => {
  T.manualSeed(4);
  const ca = new ChannelAttention(8, 4);
  T.tidy(() => {
    const x = T.randn([3, 8, 5, 5]).mul(3);
    const s = ca.scales(x);
    assert.deepEqual(s.shape, [3, 8]);
    const v = s.toArray();
    assert.ok(v.every((a) => a > 0 && a < 1), `scales out of (0,1): ${v.join(", ")}`);
    assert.ok(Math.max(...v) - Math.min(...v) > 1e-3, "the scales differ across channels");
    assertClose(ca.forward(x).data(), x.mul(s.reshape(3, 8, 1, 1)).data(), { atol: 1e-6 });
  });
  ca.dispose();
});

test("NonLocalBlock output depends on a distant pixel; two plain 3x3 convs (same depth) do not", () => {
  T.manualSeed(5);
  const nl = new NonLocalBlock(4);
  const c1 = new T.nn.Conv2d(4, 4, 3, { padding: 1 });
  const c2 = new T.nn.Conv2d(4, 4, 3, { padding: 1 });
  T.tidy(() => {
    const x = T.randn([1, 4, 8, 8]);
    const bump = T.zeros([1, 4, 8, 8]);
    T.noGrad(() => bump.narrow(2, 7, 1).narrow(3, 7, 1).fill_(5)); // far corner
    const x2 = x.add(bump);
    const corner = (y: T.Tensor): number[] => y.narrow(2, 0, 1).narrow(3, 0, 1).toArray();
    const a = corner(nl.forward(x));
    const b = corner(nl.forward(x2));
    assert.ok(Math.max(...a.map((v, i) => Math.abs(v - (b[i] as number)))) > 1e-4, "non-local block must see the far pixel");
    const conv = (y: T.Tensor): T.Tensor => c2.forward(T.F.silu(c1.forward(y)));
    assertClose(corner(conv(x2)), corner(conv(x)), { atol: 0, rtol: 0, message: "a 5x5 receptive field cannot see 7 pixels away" });
    assert.deepEqual(nl.forward(x).shape, [1, 4, 8, 8]);
  });
  nl.dispose();
  c1.dispose();
  c2.dispose();
});

test("CrossAttention uses the tokens: other tokens change the output, a permutation of them does not", () => {
  T.manualSeed(6);
  const ca = new CrossAttention(8, 6, 2);
  T.tidy(() => {
    const x = T.randn([2, 8, 4, 4]);
    const tokens = T.randn([2, 5, 6]);
    const y = ca.forward(x, tokens);
    assert.deepEqual(y.shape, [2, 8, 4, 4]);
    const other = ca.forward(x, T.randn([2, 5, 6]));
    assert.ok(maxAbs(y.sub(other)) > 1e-3, "changing the tokens must change the output");
    const perm = T.tensor(BigInt64Array.from([3n, 0n, 4n, 1n, 2n]), [5]);
    assertClose(ca.forward(x, tokens.indexSelect(1, perm)).data(), y.data(), { atol: 1e-5, message: "attention is a set operation over tokens" });
    // Sample 0's output ignores sample 1's tokens.
    const t2 = T.cat([tokens.narrow(0, 0, 1), T.randn([1, 5, 6])], 0);
    const y2 = ca.forward(x, t2);
    assertClose(y2.narrow(0, 0, 1).data(), y.narrow(0, 0, 1).data(), { atol: 1e-6 });
  });
  assertThrowsMatching(() => T.tidy(() => ca.forward(T.zeros([2, 8, 4, 4]), T.zeros([2, 5, 7]))), /tokens must be \[2, N, 6\], got \[2, 5, 7\]/);
  assertThrowsMatching(() => new CrossAttention(8, 6, 3), /numHeads \(3\) must be a positive divisor of channels \(8\)/);
  ca.dispose();
});

test("ResBlock: the timestep bias changes the output; a 1x1 skip maps widths", () => {
  T.manualSeed(7);
  const rb = new ResBlock(4, 8, 6);
  T.tidy(() => {
    const x = T.randn([2, 4, 5, 5]);
    const a = rb.forward(x, T.zeros([2, 6]));
    const b = rb.forward(x, T.ones([2, 6]));
    assert.deepEqual(a.shape, [2, 8, 5, 5]);
    assert.ok(maxAbs(a.sub(b)) > 1e-4);
  });
  assert.ok(rb.skip !== null);
  rb.dispose();
});

test("the FLOP counter's MACs of whole blocks equal hand counts", () => {
  const macs = (f: () => T.Tensor): number => T.noGrad(() => T.tidy(() => T.flops.countFlops(f).report.macs));
  const rb = new ResBlock(4, 8, 6);
  assert.equal(macs(() => rb.forward(T.zeros([1, 4, 5, 7]), T.zeros([1, 6]))), 8 * 4 * 9 * 35 + 8 * 8 * 9 * 35 + 8 * 4 * 35 + 6 * 8);
  const ca = new CrossAttention(8, 6, 2);
  assert.equal(macs(() => ca.forward(T.zeros([1, 8, 4, 4]), T.zeros([1, 3, 6]))), 16 * 8 * 8 + 2 * 3 * 6 * 8 + 2 * 16 * 3 * 8 + 16 * 8 * 8);
  const nl = new NonLocalBlock(8);
  assert.equal(macs(() => nl.forward(T.zeros([1, 8, 4, 6]))), 3 * 24 * 8 * 4 + 2 * 24 * 24 * 4 + 24 * 4 * 8);
  const db = new DenseBlock(3, 5, 4, { numLayers: 2, growth: 16 });
  // layer 0: 3 -> 16, layer 1: 19 -> 16 (3x3 on 2x2 = 4 positions, plus the 4 -> in time projection), transition 35 -> 5.
  assert.equal(macs(() => db.forward(T.zeros([1, 3, 2, 2]), T.zeros([1, 4]))), 16 * 3 * 9 * 4 + 4 * 3 + 16 * 19 * 9 * 4 + 4 * 19 + 5 * 35 * 4);
  for (const m of [rb, ca, nl, db]) m.dispose();
});

test("numGroups: at most 32 groups of at least 4 channels", () => {
  const cases: [number, number][] = [[4, 1], [6, 1], [8, 2], [32, 8], [64, 16], [80, 20], [112, 28], [128, 32], [256, 32], [67, 1]];
  for (const [c, g] of cases) assert.equal(numGroups(c), g, `channels ${c}`);
});
