// Rigid registration: clear errors for bad inputs and options, and tensor lifetimes (no growth over
// iterations, nothing left afterwards). Small phantoms, so this file runs in about a second.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import type { Volume } from "../../../src/volume/volume.js";
import { registerRigid } from "../../../src/preprocess/register/register.js";
import { resolveRegisterOptions } from "../../../src/preprocess/register/options.js";
import { assertThrowsMatching } from "../../helpers.js";
import { phantom } from "../../data/phantom.js";

const shifted = (v: Volume, dx: number): Volume => ({ ...v, affine: v.affine.map((x, i) => (i === 3 ? x + dx : x)) });

test("volumes that do not overlap in world space are refused with a clear error, whatever the init", () => {
  const fixed = phantom();
  const moving = shifted(phantom(), 500);
  for (const init of ["com", "geometry", "none"] as const) {
    assertThrowsMatching(
      () => registerRigid(moving, fixed, { init }),
      /^register: the volumes do not overlap: check they are of the same subject\/space \(only 0\.0% of the fixed field of view lies inside the moving one in world space, at least 25\.0% needed\)$/,
    );
  }
  // Partly overlapping (about 40% of the fixed FOV) is accepted by default, refused with a higher minimum.
  assertThrowsMatching(() => registerRigid(shifted(phantom(), 14), fixed, { minOverlap: 0.5 }), /do not overlap.*only 4\d\.\d% of the fixed field of view/);
});

test("an optimisation that leaves the moving field of view stops with an error naming the level", () => {
  // The moving FOV cuts the object: aligning the centres of mass pushes 17% of the fixed points outside.
  const full = phantom();
  const [nx, ny, nz] = [30, 28, 20];
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 12; i < nx; i++) data[i + nx * (j + ny * k)] = full.data[i - 12 + 24 * (j + 28 * k)] as number;
  const moving: Volume = { data, dims: [nx, ny, nz], affine: [1, 0, 0, -11.5, 0, 1, 0, -13.5, 0, 0, 1, -9.5, 0, 0, 0, 1] };
  assertThrowsMatching(
    () => registerRigid(moving, full, { minOverlap: 0.9, levels: [1], iterations: [5] }),
    /^register: the registration diverged at level 1 \(shrink 1\) iteration 1: only \d+\.\d% of the fixed sample points lie inside the moving image \(at least 90\.0% needed\); try another init/,
  );
});

test("bad volumes and options get errors that say what is wrong", () => {
  const good = phantom();
  assertThrowsMatching(() => registerRigid({ ...good, data: new Float32Array(good.data.length).fill(3) }, good), /register: the moving volume is constant \(every voxel is 3\); there is nothing to align/);
  assertThrowsMatching(() => registerRigid(good, phantom([24, 28, 2])), /register: the fixed volume must have at least 4 voxels along each axis \(3-D volumes\), got \[24, 28, 2\]/);
  assertThrowsMatching(() => registerRigid(good, { ...good, data: new Float32Array(5) }), /register: fixed volume: data has 5 values, dims \[24, 28, 20\] need 13440/);
  assertThrowsMatching(() => resolveRegisterOptions({ metric: "cc" as "ncc" }), /register: metric must be ncc or mi, got "cc"/);
  assertThrowsMatching(() => resolveRegisterOptions({ init: "moments" as "com" }), /register: init must be none, com, geometry, got "moments"/);
  assertThrowsMatching(() => resolveRegisterOptions({ levels: [4, 0] }), /register: levels \(shrink factors\) must be a non-empty list of integers >= 1, got \[4,0\]/);
  assertThrowsMatching(
    () => resolveRegisterOptions({ levels: [4, 2, 1], iterations: [10, 10] }),
    /give one shrink factor, smoothing sigma and iteration count per level; got 3 levels \(4x2x1\), 3 sigmas \(2x1x0\) and 2 iteration counts \(10x10\)/,
  );
  assertThrowsMatching(() => resolveRegisterOptions({ bins: 4 }), /register: bins must be an integer in 8\.\.256, got 4/);
  assertThrowsMatching(() => resolveRegisterOptions({ minOverlap: 0 }), /register: minOverlap must be a fraction in \(0, 1\], got 0/);
  assertThrowsMatching(() => resolveRegisterOptions({ shrink: 2 } as object), /register: unknown option 'shrink'/);
  const d = resolveRegisterOptions({ levels: [8, 4, 2, 1] });
  assert.deepEqual([d.smoothing, d.iterations], [[4, 2, 1, 0], [100, 100, 100, 100]]);
});

test("tensor memory does not grow over iterations and is all freed afterwards (both metrics)", () => {
  const fixed = phantom();
  const moving = shifted(phantom(), 1.5);
  for (const metric of ["ncc", "mi"] as const) {
    const before = T.memory();
    const seen: { level: number; iteration: number; tensors: number; bytes: number }[] = [];
    const r = registerRigid(moving, fixed, {
      metric,
      levels: [2, 1],
      iterations: [12, 12],
      convergence: 0,
      onProgress: (p) => seen.push({ level: p.level, iteration: p.iteration, ...((m) => ({ tensors: m.numTensors, bytes: m.numBytes }))(T.memory()) }),
    });
    assert.equal(seen.length, 24, "every iteration ran");
    for (const level of [0, 1]) {
      // From iteration 2 on the optimiser's state exists; nothing else may accumulate.
      const steady = seen.filter((s) => s.level === level && s.iteration >= 2);
      assert.ok(steady.every((s) => s.tensors === steady[0]!.tensors && s.bytes === steady[0]!.bytes), `${metric} level ${level}: ${JSON.stringify(steady.map((s) => s.tensors))}`);
    }
    const after = T.memory();
    assert.equal(after.numTensors, before.numTensors, `${metric}: tensors left after registration`);
    assert.equal(after.numBytes, before.numBytes, `${metric}: bytes left after registration`);
    assert.ok(Math.abs(r.parameters.translation[0] - 1.5) < 0.3, `${metric}: x shift ${r.parameters.translation[0]}`);
  }
});
