// Unwarping: the direction of the sampling, a round trip through an analytically distorted phantom, and
// conservation of the total intensity by the Jacobian factor.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseGradFile } from "../../../src/preprocess/gradunwarp/grad_file.js";
import { SiemensField } from "../../../src/preprocess/gradunwarp/siemens_field.js";
import { coefficientDisplacement, coefficientDisplacementAt } from "../../../src/preprocess/gradunwarp/displacement.js";
import { unwarpVolume } from "../../../src/preprocess/gradunwarp/unwarp.js";
import { applyToPoint, type Vec3 } from "../../../src/volume/affine.js";
import type { Volume } from "../../../src/volume/volume.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

function grad(r0m: number, lines: string[]): string {
  return [`#*] END:`, ` ${r0m.toFixed(6)} m = R0`, ...lines.map((l, i) => `  ${i + 1} ${l}`)].join("\n");
}

/** n^3 voxels of `s` mm, centred on the world origin (RAS). */
function cube(n: number, s: number): { dims: [number, number, number]; affine: number[] } {
  const o = (-(n - 1) / 2) * s;
  return { dims: [n, n, n], affine: [s, 0, 0, o, 0, s, 0, o, 0, 0, s, o, 0, 0, 0, 1] };
}

test("direction: a constant field (n = 0 terms) samples the input at p + u(p)", () => {
  // A(0,0) per axis: d = R0 * a in the gradient frame, so u = (-R0 ax, R0 ay, -R0 az) in RAS.
  const c = parseGradFile(grad(0.1, ["A( 0, 0) 0.015 x", "A( 0, 0) -0.02 y", "A( 0, 0) 0.01 z"]), "t.grad");
  const grid = cube(12, 2);
  const field = coefficientDisplacement(c, grid, { jacobian: true });
  assertClose([field.ux[0]!, field.uy[0]!, field.uz[0]!], [-1.5, -2, -1], { atol: 1e-6 });
  assertClose(field.jacobian!, new Float32Array(12 ** 3).fill(1), { atol: 1e-7 });
  // Input: a linear function of the world position; trilinear sampling reproduces it exactly inside.
  const lin = (p: Vec3) => 3 * p[0] - 2 * p[1] + p[2] + 100;
  const data = new Float32Array(12 ** 3);
  for (let o = 0; o < data.length; o++) data[o] = lin(applyToPoint(grid.affine, [o % 12, Math.floor(o / 12) % 12, Math.floor(o / 144)]));
  const out = unwarpVolume({ data, ...grid }, field, { interpolation: "trilinear" }).image.data;
  for (let k = 2; k < 10; k++) {
    for (let j = 2; j < 10; j++) {
      for (let i = 2; i < 10; i++) {
        const p = applyToPoint(grid.affine, [i, j, k]);
        assertClose(out[i + 12 * (j + 12 * k)]!, lin([p[0] - 1.5, p[1] - 2, p[2] - 1]), { atol: 2e-4, message: `voxel ${i},${j},${k}` });
      }
    }
  }
});

// A strong field (R0 = 70 mm, odd and even terms): compression along z, shear off the axes.
const COIL = parseGradFile(
  grad(0.07, ["A( 3, 0) -0.30 z", "A( 2, 0) 0.04 z", "A( 3, 1) -0.25 x", "B( 3, 1) -0.25 y", "A( 3, 3) 0.05 x", "B( 2, 1) 0.03 y"]),
  "coil.grad",
);
const FIELD = new SiemensField(COIL);
const GRID = cube(40, 2.2);

/** The object: two smooth blobs well inside the FOV, off-centre along z where the field is strong. */
function object(p: Vec3): number {
  const g = (c: Vec3, s: number, a: number) => a * Math.exp(-((p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2 + (p[2] - c[2]) ** 2) / (2 * s * s));
  return g([3, -2, 16], 7, 100) + g([-6, 5, -18], 5, 60);
}

/**
 * The acquired image of the object: at x it shows the object at D^-1(x) (D(p) = p + u(p)) divided by
 * det(I + du/dp) there (the signal of dp is spread over det dp). D^-1 by Newton's method.
 */
function distort(): Volume {
  const [n] = GRID.dims;
  const data = new Float32Array(n ** 3);
  for (let o = 0; o < data.length; o++) {
    const x = applyToPoint(GRID.affine, [o % n, Math.floor(o / n) % n, Math.floor(o / (n * n))]);
    const p: [number, number, number] = [x[0], x[1], x[2]];
    let at = coefficientDisplacementAt(FIELD, p);
    for (let it = 0; it < 8; it++) {
      const r = [p[0] + at.u[0] - x[0], p[1] + at.u[1] - x[1], p[2] + at.u[2] - x[2]];
      const g = at.gradient;
      const m = [1 + g[0]!, g[1]!, g[2]!, g[3]!, 1 + g[4]!, g[5]!, g[6]!, g[7]!, 1 + g[8]!];
      const det = at.jacobian;
      // Cramer's rule for m * delta = r.
      const col = (c: number, v: number[]) => m.map((e, q) => (q % 3 === c ? v[Math.floor(q / 3)]! : e));
      const det3 = (a: number[]) => a[0]! * (a[4]! * a[8]! - a[5]! * a[7]!) - a[1]! * (a[3]! * a[8]! - a[5]! * a[6]!) + a[2]! * (a[3]! * a[7]! - a[4]! * a[6]!);
      for (let c = 0; c < 3; c++) p[c] = p[c]! - det3(col(c, r)) / det;
      at = coefficientDisplacementAt(FIELD, p);
    }
    const resid = Math.hypot(p[0] + at.u[0] - x[0], p[1] + at.u[1] - x[1], p[2] + at.u[2] - x[2]);
    assert.ok(resid < 1e-9, `Newton did not converge at voxel ${o} (${resid})`);
    data[o] = object(p) / at.jacobian;
  }
  return { data, ...GRID };
}

const ACQUIRED = distort();
const TRUTH = (() => {
  const [n] = GRID.dims;
  const data = new Float32Array(n ** 3);
  for (let o = 0; o < data.length; o++) data[o] = object(applyToPoint(GRID.affine, [o % n, Math.floor(o / n) % n, Math.floor(o / (n * n))]));
  return data;
})();

function maxError(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);

test("round trip: unwarping the analytically distorted phantom recovers it (B-spline and trilinear)", () => {
  const field = coefficientDisplacement(COIL, GRID, { jacobian: true });
  let maxU = 0;
  let minDet = Infinity;
  for (let o = 0; o < field.ux.length; o++) {
    maxU = Math.max(maxU, Math.hypot(field.ux[o]!, field.uy[o]!, field.uz[o]!));
    minDet = Math.min(minDet, field.jacobian![o]!);
  }
  assert.ok(maxU > 4 && minDet < 0.85 && minDet > 0.2, `a strong but non-folding test field (max |u| ${maxU} mm, min det ${minDet})`);
  const before = maxError(ACQUIRED.data, TRUTH);
  assert.ok(before > 15, `the distortion changes the image (max error ${before} of 100)`);
  const spline = unwarpVolume(ACQUIRED, field);
  assert.equal(spline.folded, 0);
  const errSpline = maxError(spline.image.data, TRUTH);
  assert.ok(errSpline < 0.1, `B-spline round trip max error ${errSpline} (peak 100)`);
  const tri = unwarpVolume(ACQUIRED, field, { interpolation: "trilinear" });
  const errTri = maxError(tri.image.data, TRUTH);
  assert.ok(errTri < 2.5, `trilinear round trip max error ${errTri} (peak 100)`);
  assert.ok(errSpline < errTri, "B-spline is the more accurate");
  // Sampling in the wrong direction (p - u) does not recover the object.
  const reversed = { ...field, ux: field.ux.map((v) => -v), uy: field.uy.map((v) => -v), uz: field.uz.map((v) => -v) };
  assert.ok(maxError(unwarpVolume(ACQUIRED, reversed).image.data, TRUTH) > 10 * errSpline);
});

test("the Jacobian factor conserves the total intensity; without it the total is off", () => {
  const field = coefficientDisplacement(COIL, GRID, { jacobian: true });
  const truth = sum(TRUTH);
  const acquired = sum(ACQUIRED.data);
  // The acquired image already conserves it (it is the same signal, redistributed).
  assertClose(acquired, truth, { atol: 0, rtol: 2e-4 });
  const withJac = sum(unwarpVolume(ACQUIRED, field).image.data);
  assertClose(withJac, truth, { atol: 0, rtol: 2e-4 });
  const without = sum(unwarpVolume(ACQUIRED, field, { jacobian: false }).image.data);
  assert.ok(Math.abs(without - truth) / truth > 0.1, `no-Jacobian total ${without} vs ${truth}`);
});

test("bad inputs: field on another grid, missing Jacobian, unknown interpolation", () => {
  const field = coefficientDisplacement(COIL, cube(6, 2), {});
  const vol: Volume = { data: new Float32Array(216), ...cube(6, 2) };
  assertThrowsMatching(() => unwarpVolume({ data: new Float32Array(343), ...cube(7, 2) }, field), /field's grid \[6, 6, 6\] is not the volume's grid \[7, 7, 7\]/);
  assertThrowsMatching(() => unwarpVolume(vol, field), /the field has no Jacobian/);
  assert.equal(unwarpVolume(vol, field, { jacobian: false }).image.data.length, 216);
  assertThrowsMatching(() => unwarpVolume(vol, field, { jacobian: false, interpolation: "cubic" as never }), /interpolation must be "bspline" or "trilinear"/);
});
