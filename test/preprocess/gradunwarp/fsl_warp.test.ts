// FSL relative warps (HCP *_gdc_warp convention) <-> world displacement fields, the finite-difference
// Jacobian of a sampled field, and moving a field to another grid.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readGradFile } from "../../../src/preprocess/gradunwarp/grad_file.js";
import { coefficientDisplacement, displacementMagnitude, type DisplacementField } from "../../../src/preprocess/gradunwarp/displacement.js";
import { fieldOnGrid, finiteDifferenceJacobian, fromFslWarp, fslFrame, sameGrid, toFslWarp } from "../../../src/preprocess/gradunwarp/fsl_warp.js";
import { applyToPoint, invert, type Grid, type Vec3 } from "../../../src/volume/affine.js";
import { Random } from "../../../src/util/random.js";
import { fileURLToPath } from "node:url";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../../../test/fixtures/${name}`, import.meta.url));

/** Affine from a 3x3 (row-major) and a translation. */
function affine(m: number[], t: Vec3): number[] {
  return [m[0]!, m[1]!, m[2]!, t[0], m[3]!, m[4]!, m[5]!, t[1], m[6]!, m[7]!, m[8]!, t[2], 0, 0, 0, 1];
}

const RAS: Grid = { dims: [7, 6, 5], affine: affine([2, 0, 0, 0, 2.5, 0, 0, 0, 3], [-6, -6, -6]) };
const LAS: Grid = { dims: [7, 6, 5], affine: affine([-2, 0, 0, 0, 2.5, 0, 0, 0, 3], [6, -6, -6]) };
const c = Math.cos(0.4);
const s = Math.sin(0.4);
/** Rotated about z by 0.4 rad, voxel sizes 1.5, 2, 2.5, det > 0. */
const OBLIQUE: Grid = { dims: [8, 7, 6], affine: affine([1.5 * c, -2 * s, 0, 1.5 * s, 2 * c, 0, 0, 0, 2.5], [3, -4, 5]) };
/** With shear (det > 0). */
const SHEARED: Grid = { dims: [6, 6, 6], affine: affine([2, 0.7, 0, 0, 2, 0, 0.3, 0, 2], [0, 0, 0]) };

function randomField(grid: Grid, seed: number): DisplacementField {
  const r = new Random(seed, "gdc-field");
  const n = grid.dims[0] * grid.dims[1] * grid.dims[2];
  const make = () => Float32Array.from({ length: n }, () => r.uniformRange(-3, 3));
  return { grid, ux: make(), uy: make(), uz: make() };
}

/** FSL's scaled-voxel coordinates of continuous voxel coordinates v (definition, written out). */
function fslMm(grid: Grid, v: Vec3, flip: boolean, sizes: Vec3): Vec3 {
  return [flip ? (grid.dims[0] - 1 - v[0]) * sizes[0] : v[0] * sizes[0], v[1] * sizes[1], v[2] * sizes[2]];
}

test("FSL frame: voxel sizes, and i flipped when the affine's determinant is positive", () => {
  assert.deepEqual(fslFrame(RAS.affine), { sizes: [2, 2.5, 3], flipX: true });
  assert.deepEqual(fslFrame(LAS.affine), { sizes: [2, 2.5, 3], flipX: false });
  const o = fslFrame(OBLIQUE.affine);
  assert.equal(o.flipX, true);
  assertClose(o.sizes, [1.5, 2, 2.5], { atol: 1e-12 });
});

test("toFslWarp is FSL's definition: w(p) = fsl(voxel of p + u(p)) - fsl(voxel of p)", () => {
  for (const grid of [RAS, LAS, OBLIQUE, SHEARED]) {
    const field = randomField(grid, 3);
    const w = toFslWarp(field);
    const n = field.ux.length;
    const { sizes, flipX } = fslFrame(grid.affine);
    const inv = invert(grid.affine);
    for (let o = 0; o < n; o += 5) {
      const v: Vec3 = [o % grid.dims[0], Math.floor(o / grid.dims[0]) % grid.dims[1], Math.floor(o / (grid.dims[0] * grid.dims[1]))];
      const p = applyToPoint(grid.affine, v);
      const moved = applyToPoint(inv, [p[0] + field.ux[o]!, p[1] + field.uy[o]!, p[2] + field.uz[o]!]);
      const a = fslMm(grid, v, flipX, sizes);
      const b = fslMm(grid, moved, flipX, sizes);
      assertClose([w[o]!, w[n + o]!, w[2 * n + o]!], [b[0] - a[0], b[1] - a[1], b[2] - a[2]], { atol: 2e-5, rtol: 1e-5, message: `voxel ${o}` });
    }
  }
});

test("a world displacement to the right (+x) is -x in the warp, for RAS and for LAS storage", () => {
  for (const grid of [RAS, LAS]) {
    const n = 7 * 6 * 5;
    const w = toFslWarp({ grid, ux: new Float32Array(n).fill(1), uy: new Float32Array(n).fill(0.5), uz: new Float32Array(n).fill(-2) });
    assertClose([w[0]!, w[n]!, w[2 * n]!], [-1, 0.5, -2], { atol: 1e-7 });
  }
});

test("round trip world -> warp -> world; |w| = |u| without shear, and not with it", () => {
  for (const grid of [RAS, LAS, OBLIQUE, SHEARED]) {
    const field = randomField(grid, 5);
    const w = toFslWarp(field);
    const back = fromFslWarp(grid, w);
    assertClose(back.ux, field.ux, { atol: 2e-5, rtol: 1e-5 });
    assertClose(back.uy, field.uy, { atol: 2e-5, rtol: 1e-5 });
    assertClose(back.uz, field.uz, { atol: 2e-5, rtol: 1e-5 });
    const n = field.ux.length;
    const wm = Float32Array.from({ length: n }, (_, o) => Math.hypot(w[o]!, w[n + o]!, w[2 * n + o]!));
    if (grid === SHEARED) {
      const diff = Math.max(...Array.from(wm, (v, o) => Math.abs(v - displacementMagnitude(field)[o]!)));
      assert.ok(diff > 0.1, "with shear the warp's magnitude is not |u|");
    } else {
      assertClose(wm, displacementMagnitude(field), { atol: 2e-5, rtol: 1e-5 });
    }
  }
  assertThrowsMatching(() => fromFslWarp(RAS, new Float32Array(7 * 6 * 5 * 2), "w.nii"), /w\.nii: 420 values; a 3-frame warp on \[7, 6, 5\] has 630/);
});

test("finite-difference Jacobian: exact for an affine field (u = B p + t), everywhere incl. the borders", () => {
  const B = [0.05, -0.02, 0.01, 0.03, -0.04, 0.02, -0.01, 0.06, 0.08];
  const t: Vec3 = [1, -2, 0.5];
  for (const grid of [OBLIQUE, SHEARED]) {
    const n = grid.dims[0] * grid.dims[1] * grid.dims[2];
    const ux = new Float32Array(n);
    const uy = new Float32Array(n);
    const uz = new Float32Array(n);
    for (let o = 0; o < n; o++) {
      const p = applyToPoint(grid.affine, [o % grid.dims[0], Math.floor(o / grid.dims[0]) % grid.dims[1], Math.floor(o / (grid.dims[0] * grid.dims[1]))]);
      ux[o] = B[0]! * p[0] + B[1]! * p[1] + B[2]! * p[2] + t[0];
      uy[o] = B[3]! * p[0] + B[4]! * p[1] + B[5]! * p[2] + t[1];
      uz[o] = B[6]! * p[0] + B[7]! * p[1] + B[8]! * p[2] + t[2];
    }
    const det = (1 + B[0]!) * ((1 + B[4]!) * (1 + B[8]!) - B[5]! * B[7]!) - B[1]! * (B[3]! * (1 + B[8]!) - B[5]! * B[6]!) + B[2]! * (B[3]! * B[7]! - (1 + B[4]!) * B[6]!);
    assertClose(finiteDifferenceJacobian({ grid, ux, uy, uz }), new Float32Array(n).fill(det), { atol: 2e-5 });
  }
});

test("finite-difference Jacobian of a coil field on a 1.5 mm grid is within O(h^2) of the analytic one", () => {
  const coeffs = readGradFile(fixture("gdc_multi.grad"));
  const grid: Grid = { dims: [40, 40, 40], affine: affine([1.5, 0, 0, 0, 1.5, 0, 0, 0, 1.5], [-30, -30, -30]) };
  const field = coefficientDisplacement(coeffs, grid, { jacobian: true });
  const fd = finiteDifferenceJacobian(field);
  let interior = 0;
  let border = 0;
  let spread = 0;
  for (let o = 0; o < fd.length; o++) {
    const i = o % 40, j = Math.floor(o / 40) % 40, k = Math.floor(o / 1600);
    const e = Math.abs(fd[o]! - field.jacobian![o]!);
    if (i > 0 && i < 39 && j > 0 && j < 39 && k > 0 && k < 39) interior = Math.max(interior, e);
    else border = Math.max(border, e);
    spread = Math.max(spread, Math.abs(field.jacobian![o]! - 1));
  }
  assert.ok(spread > 0.01, `the field changes volumes (max |det - 1| ${spread})`);
  assert.ok(interior < 2e-5, `central differences: max error ${interior}`);
  assert.ok(border < 1e-3, `one-sided differences on the border: max error ${border}`);
});

test("fieldOnGrid: the same grid keeps the field (adding its Jacobian), another grid resamples it", () => {
  const coeffs = readGradFile(fixture("gdc_multi.grad"));
  const field = coefficientDisplacement(coeffs, OBLIQUE);
  const same = fieldOnGrid(field, { dims: OBLIQUE.dims, affine: OBLIQUE.affine.map((v) => v + 1e-7) }, true);
  assert.equal(same.ux, field.ux);
  assert.ok(same.jacobian !== undefined && same.jacobian.length === field.ux.length);
  assert.ok(sameGrid(OBLIQUE, same.grid));
  // Another grid inside the oblique one: the field is smooth, so trilinear resampling is close to exact.
  const centre = applyToPoint(OBLIQUE.affine, [3.5, 3, 2.5]);
  const inner: Grid = { dims: [5, 5, 4], affine: affine([1, 0, 0, 0, 1, 0, 0, 0, 1], [centre[0] - 2, centre[1] - 2, centre[2] - 1.5]) };
  const moved = fieldOnGrid(field, inner, false);
  const direct = coefficientDisplacement(coeffs, inner);
  assert.equal(moved.jacobian, undefined);
  assertClose(moved.ux, direct.ux, { atol: 2e-3 });
  assertClose(moved.uy, direct.uy, { atol: 2e-3 });
  assertClose(moved.uz, direct.uz, { atol: 2e-3 });
  // Outside the field's FOV: no displacement.
  const far = fieldOnGrid(field, { dims: [2, 2, 2], affine: affine([1, 0, 0, 0, 1, 0, 0, 0, 1], [500, 500, 500]) }, false);
  assert.deepEqual(Array.from(far.ux), new Array(8).fill(0));
});
