// Bad shapes, dtypes and arguments become JS Errors naming the op and the
// shapes; the process never aborts, and failed calls leak no tensors.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { assertThrowsMatching } from "../helpers.js";

const F = T.F;
const int64 = (values: number[], shape?: number[]): T.Tensor => T.tensor(BigInt64Array.from(values, (v) => BigInt(v)), shape);

test("matmul, bmm, linear and einsum shape mismatches name the op and the shapes", () => {
  T.tidy(() => {
    const a = T.zeros([2, 3]);
    const b = T.zeros([4, 5]);
    assertThrowsMatching(() => a.matmul(b), /aten::matmul/, /2x3 and 4x5/, /self=\[2, 3\] Float/, /other=\[4, 5\] Float/);
    assertThrowsMatching(() => T.bmm(T.zeros([2, 3, 4]), T.zeros([2, 5, 4])), /aten::bmm/, /self=\[2, 3, 4\]/, /mat2=\[2, 5, 4\]/);
    assertThrowsMatching(() => F.linear(a, T.zeros([4, 4])), /aten::linear/, /input=\[2, 3\]/, /weight=\[4, 4\]/);
    assertThrowsMatching(() => T.einsum("ij,jk->ik", a, a), /aten::einsum/, /operands=\[2, 3\], \[2, 3\]/);
    assertThrowsMatching(() => a.add(T.ones([4])), /aten::add.Tensor/, /size of tensor a \(3\) must match the size of tensor b \(4\)/, /other=\[4\]/);
  });
});

test("conv channel and rank mismatches name the op and the shapes", () => {
  T.tidy(() => {
    const x = T.zeros([1, 3, 8, 8]);
    assertThrowsMatching(
      () => F.conv2d(x, T.zeros([4, 2, 3, 3])),
      /aten::conv2d/,
      /expected input\[1, 3, 8, 8\] to have 2 channels, but got 3 channels/,
      /input=\[1, 3, 8, 8\] Float, weight=\[4, 2, 3, 3\] Float/,
    );
    assertThrowsMatching(() => F.conv2d(T.zeros([3, 8]), T.zeros([4, 3, 3, 3])), /aten::conv2d/, /input=\[3, 8\]/);
    assertThrowsMatching(() => F.conv3d(x, T.zeros([4, 3, 3, 3, 3])), /aten::conv3d/, /input=\[1, 3, 8, 8\]/);
    assertThrowsMatching(() => F.convTranspose2d(x, T.zeros([2, 4, 3, 3])), /aten::conv_transpose2d/, /weight=\[2, 4, 3, 3\]/);
    assertThrowsMatching(() => F.groupNorm(x, 2), /aten::group_norm/, /divisible by num_groups/, /input=\[1, 3, 8, 8\]/);
  });
});

test("cat and stack of mismatched tensors name the shapes of the list", () => {
  T.tidy(() => {
    const a = T.zeros([2, 3]);
    assertThrowsMatching(() => T.cat([a, T.zeros([6])]), /aten::cat/, /same number of dimensions: got 2 and 1/, /tensors=\[2, 3\], \[6\]/);
    assertThrowsMatching(() => T.cat([a, T.zeros([3, 3])], 1), /aten::cat/, /Sizes of tensors must match/, /tensors=\[2, 3\], \[3, 3\]/);
    assertThrowsMatching(() => T.stack([a, T.zeros([3, 2])]), /aten::stack/, /\[2, 3\] at entry 0 and \[3, 2\] at entry 1/);
  });
});

test("view of a non-contiguous tensor and impossible reshapes", () => {
  T.tidy(() => {
    const t = T.zeros([2, 3]).transpose(0, 1);
    assertThrowsMatching(() => t.view(6), /aten::view/, /Use \.reshape/, /self=\[3, 2\]/);
    assert.deepEqual(t.reshape(6).shape, [6], "reshape copies instead");
    assertThrowsMatching(() => t.reshape(7), /aten::reshape/, /shape '\[7\]' is invalid for input of size 6/);
    assertThrowsMatching(() => t.reshape(-1, -1), /only one dimension can be inferred/);
    assertThrowsMatching(() => t.expand(4, 4), /aten::expand/, /self=\[3, 2\]/);
  });
});

test("out-of-range indices in indexSelect, gather, select, narrow and dims", () => {
  T.tidy(() => {
    const x = T.zeros([2, 3]);
    assertThrowsMatching(() => x.indexSelect(1, int64([0, 5])), /aten::index_select/, /out of/i, /self=\[2, 3\] Float, index=\[2\] Long/);
    assertThrowsMatching(() => x.gather(1, int64([5, 0], [2, 1])), /aten::gather/, /index 5 is out of bounds for dimension 1 with size 3/, /index=\[2, 1\]/);
    assertThrowsMatching(() => x.gather(1, int64([-5, 0], [2, 1])), /aten::gather/, /out of bounds/);
    assertThrowsMatching(() => T.scatter(x, 1, int64([7, 0], [2, 1]), 1), /aten::scatter.value/, /out of bounds/);
    assertThrowsMatching(() => x.select(0, 5), /aten::select.int/, /index 5 out of range/);
    assertThrowsMatching(() => x.narrow(1, 2, 5), /aten::narrow/, /exceeds dimension size/);
    assertThrowsMatching(() => x.sum(5), /aten::sum.dim_IntList/, /Dimension out of range/, /self=\[2, 3\]/);
    assertThrowsMatching(() => x.softmax(-3), /aten::softmax.int/, /Dimension out of range/);
    assertThrowsMatching(() => T.index(x, [int64([2])]), /aten::index.Tensor/, /out of bounds/);
    assert.throws(() => x.size(2), /dimension 2 out of range for a 2-D tensor/);
  });
});

test("dtype mismatches name the op, shapes and dtypes", () => {
  T.tidy(() => {
    const x = T.zeros([2, 3]);
    assertThrowsMatching(() => x.matmul(T.zeros([3, 2], { dtype: "float64" })), /aten::matmul/, /expected scalar type Float but found Double/, /other=\[3, 2\] Double/);
    assertThrowsMatching(() => x.indexSelect(0, T.tensor([0])), /aten::index_select/, /int32 or int64 for index/, /index=\[1\] Float/);
    assertThrowsMatching(() => F.conv2d(T.zeros([1, 1, 4, 4]), T.zeros([1, 1, 3, 3], { dtype: "float64" })), /aten::conv2d/, /Double/);
    assertThrowsMatching(() => x.gt(0).sub(x.gt(1)), /aten::sub.Tensor/, /two bool tensors is not supported/);
    assertThrowsMatching(() => T.ones([2], { dtype: "int32" }).requiresGrad_(), /Only Tensors of floating point and complex dtype can require gradients/);
    assert.throws(() => x.to("float8" as T.DType), /unknown dtype 'float8'/);
    assertThrowsMatching(() => x.to("complex64").toArray(), /complex tensor/);
  });
});

test("wrong argument types, too many and too few arguments", () => {
  T.tidy(() => {
    const x = T.zeros([2, 3]);
    const asAny = (v: unknown) => v as number;
    assertThrowsMatching(() => x.narrow(asAny("1"), 0, 1), /aten::narrow: argument 'dim' \(int\) must be an integer/);
    assertThrowsMatching(() => x.narrow(1.5, 0, 1), /aten::narrow: argument 'dim' \(int\) must be an integer, got 1.5/);
    assertThrowsMatching(() => x.narrow(NaN, 0, 1), /must be an integer/);
    assertThrowsMatching(() => x.reshape(2, asAny("3")), /aten::reshape: argument 'shape' \(.*int\[\]\) must be an integer/);
    assertThrowsMatching(() => x.permute(...(asAny("ab") as unknown as number[])), /aten::permute: argument 'dims'/);
    assertThrowsMatching(() => x.add(asAny("1")), /aten::add.Tensor: argument 'other' \(Tensor\) must be a tensor/);
    assertThrowsMatching(() => F.gelu(x, asAny(1) as unknown as "none"), /aten::gelu: argument 'approximate' \(str\) must be a string/);
    assertThrowsMatching(() => F.dropout(x, 0.5, asAny("yes") as unknown as boolean), /aten::dropout: argument 'train' \(bool\) must be a boolean/);
    const relu = new T.Op("aten::relu");
    assertThrowsMatching(() => relu.tensor(x, 1), /aten::relu: takes at most 1 arguments, got 2/);
    assertThrowsMatching(() => relu.tensor(), /aten::relu: missing required argument 'self' \(Tensor\)/);
    assertThrowsMatching(() => relu.tensor(null), /aten::relu: argument 'self' \(Tensor\) may not be null/);
    assertThrowsMatching(() => new T.Op("aten::no_such_op").tensor(x), /libtorch has no operator 'aten::no_such_op'/);
    assert.equal(new T.Op("aten::no_such_op").exists, false);
    assertThrowsMatching(() => T.zeros([2], { device: "gpu" as T.Device }), /unknown device 'gpu'/);
    assertThrowsMatching(() => T.randn(asAny("3") as unknown as number[]), /shape must be an array/);
  });
});

test("a disposed tensor passed to an op throws a clear error", () => {
  T.tidy(() => {
    const x = T.ones([2]);
    const y = T.ones([2]);
    y.dispose();
    assertThrowsMatching(() => x.add(y), /tensor is disposed/);
    assertThrowsMatching(() => T.cat([x, y]), /tensor is disposed/);
    assertThrowsMatching(() => y.shape, /tensor is disposed/);
  });
});

test("failed calls leak no tensors, inside and outside tidy(), and the engine keeps working", () => {
  const x = T.keep(T.zeros([2, 3]));
  const z6 = T.keep(T.zeros([6]));
  const w = T.keep(T.zeros([1, 2, 1, 1]));
  const before = T.memory();
  for (let i = 0; i < 50; i++) {
    // Failing native calls create no handles at all.
    assert.throws(() => x.matmul(x));
    assert.throws(() => T.cat([x, z6]));
    assert.throws(() => x.view(4, 2));
    // tidy() frees what was made before the failure.
    assert.throws(() => T.tidy(() => x.add(1).mul(2).view(7)));
    assert.throws(() => T.tidy(() => F.conv2d(x.reshape(1, 1, 2, 3), w)));
  }
  const after = T.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  T.tidy(() => assert.deepEqual(x.add(1).toArray(), [1, 1, 1, 1, 1, 1]));
  for (const t of [x, z6, w]) t.dispose();
});

test("native argument problems become JS errors, never an abort", () => {
  T.tidy(() => {
    const x = T.ones([2]);
    // An unparseable device string used to abort the process inside argument conversion.
    assertThrowsMatching(() => T.zeros([2], { device: "cuda:99999999999999999999" as T.Device }), /device|parse/i);
    assertThrowsMatching(() => new T.Op("aten::to.device").tensor(x, "gpu", 6), /aten::to.device/);
    // A plain number is never taken for a tensor handle.
    assertThrowsMatching(() => new T.Op("aten::add.Tensor").tensor(x, 3), /argument 'other' \(Tensor\) must be a tensor, got the number 3/);
    assertThrowsMatching(() => new T.Op("aten::cat").tensor([x, 5 as unknown as T.Tensor]), /must be a tensor/);
    // Plain objects are not op arguments.
    assertThrowsMatching(() => new T.Op("aten::relu").tensor({ id: 1 } as unknown as T.Tensor), /op arguments must be/);
  });
});

test("Scalar[] arguments are converted (foreach ScalarList overloads)", () => {
  T.tidy(() => {
    const a = T.ones([2]);
    const b = T.ones([3]);
    new T.Op("aten::_foreach_mul_.ScalarList").inPlace([a, b], [2, 0.5]);
    assert.deepEqual(a.toArray(), [2, 2]);
    assert.deepEqual(b.toArray(), [0.5, 0.5, 0.5]);
  });
});
