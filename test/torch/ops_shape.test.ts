// Shape, joining, splitting, indexing, padding, sorting; against PyTorch.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { golden } from "./golden.js";

const int64 = (values: number[]): T.Tensor => T.tensor(BigInt64Array.from(values, (v) => BigInt(v)));

test("reshape, view, permute, transpose, expand, repeat, movedim, flatten", () => {
  T.tidy(() => {
    const g = golden("views");
    const x = g.input("x");
    g.check(x.permute(2, 0, 1), "permute");
    const t = x.transpose(0, 2);
    assert.equal(t.isContiguous(), false);
    g.check(t.reshape(4, 6), "transpose_reshape");
    g.check(x.slice(1, 0, 1).expand(2, 3, 4), "expand");
    g.check(x.slice(1, 0, 1).expand(-1, 3, -1), "expand");
    g.check(x.repeat(2, 1, 3), "repeat");
    g.check(T.movedim(x, [0, 1], [2, 0]), "movedim");
    g.check(x.flatten(1), "flatten12");
    g.assertAllChecked();
    // view shares storage with its base.
    const v = x.view(6, 4);
    assert.deepEqual(v.shape, [6, 4]);
    assert.deepEqual(x.view(-1).shape, [24]);
    const c = x.clone();
    c.view(24).narrow(0, 0, 1).fill_(100);
    assert.equal(c.data()[0], 100);
    assert.deepEqual(t.contiguous().strides, [6, 2, 1]);
    assert.throws(() => x.T, /expects a 2-D tensor/);
  });
});

test("squeeze and unsqueeze", () => {
  T.tidy(() => {
    const x = T.zeros([2, 1, 3, 1]);
    assert.deepEqual(x.squeeze().shape, [2, 3]);
    assert.deepEqual(x.squeeze(1).shape, [2, 3, 1]);
    assert.deepEqual(x.squeeze(-1).shape, [2, 1, 3]);
    assert.deepEqual(x.squeeze(0).shape, [2, 1, 3, 1], "squeezing a non-1 dimension is a no-op");
    assert.deepEqual(x.unsqueeze(0).shape, [1, 2, 1, 3, 1]);
    assert.deepEqual(x.unsqueeze(-1).shape, [2, 1, 3, 1, 1]);
    assert.deepEqual(T.arange(3).unsqueeze(1).toArray(), [0, 1, 2]);
  });
});

test("cat and stack along positive and negative dims", () => {
  T.tidy(() => {
    const g = golden("cat_stack");
    const x = g.input("x");
    const y = g.input("y");
    const z = g.input("z");
    g.check(T.cat([x, y], 1), "cat_dim1");
    g.check(T.cat([x, z], -1), "cat_dim_neg1");
    g.check(T.stack([x, x.mul(2)], 1), "stack_dim1");
    g.check(T.stack([x, x.neg(), x.add(1)], -1), "stack_dim_neg1");
    g.assertAllChecked();
    assert.throws(() => T.cat([]), /non-empty list/);
  });
});

test("split by size and by sizes, chunk", () => {
  T.tidy(() => {
    const g = golden("split_chunk");
    const x = g.input("x");
    const s = x.split([1, 2], 1);
    assert.equal(s.length, 2);
    g.check(s[0]!, "split_sizes_0");
    g.check(s[1]!, "split_sizes_1");
    const s2 = x.split(3, 2);
    assert.equal(s2.length, 2);
    g.check(s2[0]!, "split_3_0");
    g.check(s2[1]!, "split_3_1");
    // chunk(3) of a size-4 dimension gives two chunks of 2, as PyTorch.
    const c = x.chunk(3, 2);
    assert.equal(c.length, 2);
    g.check(c[0]!, "chunk_0");
    g.check(c[1]!, "chunk_1");
    g.assertAllChecked();
  });
});

test("narrow, slice (steps, negative bounds), select", () => {
  T.tidy(() => {
    const g = golden("slicing");
    const x = g.input("x");
    g.check(x.narrow(2, 1, 2), "narrow");
    g.check(x.slice(2, 1, null, 2), "slice_step");
    g.check(x.slice(1, -3, -1), "slice_negative");
    g.check(x.select(1, 2), "select");
    g.assertAllChecked();
    assert.deepEqual(x.slice(0).shape, [2, 3, 4]);
    assert.deepEqual(x.slice(2, 10, 20).shape, [2, 3, 0], "bounds past the end clamp, as Python slicing");
  });
});

test("indexSelect, gather, scatter, scatterAdd, advanced index", () => {
  T.tidy(() => {
    const g = golden("gather_scatter");
    const x = g.input("x");
    g.check(x.indexSelect(1, g.input("idx")), "index_select");
    g.check(x.gather(2, g.input("g")), "gather_full");
    g.check(x.gather(2, g.input("gi")), "gather_partial");
    g.check(T.scatter(x, 2, g.input("sc_idx"), g.input("src")), "scatter_src");
    g.check(T.scatter(x, 2, g.input("sc_idx"), -7.5), "scatter_value");
    g.check(T.scatterAdd(x, 2, g.input("add_idx"), g.input("src")), "scatter_add");
    g.check(T.index(x, [int64([1, 0]), null, int64([3, 1])]), "index_tensors");
    g.check(T.index(x, [null, int64([2, 0])]), "index_skip");
    g.assertAllChecked();
    // scatter is out of place.
    const before = x.toArray();
    T.scatter(x, 2, g.input("sc_idx"), 0);
    assert.deepEqual(x.toArray(), before);
  });
});

test("flip, roll, maskedFill, tril, triu, nonzero", () => {
  T.tidy(() => {
    const g = golden("flip_roll_mask");
    const x = g.input("x");
    const d = golden("sort_topk").input("x");
    g.check(x.flip(0, 2), "flip02");
    g.check(T.flip(x, [1]), "flip1");
    g.check(x.roll([1, -2], [0, 2]), "roll_multi");
    g.check(x.roll(5, 2), "roll_single");
    g.check(x.maskedFill(g.input("mask"), 9.25), "masked_fill");
    g.check(d.tril(), "tril");
    g.check(d.triu(1), "triu_1");
    g.check(T.tril(d, -1), "tril_neg1");
    g.check(T.nonzero(g.input("mask")), "nonzero");
    g.assertAllChecked();
  });
});

test("pad: constant, reflect, replicate and circular in 1, 2 and 3 dimensions", () => {
  T.tidy(() => {
    const g = golden("pad");
    const x3 = g.input("x3");
    const x4 = g.input("x4");
    const x5 = g.input("x5");
    g.check(T.pad(x3, [1, 2]), "constant_last");
    g.check(T.pad(x4, [1, 0, 2, 1], "constant", -1.5), "constant_2d_value");
    g.check(T.pad(x4, [-1, 1, 0, -1]), "constant_negative");
    g.check(T.pad(x3, [2, 1], "reflect"), "reflect_1d");
    g.check(T.pad(x4, [1, 2, 3, 1], "reflect"), "reflect_2d");
    g.check(T.pad(x5, [1, 2, 1, 0, 2, 1], "reflect"), "reflect_3d");
    g.check(T.pad(x3, [3, 1], "replicate"), "replicate_1d");
    g.check(T.pad(x4, [2, 0, 1, 3], "replicate"), "replicate_2d");
    g.check(T.pad(x5, [1, 1, 0, 2, 1, 0], "replicate"), "replicate_3d");
    g.check(T.pad(x3, [2, 1], "circular"), "circular_1d");
    g.check(T.pad(x4, [1, 2, 2, 1], "circular"), "circular_2d");
    g.assertAllChecked();
    assert.throws(() => T.pad(x3, [1, 2, 3]), /even length/);
  });
});

test("sort and topk (values and indices)", () => {
  T.tidy(() => {
    const g = golden("sort_topk");
    const x = g.input("x");
    const sd = T.sort(x, 1, true);
    g.check(sd.values, "sort_desc_values");
    g.check(sd.indices, "sort_desc_indices");
    const sa = T.sort(x, 0);
    g.check(sa.values, "sort_dim0_values");
    g.check(sa.indices, "sort_dim0_indices");
    const tk = T.topk(x, 2, 1);
    g.check(tk.values, "topk_values");
    g.check(tk.indices, "topk_indices");
    const ts = T.topk(x, 3, 0, false);
    g.check(ts.values, "topk_smallest_values");
    g.check(ts.indices, "topk_smallest_indices");
    g.assertAllChecked();
  });
});
