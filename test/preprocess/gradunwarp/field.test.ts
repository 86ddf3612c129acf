// The displacement field of .grad coefficients: against scipy in gradunwarp's convention, against closed
// forms of single terms derived by hand, its gradient, and the grid evaluator (Chebyshev rows) against
// the point evaluator.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseGradFile, readGradFile } from "../../../src/preprocess/gradunwarp/grad_file.js";
import { SiemensField, siemensNorm } from "../../../src/preprocess/gradunwarp/siemens_field.js";
import { coefficientDisplacement, coefficientDisplacementAt, displacementMagnitude } from "../../../src/preprocess/gradunwarp/displacement.js";
import { applyToPoint, type Vec3 } from "../../../src/volume/affine.js";
import { assertClose } from "../../helpers.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../../../test/fixtures/${name}`, import.meta.url));

/** A .grad text with R0 (m) and coefficient lines. */
function grad(r0m: number, lines: string[]): string {
  return [`#*] END:`, ` ${r0m.toFixed(6)} m = R0`, ...lines.map((l, i) => `  ${i + 1} ${l}`)].join("\n");
}

/** An oblique grid (rotated about an oblique axis, anisotropic voxels) of dims `dims` centred near `c`. */
function obliqueGrid(dims: [number, number, number], c: Vec3): { dims: [number, number, number]; affine: number[] } {
  const [ax, ay, az] = [0.3, -0.2, 0.5];
  const cx = Math.cos(ax), sx = Math.sin(ax), cy = Math.cos(ay), sy = Math.sin(ay), cz = Math.cos(az), sz = Math.sin(az);
  // R = Rz Ry Rx
  const R = [
    cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
    sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
    -sy, cy * sx, cy * cx,
  ];
  const s = [2.5, 3, 3.5];
  const a = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  for (let r = 0; r < 3; r++) for (let col = 0; col < 3; col++) a[4 * r + col] = R[3 * r + col]! * s[col]!;
  for (let r = 0; r < 3; r++) {
    let t = c[r]!;
    for (let col = 0; col < 3; col++) t -= a[4 * r + col]! * ((dims[col]! - 1) / 2);
    a[4 * r + 3] = t;
  }
  return { dims, affine: a };
}

test("matches gradunwarp's formula evaluated with scipy (lpmv, Siemens normalisation) at 12 points", () => {
  const c = readGradFile(fixture("gdc_multi.grad"));
  const golden = JSON.parse(readFileSync(fixture("gdc_golden.json"), "utf8")) as { points: number[][]; displacement: number[][] };
  const f = new SiemensField(c);
  const d = new Float64Array(3);
  golden.points.forEach((p, i) => {
    f.evaluate(p[0]!, p[1]!, p[2]!, d, null);
    assertClose(d, golden.displacement[i]!, { atol: 1e-12, rtol: 1e-10, message: `point ${i}` });
  });
});

test("Siemens normalisation: N_nm = sqrt((2n + 1)(n - m)! / (2 (n + m)!)), N_n0 = 1", () => {
  assert.equal(siemensNorm(5, 0), 1);
  assertClose(siemensNorm(1, 1), Math.sqrt(3 / 4), { atol: 0, rtol: 1e-15 });
  assertClose(siemensNorm(3, 1), Math.sqrt(7 / 24), { atol: 0, rtol: 1e-15 });
  assertClose(siemensNorm(3, 3), Math.sqrt(7 / 1440), { atol: 0, rtol: 1e-15 });
});

// Closed form of the single z term A(3, 0) = a (test/fixtures/gdc_z3.grad: a = -0.8, R0 = 100 mm).
// r^3 P_3(cos theta) = (5 z^3 - 3 z r^2) / 2 = z^3 - 1.5 z (x^2 + y^2), so in the gradient (LAI) frame
//   d_z = R0 a (r / R0)^3 P_3 = a (z_g^3 - 1.5 z_g (x_g^2 + y_g^2)) / R0^2,  d_x = d_y = 0.
// With z_g = -(z - cz), x_g = -(x - cx), y_g = y - cy (RAS world, isocentre c) and u_z = -d_z (the term is
// odd in z_g) the world field is
//   u = (0, 0, a (z'^3 - 1.5 z' (x'^2 + y'^2)) / R0^2),  p' = p - c,
// with det(I + du/dp) = 1 + du_z/dz = 1 + a (3 z'^2 - 1.5 (x'^2 + y'^2)) / R0^2.
const A = -0.8;
const R0 = 100;
function z3(p: Vec3, c: Vec3): { u: Vec3; det: number } {
  const [x, y, z] = [p[0] - c[0], p[1] - c[1], p[2] - c[2]];
  return { u: [0, 0, (A * (z ** 3 - 1.5 * z * (x * x + y * y))) / R0 ** 2], det: 1 + (A * (3 * z * z - 1.5 * (x * x + y * y))) / R0 ** 2 };
}

test("single z term A(3,0): u and det(I + du/dp) equal the closed form at every voxel of an oblique grid", () => {
  const coeffs = readGradFile(fixture("gdc_z3.grad"));
  for (const iso of [[0, 0, 0], [4, -7, 12]] as Vec3[]) {
    const grid = obliqueGrid([31, 26, 21], [5, -3, 8]);
    const f = coefficientDisplacement(coeffs, grid, { isocenter: iso, jacobian: true });
    let maxU = 0;
    for (let k = 0, o = 0; k < 21; k++) {
      for (let j = 0; j < 26; j++) {
        for (let i = 0; i < 31; i++, o++) {
          const e = z3(applyToPoint(grid.affine, [i, j, k]), iso);
          assertClose([f.ux[o]!, f.uy[o]!, f.uz[o]!], e.u, { atol: 2e-6, rtol: 1e-6, message: `u at ${i},${j},${k}` });
          assertClose(f.jacobian![o]!, e.det, { atol: 2e-6, rtol: 1e-6, message: `det at ${i},${j},${k}` });
          maxU = Math.max(maxU, Math.abs(e.u[2]));
        }
      }
    }
    assert.ok(maxU > 1, `the test field is not trivial (max |u_z| ${maxU} mm)`);
  }
});

test("even and m > 0 terms: the LAI frame flips and the cos/sin convention, by hand", () => {
  // A(2,0) z = a: d_z = a R0 (r/R0)^2 P_2 = a (z_g^2 - 0.5 (x_g^2 + y_g^2)) / R0, even in the position,
  // so the world u_z = -d_z shows the z flip of RAS -> LAI.
  // A(3,1) x = a: N_31 r^3 Pbar_3^1 cos(phi) = sqrt(7/24) * 1.5 (4 z^2 - x^2 - y^2) x, so
  // d_x = a sqrt(7/24) 1.5 (4 z_g^2 - x_g^2 - y_g^2) x_g / R0^2 and u_x = -d_x (x_g = -x: odd, so u_x has the
  // same formula in world coordinates).
  // B(2,1) y = a: N_21 r^2 Pbar_2^1 sin(phi) = sqrt(5/12) * 3 z y, d_y = a sqrt(5/12) 3 z_g y_g / R0 and, with
  // z_g = -z, u_y = d_y = -a sqrt(5/12) 3 z y / R0.
  const a = 0.05;
  const c = parseGradFile(grad(0.2, [`A( 2, 0) ${a} z`, `A( 3, 1) ${a} x`, `B( 2, 1) ${a} y`]), "t.grad");
  const f = new SiemensField(c);
  const r0 = 200;
  for (const p of [[10, 20, 30], [-40, 15, -60], [75, -80, 5]] as Vec3[]) {
    const [x, y, z] = p;
    const got = coefficientDisplacementAt(f, p).u;
    const ux = (a * Math.sqrt(7 / 24) * 1.5 * (4 * z * z - x * x - y * y) * x) / r0 ** 2;
    const uy = (-a * Math.sqrt(5 / 12) * 3 * z * y) / r0;
    const uz = (-a * (z * z - 0.5 * (x * x + y * y))) / r0;
    assertClose(got, [ux, uy, uz], { atol: 1e-12, rtol: 1e-10, message: `at ${p.join(",")}` });
  }
});

test("the analytic gradient du/dp agrees with central differences of u", () => {
  const c = readGradFile(fixture("gdc_multi.grad"));
  const f = new SiemensField(c);
  const h = 1e-3;
  for (const p of [[12, -35, 48], [-80, 60, -20], [0, 0, 0], [0, 0, 70]] as Vec3[]) {
    const at = coefficientDisplacementAt(f, p, [1, 2, 3]);
    for (let b = 0; b < 3; b++) {
      const plus = [...p] as [number, number, number];
      const minus = [...p] as [number, number, number];
      plus[b] = p[b]! + h;
      minus[b] = p[b]! - h;
      const up = coefficientDisplacementAt(f, plus, [1, 2, 3]).u;
      const um = coefficientDisplacementAt(f, minus, [1, 2, 3]).u;
      for (let a = 0; a < 3; a++) assertClose(at.gradient[3 * a + b]!, (up[a]! - um[a]!) / (2 * h), { atol: 1e-9, rtol: 1e-6, message: `du_${a}/dp_${b} at ${p.join(",")}` });
    }
    const g = at.gradient;
    const det = (1 + g[0]!) * ((1 + g[4]!) * (1 + g[8]!) - g[5]! * g[7]!) - g[1]! * (g[3]! * (1 + g[8]!) - g[5]! * g[6]!) + g[2]! * (g[3]! * g[7]! - (1 + g[4]!) * g[6]!);
    assertClose(at.jacobian, det, { atol: 1e-14, rtol: 1e-12 });
  }
});

test("grid evaluation (Chebyshev rows) equals the point evaluator, for long and for short rows", () => {
  const c = readGradFile(fixture("gdc_multi.grad"));
  const f = new SiemensField(c);
  const iso: Vec3 = [3, -4, 6];
  for (const dims of [[57, 9, 7], [4, 9, 7]] as [number, number, number][]) {
    const grid = obliqueGrid(dims, [20, -10, 30]);
    const field = coefficientDisplacement(c, grid, { isocenter: iso, jacobian: true });
    const g = displacementMagnitude(field);
    for (let o = 0; o < g.length; o++) {
      const i = o % dims[0];
      const j = Math.floor(o / dims[0]) % dims[1];
      const k = Math.floor(o / (dims[0] * dims[1]));
      const e = coefficientDisplacementAt(f, applyToPoint(grid.affine, [i, j, k]), iso);
      assertClose([field.ux[o]!, field.uy[o]!, field.uz[o]!], e.u, { atol: 1e-6, rtol: 1e-6, message: `u at ${i},${j},${k} of ${dims.join("x")}` });
      assertClose(field.jacobian![o]!, e.jacobian, { atol: 1e-6, rtol: 1e-6 });
      assertClose(g[o]!, Math.hypot(...e.u), { atol: 1e-6, rtol: 1e-6 });
    }
  }
  // Without jacobian: no Jacobian array.
  assert.equal(coefficientDisplacement(c, obliqueGrid([5, 5, 5], [0, 0, 0])).jacobian, undefined);
});

test("an isocentre shift moves the field with it; bad isocentres are rejected", () => {
  const c = readGradFile(fixture("gdc_multi.grad"));
  const f = new SiemensField(c);
  const a = coefficientDisplacementAt(f, [30, 40, 50], [10, 20, 30]).u;
  const b = coefficientDisplacementAt(f, [20, 20, 20]).u;
  assertClose(a, b, { atol: 1e-14, rtol: 1e-12 });
  assert.throws(() => coefficientDisplacement(c, obliqueGrid([3, 3, 3], [0, 0, 0]), { isocenter: [0, Number.NaN, 0] }), /isocenter must be 3 finite numbers/);
});
