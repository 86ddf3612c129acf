// Reductions with dim and keepdim, against PyTorch.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { golden } from "./golden.js";

test("sum and mean over all, one, several and negative dims, with keepdim", () => {
  T.tidy(() => {
    const g = golden("sum_mean");
    const x = g.input("x");
    g.check(x.sum(), "sum_all");
    g.check(x.sum(1, true), "sum_dim1_keepdim");
    g.check(x.sum([0, 2]), "sum_dims02");
    g.check(T.sum(x, -1), "sum_neg_dim");
    g.check(x.mean(), "mean_all");
    g.check(x.mean(2), "mean_dim2");
    g.check(x.mean([0, 1], true), "mean_dims01_keepdim");
    g.assertAllChecked();
    // keepdim over every dimension keeps the rank.
    assert.deepEqual(x.sum(undefined, true).shape, [1, 1, 1]);
    assert.deepEqual(x.mean(undefined, true).shape, [1, 1, 1]);
  });
});

test("prod", () => {
  T.tidy(() => {
    const g = golden("prod");
    const x = g.input("x");
    g.check(x.prod(), "all");
    g.check(x.prod(1), "dim1");
    g.check(x.prod(2, true), "dim2_keepdim");
  });
});

test("max, min, amax, amin, argmax, argmin", () => {
  T.tidy(() => {
    const g = golden("max_min");
    const x = g.input("x");
    const mx = T.max(x, 1);
    g.check(mx.values, "max_dim1_values");
    g.check(mx.indices, "max_dim1_indices");
    const mn = T.min(x, 2, true);
    g.check(mn.values, "min_dim2_values");
    g.check(mn.indices, "min_dim2_indices");
    g.check(x.amax(), "max_all");
    g.check(x.amin(), "min_all");
    g.check(x.amax([0, 1]), "amax_dims01");
    g.check(x.amin(2, true), "amin_dim2_keepdim");
    g.check(x.argmax(), "argmax_all");
    g.check(x.argmax(2, true), "argmax_dim2_keepdim");
    g.check(x.argmin(0), "argmin_dim0");
    g.check(T.argmin(x), "argmin_all");
    g.assertAllChecked();
    assert.deepEqual(x.amax(undefined, true).shape, [1, 1, 1]);
    assert.deepEqual(x.amin(undefined, true).shape, [1, 1, 1]);
  });
});

test("var and std with and without Bessel's correction", () => {
  T.tidy(() => {
    const g = golden("var_std");
    const x = g.input("x");
    g.check(x.var(), "var_all");
    g.check(x.var(1), "var_dim1");
    g.check(x.var([0, 2], { correction: 0, keepdim: true }), "var_dims02_pop_keepdim");
    g.check(x.std(), "std_all");
    g.check(x.std(2), "std_dim2");
    g.check(T.std(x, 0, { correction: 0 }), "std_dim0_pop");
    g.assertAllChecked();
  });
});

test("median (the lower middle value) overall and along a dim", () => {
  T.tidy(() => {
    const g = golden("median");
    const x = g.input("x");
    g.check(T.medianAllOf(x), "all");
    const m = T.median(x, 1);
    g.check(m.values, "dim1_values");
    g.check(m.indices, "dim1_indices");
    const m2 = T.median(x, 2, true);
    g.check(m2.values, "dim2_keepdim_values");
    g.check(m2.indices, "dim2_keepdim_indices");
    g.assertAllChecked();
  });
});

test("quantile with scalar and tensor q and each interpolation", () => {
  T.tidy(() => {
    const g = golden("quantile");
    const x = g.input("x");
    g.check(T.quantile(x, 0.3, 2), "scalar_dim2");
    g.check(T.quantile(x, g.input("q"), 1, true), "tensor_dim1_keepdim");
    g.check(T.quantile(x, 0.75), "all");
    for (const mode of ["lower", "higher", "midpoint", "nearest"] as const) {
      g.check(T.quantile(x, 0.3, 2, false, mode), mode);
    }
    g.assertAllChecked();
  });
});

test("cumsum and cumprod", () => {
  T.tidy(() => {
    const g = golden("cumulative");
    const x = g.input("x");
    const q = g.input("q");
    g.check(x.cumsum(1), "cumsum_dim1");
    g.check(x.cumsum(-1), "cumsum_dim2");
    g.check(q.cumprod(2), "cumprod_dim2");
    g.check(T.cumprod(q, 0), "cumprod_dim0");
    g.assertAllChecked();
  });
});

test("logsumexp and vector norms", () => {
  T.tidy(() => {
    const g = golden("logsumexp_norm");
    const x = g.input("x");
    g.check(x.logsumexp(1), "logsumexp_dim1");
    g.check(x.logsumexp([1, 2], true), "logsumexp_dims12_keepdim");
    g.check(x.norm(), "norm_all");
    g.check(x.norm(1, 1), "norm_l1_dim1");
    g.check(T.norm(x, Infinity, 2), "norm_inf_dim2");
    g.assertAllChecked();
  });
});

test("integer reductions stay int64; all and any", () => {
  T.tidy(() => {
    const g = golden("int_reductions");
    const x = g.input("x");
    g.check(x.sum(), "sum");
    g.check(x.sum(0), "sum_dim0");
    g.check(x.cumsum(1), "cumsum");
    g.check(x.prod(), "prod");
    const b = golden("all_any");
    const m = b.input("x");
    b.check(T.all(m, 1), "all_dim1");
    b.check(T.any(m, 2), "any_dim2");
    b.check(T.all(m), "all");
    b.check(T.any(m), "any");
  });
});
