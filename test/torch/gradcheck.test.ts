// Finite-difference gradient checks (src/torch/gradcheck.ts) of the ops the
// model differentiates through, on float64 inputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";

const F = T.F;

/** A float64 leaf with seeded normal values that requires grad. */
function leaf(shape: number[], seed: number, scale = 1): T.Tensor {
  return T.noGrad(() => T.randn(shape, { dtype: "float64", generator: new T.Generator({ seed }) }).mul(scale)).requiresGrad_();
}

function assertGradsAgree(fn: (...xs: T.Tensor[]) => T.Tensor, inputs: T.Tensor[], o: T.GradcheckOptions = {}): void {
  const mismatches = T.gradcheck(fn, inputs, o);
  assert.deepEqual(mismatches.slice(0, 5), [], `${mismatches.length} gradient mismatches`);
}

test("gradcheck: conv2d with stride, padding and groups (input, weight, bias)", () => {
  T.tidy(() => {
    const x = leaf([1, 4, 5, 5], 1);
    const w = leaf([4, 2, 3, 3], 2, 0.5);
    const b = leaf([4], 3);
    assertGradsAgree((x, w, b) => F.conv2d(x!, w!, b!, { stride: 2, padding: 1, groups: 2 }), [x, w, b]);
  });
});

test("gradcheck: conv_transpose2d with stride, padding and output padding", () => {
  T.tidy(() => {
    const x = leaf([1, 2, 3, 3], 4);
    const w = leaf([2, 3, 3, 3], 5, 0.5);
    const b = leaf([3], 6);
    assertGradsAgree((x, w, b) => F.convTranspose2d(x!, w!, b!, { stride: 2, padding: 1, outputPadding: 1 }), [x, w, b]);
  });
});

test("gradcheck: group_norm with affine parameters", () => {
  T.tidy(() => {
    const x = leaf([2, 4, 3, 3], 7, 2);
    const w = leaf([4], 8);
    const b = leaf([4], 9);
    assertGradsAgree((x, w, b) => F.groupNorm(x!, 2, w!, b!), [x, w, b]);
  });
});

test("gradcheck: scaled dot-product attention with an additive mask, and causal", () => {
  T.tidy(() => {
    const q = leaf([2, 3, 4], 10);
    const k = leaf([2, 4, 4], 11);
    const v = leaf([2, 4, 2], 12);
    const mask = T.randn([3, 4], { dtype: "float64", generator: new T.Generator({ seed: 13 }) });
    assertGradsAgree((q, k, v) => F.scaledDotProductAttention(q!, k!, v!, { mask }), [q, k, v]);
    const qc = leaf([1, 4, 4], 14);
    const kc = leaf([1, 4, 4], 27);
    const vc = leaf([1, 4, 2], 28);
    assertGradsAgree((q, k, v) => F.scaledDotProductAttention(q!, k!, v!, { isCausal: true }), [qc, kc, vc]);
  });
});

test("gradcheck: fft2 and rfft2 of a real signal (complex output)", () => {
  T.tidy(() => {
    const x = leaf([3, 4, 5], 15);
    assertGradsAgree((x) => T.fft2(x!), [x]);
    assertGradsAgree((x) => T.rfft2(x!, { norm: "ortho" }), [x]);
    assertGradsAgree((x) => T.real(T.ifft2(T.fft2(x!).mul(T.fft2(x!)))), [x]);
  });
});

test("gradcheck: stft with a Hann window", () => {
  T.tidy(() => {
    const n = 8;
    const hann = T.tensor(Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n)));
    const x = leaf([2, 30], 16);
    assertGradsAgree((x) => T.stft(x!, n, { hopLength: 3, window: hann }), [x]);
    assertGradsAgree((x) => T.stft(x!, n, { hopLength: 2, window: hann, center: false, normalized: true }), [x]);
  });
});

test("gradcheck: grid_sample in 2-D and 3-D (input and grid)", () => {
  T.tidy(() => {
    const x = leaf([1, 2, 4, 4], 17);
    const grid = T.noGrad(() => T.uniform(-0.9, 0.9, [1, 3, 3, 2], { dtype: "float64", generator: new T.Generator({ seed: 18 }) })).requiresGrad_();
    assertGradsAgree((x, g) => F.gridSample(x!, g!), [x, grid]);
    assertGradsAgree((x, g) => F.gridSample(x!, g!, { mode: "bicubic", paddingMode: "border", alignCorners: true }), [x, grid]);
    const x3 = leaf([1, 1, 3, 3, 3], 19);
    const grid3 = T.noGrad(() => T.uniform(-0.9, 0.9, [1, 2, 2, 2, 3], { dtype: "float64", generator: new T.Generator({ seed: 20 }) })).requiresGrad_();
    assertGradsAgree((x, g) => F.gridSample(x!, g!, { paddingMode: "reflection" }), [x3, grid3]);
  });
});

test("gradcheck: cosine_similarity", () => {
  T.tidy(() => {
    const a = leaf([3, 5, 2], 21);
    const b = leaf([3, 5, 2], 22);
    assertGradsAgree((a, b) => F.cosineSimilarity(a!, b!, 1), [a, b]);
  });
});

test("gradcheck: interpolate (bilinear, trilinear), pooling, layer norm, activations", () => {
  T.tidy(() => {
    const x = leaf([1, 2, 3, 4], 23);
    assertGradsAgree((x) => F.interpolate(x!, { scaleFactor: 2, mode: "bilinear" }), [x]);
    assertGradsAgree((x) => F.interpolate(x!, { size: [5, 6], mode: "bicubic", alignCorners: true }), [x]);
    const x3 = leaf([1, 1, 2, 3, 3], 24);
    assertGradsAgree((x) => F.interpolate(x!, { size: [3, 4, 4], mode: "trilinear" }), [x3]);
    assertGradsAgree((x) => F.avgPool2d(x!, 2, { stride: 1, padding: 1 }), [x]);
    const w = leaf([4], 25);
    assertGradsAgree((x, w) => F.layerNorm(x!, [4], w!).mul(F.silu(x!)).add(F.gelu(x!)), [x, w]);
    assertGradsAgree((x) => F.logSoftmax(x!, 1).add(F.softmax(x!, -1)), [x]);
  });
});

test("gradcheck finds a wrong gradient and rejects unsuitable inputs", () => {
  T.tidy(() => {
    const x = leaf([4], 26);
    // x * detach(x) has true derivative 2x, but autograd sees only x.
    const mismatches = T.gradcheck((x) => x!.mul(x!.detach()), [x]);
    assert.equal(mismatches.length, 4);
    const xs = x.data() as Float64Array;
    for (const m of mismatches) {
      assert.ok(Math.abs(m.analytic * 2 - m.numeric) < 1e-6 * (1 + Math.abs(m.numeric)), JSON.stringify(m));
      assert.equal(m.input, 0);
      assert.ok(Math.abs(xs[m.element]!) > 0);
    }
    // maxElements limits the elements perturbed.
    assert.equal(T.gradcheck((x) => x!.mul(x!.detach()), [x], { maxElements: 2 }).length, 2);
    assert.throws(() => T.gradcheck((x) => x!.mul(2), [T.ones([2], { requiresGrad: true })]), /input 0 is float32; use float64/);
    assert.throws(() => T.gradcheck((x) => x!.mul(2), [T.ones([2], { dtype: "float64" })]), /input 0 does not require grad/);
    const z = T.complex(T.ones([2], { dtype: "float64" }), T.ones([2], { dtype: "float64" })).requiresGrad_();
    assert.throws(() => T.gradcheck((z) => z!.abs(), [z]), /input 0 is complex128; .*float64 inputs/);
    const t = T.ones([3, 2], { dtype: "float64" }).T.detach().requiresGrad_();
    assert.throws(() => T.gradcheck((t) => t!.mul(2), [x, t]), /input 1 \[2, 3\] is not contiguous/);
    // The inputs are left unchanged by the perturbations.
    assert.deepEqual(Array.from(x.data() as Float64Array), Array.from(xs));
  });
});
