// T.flops.countFlops: single layers against the textbook MAC formulas (convolutions
// with groups/stride/padding/dilation, transposed convolutions, linear on 3-D input,
// matmul with broadcasting, bmm, mm-family ops, einsum, attention, complex
// products), both name forms of an op, what goes to otherElements, nesting, and
// that the observer is gone afterwards, also when fn throws.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { setOpObserver } from "../../src/torch/op.js";
import { baseOpName, countsMacs, einsumIndexSizes } from "../../src/torch/flops.js";

const { countFlops } = T.flops;

/** Counts fn inside tidy and no-grad; returns the report. */
function count(fn: () => unknown): T.flops.FlopReport {
  return T.noGrad(() => T.tidy(() => countFlops(fn).report));
}

/** The observer currently installed (and puts it back). */
function currentObserver(): ReturnType<typeof setOpObserver> {
  const o = setOpObserver(null);
  setOpObserver(o);
  return o;
}

test("Conv2d with groups, stride and padding: output elements x Cin/groups x kh x kw", () => {
  const conv = new T.nn.Conv2d(6, 8, [3, 5], { stride: 2, padding: [1, 2], groups: 2 });
  const x = T.randn([2, 6, 11, 13]);
  const r = count(() => {
    const y = conv.forward(x);
    assert.deepEqual(y.shape, [2, 8, 6, 7]);
  });
  const macs = 2 * 8 * 6 * 7 * (6 / 2) * 3 * 5;
  assert.equal(r.macs, macs);
  assert.equal(r.flops, 2 * macs);
  assert.deepEqual(r.byOp, { "aten::conv2d": { calls: 1, macs } });
  // "same" padding with dilation goes through aten::conv2d.padding, counted under the same name.
  const w = T.randn([4, 6, 3, 3]);
  const same = count(() => T.F.conv2d(x, w, null, { padding: "same", dilation: 2 }));
  assert.equal(same.macs, 2 * 4 * 11 * 13 * 6 * 9);
  assert.deepEqual(Object.keys(same.byOp), ["aten::conv2d"]);
  // Depthwise (groups = C): 1 input channel per output.
  const dw = count(() => T.F.conv2d(x, T.randn([6, 1, 3, 3]), null, { padding: 1, groups: 6 }));
  assert.equal(dw.macs, 2 * 6 * 11 * 13 * 9);
  // 1-D and 3-D.
  assert.equal(count(() => T.F.conv1d(T.randn([3, 4, 10]), T.randn([5, 4, 3]))).macs, 3 * 5 * 8 * 4 * 3);
  assert.equal(count(() => T.F.conv3d(T.randn([1, 2, 4, 5, 6]), T.randn([3, 2, 1, 2, 3]), null, { stride: [1, 1, 3] })).macs, 3 * 4 * 4 * 2 * 2 * 6);
  for (const t of [x, w]) t.dispose();
  conv.dispose();
});

test("ConvTranspose2d: input elements x Cout/groups x kh x kw; aten::convolution follows its transposed flag", () => {
  const up = new T.nn.ConvTranspose2d(4, 6, 4, { stride: 2, padding: 1, groups: 2 });
  const x = T.randn([1, 4, 5, 7]);
  const r = count(() => {
    const y = up.forward(x);
    assert.deepEqual(y.shape, [1, 6, 10, 14]);
  });
  assert.equal(r.macs, 1 * 4 * 5 * 7 * (6 / 2) * 4 * 4);
  assert.deepEqual(Object.keys(r.byOp), ["aten::conv_transpose2d"]);
  const convolution = new T.Op("aten::convolution");
  const w = T.randn([4, 3, 3, 3]);
  const transposed = count(() => convolution.tensor(x, w, null, [1, 1], [0, 0], [1, 1], true, [0, 0], 1));
  assert.equal(transposed.macs, 4 * 5 * 7 * 3 * 9);
  const plain = count(() => {
    const y = convolution.tensor(x, T.randn([2, 4, 3, 3]), null, [1, 1], [0, 0], [1, 1], false, [0, 0], 1);
    assert.deepEqual(y.shape, [1, 2, 3, 5]);
  });
  assert.equal(plain.macs, 2 * 3 * 5 * 4 * 9);
  for (const t of [x, w]) t.dispose();
  up.dispose();
});

test("Linear on a 3-D input: output elements x in features (the bias is not a MAC)", () => {
  const lin = new T.nn.Linear(5, 7);
  const x = T.randn([2, 3, 5]);
  const r = count(() => lin.forward(x));
  assert.equal(r.macs, 2 * 3 * 7 * 5);
  assert.deepEqual(r.byOp, { "aten::linear": { calls: 1, macs: 210 } });
  x.dispose();
  lin.dispose();
});

test("matmul with broadcasting and 1-D operands, bmm, mm and the add* products", () => {
  const cases: [number[], number[], number][] = [
    [[2, 1, 3, 4], [5, 4, 6], 2 * 5 * 3 * 6 * 4],
    [[4], [4, 6], 6 * 4],
    [[3, 4], [4], 3 * 4],
    [[4], [4], 4],
    [[7, 3, 4], [4], 7 * 3 * 4],
  ];
  for (const [a, b, macs] of cases) {
    const r = count(() => T.matmul(T.randn(a), T.randn(b)));
    assert.equal(r.macs, macs, `matmul [${a.join(", ")}] @ [${b.join(", ")}]`);
  }
  assert.deepEqual(count(() => T.bmm(T.randn([3, 2, 4]), T.randn([3, 4, 5]))).byOp, { "aten::bmm": { calls: 1, macs: 3 * 2 * 5 * 4 } });
  assert.equal(count(() => T.mm(T.randn([3, 4]), T.randn([4, 5]))).macs, 60);
  assert.equal(count(() => T.outer(T.randn([3]), T.randn([5]))).macs, 15);
  assert.equal(count(() => new T.Op("aten::addmm").tensor(T.randn([3, 5]), T.randn([3, 4]), T.randn([4, 5]))).macs, 60);
  assert.equal(count(() => new T.Op("aten::baddbmm").tensor(T.randn([2, 3, 5]), T.randn([2, 3, 4]), T.randn([2, 4, 5]))).macs, 120);
  assert.equal(count(() => new T.Op("aten::addbmm").tensor(T.randn([3, 5]), T.randn([2, 3, 4]), T.randn([2, 4, 5]))).macs, 120);
  assert.equal(count(() => new T.Op("aten::tensordot").tensor(T.randn([2, 3, 4]), T.randn([4, 3, 5]), [1, 2], [1, 0])).macs, 2 * 5 * 3 * 4);
  // A complex product is 4 real multiply-adds per complex one.
  const cplx = count(() => T.matmul(T.complex(T.randn([3, 4]), T.randn([3, 4])), T.complex(T.randn([4, 2]), T.randn([4, 2]))));
  assert.equal(cplx.macs, 4 * 3 * 2 * 4);
});

test("einsum: the product of the sizes of all distinct indices (with ellipsis and implicit output); one operand is not a product", () => {
  assert.equal(count(() => T.einsum("bij,bjk->bik", T.randn([2, 3, 4]), T.randn([2, 4, 5]))).macs, 2 * 3 * 4 * 5);
  assert.equal(count(() => T.einsum("ij,jk", T.randn([3, 4]), T.randn([4, 5]))).macs, 60);
  assert.equal(count(() => T.einsum("...ij,jk->...ik", T.randn([2, 3, 4, 5]), T.randn([5, 6]))).macs, 2 * 3 * 4 * 5 * 6);
  // Broadcast ellipsis dims: [2, 1] with [3] -> [2, 3].
  assert.equal(count(() => T.einsum("...i,...i->...", T.randn([2, 1, 4]), T.randn([3, 4]))).macs, 2 * 3 * 4);
  assert.equal(count(() => T.einsum("b i j , b j -> b i", T.randn([2, 3, 4]), T.randn([2, 4]))).macs, 24);
  const single = count(() => T.einsum("ij->ji", T.randn([3, 4])));
  assert.equal(single.macs, 0);
  assert.deepEqual(single.byOp, {});
  assert.equal(single.otherElements, 12 + 12); // randn, then the einsum's output
  const s = einsumIndexSizes("a...c,cd->a...d", [
    [2, 5, 1, 3],
    [3, 7],
  ]);
  assert.deepEqual([...s.letters.entries()], [
    ["a", 2],
    ["c", 3],
    ["d", 7],
  ]);
  assert.deepEqual(s.ellipsis, [5, 1]);
  assert.throws(() => einsumIndexSizes("ij,jk", [[2, 3]]), /2 operand subscripts for 1 operands/);
});

test("scaledDotProductAttention: L S E for q k^T plus L S Ev for the weights times v, per batch and head", () => {
  const q = T.randn([2, 3, 5, 8]);
  const k = T.randn([2, 3, 7, 8]);
  const v = T.randn([2, 3, 7, 6]);
  const macs = 2 * 3 * 5 * 7 * (8 + 6);
  const r = count(() => T.F.scaledDotProductAttention(q, k, v));
  assert.equal(r.macs, macs);
  assert.deepEqual(r.byOp, { "aten::matmul": { calls: 2, macs } });
  assert.equal(count(() => T.F.scaledDotProductAttention(q, k, v, { mask: T.zeros([5, 7]) })).macs, macs);
  // ATen's own attention op (a tuple result), where this libtorch has it.
  const math = new T.Op("aten::_scaled_dot_product_attention_math");
  assert.ok(math.exists, "this libtorch has aten::_scaled_dot_product_attention_math");
  const native = count(() => math.tensors(q, k, v));
  assert.deepEqual(native.byOp, { "aten::_scaled_dot_product_attention_math": { calls: 1, macs } });
  for (const t of [q, k, v]) t.dispose();
});

test("op names: both forms count, under the name without the overload; other ops go to otherElements, views do not", () => {
  assert.equal(baseOpName("aten::conv2d.padding"), "aten::conv2d");
  assert.equal(baseOpName("aten::conv_transpose2d.input"), "aten::conv_transpose2d");
  assert.equal(baseOpName("aten::linear"), "aten::linear");
  for (const n of ["aten::conv2d", "aten::conv2d.padding", "aten::matmul", "aten::einsum", "aten::addmm.out"]) assert.ok(countsMacs(n), n);
  for (const n of ["aten::add.Tensor", "aten::softmax.int", "aten::group_norm", "aten::fft_fft2"]) assert.ok(!countsMacs(n), n);
  const x = T.randn([2, 3, 4]);
  const r = count(() => {
    const y = T.F.relu(x); // 24 elements
    const z = y.reshape(6, 4).transpose(0, 1).unsqueeze(0); // views: nothing
    return T.cat([z, z], 0).softmax(-1); // 48 + 48
  });
  assert.equal(r.macs, 0);
  assert.deepEqual(r.byOp, {});
  assert.equal(r.otherElements, 24 + 48 + 48);
  x.dispose();
});

test("countFlops nests (inner counts reach the outer counter) and restores the previous observer", () => {
  assert.equal(currentObserver(), null, "no observer before");
  const a = T.randn([3, 4]);
  const b = T.randn([4, 5]);
  const outer = T.tidy(() =>
    countFlops(() => {
      T.matmul(a, b); // 60
      const inner = countFlops(() => {
        T.mm(a, b); // 60
        return T.matmul(a, b).shape; // 60
      });
      assert.deepEqual(inner.result, [3, 5]);
      assert.equal(inner.report.macs, 120);
      assert.deepEqual(inner.report.byOp, { "aten::mm": { calls: 1, macs: 60 }, "aten::matmul": { calls: 1, macs: 60 } });
      assert.notEqual(currentObserver(), null, "the outer observer is back after the inner count");
      T.bmm(a.unsqueeze(0), b.unsqueeze(0)); // 60
      return "done";
    }),
  );
  assert.equal(outer.result, "done");
  assert.equal(outer.report.macs, 240);
  assert.deepEqual(outer.report.byOp["aten::matmul"], { calls: 2, macs: 120 });
  assert.equal(currentObserver(), null, "no observer after");
  // Ops outside a count are not seen by a later one.
  T.tidy(() => T.matmul(a, b));
  assert.equal(count(() => T.F.relu(a)).macs, 0);
  for (const t of [a, b]) t.dispose();
});

test("an exception inside fn propagates and still restores the observer (also for a nested count)", () => {
  const a = T.randn([3, 4]);
  assert.throws(
    () =>
      T.tidy(() =>
        countFlops(() => {
          T.matmul(a, a.T);
          throw new Error("boom");
        }),
      ),
    /boom/,
  );
  assert.equal(currentObserver(), null);
  const outer = T.tidy(() =>
    countFlops(() => {
      assert.throws(() => countFlops(() => T.matmul(a, T.randn([5, 6]))), /./); // shapes do not fit: the op throws
      T.matmul(a, a.T); // 3 * 3 * 4
      return 0;
    }),
  );
  assert.equal(outer.report.macs, 36);
  assert.equal(currentObserver(), null);
  // A promise is refused: ops after an await would not be seen.
  assert.throws(() => countFlops(() => Promise.resolve(1)), /synchronous/);
  assert.equal(currentObserver(), null);
  a.dispose();
});
