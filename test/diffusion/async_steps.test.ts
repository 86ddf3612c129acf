// Steps per expert in asynchronous sampling (src/diffusion/async_steps.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { asyncStepCounts } from "../../src/diffusion/async_steps.js";
import { assertThrowsMatching } from "../helpers.js";

test("asyncStepCounts: max(1, round(N T_i / max T)), at most T_i", () => {
  assert.deepEqual(asyncStepCounts(50, [500, 2000, 1000]), [13, 50, 25]);
  assert.deepEqual(asyncStepCounts(1, [500, 2000, 1000]), [1, 1, 1]);
  assert.deepEqual(asyncStepCounts(5000, [10, 2000]), [10, 2000]);
  assert.deepEqual(asyncStepCounts(20, [1000]), [20]);
  assertThrowsMatching(() => asyncStepCounts(0, [10]), /steps must be a positive integer/);
  assertThrowsMatching(() => asyncStepCounts(10, []), /non-empty list/);
  // still exported by models/accounting.ts for its former callers
});
