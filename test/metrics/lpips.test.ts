// LPIPS (src/metrics/lpips.ts, lpips_backbones.ts) against an independent float64 PyTorch
// implementation (test/fixtures/make_lpips_fixtures.py): tiny-width VGG-16 and AlexNet weight
// files, and full-width networks with formula weights (the standard VGG-16 path wraps Vgg16Features).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { Lpips, lpipsLinearKeys } from "../../src/metrics/lpips.js";
import { ConvStackBackbone, Vgg16Backbone, lpipsBackboneKeys } from "../../src/metrics/lpips_backbones.js";
import { loadTensorFile } from "../../src/torch/io/pth/pth.js";
import { assertClose } from "../helpers.js";
import { FIXTURES, formulaBackbone, goldenPair, loadLpipsGolden, type PairGolden } from "./lpips_formula.js";

const g = loadLpipsGolden();
// The goldens are float64; a float32 computation lands within ~1e-6 of them (the script measures it).
const F32 = { atol: 1e-5, rtol: 0 };
const F64 = { atol: 1e-9, rtol: 0 };

function check(model: Lpips, golden: PairGolden, tol: { atol: number; rtol: number }, dtype: T.DType = "float32"): void {
  const { x0, x1 } = goldenPair(golden);
  T.tidy(() => {
    const a = T.tensor(x0, golden.shape, { dtype });
    const b = T.tensor(x1, golden.shape, { dtype });
    const layers = model.forwardLayers(a, b);
    assert.deepEqual(layers.shape, [2, 5]);
    assertClose(layers.toArray(), golden.perLayer.flat(), { ...tol, message: "per-layer LPIPS" });
    assertClose(model.forward(a, b).toArray(), golden.lpips, { ...tol, message: "LPIPS" });
  });
}

test("tiny VGG-16-layout backbone (.pth, classifier keys ignored) matches the Python implementation", () => {
  using model = Lpips.fromFiles(`${FIXTURES}lpips_vgg_tiny.pth`, `${FIXTURES}lpips_vgg_tiny_lin.pth`);
  assert.ok(model.net instanceof ConvStackBackbone);
  assert.deepEqual(model.net.channels, [6, 8, 8, 10, 10]);
  assert.equal(model.net.minInputSize, 16);
  assert.equal(model.netName, "vgg");
  check(model, g.vggTiny, F32);
  // The lpips package's key layout: lin<l>.model.1.weight
  assert.ok(model.stateDict().has("lin4.model.1.weight"));
});

test("float64 LPIPS matches the float64 golden to 1e-9 (dtype is a parameter)", () => {
  using model = Lpips.fromFiles(`${FIXTURES}lpips_vgg_tiny.pth`, `${FIXTURES}lpips_vgg_tiny_lin.pth`, { dtype: "float64" });
  check(model, g.vggTiny, F64, "float64");
  using alex = Lpips.fromFiles(`${FIXTURES}lpips_alex_tiny.safetensors`, `${FIXTURES}lpips_alex_tiny_lin.pth`, { net: "alex", dtype: "float64" });
  check(alex, g.alexTiny, F64, "float64");
});

test("tiny AlexNet backbone (.safetensors) matches the Python implementation", () => {
  using model = Lpips.fromFiles(`${FIXTURES}lpips_alex_tiny.safetensors`, `${FIXTURES}lpips_alex_tiny_lin.pth`, { net: "alex" });
  assert.deepEqual(model.net.channels, [8, 10, 12, 10, 10]);
  assert.equal(model.net.minInputSize, 31);
  check(model, g.alexTiny, F32);
});

test("full-width VGG-16 (through Vgg16Features, 'module.'-prefixed keys) and AlexNet with formula weights match", () => {
  const vggSd = formulaBackbone("vgg", (k) => `module.${k}`);
  const vggLin = loadTensorFile(`${FIXTURES}lpips_vgg_lin.pth`);
  try {
    using model = Lpips.fromStateDicts(vggSd, vggLin);
    assert.ok(model.net instanceof Vgg16Backbone, "standard widths use the perceptual Vgg16Features");
    assert.deepEqual(model.net.channels, [64, 128, 256, 512, 512]);
    check(model, g.vggFormula, F32);
  } finally {
    for (const t of [...vggSd.values(), ...vggLin.values()]) t.dispose();
  }
  const alexSd = formulaBackbone("alex");
  const alexLin = loadTensorFile(`${FIXTURES}lpips_alex_lin.pth`);
  try {
    using model = Lpips.fromStateDicts(alexSd, alexLin, { net: "alex" });
    assert.deepEqual(model.net.channels, [64, 192, 384, 256, 256]);
    check(model, g.alexFormula, F32);
  } finally {
    for (const t of [...alexSd.values(), ...alexLin.values()]) t.dispose();
  }
});

test("identical images give 0, LPIPS is symmetric and positive for different images", () => {
  using model = Lpips.fromFiles(`${FIXTURES}lpips_alex_tiny.safetensors`, `${FIXTURES}lpips_alex_tiny_lin.pth`, { net: "alex" });
  const { x0, x1 } = goldenPair(g.alexTiny);
  T.tidy(() => {
    const a = T.tensor(x0, g.alexTiny.shape);
    const b = T.tensor(x1, g.alexTiny.shape);
    assertClose(model.forward(a, a).toArray(), [0, 0], { atol: 1e-12, rtol: 0 });
    const ab = model.forward(a, b).toArray();
    const ba = model.forward(b, a).toArray();
    assertClose(ba, ab, { atol: 1e-6, rtol: 1e-6 });
    assert.ok(ab.every((v) => v > 1e-3), `different images: ${ab.join(", ")}`);
  });
});

test("forward checks shapes, sizes and dtype; memory stays flat", () => {
  using model = Lpips.fromFiles(`${FIXTURES}lpips_vgg_tiny.pth`, `${FIXTURES}lpips_vgg_tiny_lin.pth`);
  T.tidy(() => {
    const ok = T.zeros([1, 3, 16, 16]);
    assert.throws(() => model.forward(T.zeros([1, 1, 16, 16]), T.zeros([1, 1, 16, 16])), /x0 must be \[B, 3, H, W\], got \[1, 1, 16, 16\]/);
    assert.throws(() => model.forward(ok, T.zeros([2, 3, 16, 16])), /x0 and x1 shapes differ: \[1, 3, 16, 16\] vs \[2, 3, 16, 16\]/);
    assert.throws(() => model.forward(T.zeros([1, 3, 15, 20]), T.zeros([1, 3, 15, 20])), /images are 15x20, but the vgg backbone needs at least 16x16/);
    assert.throws(() => model.forward(ok.double(), ok.double()), /x0 is float64 on cpu but the model is float32 on cpu/);
  });
  const before = T.memory().numTensors;
  for (let i = 0; i < 3; i++) T.tidy(() => model.forward(T.rand([2, 3, 16, 17]), T.rand([2, 3, 16, 17])).toArray());
  assert.equal(T.memory().numTensors, before);
});

test("key lists", () => {
  assert.deepEqual(lpipsLinearKeys(), ["lin0.model.1.weight", "lin1.model.1.weight", "lin2.model.1.weight", "lin3.model.1.weight", "lin4.model.1.weight"]);
  assert.deepEqual(lpipsBackboneKeys("alex"), ["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias", "features.6.weight", "features.6.bias", "features.8.weight", "features.8.bias", "features.10.weight", "features.10.bias"]);
  assert.equal(lpipsBackboneKeys("vgg").length, 26);
  assert.equal(lpipsBackboneKeys("vgg")[25], "features.28.bias");
});
