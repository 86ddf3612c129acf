// VGG-16 features against PyTorch 1.13 goldens (test/fixtures/make_perceptual_fixtures.py),
// key handling of torchvision files, freezing, and input checks.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as T from "../../../src/torch/index.js";
import { loadFile, saveFile } from "../../../src/torch/io/safetensors.js";
import { canonicalVggKey, resolveVggLayers, Vgg16Features } from "../../../src/models/perceptual/vgg16.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";
import { formulaStateDict } from "./vgg_formula.js";

const FIX = fileURLToPath(new URL("../../../../test/fixtures/perceptual/", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "moediff-vgg-"));
after(() => rmSync(work, { recursive: true, force: true }));

const formulaGolden = loadFile(join(FIX, "vgg16_formula_golden.safetensors"));
const f16Golden = loadFile(join(FIX, "vgg16_relu1_2_golden.safetensors"));
after(() => {
  for (const t of [...formulaGolden.tensors.values(), ...f16Golden.tensors.values()]) t.dispose();
});

function golden(g: { tensors: Map<string, T.Tensor> }, key: string): T.Tensor {
  const t = g.tensors.get(key);
  if (t === undefined) throw new Error(`golden ${key} missing`);
  return t;
}

/** Writes the formula weights (keys renamed, extra entries added) to a safetensors file. */
function writeFormulaFile(name: string, rename: (k: string) => string = (k) => k, extra: Record<string, number[]> = {}): string {
  const sd = formulaStateDict(rename);
  for (const [k, shape] of Object.entries(extra)) sd.set(k, T.zeros(shape));
  const path = join(work, name);
  saveFile(path, sd);
  for (const t of sd.values()) t.dispose();
  return path;
}

const formulaPath = writeFormulaFile("vgg_formula.safetensors", (k) => k, { "classifier.0.weight": [4, 6], "classifier.6.bias": [3] });

test("the formula weights are the ones the fixture script used", () => {
  const sd = formulaStateDict();
  let sum = 0;
  for (const t of sd.values()) {
    for (const v of t.data() as Float32Array) sum += v;
    t.dispose();
  }
  assertClose(sum, Number(formulaGolden.metadata.weight_sum), { atol: 1e-9, rtol: 1e-12 });
});

test("VGG-16 relu1_2, relu2_2, relu3_3 match PyTorch (torchvision keys + classifier)", () => {
  using vgg = Vgg16Features.fromFile(formulaPath);
  assert.deepEqual(vgg.layers, ["relu1_2", "relu2_2", "relu3_3"]);
  const outs = vgg.forward(golden(formulaGolden, "input"));
  assert.equal(outs.length, 3);
  for (const [i, name] of ["relu1_2", "relu2_2", "relu3_3"].entries()) {
    const out = outs[i] as T.Tensor;
    const want = golden(formulaGolden, name);
    assert.deepEqual(out.shape, want.shape, name);
    assertClose(out.data() as Float32Array, want.data() as Float32Array, { atol: 2e-5, rtol: 1e-4, message: name });
    out.dispose();
  }
});

test("keys without the features. prefix (and with module.) load the same weights", () => {
  const bare = writeFormulaFile("vgg_bare.safetensors", (k) => k.slice("features.".length));
  const dp = writeFormulaFile("vgg_dp.safetensors", (k) => `module.${k}`);
  using a = Vgg16Features.fromFile(bare, { layers: ["relu3_3"] });
  using b = Vgg16Features.fromFile(dp, { layers: ["relu3_3"] });
  const [ya] = a.forward(golden(formulaGolden, "input"));
  const [yb] = b.forward(golden(formulaGolden, "input"));
  assertClose(ya?.data() as Float32Array, golden(formulaGolden, "relu3_3").data() as Float32Array, { atol: 2e-5, rtol: 1e-4 });
  assert.deepEqual(yb?.bytes(), ya?.bytes());
  ya?.dispose();
  yb?.dispose();
});

test("a float16 torch.save file (relu1_1, relu1_2) matches PyTorch", () => {
  using vgg = Vgg16Features.fromFile(join(FIX, "vgg16_relu1_2_f16.pth"), { layers: ["relu1_2", "relu1_1"] });
  assert.deepEqual(vgg.layers, ["relu1_1", "relu1_2"], "network order");
  assert.equal(vgg.features.convs[0]?.conv.weight.dtype, "float32", "converted to the requested dtype");
  const outs = vgg.forward(golden(f16Golden, "input"));
  for (const [i, name] of ["relu1_1", "relu1_2"].entries()) {
    assertClose(outs[i]?.data() as Float32Array, golden(f16Golden, name).data() as Float32Array, { atol: 1e-5, rtol: 1e-4, message: name });
    outs[i]?.dispose();
  }
});

test("a file without the requested depth says which keys are missing and what it holds", () => {
  assertThrowsMatching(
    () => Vgg16Features.fromFile(join(FIX, "vgg16_relu1_2_f16.pth")),
    /vgg16_relu1_2_f16\.pth: cannot load VGG-16 weights/,
    /missing key\(s\) features\.5\.weight/,
    /features\.14\.bias/,
    /up to relu1_2 only/,
  );
});

test("VGG-19 / VGG-16-BN style keys and wrong shapes are listed", () => {
  const bn = writeFormulaFile("vgg_bn.safetensors", (k) => k, { "features.1.weight": [64], "features.1.running_mean": [64], "features.16.weight": [256, 256, 3, 3] });
  assertThrowsMatching(
    () => Vgg16Features.fromFile(bn),
    /vgg_bn\.safetensors: cannot load VGG-16 weights/,
    /not VGG-16 features or classifier/,
    /features\.1\.weight/,
    /features\.1\.running_mean/,
    /features\.16\.weight/,
  );
  // A wrong shape and a missing layer are reported together.
  const sd = formulaStateDict();
  sd.get("features.2.weight")?.dispose();
  sd.set("features.2.weight", T.zeros([64, 32, 3, 3]));
  sd.get("features.14.bias")?.dispose();
  sd.delete("features.14.bias");
  const wrong = join(work, "vgg_wrong.safetensors");
  saveFile(wrong, sd);
  for (const t of sd.values()) t.dispose();
  assertThrowsMatching(
    () => Vgg16Features.fromFile(wrong),
    /vgg_wrong\.safetensors/,
    /size mismatch for features\.2\.weight: checkpoint \[64,32,3,3\], model \[64,64,3,3\]/,
    /missing key\(s\) features\.14\.bias/,
  );
});

test("frozen: no trainable parameters, eval mode, but gradients reach the input", () => {
  using vgg = Vgg16Features.fromFile(formulaPath, { layers: ["relu2_2"] });
  assert.equal(vgg.training, false);
  assert.equal(vgg.numParameters({ trainableOnly: true }), 0);
  assert.equal(vgg.numParameters(), 3 * 64 * 9 + 64 + 64 * 64 * 9 + 64 + 64 * 128 * 9 + 128 + 128 * 128 * 9 + 128);
  using x = T.randn([1, 3, 8, 8]).requiresGrad_();
  T.tidy(() => {
    const [y] = vgg.forward(x);
    (y as T.Tensor).square().sum().backward();
  });
  using g = x.grad;
  assert.ok(g !== null);
  assert.ok(g.abs().sum().item() > 0, "non-zero input gradient");
  for (const p of vgg.parameters()) assert.equal(p.grad, null);
});

test("input checks and layer names", () => {
  using vgg = Vgg16Features.fromFile(formulaPath);
  assertThrowsMatching(() => vgg.forward(T.zeros([1, 4, 8, 8])), /x must be \[B, 3, H, W\], got \[1, 4, 8, 8\]/);
  assertThrowsMatching(() => vgg.forward(T.zeros([1, 3, 2, 8])), /2x8 is too small for layer relu3_3 \(needs at least 4x4\)/);
  assertThrowsMatching(() => vgg.forward(T.zeros([1, 3, 8, 8], { dtype: "float64" })), /float64 on cpu but the weights are float32/);
  assertThrowsMatching(() => resolveVggLayers(["relu3_3", "conv1_1"]), /unknown layer\(s\) 'conv1_1'/);
  assert.deepEqual(resolveVggLayers(["relu5_3", "relu1_1", "relu1_1"]), ["relu1_1", "relu5_3"]);
  assert.equal(canonicalVggKey("features.4.weight"), null, "index 4 is a pool");
  assert.equal(canonicalVggKey("28.bias"), "features.28.bias");
});

test("forward does not grow memory", () => {
  using vgg = Vgg16Features.fromFile(formulaPath, { layers: ["relu1_2", "relu2_2"] });
  using x = T.randn([2, 3, 8, 8]);
  const step = (): void => {
    for (const y of vgg.forward(x)) y.dispose();
  };
  step();
  const before = T.memory().numTensors;
  for (let i = 0; i < 5; i++) step();
  assert.equal(T.memory().numTensors, before);
});
