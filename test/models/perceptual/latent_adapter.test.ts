// The latent -> VGG input mapping, checked by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import { channelGroups, latentToRgbMatrix, latentToVggInput } from "../../../src/models/perceptual/latent_adapter.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

test("channel mixing matrices for C = 1, 2, 3, 4, 7 and the groups for 512", () => {
  assert.deepEqual(latentToRgbMatrix(1), [[1], [1], [1]]);
  assert.deepEqual(latentToRgbMatrix(2), [
    [1, 0],
    [0, 1],
    [0.5, 0.5],
  ]);
  assert.deepEqual(latentToRgbMatrix(3), [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ]);
  assert.deepEqual(latentToRgbMatrix(4), [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 0.5, 0.5],
  ]);
  assert.deepEqual(channelGroups(7), [
    [0, 2],
    [2, 4],
    [4, 7],
  ]);
  assert.deepEqual(channelGroups(512), [
    [0, 170],
    [170, 341],
    [341, 512],
  ]);
  for (const c of [3, 5, 64, 512]) {
    for (const row of latentToRgbMatrix(c)) assertClose(row.reduce((a, b) => a + b, 0), 1, { atol: 1e-12 });
  }
  assertThrowsMatching(() => latentToRgbMatrix(0), /at least one channel, got 0/);
});

test("values: [-r, r] -> [0, 1], then ImageNet normalisation (C = 2, by hand)", () => {
  const a = [-2, 0, 1, 3];
  const b = [2, 0.5, -1, 0];
  using z = T.tensor([a, b], [1, 2, 2, 2]);
  using x = latentToVggInput(z, { latentRange: 2 });
  assert.deepEqual(x.shape, [1, 3, 2, 2]);
  const want: number[] = [];
  const channels = [a, b, a.map((v, i) => (v + (b[i] as number)) / 2)];
  channels.forEach((ch, k) => {
    for (const m of ch) want.push((0.5 + m / 4 - (MEAN[k] as number)) / (STD[k] as number));
  });
  assertClose(x.toArray(), want, { atol: 1e-6, rtol: 1e-6 });
  // z = -r and z = r land on ImageNet's normalised 0 and 1.
  assertClose(x.toArray()[0] as number, (0 - 0.485) / 0.229, { atol: 1e-6 });
  assertClose(x.toArray()[4] as number, (1 - 0.456) / 0.224, { atol: 1e-6 });
});

test("C = 1 repeats the channel; C = 5 averages groups [0], [1, 2], [3, 4]; default range 2", () => {
  T.tidy(() => {
    const one = latentToVggInput(T.tensor([0.8], [1, 1, 1, 1])).toArray();
    assertClose(one, [0, 1, 2].map((k) => (0.5 + 0.8 / 4 - (MEAN[k] as number)) / (STD[k] as number)), { atol: 1e-6 });
    const v = [1, 2, 4, -1, 3];
    const five = latentToVggInput(T.tensor(v, [1, 5, 1, 1]), { latentRange: 1 }).toArray();
    const groups = [1, (2 + 4) / 2, (-1 + 3) / 2];
    assertClose(five, groups.map((m, k) => (0.5 + m / 2 - (MEAN[k] as number)) / (STD[k] as number)), { atol: 1e-6 });
  });
});

test("differentiable in z, keeps dtype; bad inputs are refused", () => {
  using z = T.randn([2, 4, 3, 3], { dtype: "float64" }).requiresGrad_();
  T.tidy(() => latentToVggInput(z).sum().backward());
  using g = z.grad;
  assert.ok(g !== null);
  // d/dz of the sum: channel c contributes sum_k M[k][c] / (2 r std_k) at every pixel.
  const m = latentToRgbMatrix(4);
  const per = [0, 1, 2, 3].map((c) => [0, 1, 2].reduce((s, k) => s + ((m[k] as number[])[c] as number) / (4 * (STD[k] as number)), 0));
  const expected: number[] = [];
  for (let n = 0; n < 2; n++) for (const p of per) for (let i = 0; i < 9; i++) expected.push(p);
  assertClose(g.toArray(), expected, { atol: 1e-12 });
  T.tidy(() => assert.equal(latentToVggInput(z).dtype, "float64"));
  assertThrowsMatching(() => latentToVggInput(T.zeros([4, 8, 8])), /z must be \[B, C, h, w\], got \[4, 8, 8\]/);
  assertThrowsMatching(() => latentToVggInput(T.zeros([1, 4, 8, 8], { dtype: "int64" })), /floating point, got int64/);
  assertThrowsMatching(() => latentToVggInput(T.zeros([1, 4, 8, 8]), { latentRange: 0 }), /latentRange must be a positive finite number, got 0/);
});
