import { test } from "node:test";
import assert from "node:assert/strict";
import { closestOrthogonal3, det3, mat4ToQuatern, orientationCode, quaternToMat4, voxelSizes } from "../../src/nifti/affine.js";
import { assertClose } from "../helpers.js";

type M3 = number[];

function mul3(a: M3, b: M3): M3 {
  const out: M3 = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) out.push(a[3 * r]! * b[c]! + a[3 * r + 1]! * b[3 + c]! + a[3 * r + 2]! * b[6 + c]!);
  return out;
}

function rot(axis: 0 | 1 | 2, deg: number): M3 {
  const t = (deg * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  if (axis === 0) return [1, 0, 0, 0, c, -s, 0, s, c];
  if (axis === 1) return [c, 0, s, 0, 1, 0, -s, 0, c];
  return [c, -s, 0, s, c, 0, 0, 0, 1];
}

function affine(lin: M3, zooms: number[], offset: number[]): number[] {
  const l = mul3(lin, [zooms[0]!, 0, 0, 0, zooms[1]!, 0, 0, 0, zooms[2]!]);
  return [l[0]!, l[1]!, l[2]!, offset[0]!, l[3]!, l[4]!, l[5]!, offset[1]!, l[6]!, l[7]!, l[8]!, offset[2]!, 0, 0, 0, 1];
}

const FLIP_X: M3 = [-1, 0, 0, 0, 1, 0, 0, 0, 1];

const RIGID_CASES: [string, number[]][] = [
  ["identity", affine([1, 0, 0, 0, 1, 0, 0, 0, 1], [1, 1, 1], [0, 0, 0])],
  ["zoomed and shifted", affine([1, 0, 0, 0, 1, 0, 0, 0, 1], [0.7, 0.8, 1.5], [-90, 126, -72])],
  ["oblique", affine(mul3(rot(2, 20), rot(0, 10)), [1.2, 0.9, 2.5], [-30.5, 12.25, 7])],
  ["left-handed (qfac -1)", affine(mul3(rot(0, 30), FLIP_X), [2, 2, 1.5], [90, -126, -72])],
  ["LPI", affine([-1, 0, 0, 0, -1, 0, 0, 0, -1], [1, 1, 1], [0, 0, 0])],
  ["180 degrees about x (a = 0)", affine(rot(0, 180), [1, 2, 3], [1, 2, 3])],
  ["180 degrees about y", affine(rot(1, 180), [1, 1, 1], [0, 0, 0])],
  ["180 degrees about z", affine(rot(2, 180), [1, 1, 1], [0, 0, 0])],
  ["179.9 degrees about a diagonal", affine(mul3(rot(2, 179.9), rot(1, 0.5)), [1, 1, 1], [0, 0, 0])],
  ["axis permutation", affine([0, 0, 1, 1, 0, 0, 0, 1, 0], [1, 1, 1], [5, 5, 5])],
];

for (const [name, m] of RIGID_CASES) {
  test(`qform round trip: ${name}`, () => {
    const q = mat4ToQuatern(m);
    assert.ok(q.b * q.b + q.c * q.c + q.d * q.d <= 1 + 1e-12, "unit quaternion");
    assert.equal(q.qfac, det3([m[0]!, m[1]!, m[2]!, m[4]!, m[5]!, m[6]!, m[8]!, m[9]!, m[10]!]) < 0 ? -1 : 1);
    assertClose(q.pixdim, voxelSizes(m), { atol: 1e-12 });
    assertClose(quaternToMat4(q), m, { atol: 1e-9, rtol: 0 });
  });
}

test("quaternion to matrix: nifti1.h's example, [a,b,c,d] = [0,1,0,0] with qfac -1 is a y flip", () => {
  const m = quaternToMat4({ b: 1, c: 0, d: 0, offset: [0, 0, 0], pixdim: [1, 1, 1], qfac: -1 });
  assertClose(m, [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], { atol: 1e-15 });
});

test("quaternion to matrix: pixdim that are not positive count as 1", () => {
  const m = quaternToMat4({ b: 0, c: 0, d: 0, offset: [0, 0, 0], pixdim: [0, -2, 3], qfac: 1 });
  assertClose(m, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1]);
});

test("a sheared affine gets the closest rotation (columns orthonormal, zooms = column norms)", () => {
  const shear = [1, 0.1, 0, 0, 1, 0.05, 0, 0, 1];
  const m = affine(mul3(rot(1, -15), shear), [1, 1.1, 1.3], [10, -20, 30]);
  const q = mat4ToQuatern(m);
  const back = quaternToMat4(q);
  assertClose(voxelSizes(back), voxelSizes(m), { atol: 1e-12 });
  const cols = [0, 1, 2].map((c) => [back[c]!, back[4 + c]!, back[8 + c]!].map((v) => v / voxelSizes(back)[c]!));
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const dot = cols[i]!.reduce((s, v, k) => s + v * cols[j]![k]!, 0);
      assertClose(dot, i === j ? 1 : 0, { atol: 1e-12 });
    }
  }
  // Not the same transform: the shear is gone.
  assert.ok(Math.abs(back[1]! - m[1]!) > 1e-3);
});

test("closestOrthogonal3 returns an orthogonal matrix and leaves rotations alone", () => {
  const r = mul3(rot(0, 33), rot(2, -71));
  assertClose(closestOrthogonal3(r) ?? [], r, { atol: 1e-14 });
  const noisy = r.map((v, i) => v + (i % 2 === 0 ? 0.01 : -0.02));
  const o = closestOrthogonal3(noisy) ?? [];
  const oot = mul3(o, [o[0]!, o[3]!, o[6]!, o[1]!, o[4]!, o[7]!, o[2]!, o[5]!, o[8]!]);
  assertClose(oot, [1, 0, 0, 0, 1, 0, 0, 0, 1], { atol: 1e-12 });
  assert.equal(closestOrthogonal3([1, 2, 3, 2, 4, 6, 0, 0, 1]), undefined);
});

test("mat4ToQuatern rejects singular and non-finite affines", () => {
  assert.throws(() => mat4ToQuatern([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), /singular/);
  assert.throws(() => mat4ToQuatern([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), /singular/);
  assert.throws(() => mat4ToQuatern([NaN, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), /finite/);
});

test("orientation codes", () => {
  const id = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  assert.equal(orientationCode(id), "RAS");
  assert.equal(orientationCode([-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1]), "LPI");
  assert.equal(orientationCode([-2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]), "LAS");
  // i -> superior, j -> right, k -> anterior
  assert.equal(orientationCode(affine([0, 1, 0, 0, 0, 1, 1, 0, 0], [1, 1, 1], [0, 0, 0])), "SRA");
  // sagittal slices as from a scanner: i -> posterior, j -> inferior, k -> right
  assert.equal(orientationCode(affine([0, 0, 1, -1, 0, 0, 0, -1, 0], [1, 1, 1], [0, 0, 0])), "PIR");
  // 30 degrees oblique stays with the nearest axis
  assert.equal(orientationCode(affine(rot(2, 30), [1, 1, 1], [0, 0, 0])), "RAS");
  assert.equal(orientationCode(affine(rot(2, 60), [1, 1, 1], [0, 0, 0])), "ALS");
  // exactly 45 degrees: the greedy choice still gives three distinct axes
  const code = orientationCode(affine(rot(2, 45), [1, 1, 1], [0, 0, 0]));
  assert.equal(new Set(code.replace(/[LR]/, "x").replace(/[AP]/, "y").replace(/[SI]/, "z")).size, 3);
  assert.throws(() => orientationCode([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), /singular/);
});
