// torch.nn.functional: convolutions, pooling, interpolation, grid sampling,
// normalisation, activations, attention, dropout, cosine similarity; against PyTorch.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { assertClose } from "../helpers.js";
import { golden } from "./golden.js";

const F = T.F;

test("conv1d with stride, padding, dilation and groups", () => {
  T.tidy(() => {
    const g = golden("conv1d");
    g.check(F.conv1d(g.input("x"), g.input("w"), g.input("b"), { stride: 2, padding: 1, dilation: 2, groups: 2 }));
  });
});

test("conv2d: per-axis stride/padding/dilation with groups, 'same' and 'valid' padding", () => {
  T.tidy(() => {
    const g = golden("conv2d");
    const x = g.input("x");
    const w = g.input("w");
    const b = g.input("b");
    g.check(F.conv2d(x, w, b, { stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }), "groups_stride_pad_dil");
    const w3 = w.reshape(3, 4, 3, 3);
    g.check(F.conv2d(x, w3), "plain");
    g.check(F.conv2d(x, w3, b.narrow(0, 0, 3), { padding: "same", dilation: 2 }), "same");
    g.check(F.conv2d(x, w3, null, { padding: "valid" }), "valid");
    g.assertAllChecked();
  });
});

test("conv3d with stride, padding, dilation and groups", () => {
  T.tidy(() => {
    const g = golden("conv3d");
    g.check(F.conv3d(g.input("x"), g.input("w"), g.input("b"), { stride: 2, padding: 1, dilation: [1, 1, 2], groups: 2 }));
  });
});

test("conv_transpose2d and conv_transpose3d with stride, padding, output padding, groups, dilation", () => {
  T.tidy(() => {
    const g = golden("conv_transpose2d");
    const x = g.input("x");
    const w = g.input("w");
    g.check(F.convTranspose2d(x, w, g.input("b"), { stride: 2, padding: 1, outputPadding: 1, groups: 2 }), "groups_stride_pad_outpad");
    g.check(F.convTranspose2d(x, w, null, { stride: [1, 2], padding: [0, 1], dilation: 2 }), "dilation");
    g.assertAllChecked();
    const g3 = golden("conv_transpose3d");
    g3.check(
      F.convTranspose3d(g3.input("x"), g3.input("w"), g3.input("b"), { stride: [2, 1, 2], padding: [0, 1, 1], outputPadding: [1, 0, 1] }),
    );
  });
});

test("average and max pooling in 2-D and 3-D, adaptive average pooling", () => {
  T.tidy(() => {
    const g = golden("pool");
    const x = g.input("x");
    const x3 = g.input("x3");
    g.check(F.avgPool2d(x, 3, { stride: 2, padding: 1 }), "avg2d");
    g.check(F.avgPool2d(x, 2, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }), "avg2d_ceil_exclude_pad");
    g.check(F.maxPool2d(x, 3, { stride: 2, padding: 1 }), "max2d");
    g.check(F.maxPool2d(x, 2, { stride: [1, 2], dilation: 2, ceilMode: true }), "max2d_dilation_ceil");
    g.check(F.avgPool3d(x3, 2), "avg3d");
    g.check(F.maxPool3d(x3, [2, 3, 2], { stride: 2, padding: 1 }), "max3d");
    g.check(F.adaptiveAvgPool2d(x, [3, 2]), "adaptive_avg2d");
    g.check(F.adaptiveAvgPool3d(x3, [2, 3, 2]), "adaptive_avg3d");
    g.assertAllChecked();
  });
});

test("interpolate: nearest, linear, bilinear, bicubic, trilinear by size and by scale factor", () => {
  T.tidy(() => {
    const g = golden("interpolate");
    const x1 = g.input("x1");
    const x2 = g.input("x2");
    const x3 = g.input("x3");
    g.check(F.interpolate(x2, { scaleFactor: 2 }), "nearest_scale2");
    g.check(F.interpolate(x2, { size: [5, 7], mode: "nearest" }), "nearest_size");
    g.check(F.interpolate(x2, { scaleFactor: 1.5 }), "nearest_scale1_5");
    g.check(F.interpolate(x1, { size: 8 }), "nearest_1d");
    g.check(F.interpolate(x3, { size: [3, 4, 5] }), "nearest_3d");
    g.check(F.interpolate(x1, { size: 8, mode: "linear" }), "linear_1d");
    g.check(F.interpolate(x1, { size: 8, mode: "linear", alignCorners: true }), "linear_1d_align");
    g.check(F.interpolate(x2, { size: [5, 6], mode: "bilinear" }), "bilinear");
    g.check(F.interpolate(x2, { scaleFactor: 2, mode: "bilinear", alignCorners: true }), "bilinear_align");
    // A non-integer factor: PyTorch samples with the given scale, not out/in sizes.
    g.check(F.interpolate(x2, { scaleFactor: 1.5, mode: "bilinear" }), "bilinear_scale1_5");
    g.check(F.interpolate(x2, { size: [5, 6], mode: "bicubic" }), "bicubic");
    g.check(F.interpolate(x2, { size: [4, 7], mode: "bicubic", alignCorners: true }), "bicubic_align");
    g.check(F.interpolate(x3, { size: [3, 4, 5], mode: "trilinear" }), "trilinear");
    g.check(F.interpolate(x3, { scaleFactor: [2, 1.5, 2], mode: "trilinear", alignCorners: true }), "trilinear_align");
    g.assertAllChecked();
    assert.throws(() => F.interpolate(x2, { size: [4, 4], mode: "trilinear" }), /mode 'trilinear' does not apply to a 4-D input/);
    assert.throws(() => F.interpolate(x2, {}), /exactly one of size and scaleFactor/);
    assert.throws(() => F.interpolate(x2, { size: [4, 4, 4] }), /expected 2 sizes or factors/);
    assert.throws(() => F.interpolate(x2, { size: [4, 4], alignCorners: true }), /alignCorners applies only/);
  });
});

test("grid_sample in 2-D and 3-D with each mode and padding mode", () => {
  T.tidy(() => {
    const g = golden("grid_sample");
    const x2 = g.input("x2");
    const grid2 = g.input("grid2");
    const x3 = g.input("x3");
    const grid3 = g.input("grid3");
    g.check(F.gridSample(x2, grid2), "bilinear_zeros");
    g.check(F.gridSample(x2, grid2, { mode: "nearest", paddingMode: "border", alignCorners: true }), "nearest_border_align");
    g.check(F.gridSample(x2, grid2, { mode: "bicubic", paddingMode: "reflection" }), "bicubic_reflection");
    g.check(F.gridSample(x2, grid2, { paddingMode: "reflection", alignCorners: true }), "bilinear_reflection_align");
    g.check(F.gridSample(x3, grid3), "3d_bilinear_zeros");
    g.check(F.gridSample(x3, grid3, { mode: "nearest", paddingMode: "border", alignCorners: true }), "3d_nearest_border_align");
    g.assertAllChecked();
    assert.throws(() => F.gridSample(x2, grid2, { mode: "area" as "nearest" }), /unknown mode or padding mode/);
  });
});

test("affine_grid in 2-D and 3-D; an identity grid samples the input unchanged", () => {
  T.tidy(() => {
    const g = golden("affine_grid");
    g.check(F.affineGrid(g.input("theta2"), [2, 1, 3, 4]), "2d");
    g.check(F.affineGrid(g.input("theta2"), [2, 1, 3, 4], true), "2d_align");
    g.check(F.affineGrid(g.input("theta3"), [1, 1, 2, 3, 4]), "3d");
    g.assertAllChecked();
    const x = T.randn([1, 2, 3, 4, 5], { generator: new T.Generator({ seed: 1 }) });
    const identity = T.tensor([[[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]]);
    const grid = F.affineGrid(identity, [1, 2, 3, 4, 5], true);
    assertClose(F.gridSample(x, grid, { alignCorners: true }).data(), x.data(), { atol: 1e-5, rtol: 1e-5 });
  });
});

test("group, layer, batch and instance norm (batch norm updates running statistics)", () => {
  T.tidy(() => {
    const g = golden("norms");
    g.check(F.groupNorm(g.input("xg"), 3, g.input("wg"), g.input("bg")), "group_norm");
    g.check(F.groupNorm(g.input("xg"), 2), "group_norm_plain");
    g.check(F.layerNorm(g.input("xl"), [3, 4], g.input("wl"), g.input("bl")), "layer_norm");
    g.check(F.layerNorm(g.input("xl"), [4], null, null, 1e-3), "layer_norm_last");
    const rm = g.input("rm");
    const rv = g.input("rv");
    const xb = g.input("xb");
    const affine = { weight: g.input("wb"), bias: g.input("bb") };
    g.check(F.batchNorm(xb, rm.clone(), rv.clone(), affine), "batch_norm_eval");
    g.check(F.batchNorm(xb, rm, rv, { ...affine, training: true, momentum: 0.1 }), "batch_norm_train");
    g.check(rm, "batch_norm_train_running_mean");
    g.check(rv, "batch_norm_train_running_var");
    g.check(F.instanceNorm(g.input("xn"), affine), "instance_norm");
    g.assertAllChecked();
  });
});

test("relu, leaky_relu, silu, gelu, sigmoid, tanh, softplus, elu, softmax, log_softmax", () => {
  T.tidy(() => {
    const g = golden("activations");
    const x = g.input("x");
    g.check(x.relu(), "relu");
    g.check(F.leakyRelu(x, 0.2), "leaky_relu");
    g.check(F.silu(x), "silu");
    g.check(F.gelu(x), "gelu");
    g.check(F.gelu(x, "tanh"), "gelu_tanh");
    g.check(F.sigmoid(x), "sigmoid");
    g.check(F.tanh(x), "tanh");
    g.check(F.softplus(x, 2), "softplus");
    g.check(F.elu(x, 0.5), "elu");
    g.check(x.softmax(1), "softmax_dim1");
    g.check(F.softmax(x, 0), "softmax_dim0");
    g.check(x.logSoftmax(-1), "log_softmax");
    g.assertAllChecked();
  });
});

test("cosine_similarity along a dim, with broadcasting", () => {
  T.tidy(() => {
    const g = golden("cosine_similarity");
    const x1 = g.input("x1");
    g.check(F.cosineSimilarity(x1, g.input("x2")), "dim1");
    g.check(F.cosineSimilarity(x1, g.input("x2"), -1), "dim_neg1");
    g.check(F.cosineSimilarity(x1, g.input("x3"), 1), "broadcast");
    g.assertAllChecked();
  });
});

test("scaled dot-product attention: plain, scale, boolean and additive masks, causal", () => {
  T.tidy(() => {
    const g = golden("attention");
    const q = g.input("q");
    const k = g.input("k");
    const v = g.input("v");
    g.check(F.scaledDotProductAttention(q, k, v), "plain");
    g.check(F.scaledDotProductAttention(q, k, v, { scale: 0.3 }), "scale");
    g.check(F.scaledDotProductAttention(q, k, v, { mask: g.input("bmask") }), "bool_mask");
    g.check(F.scaledDotProductAttention(q, k, v, { mask: g.input("fmask") }), "float_mask");
    g.check(F.scaledDotProductAttention(g.input("qc"), g.input("kc"), g.input("vc"), { isCausal: true }), "causal");
    g.assertAllChecked();
    // The function's temporaries are freed: only the result survives.
    const before = T.memory().numTensors;
    const out = F.scaledDotProductAttention(q, k, v, { isCausal: true, mask: g.input("fmask") });
    assert.equal(T.memory().numTensors, before + 2, "the mask input and the result");
    assert.deepEqual(out.shape, [2, 3, 6]);
  });
});

test("linear, embedding, pixel shuffle", () => {
  T.tidy(() => {
    const g = golden("linear_embedding");
    g.check(F.linear(g.input("x"), g.input("w"), g.input("b")), "linear");
    g.check(F.embedding(g.input("idx"), g.input("emb")), "embedding");
    g.check(F.pixelShuffle(g.input("xs"), 2), "pixel_shuffle");
    g.check(F.pixelUnshuffle(F.pixelShuffle(g.input("xs"), 2), 2), "pixel_unshuffle");
    g.assertAllChecked();
  });
});

test("dropout: PyTorch's mask for the same global seed, scaling by 1/(1-p), identity when not training", () => {
  T.tidy(() => {
    const g = golden("dropout_seed123");
    T.manualSeed(123);
    g.check(F.dropout(g.input("x"), 0.5, true));
    const x = T.ones([200, 50]);
    const p = 0.3;
    const y = F.dropout(x, p, true);
    const values = y.toArray();
    const kept = values.filter((v) => v !== 0);
    for (const v of kept) assertClose(v, 1 / (1 - p), { atol: 1e-6, rtol: 1e-6 });
    const dropped = 1 - kept.length / values.length;
    // 10 000 Bernoulli(0.3) draws: the standard deviation of the fraction is 0.0046.
    assert.ok(Math.abs(dropped - p) < 0.03, `dropped fraction ${dropped}`);
    assert.deepEqual(F.dropout(x, p, false).toArray(), x.toArray());
    assert.deepEqual(F.dropout(x, 0, true).toArray(), x.toArray());
    assert.equal(F.dropout(x, 1, true).abs().sum().item(), 0);
    assert.throws(() => F.dropout(x, 1.5), /p must be in \[0, 1\], got 1.5/);
  });
});
