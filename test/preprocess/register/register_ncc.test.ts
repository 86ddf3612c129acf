// Rigid registration of Colin27 (ch2bet, downsampled to 3 mm) with NCC: a known transform is
// recovered, and an aligned pair stays aligned.
//
// Errors, as reported in the README: the maximum over brain voxels (fixed intensity > 0) of
// |T_est(p) - T_true(p)| in mm, and the angle of the rotation R_est R_true^T in degrees.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readNifti, toVolume } from "../../../src/nifti/index.js";
import { applyToPoint, gridFor, multiply } from "../../../src/volume/affine.js";
import { resample, resampleToVoxelSize } from "../../../src/volume/resample.js";
import type { Volume } from "../../../src/volume/volume.js";
import { fovCentre } from "../../../src/preprocess/register/pyramid.js";
import { registerRigid } from "../../../src/preprocess/register/register.js";
import { linearPart, rigidMatrix, rotationDistance } from "../../../src/preprocess/register/rigid.js";

const COLIN = "/usr/share/mricron/templates/ch2bet.nii.gz";
const DEG = Math.PI / 180;

/** Fixed: Colin27 at 3 mm. Moving: Colin27 seen through `truth` (fixed world -> moving world) on a 2.5 mm grid. */
function colinPair(truth: (fixed: Volume) => number[]): { fixed: Volume; moving: Volume; truth: number[] } {
  const orig = toVolume(readNifti(COLIN));
  const fixed = resampleToVoxelSize(orig, 3);
  const t = truth(fixed);
  // moving(q) = orig(T^-1 q): resample samples the source at inv(T A_orig) A_grid p.
  const moving = resample({ ...orig, affine: multiply(t, orig.affine) }, gridFor(orig, 2.5));
  return { fixed, moving, truth: t };
}

/** Max displacement error (mm) over the fixed brain voxels and rotation error (deg). */
function errors(fixed: Volume, estimate: readonly number[], truth: readonly number[]): { mm: number; deg: number } {
  let mm = 0;
  const [nx, ny] = fixed.dims;
  fixed.data.forEach((v, q) => {
    if (!(v > 0)) return;
    const p = applyToPoint(fixed.affine, [q % nx, Math.floor(q / nx) % ny, Math.floor(q / (nx * ny))]);
    const a = applyToPoint(estimate, p);
    const b = applyToPoint(truth, p);
    mm = Math.max(mm, Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]));
  });
  return { mm, deg: rotationDistance(linearPart(estimate), linearPart(truth)) / DEG };
}

test("ncc recovers 6 deg about x, 4 deg about z and (5, -7, 8) mm within 0.5 mm and 0.5 deg", () => {
  const { fixed, moving, truth } = colinPair((f) => rigidMatrix({ angles: [6 * DEG, 0, 4 * DEG], translation: [5, -7, 8] }, fovCentre(f)));
  const r = registerRigid(moving, fixed, { metric: "ncc", iterations: [100, 60, 30], maxSamples: 40000 });
  const e = errors(fixed, r.matrix, truth);
  assert.ok(e.mm < 0.5, `max displacement error ${e.mm.toFixed(3)} mm`);
  assert.ok(e.deg < 0.5, `rotation error ${e.deg.toFixed(3)} deg`);
  // The angles come back about the same axes (the centre is the fixed FOV centre in both).
  assert.ok(Math.abs(r.parameters.angles[0] / DEG - 6) < 0.5 && Math.abs(r.parameters.angles[2] / DEG - 4) < 0.5, `angles ${r.parameters.angles.map((a) => (a / DEG).toFixed(2))}`);
  assert.equal(r.levels.length, 3);
  assert.ok(r.levels.every((l, i) => l.iterations >= 10 && l.iterations <= [100, 60, 30][i]!));
  assert.ok(r.levels[2]!.finalCost < -0.98, `final NCC ${-r.levels[2]!.finalCost}`);
  assert.ok(r.overlap.before > 0.8 && r.overlap.after > 0.8, `overlap ${JSON.stringify(r.overlap)}`);
});

test("an aligned pair stays aligned (identity within 0.1 mm), from any initialisation", () => {
  const { fixed, moving, truth } = colinPair(() => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
  for (const init of ["com", "none"] as const) {
    const r = registerRigid(moving, fixed, { init, levels: [2, 1], iterations: [40, 25], maxSamples: 30000 });
    const e = errors(fixed, r.matrix, truth);
    assert.ok(e.mm < 0.1 && e.deg < 0.05, `init ${init}: error ${e.mm.toFixed(3)} mm, ${e.deg.toFixed(3)} deg`);
  }
});
