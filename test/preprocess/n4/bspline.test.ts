// The B-spline lattice, its least-squares fit and the banded Cholesky solver (src/preprocess/n4/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLattice, evaluateAt, evaluateOnGrid, latticeSpans, refineLattice, type Lattice } from "../../../src/preprocess/n4/bspline_lattice.js";
import { evaluateAtPoints, fitBSpline, pointWeights, SplineSystem, transposeApply } from "../../../src/preprocess/n4/bspline_fit.js";
import { BandedCholesky } from "../../../src/preprocess/n4/banded_cholesky.js";
import { Random } from "../../../src/util/random.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

const DIMS = [23, 19, 15] as const;

function randomLattice(spans: readonly [number, number, number], seed: number): Lattice {
  const l = createLattice(DIMS, spans);
  const r = new Random(seed, "lattice");
  for (let i = 0; i < l.coefficients.length; i++) l.coefficients[i] = r.normal();
  return l;
}

/** Every voxel of DIMS (or those where keep(i, j, k)) as point coordinates. */
function gridPoints(keep: (i: number, j: number, k: number) => boolean = () => true): { x: number[]; y: number[]; z: number[] } {
  const x: number[] = [];
  const y: number[] = [];
  const z: number[] = [];
  for (let k = 0; k < DIMS[2]; k++) for (let j = 0; j < DIMS[1]; j++) for (let i = 0; i < DIMS[0]; i++) if (keep(i, j, k)) (x.push(i), y.push(j), z.push(k));
  return { x, y, z };
}

test("lattice geometry: spans from the spline distance, at least 4 control points per axis", () => {
  assert.deepEqual(latticeSpans([181, 217, 181], [1, 1, 1], 200), [1, 2, 1]);
  assert.deepEqual(latticeSpans([181, 217, 181], [1, 1, 1], 50), [4, 5, 4]);
  assert.deepEqual(latticeSpans([1, 10, 10], [1, 1, 1], 200), [1, 1, 1]);
  const l = createLattice([181, 217, 181], [1, 2, 1]);
  assert.deepEqual(l.size, [4, 5, 4]);
  assert.deepEqual(l.knotSpacing, [180, 108, 180]);
  assertThrowsMatching(() => createLattice(DIMS, [0, 1, 1]), /spans must be positive integers/);
  assertThrowsMatching(() => latticeSpans(DIMS, [1, 1, 1], -5), /spline distance must be a positive number of mm, got -5/);
});

test("evaluateOnGrid (separable) equals evaluateAt, and refinement keeps the function exactly", () => {
  const l = randomLattice([2, 1, 3], 1);
  const g = evaluateOnGrid(l, DIMS);
  for (const [i, j, k] of [[0, 0, 0], [22, 18, 14], [7, 3, 11], [11, 9, 7]] as const) {
    assertClose(g[i + DIMS[0] * (j + DIMS[1] * k)]!, evaluateAt(l, i, j, k), { atol: 1e-12, rtol: 0 });
  }
  const r2 = refineLattice(refineLattice(l));
  assert.deepEqual(r2.spans, [8, 4, 12]);
  assert.deepEqual(r2.size, [11, 7, 15]);
  assertClose(evaluateOnGrid(r2, DIMS), g, { atol: 1e-12, rtol: 0 });
  // Between voxels too.
  assertClose(evaluateAt(r2, 3.3, 17.7, 0.2), evaluateAt(l, 3.3, 17.7, 0.2), { atol: 1e-12, rtol: 0 });
});

test("least squares (smoothing 0) reproduces a field of the spline space; Cholesky and CG agree", () => {
  const truth = randomLattice([2, 2, 1], 2);
  const want = evaluateOnGrid(truth, DIMS);
  // Every other voxel per axis, offset by a fraction of a voxel: scattered, not the evaluation grid.
  const p = gridPoints((i, j, k) => i % 2 === 0 && j % 2 === 0 && k % 2 === 0);
  const xs = p.x.map((x) => x + 0.3);
  const pw = pointWeights(truth, xs, p.y, p.z);
  const values = evaluateAtPoints(pw, truth.coefficients);
  const direct = fitBSpline(pw, values, 0);
  assert.equal(direct.stats.method, "cholesky");
  assert.ok(direct.stats.relativeResidual < 1e-12, `residual ${direct.stats.relativeResidual}`);
  const fitted = createLattice(DIMS, [2, 2, 1]);
  fitted.coefficients.set(direct.coefficients);
  // The outermost control points are weakly determined (badly conditioned), the field is not.
  assertClose(evaluateOnGrid(fitted, DIMS), want, { atol: 1e-4, rtol: 0 });
  const cg = fitBSpline(pw, values, 0, { solver: "cg", tol: 1e-12, maxIterations: 5000 });
  assert.equal(cg.stats.method, "cg");
  assert.ok(cg.stats.relativeResidual <= 1e-12);
  fitted.coefficients.set(cg.coefficients);
  assertClose(evaluateOnGrid(fitted, DIMS), want, { atol: 1e-4, rtol: 0 });
});

test("a cubic polynomial is reproduced by a one-span lattice (the simulator's bias fields are cubic)", () => {
  const f = (x: number, y: number, z: number) => 0.1 + 0.02 * x - 0.001 * x * x * y / 10 + 1e-4 * z * z * z - 0.003 * y * z;
  const l = createLattice(DIMS, [1, 1, 1]);
  const p = gridPoints();
  const pw = pointWeights(l, p.x, p.y, p.z);
  const values = p.x.map((x, q) => f(x, p.y[q]!, p.z[q]!));
  const { coefficients } = fitBSpline(pw, values, 0);
  l.coefficients.set(coefficients);
  for (const [x, y, z] of [[0, 0, 0], [22, 18, 14], [5.5, 9.25, 3.75]] as const) assertClose(evaluateAt(l, x, y, z), f(x, y, z), { atol: 1e-6, rtol: 0 });
});

test("the smoothness penalty continues the field where there are no data (a linear field is kept exactly)", () => {
  const f = (x: number, y: number, z: number) => 0.3 - 0.01 * x + 0.02 * y + 0.005 * z;
  const l = createLattice(DIMS, [4, 4, 4]);
  // Data only in a central ellipsoid: the lattice's corners have no data at all.
  const p = gridPoints((i, j, k) => ((i - 11) / 8) ** 2 + ((j - 9) / 6) ** 2 + ((k - 7) / 5) ** 2 < 1);
  const pw = pointWeights(l, p.x, p.y, p.z);
  const values = p.x.map((x, q) => f(x, p.y[q]!, p.z[q]!));
  const { coefficients } = fitBSpline(pw, values, 100);
  l.coefficients.set(coefficients);
  const g = evaluateOnGrid(l, DIMS);
  const want = new Float64Array(g.length);
  for (let k = 0, v = 0; k < DIMS[2]; k++) for (let j = 0; j < DIMS[1]; j++) for (let i = 0; i < DIMS[0]; i++, v++) want[v] = f(i, j, k);
  assertClose(g, want, { atol: 1e-6, rtol: 0 });
  // Without the penalty the corners are decided by the tiny ridge only: far from the linear field.
  const bare = fitBSpline(pw, values, 0).coefficients;
  l.coefficients.set(bare);
  assert.ok(Math.abs(evaluateAt(l, 0, 0, 0) - f(0, 0, 0)) > 0.05);
});

test("SplineSystem: A^T r and the system agree with the definition; too large a lattice is refused", () => {
  const l = randomLattice([1, 2, 1], 4);
  const p = gridPoints((i, j, k) => (i + j + k) % 3 === 0);
  const pw = pointWeights(l, p.x, p.y, p.z);
  const sys = new SplineSystem(pw, 0);
  // With smoothing 0: M c = A^T A c (+ a 1e-12 relative ridge).
  const ac = evaluateAtPoints(pw, l.coefficients);
  const atac = transposeApply(pw, ac, new Float64Array(sys.n));
  const mc = new Float64Array(sys.n);
  sys.multiply(l.coefficients, mc);
  assertClose(mc, atac, { atol: 1e-6, rtol: 1e-6 });
  assertThrowsMatching(() => transposeApply(pw, [1, 2], new Float64Array(sys.n)), /2 values for \d+ points/);
  const big = createLattice([400, 400, 400], [60, 60, 60]);
  assertThrowsMatching(() => new SplineSystem(pointWeights(big, [], [], []), 1), /63x63x63 = 250047 control points, too many.*--spline-distance/);
});

test("BandedCholesky solves a band system as a dense solve would; a non-definite matrix throws", () => {
  const n = 30;
  const bw = 4;
  const r = new Random(9, "band");
  // A = B B^T + I with B lower-banded (bandwidth 2) has bandwidth 4.
  const B = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (j <= i && i - j <= 2 ? r.normal() : 0)));
  const A = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => B[i]!.reduce((s, b, k) => s + b * B[j]![k]!, 0) + (i === j ? 1 : 0)));
  const band = new Float64Array(n * (bw + 1));
  for (let i = 0; i < n; i++) for (let j = Math.max(0, i - bw); j <= i; j++) band[i * (bw + 1) - i + bw + j] = A[i]![j]!;
  const x = Float64Array.from({ length: n }, () => r.normal());
  const b = A.map((row) => row.reduce((s, a, j) => s + a * x[j]!, 0));
  const solved = new BandedCholesky(n, bw, band).solve(b);
  assertClose(solved, x, { atol: 1e-10, rtol: 0 });
  const bad = new Float64Array(2 * 2);
  bad.set([0, 1, 2, 1]); // [[1, 2], [2, 1]]: indefinite
  assertThrowsMatching(() => new BandedCholesky(2, 1, bad), /not positive definite/);
  assertThrowsMatching(() => new BandedCholesky(3, 1, new Float64Array(5)), /must hold n \* \(bandwidth \+ 1\) = 6 values, got 5/);
});
