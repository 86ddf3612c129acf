// Elementwise arithmetic, comparisons, where, clamp, math functions and type
// promotion, against PyTorch.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { assertClose } from "../helpers.js";
import { golden } from "./golden.js";

test("broadcasting arithmetic with tensors and scalars", () => {
  T.tidy(() => {
    const g = (name: string) => golden(name);
    const a = g("add_broadcast").input("a");
    const b = g("add_broadcast").input("b");
    g("add_broadcast").check(a.add(b));
    g("sub_alpha").check(a.sub(b, 2.5));
    g("mul_broadcast").check(a.mul(b));
    const d = g("div_broadcast");
    d.check(d.input("a").div(d.input("b")));
    g("add_scalar").check(a.add(1.5));
    g("mul_scalar").check(T.mul(a, -0.75));
    g("rsub_scalar").check(a.rsub(3));
    assert.deepEqual(a.add(b).shape, [2, 3, 4]);
  });
});

test("pow and remainder", () => {
  T.tidy(() => {
    const tt = golden("pow_tensor_tensor");
    tt.check(tt.input("a").pow(tt.input("b")));
    const ts = golden("pow_tensor_scalar");
    const x = ts.input("a");
    ts.check(x.pow(3), "cube");
    ts.check(x.pow(2), "square");
    ts.check(golden("pow_tensor_tensor").input("a").pow(0.5), "half");
    ts.assertAllChecked();
    const r = golden("remainder");
    r.check(r.input("a").remainder(1.5), "scalar");
    r.check(T.remainder(r.input("a"), r.input("b")), "tensor");
  });
});

test("comparisons with broadcasting give bool tensors", () => {
  T.tidy(() => {
    const g = golden("compare");
    const a = g.input("a");
    const b = g.input("b");
    g.check(a.eq(b), "eq");
    g.check(a.ne(b), "ne");
    g.check(a.lt(b), "lt");
    g.check(a.le(b), "le");
    g.check(a.gt(b), "gt");
    g.check(a.ge(b), "ge");
    g.check(a.eq(1), "eq_scalar");
    g.check(a.lt(0.5), "lt_scalar");
    g.assertAllChecked();
  });
});

test("where with tensors and scalars on either side", () => {
  T.tidy(() => {
    const g = golden("where");
    const cond = g.input("cond");
    const a = g.input("a");
    const b = g.input("b");
    g.check(T.where(cond, a, b), "tensors");
    g.check(a.where(cond, 0.5), "scalar_other");
    g.check(T.where(cond, -1.5, b), "scalar_self");
    g.check(T.where(cond, 0.25, -1.5), "scalars");
    g.assertAllChecked();
  });
});

test("clamp with number bounds, one bound, and tensor bounds", () => {
  T.tidy(() => {
    const g = golden("clamp");
    const x = g.input("x");
    g.check(x.clamp(-0.5, 0.75), "both");
    g.check(x.clamp(0.25), "min");
    g.check(x.clamp(null, -0.125), "max");
    g.check(x.clamp(g.input("lo"), g.input("hi")), "tensors");
    g.assertAllChecked();
    assert.throws(() => x.clamp(), /at least one of min and max/);
    assert.throws(() => x.clamp(0, g.input("hi")), /both be numbers or both be tensors/);
    const y = x.clone().clamp_(-0.5, 0.75);
    g.check(y, "both");
  });
});

test("exp, log, sqrt, rsqrt, pow, abs, sign, sin, cos, tanh, erf and friends", () => {
  T.tidy(() => {
    const g = golden("unary");
    const x = g.input("x");
    const p = g.input("p");
    g.check(x.exp(), "exp");
    g.check(p.log(), "log");
    g.check(p.sqrt(), "sqrt");
    g.check(p.rsqrt(), "rsqrt");
    g.check(x.abs(), "abs");
    g.check(x.sign(), "sign");
    g.check(x.sin(), "sin");
    g.check(x.cos(), "cos");
    g.check(x.tanh(), "tanh");
    g.check(x.erf(), "erf");
    g.check(x.neg(), "neg");
    g.check(x.sigmoid(), "sigmoid");
    g.check(p.reciprocal(), "reciprocal");
    g.check(x.floor(), "floor");
    // x * 4 has many halves: round() rounds them to even, as PyTorch.
    g.check(x.mul(4).round(), "round");
    g.check(p.log1p(), "log1p");
    g.check(T.expm1(x), "expm1");
    g.check(x.square(), "square");
    g.assertAllChecked();
  });
});

test("maximum, minimum, lerp, atan2", () => {
  T.tidy(() => {
    const g = golden("binary_misc");
    const x = g.input("x");
    const y = g.input("y");
    g.check(x.maximum(g.input("b").expand(3, 4)), "maximum");
    g.check(T.minimum(x, g.input("b")), "minimum");
    g.check(x.lerp(y, 0.25), "lerp_scalar");
    g.check(x.lerp(y, g.input("w")), "lerp_tensor");
    g.check(T.atan2(x, y), "atan2");
    g.assertAllChecked();
  });
});

test("type promotion follows PyTorch (int + float, int / int, float16 + float32)", () => {
  T.tidy(() => {
    const g = golden("promotion");
    const i32 = g.input("i32");
    const i64 = g.input("i64");
    const f32 = g.input("f32");
    const f16 = g.input("f16");
    assert.equal(f16.dtype, "float16");
    g.check(i32.add(f32), "i32_plus_f32");
    g.check(i64.mul(2.5), "i64_times_float");
    g.check(i64.div(i64.flip(1)), "i64_div_i64");
    g.check(i64.add(3), "i64_plus_int");
    g.check(i32.add(i64), "i32_plus_i64");
    g.check(f16.add(f32), "f16_plus_f32");
    g.check(f16.mul(0.5), "f16_times_float");
    g.assertAllChecked();
  });
});

test("isnan, isfinite, isinf and logical ops", () => {
  T.tidy(() => {
    const g = golden("nonfinite");
    const x = g.input("x");
    assert.ok(Number.isNaN(x.data()[1] as number));
    g.check(x.isnan(), "isnan");
    g.check(x.isfinite(), "isfinite");
    g.check(T.isinf(x), "isinf");
    const l = golden("logical");
    const a = l.input("a");
    const b = l.input("b");
    l.check(T.logicalAnd(a, b), "and");
    l.check(T.logicalOr(a, b), "or");
    l.check(a.logicalNot(), "not");
  });
});

test("in-place arithmetic mutates and returns the same tensor", () => {
  T.tidy(() => {
    const x = T.tensor([1, 2, 3]);
    const same = x.add_(1).mul_(2).sub_(T.tensor([1, 1, 1]), 2).div_(4);
    assert.equal(same, x);
    assertClose(x.toArray(), [0.5, 1, 1.5]);
    x.fill_(3).zero_();
    assert.deepEqual(x.toArray(), [0, 0, 0]);
    const y = T.tensor([1, 4, 9]);
    T.sqrt_(y);
    assert.deepEqual(y.toArray(), [1, 2, 3]);
    T.addcmul_(y, T.tensor([1, 1, 1]), T.tensor([2, 3, 4]), 0.5);
    assertClose(y.toArray(), [2, 3.5, 5]);
    T.addcdiv_(y, T.tensor([1, 1, 1]), T.tensor([2, 2, 2]));
    assertClose(y.toArray(), [2.5, 4, 5.5]);
    T.lerp_(y, T.tensor([0.5, 0, 1.5]), 0.5);
    assertClose(y.toArray(), [1.5, 2, 3.5]);
    const z = T.zeros([2]);
    z.copy_(T.tensor([7, 8]));
    assert.deepEqual(z.toArray(), [7, 8]);
    // An in-place op on a view writes through to the base.
    const base = T.zeros([2, 3]);
    base.narrow(1, 1, 1).fill_(5);
    assert.deepEqual(base.toArray(), [0, 5, 0, 0, 5, 0]);
  });
});

test("matmul (batched, broadcast, matrix-vector), bmm, mm, outer, einsum", () => {
  T.tidy(() => {
    const g = golden("matmul");
    const a = g.input("a");
    const b = g.input("b");
    const m = g.input("m");
    const v = g.input("v");
    const bb = g.input("bb");
    g.check(T.bmm(a, b), "bmm");
    g.check(a.matmul(b), "matmul_batched");
    g.check(T.matmul(a, bb), "matmul_broadcast");
    g.check(m.matmul(v), "matmul_vector");
    g.check(T.mm(m, bb), "mm");
    g.check(T.outer(v, v.narrow(0, 0, 3)), "outer");
    g.check(T.einsum("bij,bjk->bik", a, b), "einsum_bmm");
    g.check(T.einsum("bij,kj->bik", a, m), "einsum_trace_like");
    g.check(T.einsum("bij->j", a), "einsum_sum");
    g.assertAllChecked();
  });
});
