// nn.init: gains, fans, the statistics of each initialiser on large tensors,
// and exact agreement with PyTorch 1.13 after the same seed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as T from "../../src/torch/index.js";
import * as nn from "../../src/torch/nn/index.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

const { init } = nn;

interface GoldenTensor {
  shape: number[];
  data: number[];
}
type InitName = "kaiming_uniform" | "kaiming_normal_fan_out_relu" | "kaiming_uniform_leaky" | "xavier_uniform_tanh" | "xavier_normal" | "trunc_normal";
// dist/test/torch/nn_init.test.js -> <repo>/test/fixtures/
const golden = JSON.parse(readFileSync(new URL("../../../test/fixtures/nn_golden.json", import.meta.url), "utf8")) as {
  cases: { seeded_init: Record<InitName, GoldenTensor> };
};

/** min, max, mean and population std of a tensor. */
function stats(t: T.Tensor): { min: number; max: number; mean: number; std: number } {
  return T.tidy(() => ({
    min: t.amin().item(),
    max: t.amax().item(),
    mean: t.mean().item(),
    std: t.std(undefined, { correction: 0 }).item(),
  }));
}

test("calculateGain returns PyTorch's gains", () => {
  assert.equal(init.calculateGain("linear"), 1);
  assert.equal(init.calculateGain("conv2d"), 1);
  assert.equal(init.calculateGain("convTranspose3d"), 1);
  assert.equal(init.calculateGain("sigmoid"), 1);
  assertClose(init.calculateGain("tanh"), 5 / 3);
  assertClose(init.calculateGain("relu"), Math.sqrt(2));
  assertClose(init.calculateGain("leakyRelu"), Math.sqrt(2 / (1 + 0.01 ** 2)));
  assertClose(init.calculateGain("leakyRelu", 0.2), Math.sqrt(2 / 1.04));
  assertClose(init.calculateGain("selu"), 0.75);
  assertThrowsMatching(() => init.calculateGain("swish" as nn.init.Nonlinearity), /calculateGain: unsupported nonlinearity 'swish'/);
});

test("fans are computed as PyTorch: size(1) and size(0) times the kernel size", () => {
  T.tidy(() => {
    assert.deepEqual(init.calculateFanInAndFanOut(T.empty([64, 3, 3, 3])), [27, 576]);
    assert.deepEqual(init.calculateFanInAndFanOut(T.empty([5, 7])), [7, 5]);
    assert.deepEqual(init.calculateFanInAndFanOut(T.empty([4, 2, 1, 3, 3])), [18, 36]);
    assertThrowsMatching(
      () => init.kaimingUniform_(T.empty([10])),
      /fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions, got \[10\]/,
    );
    assertThrowsMatching(() => init.kaimingNormal_(T.empty([3, 3]), { mode: "fan_in" as nn.init.FanMode }), /mode must be 'fanIn' or 'fanOut', got 'fan_in'/);
  });
});

test("kaimingUniform_ draws within ±gain*sqrt(3/fanIn) with the matching spread", () => {
  T.tidy(() => {
    const w = init.kaimingUniform_(T.empty([256, 128, 3, 3]));
    const bound = Math.sqrt(2) * Math.sqrt(3 / (128 * 9)); // leaky_relu with a = 0
    const s = stats(w);
    assert.ok(s.max <= bound && s.min >= -bound, `range [${s.min}, ${s.max}] exceeds ±${bound}`);
    assertClose(s.max, bound, { rtol: 1e-3, atol: 0, message: "max reaches the bound" });
    assertClose(s.min, -bound, { rtol: 1e-3, atol: 0, message: "min reaches the bound" });
    assertClose(s.std, bound / Math.sqrt(3), { rtol: 0.01, atol: 0, message: "std" });
    assertClose(s.mean, 0, { atol: 0.01 * s.std, rtol: 0, message: "mean" });

    // a = sqrt(5), the layers' default: bound 1/sqrt(fanIn)
    const v = init.kaimingUniform_(T.empty([512, 300]), { a: Math.sqrt(5) });
    const sv = stats(v);
    assert.ok(sv.max <= 1 / Math.sqrt(300) && sv.max > 0.999 / Math.sqrt(300));
  });
});

test("kaimingNormal_ with fanOut and relu has std sqrt(2/fanOut)", () => {
  T.tidy(() => {
    const w = init.kaimingNormal_(T.empty([256, 128, 3, 3]), { mode: "fanOut", nonlinearity: "relu" });
    const s = stats(w);
    assertClose(s.std, Math.sqrt(2 / (256 * 9)), { rtol: 0.01, atol: 0 });
    assertClose(s.mean, 0, { atol: 0.01 * s.std, rtol: 0 });
  });
});

test("xavier initialisers use gain*sqrt(2/(fanIn+fanOut))", () => {
  T.tidy(() => {
    const std = 2 * Math.sqrt(2 / (300 + 500));
    const u = stats(init.xavierUniform_(T.empty([500, 300]), 2));
    assert.ok(u.max <= std * Math.sqrt(3) && u.min >= -std * Math.sqrt(3));
    assertClose(u.std, std, { rtol: 0.01, atol: 0 });
    const n = stats(init.xavierNormal_(T.empty([500, 300]), 2));
    assertClose(n.std, std, { rtol: 0.01, atol: 0 });
  });
});

test("truncNormal_ stays within [a, b] with the truncated distribution's spread", () => {
  T.tidy(() => {
    const s = stats(init.truncNormal_(T.empty([200_000])));
    assert.ok(s.min >= -2 && s.max <= 2);
    assert.ok(s.min < -1.99 && s.max > 1.99);
    // std of N(0, 1) truncated to [-2, 2]: sqrt(1 - 2*2*phi(2)/(Phi(2)-Phi(-2)))
    const phi2 = Math.exp(-2) / Math.sqrt(2 * Math.PI);
    assertClose(s.std, Math.sqrt(1 - (4 * phi2) / 0.9544997361036416), { rtol: 0.01, atol: 0 });
    assertClose(s.mean, 0, { atol: 0.01, rtol: 0 });
    const shifted = stats(init.truncNormal_(T.empty([50_000]), { mean: 3, std: 0.5, a: 2.5, b: 4 }));
    assert.ok(shifted.min >= 2.5 && shifted.max <= 4);
    assertThrowsMatching(() => init.truncNormal_(T.empty([2]), { a: 1, b: 0 }), /truncNormal_: a \(1\) must be less than b \(0\)/);
  });
});

test("each initialiser draws exactly what PyTorch draws after the same seed", () => {
  const G = golden.cases.seeded_init;
  const cases: [InitName, number, (t: T.Tensor) => T.Tensor][] = [
    ["kaiming_uniform", 21, (t) => init.kaimingUniform_(t)],
    ["kaiming_normal_fan_out_relu", 22, (t) => init.kaimingNormal_(t, { mode: "fanOut", nonlinearity: "relu" })],
    ["kaiming_uniform_leaky", 23, (t) => init.kaimingUniform_(t, { a: 0.2 })],
    ["xavier_uniform_tanh", 24, (t) => init.xavierUniform_(t, init.calculateGain("tanh"))],
    ["xavier_normal", 25, (t) => init.xavierNormal_(t)],
    ["trunc_normal", 26, (t) => init.truncNormal_(t, { mean: 0.5, std: 0.3, a: 0, b: 1 })],
  ];
  T.tidy(() => {
    for (const [name, seed, fn] of cases) {
      const want = G[name];
      T.manualSeed(seed);
      const t = fn(T.empty(want.shape));
      assertClose(t.data(), want.data, { atol: 1e-6, rtol: 1e-5, message: name });
    }
  });
});

test("a generator makes draws reproducible; the global seed is untouched", () => {
  T.tidy(() => {
    const draw = (seed: number) => init.normal_(T.empty([100]), 1, 2, { generator: new T.Generator({ seed }) }).data();
    assert.deepEqual(draw(3), draw(3));
    assert.notDeepEqual(draw(3), draw(4));
    T.manualSeed(9);
    const a = T.rand([5]).data();
    T.manualSeed(9);
    init.kaimingUniform_(T.empty([4, 4]), { generator: new T.Generator({ seed: 1 }) });
    assert.deepEqual(T.rand([5]).data(), a, "a private generator does not advance the default one");
    const u = stats(init.uniform_(T.empty([10_000]), -3, -1, { generator: new T.Generator({ seed: 2 }) }));
    assert.ok(u.min >= -3 && u.max < -1);
  });
});

test("initialisers work in place on Parameters, keep them leaves, and make no tensors", () => {
  const p = nn.Parameter.take(T.empty([3, 4]));
  const before = T.memory().numTensors;
  assert.equal(init.constant_(p, 2.5), p);
  assert.equal(init.kaimingUniform_(p), p);
  init.xavierNormal_(p);
  init.truncNormal_(p);
  init.ones_(p);
  assert.equal(T.memory().numTensors, before, "no handles are created");
  assert.equal(p.isLeaf, true);
  assert.equal(p.requiresGrad, true);
  T.tidy(() => {
    assertClose(p.data(), new Array<number>(12).fill(1));
    assertClose(init.zeros_(p).sum().item(), 0);
    p.sum().backward();
    assertClose(p.grad?.data() ?? [], new Array<number>(12).fill(1));
  });
  p.dispose();
});
