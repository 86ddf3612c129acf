// The simulated bias field (bias_field.ts) and gradient-nonlinearity warp (gradwarp_sim.ts): bounds and
// normalisation, evaluation on other grids at the same world points, derivatives against finite
// differences, the pull-back warp against its formula, and conservation of the total signal.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyToPoint, gridFor, multiply, type Grid } from "../../src/volume/affine.js";
import { applyBiasField, biasAt, biasFieldOnGrid, randomBiasField } from "../../src/simulate/bias_field.js";
import { gradwarpAt, gradwarpMaps, randomGradwarpField, warpVolume } from "../../src/simulate/gradwarp.js";
import type { Volume } from "../../src/volume/volume.js";
import { Random } from "../../src/util/random.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { affineFrom, analytic, at, rotation, scaleColumns, world } from "../volume/volumes.js";

/** 24 x 20 x 16 voxels, oblique, anisotropic (1, 1.2, 1.5 mm). */
const HR: Grid = { dims: [24, 20, 16], affine: affineFrom(scaleColumns(rotation(5, 10, -15), [1, 1.2, 1.5]), [-12, -9, 4]) };

/** A grid of L^3 points spanning the FOV box of `g` from face to face (the normalisation lattice for L = 65). */
function faceLattice(g: Grid, l: number): Grid {
  const [nx, ny, nz] = g.dims;
  const s = [nx / (l - 1), ny / (l - 1), nz / (l - 1)];
  const m = affineFrom([s[0]!, 0, 0, 0, s[1]!, 0, 0, 0, s[2]!], [-0.5, -0.5, -0.5]);
  return { dims: [l, l, l], affine: multiply(g.affine, m) };
}

const maxAbs = (d: ArrayLike<number>) => Array.from(d).reduce((m, x) => Math.max(m, Math.abs(x)), 0);

test("bias: strength 0 is exactly 1 everywhere", () => {
  const b = biasFieldOnGrid(randomBiasField(HR, 0, new Random(1, "bias")), HR);
  assert.ok(b.data.every((x) => x === 1));
});

test("bias: b within [exp(-s/2), exp(s/2)], touching a bound on the FOV lattice, with log b of mean 0", () => {
  for (const seed of [1, 2, 3]) {
    const s = 0.6;
    const field = randomBiasField(HR, s, new Random(seed, "bias"));
    const lattice = biasFieldOnGrid(field, faceLattice(HR, 65));
    const logs = Array.from(lattice.data, Math.log);
    assertClose(maxAbs(logs), s / 2, { rtol: 1e-6, atol: 0, message: `seed ${seed}: max |log b| on the lattice` });
    const hr = biasFieldOnGrid(field, HR);
    const hrLogs = Array.from(hr.data, Math.log);
    assert.ok(maxAbs(hrLogs) <= (s / 2) * (1 + 1e-6));
    // No constant term: Legendre products average to 0 over the box (midpoint rule error O(h^2)).
    const mean = hrLogs.reduce((a, x) => a + x, 0) / hrLogs.length;
    assert.ok(Math.abs(mean) < 0.02 * (s / 2), `seed ${seed}: mean log b ${mean}`);
    // A grid reaching beyond the FOV still stays within the bounds (f is clamped).
    const wide = biasFieldOnGrid(field, { dims: [40, 36, 30], affine: multiply(HR.affine, affineFrom([1, 0, 0, 0, 1, 0, 0, 0, 1], [-8, -8, -7])) });
    assert.ok(maxAbs(Array.from(wide.data, Math.log)) <= (s / 2) * (1 + 1e-6));
  }
});

test("bias: smooth (second differences within the bound of a cubic) and the same at the same world points on any grid", () => {
  const s = 0.5;
  const field = randomBiasField(HR, s, new Random(7, "bias"));
  const b = biasFieldOnGrid(field, HR);
  // |f''| <= 24 on [-1, 1] for a cubic with |f| <= 1 (Markov); one voxel is 2/n in normalised units.
  let worst = 0;
  for (let k = 0; k < 16; k++) {
    for (let j = 0; j < 20; j++) {
      for (let i = 1; i < 23; i++) {
        const d2 = Math.log(at(b, i + 1, j, k)) - 2 * Math.log(at(b, i, j, k)) + Math.log(at(b, i - 1, j, k));
        worst = Math.max(worst, Math.abs(d2) / ((s / 2) * 24 * (2 / 24) ** 2));
      }
    }
  }
  assert.ok(worst <= 1, `second difference / bound = ${worst}`);
  // A coarser grid (gridFor keeps the FOV centre) and single points agree with the HR grid's values.
  const lr = gridFor({ data: new Float32Array(24 * 20 * 16), dims: HR.dims, affine: HR.affine }, 2.5);
  const onLr = biasFieldOnGrid(field, lr);
  for (const [i, j, k] of [[0, 0, 0], [4, 3, 2], [9, 7, 5], [3, 8, 1]] as const) {
    assertClose(at(onLr, i, j, k), biasAt(field, world(lr.affine, i, j, k)), { rtol: 1e-6 });
  }
  for (const [i, j, k] of [[0, 0, 0], [23, 19, 15], [11, 5, 9]] as const) {
    assertClose(at(b, i, j, k), biasAt(field, world(HR.affine, i, j, k)), { rtol: 1e-6 });
  }
  // A shifted sub-grid whose voxels coincide with HR voxels.
  const sub = { dims: [10, 8, 6] as const, affine: multiply(HR.affine, affineFrom([1, 0, 0, 0, 1, 0, 0, 0, 1], [5, 3, 2])) };
  const onSub = biasFieldOnGrid(field, sub);
  for (let k = 0; k < 6; k++) for (let j = 0; j < 8; j++) for (let i = 0; i < 10; i++) assertClose(at(onSub, i, j, k), at(b, i + 5, j + 3, k + 2), { rtol: 2e-7 });
});

test("bias: seeded; applyBiasField multiplies", () => {
  const a = randomBiasField(HR, 0.3, new Random(3, "bias"));
  assert.deepEqual(a.coefficients, randomBiasField(HR, 0.3, new Random(3, "bias")).coefficients);
  assert.notDeepEqual(a.coefficients, randomBiasField(HR, 0.3, new Random(4, "bias")).coefficients);
  const v = analytic(HR.dims, HR.affine, (x, y, z) => 50 + x - y + 0.5 * z);
  const out = applyBiasField(v, a);
  const b = biasFieldOnGrid(a, HR);
  assertClose(out.data, Float32Array.from(v.data, (x, q) => x * b.data[q]!), { rtol: 1e-6 });
  assertThrowsMatching(() => randomBiasField(HR, -1, new Random(1)), /strength must be a finite number >= 0, got -1/);
});

test("gradwarp: 0 mm is no displacement, unit Jacobian, and an unchanged image", () => {
  const field = randomGradwarpField(HR, 0, new Random(1, "gradwarp"));
  const maps = gradwarpMaps(field, HR);
  assert.ok(maps.magnitude.data.every((x) => x === 0));
  assert.ok(maps.jacobian.data.every((x) => x === 1));
  for (const d of maps.displacement) assert.ok(d.data.every((x) => x === 0));
  const v = analytic(HR.dims, HR.affine, (x) => x);
  assert.deepEqual(warpVolume(v, field).data, v.data);
});

test("gradwarp: max |u| on the FOV lattice equals the request; u and grad u vanish at the FOV centre", () => {
  for (const [seed, mm] of [[1, 1.5], [2, 0.4], [3, 3]] as const) {
    const field = randomGradwarpField(HR, mm, new Random(seed, "gradwarp"));
    assertClose(maxAbs(gradwarpMaps(field, faceLattice(HR, 65)).magnitude.data), mm, { rtol: 1e-6, atol: 0 });
    const onHr = maxAbs(gradwarpMaps(field, HR).magnitude.data);
    assert.ok(onHr <= mm * (1 + 1e-6) && onHr > 0.7 * mm, `max |u| on the voxel centres ${onHr} for ${mm}`);
    const centre = applyToPoint(HR.affine, [11.5, 9.5, 7.5]);
    const c = gradwarpAt(field, centre);
    assertClose(c.u, [0, 0, 0], { atol: 1e-12 });
    assertClose(c.jacobian, 1, { atol: 1e-12 });
    // It grows away from the centre: half-way out it is at most a quarter of the way (degree >= 2).
    const half = gradwarpAt(field, applyToPoint(HR.affine, [11.5 + 6, 9.5 + 5, 7.5 + 4]));
    const full = gradwarpAt(field, applyToPoint(HR.affine, [23.5, 19.5, 15.5]));
    assert.ok(Math.hypot(...half.u) < Math.hypot(...full.u));
  }
});

test("gradwarp: the maps match point evaluation, and the Jacobian matches finite differences of u", () => {
  const field = randomGradwarpField(HR, 2, new Random(5, "gradwarp"));
  const maps = gradwarpMaps(field, HR);
  for (const [i, j, k] of [[0, 0, 0], [23, 19, 15], [7, 13, 4], [20, 2, 11]] as const) {
    const p = gradwarpAt(field, world(HR.affine, i, j, k));
    assertClose(maps.displacement.map((d) => at(d, i, j, k)), p.u, { atol: 1e-6, rtol: 1e-6 });
    assertClose(at(maps.magnitude, i, j, k), Math.hypot(...p.u), { atol: 1e-6, rtol: 1e-6 });
    assertClose(at(maps.jacobian, i, j, k), p.jacobian, { atol: 1e-6, rtol: 1e-6 });
  }
  // Central differences in world space (step 1e-3 mm) at a few points.
  const h = 1e-3;
  for (const p of [[0, 0, 0], [-10, 5, 12], [6, -14, -3]] as const) {
    const jm = [0, 1, 2].map((e) => {
      const plus = [...p] as [number, number, number];
      const minus = [...p] as [number, number, number];
      plus[e]! += h;
      minus[e]! -= h;
      const a = gradwarpAt(field, plus).u;
      const b = gradwarpAt(field, minus).u;
      return [0, 1, 2].map((d) => (a[d]! - b[d]!) / (2 * h));
    });
    // jm[e][d] = du_d / dx_e; J = I + grad u with rows d.
    const J = [0, 1, 2].map((d) => [0, 1, 2].map((e) => (d === e ? 1 : 0) + jm[e]![d]!));
    const det =
      J[0]![0]! * (J[1]![1]! * J[2]![2]! - J[1]![2]! * J[2]![1]!) -
      J[0]![1]! * (J[1]![0]! * J[2]![2]! - J[1]![2]! * J[2]![0]!) +
      J[0]![2]! * (J[1]![0]! * J[2]![1]! - J[1]![1]! * J[2]![0]!);
    assertClose(gradwarpAt(field, p).jacobian, det, { atol: 1e-7 });
  }
});

test("gradwarp: the warped image is I(x + u(x)) * det(I + grad u(x)) at interior voxels", () => {
  const field = randomGradwarpField(HR, 2.5, new Random(9, "gradwarp"));
  const f = (p: readonly [number, number, number]) => 50 + 10 * Math.sin(p[0] / 5) * Math.cos(p[1] / 6) + p[2] / 3;
  const w = warpVolume(analytic(HR.dims, HR.affine, (x, y, z) => f([x, y, z])), field);
  let worst = 0;
  let withoutJacobian = 0;
  let withoutDisplacement = 0;
  // Four voxels from the faces, where cubic B-splines of this smooth image are accurate to ~1e-3.
  for (let k = 4; k < 12; k++) {
    for (let j = 4; j < 16; j++) {
      for (let i = 4; i < 20; i++) {
        const p = world(HR.affine, i, j, k);
        const g = gradwarpAt(field, p);
        const q: [number, number, number] = [p[0] + g.u[0], p[1] + g.u[1], p[2] + g.u[2]];
        const got = at(w, i, j, k);
        worst = Math.max(worst, Math.abs(got - f(q) * g.jacobian));
        withoutJacobian = Math.max(withoutJacobian, Math.abs(got - f(q)));
        withoutDisplacement = Math.max(withoutDisplacement, Math.abs(got - f(p) * g.jacobian));
      }
    }
  }
  assert.ok(worst < 0.02, `largest error against the formula: ${worst}`);
  // Both parts of the formula matter here by far more than that tolerance.
  assert.ok(withoutJacobian > 1 && withoutDisplacement > 0.1, `${withoutJacobian} ${withoutDisplacement}`);
});

test("gradwarp: the Jacobian factor conserves the total signal of an object inside the FOV", () => {
  const field = randomGradwarpField(HR, 2.5, new Random(9, "gradwarp"));
  const jacobian = gradwarpMaps(field, HR).jacobian.data;
  const sum = (d: Float32Array) => d.reduce((a, x) => a + x, 0);
  for (const centre of [[16, 13, 10], [6, 5, 4]] as const) {
    // A Gaussian blob (sd 2 mm) at least 3.5 sd from every face, in a region where det differs from 1.
    const c = applyToPoint(HR.affine, centre);
    const v = analytic(HR.dims, HR.affine, (x, y, z) => 100 * Math.exp(-((x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2) / 8));
    const w = warpVolume(v, field);
    assertClose(sum(w.data), sum(v.data), { rtol: 3e-3, atol: 0, message: `blob at ${centre.join(",")}` });
    // Without the factor the total would be off by about 1-2 %.
    const plain = Float32Array.from(w.data, (x, q) => x / jacobian[q]!);
    assert.ok(Math.abs(sum(plain) / sum(v.data) - 1) > 8e-3);
  }
});

test("gradwarp: a field that would fold the FOV is rejected; bad values too", () => {
  assertThrowsMatching(() => randomGradwarpField(HR, 40, new Random(1, "gradwarp")), /folds this/, /use a smaller value/);
  assertThrowsMatching(() => randomGradwarpField(HR, -1, new Random(1)), /maxDisplacement must be a finite number of mm >= 0, got -1/);
  assertThrowsMatching(() => randomGradwarpField(HR, Number.NaN, new Random(1)), /got NaN/);
});
