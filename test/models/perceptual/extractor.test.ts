// createPerceptualExtractor: which Φ it builds, Φ(latent) against PyTorch, errors.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as T from "../../../src/torch/index.js";
import { loadFile, saveFile } from "../../../src/torch/io/safetensors.js";
import { createPerceptualExtractor } from "../../../src/models/perceptual/index.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";
import { formulaStateDict } from "./vgg_formula.js";

const FIX = fileURLToPath(new URL("../../../../test/fixtures/perceptual/", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "moediff-phi-"));
after(() => rmSync(work, { recursive: true, force: true }));

const golden = loadFile(join(FIX, "vgg16_formula_golden.safetensors"));
after(() => {
  for (const t of golden.tensors.values()) t.dispose();
});
const weights = join(work, "vgg16_formula.safetensors");
{
  const sd = formulaStateDict();
  saveFile(weights, sd);
  for (const t of sd.values()) t.dispose();
}

test("without a weight file: the documented filter bank, and the name says so", () => {
  const phi = createPerceptualExtractor();
  try {
    assert.equal(phi.name, "filter-bank (no VGG-16 weights given)");
    assert.match(phi.description, /Gabor/);
    assert.match(phi.description, /4 orientations and 3 scales/);
    assert.deepEqual(phi.featureNames, ["gabor_scale0", "gabor_scale1", "gabor_scale2"]);
    T.tidy(() => {
      const z = T.randn([2, 4, 16, 16]);
      const f = phi.features(z);
      assert.equal(f.length, 3);
      assert.deepEqual(f[0]?.shape, [2, 16, 16, 16]);
      // Not a no-op: different latents give different features.
      const g = phi.features(z.add(T.randn([2, 4, 16, 16])));
      assert.ok((f[0] as T.Tensor).sub(g[0] as T.Tensor).abs().amax().item() > 1e-3);
    });
  } finally {
    phi.dispose();
  }
});

test("with a weight file: Φ(latent) = VGG-16 relu3_3 of the adapted latent, as in PyTorch", () => {
  const phi = createPerceptualExtractor({ vggWeights: weights, layers: ["relu3_3"], latentRange: 2 });
  try {
    assert.equal(phi.name, `vgg16 (${weights})`);
    assert.match(phi.description, /relu3_3/);
    assert.match(phi.description, /ImageNet/);
    assert.deepEqual(phi.featureNames, ["relu3_3"]);
    T.tidy(() => {
      const [y] = phi.features(golden.tensors.get("latent") as T.Tensor);
      const want = golden.tensors.get("latent_relu3_3") as T.Tensor;
      assert.deepEqual(y?.shape, want.shape);
      assertClose(y?.data() as Float32Array, want.data() as Float32Array, { atol: 2e-5, rtol: 1e-4 });
    });
  } finally {
    phi.dispose();
  }
});

test("Eq. 10's perceptual term is differentiable in z0_hat (both extractors)", () => {
  for (const options of [{}, { vggWeights: weights }]) {
    const phi = createPerceptualExtractor(options);
    try {
      using zHat = T.randn([1, 4, 8, 8]).requiresGrad_();
      using z0 = T.randn([1, 4, 8, 8]);
      T.tidy(() => {
        const a = phi.features(z0);
        const b = phi.features(zHat);
        const loss = a.map((f, i) => T.F.mseLoss(b[i] as T.Tensor, f)).reduce((s, l) => s.add(l));
        loss.backward();
      });
      using g = zHat.grad;
      assert.ok(g !== null && g.abs().sum().item() > 0, `${phi.name}: gradient reaches z0_hat`);
    } finally {
      phi.dispose();
    }
  }
});

test("dtype and device are parameters", () => {
  const phi = createPerceptualExtractor({ vggWeights: weights, layers: ["relu1_2"], dtype: "float64", device: "cpu" });
  try {
    T.tidy(() => {
      const [y] = phi.features(T.randn([1, 4, 4, 4], { dtype: "float64" }));
      assert.equal(y?.dtype, "float64");
    });
    assertThrowsMatching(() => phi.features(T.randn([1, 4, 4, 4])), /float32 on cpu but the weights are float64/);
  } finally {
    phi.dispose();
  }
});

test("missing, corrupt and wrong weight files give errors naming the file", () => {
  const missing = join(work, "no_such_vgg16.pth");
  assertThrowsMatching(() => createPerceptualExtractor({ vggWeights: missing }), /no_such_vgg16\.pth does not exist/, /torchvision vgg16/);
  const truncated = join(work, "vgg16_truncated.pth");
  const bytes = readFileSync(join(FIX, "vgg16_relu1_2_f16.pth"));
  writeFileSync(truncated, bytes.subarray(0, bytes.length - 300));
  assertThrowsMatching(() => createPerceptualExtractor({ vggWeights: truncated }), /vgg16_truncated\.pth/, /truncated/);
  assertThrowsMatching(
    () => createPerceptualExtractor({ vggWeights: join(FIX, "pickle_cases.pth") }),
    /pickle_cases\.pth: cannot load VGG-16 weights/,
    /not VGG-16 features or classifier parameters/,
    /f32/,
    /no VGG-16 features at all/,
  );
  assertThrowsMatching(() => createPerceptualExtractor({ vggWeights: join(FIX, "legacy.pth") }), /legacy\.pth/, /_use_new_zipfile_serialization=True/);
});

test("option mistakes are refused, never silently ignored", () => {
  assertThrowsMatching(() => createPerceptualExtractor({ layers: ["relu2_2"] }), /apply to VGG-16 only/);
  assertThrowsMatching(() => createPerceptualExtractor({ vggWeights: "" }), /vggWeights must be a path/);
  assertThrowsMatching(() => createPerceptualExtractor({ vggWeigths: weights } as never), /unknown option\(s\) vggWeigths/);
  assertThrowsMatching(() => createPerceptualExtractor({ vggWeights: weights, layers: ["pool3" as never] }), /unknown layer\(s\) 'pool3'/);
  const before = T.memory().numTensors;
  assertThrowsMatching(() => createPerceptualExtractor({ vggWeights: join(FIX, "vgg16_relu1_2_f16.pth") }), /up to relu1_2 only/);
  assert.equal(T.memory().numTensors, before, "a failed load frees what it made");
});
