import { test } from "node:test";
import assert from "node:assert/strict";
import { identity, invert, applyToPoint } from "../../src/volume/affine.js";
import { axisOrientation, orientationCode, reorient, reorientToRAS } from "../../src/volume/reorient.js";
import type { Volume } from "../../src/volume/volume.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { affineFrom, at, mul3, rng, rotation, scaleColumns, world } from "./volumes.js";

function randomVolume(dims: [number, number, number], affine: number[], seed: number): Volume {
  const r = rng(seed);
  return { data: new Float32Array(dims[0] * dims[1] * dims[2]).map(() => Math.round(1000 * r())), dims, affine };
}

/** Every voxel of `out` holds the value of the `input` voxel at the same world position (exact). */
function assertWorldPreserved(input: Volume, out: Volume): void {
  const inv = invert(input.affine);
  const seen = new Set<number>();
  for (let k = 0; k < out.dims[2]; k++) {
    for (let j = 0; j < out.dims[1]; j++) {
      for (let i = 0; i < out.dims[0]; i++) {
        const p = applyToPoint(inv, world(out.affine, i, j, k));
        const q = p.map((x) => Math.round(x)) as [number, number, number];
        assertClose(p, q, { atol: 1e-9, message: `output voxel ${i},${j},${k} lands between input voxels` });
        assert.ok(q.every((x, a) => x >= 0 && x < input.dims[a]!), `output voxel ${i},${j},${k} maps outside: ${q}`);
        assert.equal(at(out, i, j, k), at(input, q[0], q[1], q[2]), `value at output voxel ${i},${j},${k}`);
        seen.add(q[0] + input.dims[0] * (q[1] + input.dims[1] * q[2]));
      }
    }
  }
  assert.equal(seen.size, input.data.length, "every input voxel appears exactly once");
}

test("orientationCode names the direction each voxel axis increases towards", () => {
  assert.equal(orientationCode(identity()), "RAS");
  assert.equal(orientationCode(affineFrom([-1, 0, 0, 0, -1, 0, 0, 0, -1], [0, 0, 0])), "LPI");
  assert.equal(orientationCode(affineFrom([-2, 0, 0, 0, 2, 0, 0, 0, 2], [90, -126, -72])), "LAS");
  // i -> +y (A), j -> -z (I), k -> -x (L)
  assert.equal(orientationCode(affineFrom([0, 0, -1, 1, 0, 0, 0, -1, 0], [0, 0, 0])), "AIL");
  // Typical sagittal acquisition: i -> -y (P), j -> -z (I), k -> +x (R).
  assert.equal(orientationCode(affineFrom([0, 0, 1.2, -1, 0, 0, 0, -1, 0], [0, 0, 0])), "PIR");
  // Obliquity up to 30 degrees does not change the code.
  assert.equal(orientationCode(affineFrom(scaleColumns(rotation(20, -15, 30), [0.7, 1, 3]), [0, 0, 0])), "RAS");
  const o = axisOrientation(affineFrom([0, 0, -1, 1, 0, 0, 0, -1, 0], [0, 0, 0]));
  assert.deepEqual(o.worldAxis, [1, 2, 0]);
  assert.deepEqual(o.sign, [1, -1, -1]);
});

test("reorientToRAS of an LPI volume gives RAS and keeps every voxel's world position", () => {
  const v = randomVolume([5, 4, 3], affineFrom([-1, 0, 0, 0, -1.5, 0, 0, 0, -2], [10, 20, 30]), 1);
  const out = reorientToRAS(v);
  assert.equal(orientationCode(out.affine), "RAS");
  assert.deepEqual(out.dims, [5, 4, 3]);
  assertClose(out.affine, [1, 0, 0, 6, 0, 1.5, 0, 15.5, 0, 0, 2, 26, 0, 0, 0, 1], { atol: 1e-12 });
  assertWorldPreserved(v, out);
  // The first output voxel is the last input voxel.
  assert.equal(out.data[0], v.data[v.data.length - 1]);
});

test("reorientToRAS permutes axes of oblique, anisotropic, non-cubic volumes exactly", () => {
  for (const [code, m] of [
    ["AIL", [0, 0, -1, 1, 0, 0, 0, -1, 0]],
    ["PIR", [0, 0, 1, -1, 0, 0, 0, -1, 0]],
    ["SLP", [0, -1, 0, 0, 0, -1, 1, 0, 0]],
  ] as const) {
    const a = affineFrom(mul3(rotation(10, -8, 12), scaleColumns(m, [0.8, 1.1, 2.5])), [-3, 7, 11]);
    const v = randomVolume([6, 5, 4], a, 7);
    assert.equal(orientationCode(a), code);
    const out = reorientToRAS(v);
    assert.equal(orientationCode(out.affine), "RAS", code);
    assertWorldPreserved(v, out);
  }
});

test("reorient to any code and back is the identity; RAS input is copied unchanged", () => {
  const v = randomVolume([6, 5, 4], affineFrom(scaleColumns(rotation(5, 5, 5), [1, 2, 3]), [1, 2, 3]), 3);
  for (const code of ["LPI", "PIR", "ILA", "rAs"]) {
    const w = reorient(v, code);
    assert.equal(orientationCode(w.affine), code.toUpperCase());
    assertWorldPreserved(v, w);
    const back = reorientToRAS(w);
    assert.deepEqual(back.data, v.data, code);
    assert.deepEqual(back.dims, v.dims);
    assertClose(back.affine, v.affine, { atol: 1e-12 });
  }
  const same = reorientToRAS(v);
  assert.deepEqual(same.data, v.data);
  assert.notEqual(same.data, v.data, "a new array");
});

test("bad codes and degenerate affines are rejected", () => {
  const v = randomVolume([2, 2, 2], identity(), 1);
  assertThrowsMatching(() => reorient(v, "RAX"), /orientation code/, /"RAX"/);
  assertThrowsMatching(() => reorient(v, "RLS"), /one from each of R\/L, A\/P, S\/I/);
  assertThrowsMatching(() => reorient(v, "RA"), /orientation code/);
  assertThrowsMatching(() => orientationCode(affineFrom([1, 0, 0, 0, 0, 0, 0, 0, 1], [0, 0, 0])), /column 1 is zero/);
  assertThrowsMatching(() => reorientToRAS({ ...v, data: new Float32Array(7) }), /reorient: volume/, /7 values/);
});
