import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

test("tensor from nested arrays infers shape and float32", () => {
  T.tidy(() => {
    const a = T.tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(a.shape, [2, 3]);
    assert.equal(a.dtype, "float32");
    assertClose(a.data(), [1, 2, 3, 4, 5, 6]);
  });
});

test("ops report the op name and argument shapes on mismatch", () => {
  T.tidy(() => {
    const a = T.zeros([2, 3]);
    assertThrowsMatching(() => a.matmul(a), /aten::matmul/, /2x3 and 2x3/, /self=\[2, 3\]/);
  });
});

test("a disposed tensor throws a clear error", () => {
  const a = T.ones([2]);
  a.dispose();
  a.dispose(); // idempotent
  assertThrowsMatching(() => a.add(1), /tensor is disposed/);
});
