// The rigid transform's parameterisation: numbers and tensors agree, round trips, conventions.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import { applyToPoint } from "../../../src/volume/affine.js";
import {
  anglesOf,
  linearPart,
  parametersOf,
  rigidMatrix,
  rotationDistance,
  rotationMatrix,
  rotationMatrixTensor,
} from "../../../src/preprocess/register/rigid.js";
import { assertClose } from "../../helpers.js";

const DEG = Math.PI / 180;

test("rotationMatrix is Rz Ry Rx: orthonormal, det 1, and rotates about x first", () => {
  const r = rotationMatrix([0.3, -0.2, 0.5]);
  for (let i = 0; i < 3; i++) {
    for (let k = 0; k < 3; k++) {
      let dot = 0;
      for (let j = 0; j < 3; j++) dot += (r[3 * i + j] as number) * (r[3 * k + j] as number);
      assertClose(dot, i === k ? 1 : 0, { atol: 1e-12, message: `R R^T [${i}, ${k}]` });
    }
  }
  const [a, b, c, d, e, f, g, h, k] = r as [number, number, number, number, number, number, number, number, number];
  assertClose(a * (e * k - f * h) - b * (d * k - f * g) + c * (d * h - e * g), 1, { atol: 1e-12, message: "det" });
  // 90 deg about x takes y to z; then 90 deg about z takes that z to z (unchanged) and x to y.
  const q = rotationMatrix([90 * DEG, 0, 90 * DEG]);
  const apply = (v: number[]): number[] => [0, 1, 2].map((i) => [0, 1, 2].reduce((s, j) => s + (q[3 * i + j] as number) * (v[j] as number), 0));
  assertClose(apply([0, 1, 0]), [0, 0, 1], { atol: 1e-12, message: "y -> z" });
  assertClose(apply([1, 0, 0]), [0, 1, 0], { atol: 1e-12, message: "x -> y" });
});

test("anglesOf and parametersOf invert rotationMatrix and rigidMatrix", () => {
  const angles = [6 * DEG, -4 * DEG, 11 * DEG] as const;
  assertClose(anglesOf(rotationMatrix(angles)), angles, { atol: 1e-12 });
  const centre = [1.5, -20, 13] as const;
  const m = rigidMatrix({ angles, translation: [5, -7, 8] }, centre);
  const p = parametersOf(m, centre);
  assertClose(p.angles, angles, { atol: 1e-12 });
  assertClose(p.translation, [5, -7, 8], { atol: 1e-10 });
  // The centre moves by exactly t; the last row is [0, 0, 0, 1].
  assertClose(applyToPoint(m, centre), [6.5, -27, 21], { atol: 1e-10 });
  assert.deepEqual(m.slice(12), [0, 0, 0, 1]);
});

test("rotationDistance is the angle between rotations", () => {
  const r1 = rotationMatrix([0.1, 0.2, -0.3]);
  assertClose(rotationDistance(r1, r1), 0, { atol: 1e-7 });
  const r2 = rotationMatrix([0, 0, 7 * DEG]);
  assertClose(rotationDistance(r2, rotationMatrix([0, 0, 0])), 7 * DEG, { atol: 1e-12 });
  assertClose(rotationDistance(linearPart(rigidMatrix({ angles: [0, 5 * DEG, 0], translation: [1, 2, 3] }, [0, 0, 0])), rotationMatrix([0, 0, 0])), 5 * DEG, { atol: 1e-12 });
});

test("rotationMatrixTensor equals rotationMatrix and is differentiable", () => {
  const angles = [0.4, -0.25, 1.1];
  T.tidy(() => {
    const a = T.tensor(angles, [3], { dtype: "float64", requiresGrad: true });
    const r = rotationMatrixTensor(a);
    assert.deepEqual(r.shape, [3, 3]);
    assertClose(r.toArray(), rotationMatrix(angles as [number, number, number]), { atol: 1e-14 });
    const mismatches = T.gradcheck((x) => rotationMatrixTensor(x), [a]);
    assert.deepEqual(mismatches, []);
  });
  assert.throws(() => rotationMatrixTensor(T.zeros([2])), /angles must be \[3\], got \[2\]/);
});
