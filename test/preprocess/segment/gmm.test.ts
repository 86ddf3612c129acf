// Multi-level Otsu, k-means, the polynomial bias fit, EM with a bias field, and ICM on synthetic data
// whose answers are known.
import { test } from "node:test";
import assert from "node:assert/strict";
import { multiOtsu } from "../../../src/volume/otsu.js";
import { fitGmmWithBias, kmeans1d } from "../../../src/preprocess/segment/gmm.js";
import { basisAt, designMatrix, evalPoly, fitPoly, polyBasis, solveWeighted } from "../../../src/preprocess/segment/bias_poly.js";
import { icmPotts } from "../../../src/preprocess/segment/mrf.js";
import { normalCdf, PreparedMixture } from "../../../src/preprocess/segment/mixture.js";
import { Random } from "../../../src/util/random.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

/** n values from each of the given (mean, sd) clusters. */
function clusters(spec: readonly (readonly [number, number, number])[], seed: number): Float64Array {
  const r = new Random(seed, "segment-gmm");
  const out: number[] = [];
  for (const [mean, sd, n] of spec) for (let i = 0; i < n; i++) out.push(r.normal(mean, sd));
  return Float64Array.from(out);
}

test("multiOtsu splits well-separated clusters between them and reports their means", () => {
  const x = clusters([[20, 2, 3000], [60, 3, 5000], [100, 2, 4000]], 1);
  const r = multiOtsu(x, 3);
  // any cut in the empty gaps is optimal: each threshold lies between the clusters it separates
  const top = (a: number, b: number) => Math.max(...x.subarray(a, b));
  const bottom = (a: number, b: number) => Math.min(...x.subarray(a, b));
  assert.ok(r.thresholds[0]! > top(0, 3000) && r.thresholds[0]! <= bottom(3000, 8000), `t0 ${r.thresholds[0]}`);
  assert.ok(r.thresholds[1]! > top(3000, 8000) && r.thresholds[1]! <= bottom(8000, 12000), `t1 ${r.thresholds[1]}`);
  assertClose(r.means, [20, 60, 100], { atol: 0.3, rtol: 0 });
  assert.deepEqual(r.counts, [3000, 5000, 4000]);
  // 2 classes: Otsu's threshold between the two groups of a two-level sample
  const two = multiOtsu([1, 1, 1, 9, 9], 2, { bins: 16 });
  assert.ok(two.thresholds[0]! > 1 && two.thresholds[0]! <= 9);
  assert.deepEqual(two.counts, [3, 2]);
  // select restricts the sample
  const sel = multiOtsu([0, 0, 5, 5, 100], 2, { select: (i) => i < 4 });
  assert.deepEqual(sel.means, [0, 5]);
  assertThrowsMatching(() => multiOtsu([3, 3, 3], 2), /all 3 values equal 3/);
  assertThrowsMatching(() => multiOtsu([1, 2], 3), /only 2 distinct intensity levels; cannot split them into 3 classes/);
  assertThrowsMatching(() => multiOtsu([1, NaN], 2), /value 1 is NaN/);
  assertThrowsMatching(() => multiOtsu([], 2), /no values/);
});

test("kmeans1d converges to the cluster means and refuses too few levels", () => {
  const x = clusters([[20, 2, 3000], [60, 3, 5000], [100, 2, 4000]], 2);
  const r = kmeans1d(x, [10, 50, 90]);
  assertClose(r.centres, [20, 60, 100], { atol: 0.3, rtol: 0 });
  assert.deepEqual(r.counts, [3000, 5000, 4000]);
  assertThrowsMatching(() => kmeans1d([1, 1, 2, 2], [0, 1.5, 100]), /k-means left a class empty .*fewer than 3 distinct levels/);
});

test("the bias polynomial: exact recovery without shrinkage, shrinkage spares the constant", () => {
  const dims = [12, 10, 8] as const;
  const basis = polyBasis(2, dims, [1, 0, 2], [10, 9, 7]);
  assert.equal(basis.terms.length, 10);
  const index = Int32Array.from({ length: 12 * 10 * 8 }, (_, i) => i);
  const truth = Float64Array.from({ length: 10 }, (_, t) => (t === 0 ? 0.3 : 0.1 * Math.sin(t + 1)));
  const target = new Float64Array(index.length);
  evalPoly(basis, truth, dims, index, target);
  // evalPoly agrees with the plain sum of basis values
  const phi = new Float64Array(10);
  basisAt(basis, 5, 4, 3, phi);
  assertClose(target[5 + 12 * (4 + 10 * 3)]!, phi.reduce((s, v, t) => s + v * truth[t]!, 0), { atol: 1e-12 });
  const w = new Float64Array(index.length).fill(2);
  assertClose(fitPoly(basis, dims, index, target, w), truth, { atol: 1e-9 });
  // a constant target is fitted exactly whatever the shrinkage; a tilt is shrunk, not flipped
  const constant = new Float64Array(index.length).fill(-0.7);
  const c = solveWeighted(designMatrix(basis, dims, index), 10, constant, w, 0.5);
  assertClose(c[0]!, -0.7, { atol: 1e-9 });
  assertClose(Array.from(c.subarray(1)), new Array(9).fill(0), { atol: 1e-9 });
  const shrunk = fitPoly(basis, dims, index, target, w, 0.5);
  for (let t = 1; t < 10; t++) assert.ok(Math.abs(shrunk[t]!) < Math.abs(truth[t]!) && shrunk[t]! * truth[t]! >= 0, `term ${t}`);
  assertThrowsMatching(() => fitPoly(basis, dims, index.subarray(0, 5), target.subarray(0, 5), w.subarray(0, 5)), /5 weighted samples for 10 polynomial terms/);
  assertThrowsMatching(() => polyBasis(9, dims, [0, 0, 0], [1, 1, 1]), /degree must be an integer from 0 to 8/);
});

/** A 3-class phantom with random classes per voxel (CSF 25, GM 60, WM 95, sd 4) and a known smooth multiplicative field. */
function phantom(seed: number) {
  const dims = [36, 32, 28] as const;
  const n = dims[0] * dims[1] * dims[2];
  const r = new Random(seed, "segment-phantom");
  const cls = new Uint8Array(n);
  const x = new Float64Array(n);
  const field = new Float64Array(n);
  const means = [25, 60, 95];
  for (let k = 0, idx = 0; k < dims[2]; k++) {
    for (let j = 0; j < dims[1]; j++) {
      for (let i = 0; i < dims[0]; i++, idx++) {
        const u = r.uniform();
        const c = u < 0.15 ? 0 : u < 0.6 ? 1 : 2;
        cls[idx] = c + 1;
        const q = [(i - 17.5) / 18, (j - 15.5) / 16, (k - 13.5) / 14];
        field[idx] = 0.25 * q[0]! - 0.15 * q[1]! * q[2]! + 0.1 * q[2]! * q[2]!; // log field, degree 2
        x[idx] = r.normal(means[c]!, 4) * Math.exp(field[idx]!);
      }
    }
  }
  return { dims, n, cls, x, field, index: Int32Array.from({ length: n }, (_, i) => i) };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  const n = a.length;
  for (let i = 0; i < n; i++) {
    const x = a[i]!, y = b[i]!;
    sa += x; sb += y; saa += x * x; sbb += y * y; sab += x * y;
  }
  return (sab / n - (sa / n) * (sb / n)) / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
}

test("EM with the bias field recovers the class means and a smooth field on a phantom", () => {
  const p = phantom(3);
  const init = { means: [30, 55, 90], variances: [100, 100, 100], priors: [1 / 3, 1 / 3, 1 / 3], pvPriors: [] };
  const seen: number[] = [];
  const r = fitGmmWithBias(p.x, p.index, p.dims, init, {
    maxIterations: 60,
    tolerance: 1e-7,
    tied: true,
    biasDegree: 2,
    biasShrink: 0,
    onIteration: (it) => seen.push(it),
  });
  assert.ok(r.converged, `not converged in ${r.iterations}`);
  assert.deepEqual(seen, Array.from({ length: r.iterations }, (_, i) => i + 1));
  // log B is defined up to a constant traded with the means: compare after removing the mean of the truth
  const meanTruth = p.field.reduce((s, v) => s + v, 0) / p.n;
  const scale = Math.exp(meanTruth);
  assertClose(r.model.means, [25 * scale, 60 * scale, 95 * scale], { rtol: 0.01, atol: 0 });
  assertClose(r.model.variances.map(Math.sqrt), [4, 4, 4].map((s) => s * scale), { rtol: 0.05, atol: 0 });
  assertClose(r.model.priors, [0.15, 0.45, 0.4], { atol: 0.01, rtol: 0 });
  assert.ok(correlation(r.logBias, p.field) > 0.995, `field correlation ${correlation(r.logBias, p.field)}`);
  let worst = 0;
  for (let i = 0; i < p.n; i++) worst = Math.max(worst, Math.abs(r.logBias[i]! - (p.field[i]! - meanTruth)));
  assert.ok(worst < 0.02, `largest log-field error ${worst}`);
  // without the field model the same data fit worse
  const flat = fitGmmWithBias(p.x, p.index, p.dims, init, { maxIterations: 60, tolerance: 1e-7, tied: true, biasDegree: 0, biasShrink: 0 });
  assert.ok(flat.history.at(-1)! < r.history.at(-1)! - 0.01);
  assert.ok(flat.logBias.every((v) => v === 0));
});

test("ICM with a Potts prior removes isolated label errors; beta 0 changes nothing", () => {
  const dims = [20, 20, 10] as const;
  const n = 4000;
  const r = new Random(5, "segment-icm");
  // two halves (classes 1 and 2, means 0 and 10, sd 1); a few voxels carry the other class's intensity
  const truth = new Uint8Array(n);
  const y = new Float64Array(n);
  const flipped: number[] = [];
  for (let idx = 0; idx < n; idx++) {
    const c = idx % 20 < 10 ? 1 : 2;
    truth[idx] = c;
    const flip = r.uniform() < 0.02 && idx % 20 !== 9 && idx % 20 !== 10;
    if (flip) flipped.push(idx);
    y[idx] = r.normal(flip ? (c === 1 ? 10 : 0) : c === 1 ? 0 : 10, 1);
  }
  const model = new PreparedMixture({ means: [0, 10], variances: [1, 1], priors: [0.5, 0.5], pvPriors: [] });
  const index = Int32Array.from({ length: n }, (_, i) => i);
  const logLik = new Float64Array(2 * n);
  const one = new Float64Array(2);
  const scratch = new Float64Array(2);
  for (let i = 0; i < n; i++) {
    model.classLogLikelihoods(y[i]!, one, scratch);
    logLik.set(one, 2 * i);
  }
  const ml = Uint8Array.from(y, (v) => (v > 5 ? 2 : 1));
  assert.ok(flipped.length > 20);
  for (const f of flipped) assert.notEqual(ml[f], truth[f]);
  const same = ml.slice();
  assert.deepEqual(icmPotts(same, logLik, 2, index, dims, 0, 3), [0]);
  assert.deepEqual(same, ml);
  // A flipped voxel's likelihood favours the wrong class by 10 y - 50 ~ 50 +- 10 nats; its m >= 3
  // neighbours of the right class cost m beta = 60 or more with beta 20, so every isolated flip is fixed.
  const fixed = ml.slice();
  const changes = icmPotts(fixed, logLik, 2, index, dims, 20, 5);
  assert.ok(changes[0]! >= flipped.length * 0.9, `changes ${changes}`);
  let wrong = 0;
  for (let i = 0; i < n; i++) if (fixed[i] !== truth[i]) wrong++;
  assert.ok(wrong <= 2, `${wrong} voxels still wrong`);
  assert.ok(changes.at(-1) === 0 || changes.length === 5);
  assertThrowsMatching(() => icmPotts(ml.slice(), logLik, 2, index, dims, -1, 1), /beta must be a finite number >= 0/);
  assertThrowsMatching(() => icmPotts(ml.slice(), logLik, 3, index, dims, 1, 1), /logLik must hold K = 3 values per masked voxel/);
});

test("mixture: the normal CDF, PV densities that integrate to their priors, and PV voxels collapsed at the midpoint", () => {
  for (const [z, phi] of [[0, 0.5], [1, 0.8413447461], [-1.96, 0.0249978952], [3, 0.9986501020], [-6, 9.8659e-10]] as const) {
    assertClose(normalCdf(z), phi, { atol: 2e-7, rtol: 0 });
  }
  const m = { means: [20, 60, 100], variances: [16, 25, 9], priors: [0.2, 0.3, 0.25], pvPriors: [0.15, 0.1] };
  const mix = new PreparedMixture(m);
  assert.equal(mix.components, 5);
  // integral of each component density (times 1 / sqrt(2 pi)) over y = its prior
  const integral = new Float64Array(5);
  const out = new Float64Array(5);
  const h = 0.01;
  for (let y = -40; y <= 160; y += h) {
    mix.densities(y, out);
    for (let c = 0; c < 5; c++) integral[c] = integral[c]! + (out[c]! * h) / Math.sqrt(2 * Math.PI);
  }
  assertClose(integral, [0.2, 0.15, 0.3, 0.1, 0.25], { atol: 1e-4, rtol: 0 });
  // class likelihoods: just below the GM/WM midpoint (80) both PV components next to GM count for GM
  // (80 is above the CSF/GM midpoint 40); just above it the GM/WM component counts for WM
  const ll = new Float64Array(3);
  const scratch = new Float64Array(5);
  const below = new Float64Array(5);
  mix.densities(79.9, below);
  mix.classLogLikelihoods(79.9, ll, scratch);
  assertClose(Math.exp(ll[0]!), below[0]!, { rtol: 1e-12, atol: 0 });
  assertClose(Math.exp(ll[1]!), below[1]! + below[2]! + below[3]!, { rtol: 1e-12, atol: 0 });
  assertClose(Math.exp(ll[2]!), below[4]!, { rtol: 1e-12, atol: 0 });
  const above = new Float64Array(5);
  mix.densities(80.1, above);
  mix.classLogLikelihoods(80.1, ll, scratch);
  assertClose(Math.exp(ll[1]!), above[1]! + above[2]!, { rtol: 1e-12, atol: 0 });
  assertClose(Math.exp(ll[2]!), above[3]! + above[4]!, { rtol: 1e-12, atol: 0 });
  // a far outlier goes to the nearest class
  mix.classLogLikelihoods(1e6, ll, scratch);
  assert.deepEqual(Array.from(ll), [-Infinity, -Infinity, 0]);
  assertThrowsMatching(() => new PreparedMixture({ ...m, pvPriors: [0.1] }), /3 classes need 2 PV priors, got 1/);
});

test("EM with partial-volume components keeps the pure means where plain EM drifts", () => {
  // 40% GM (60), 30% WM (100), 30% GM/WM mixtures with a uniform fraction; noise sd 3; no bias field
  const r = new Random(8, "segment-pv");
  const n = 30000;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    const clean = u < 0.1 ? 20 : u < 0.45 ? 60 : u < 0.7 ? 100 : 60 + 40 * r.uniform();
    x[i] = r.normal(clean, 3);
  }
  const index = Int32Array.from({ length: n }, (_, i) => i);
  const dims = [n, 1, 1] as const;
  const base = { means: [25, 65, 95], variances: [50, 50, 50] };
  const o = { maxIterations: 200, tolerance: 1e-9, tied: true, biasDegree: 0, biasShrink: 0 };
  const pv = fitGmmWithBias(x, index, dims, { ...base, priors: [0.1, 0.3, 0.3], pvPriors: [0.15, 0.15] }, o);
  assertClose(pv.model.means, [20, 60, 100], { atol: 0.8, rtol: 0 });
  assertClose(Math.sqrt(pv.model.variances[0]!), 3, { atol: 0.4, rtol: 0 });
  assertClose(pv.model.pvPriors[1]!, 0.3, { atol: 0.04, rtol: 0 });
  const plain = fitGmmWithBias(x, index, dims, { ...base, priors: [1 / 3, 1 / 3, 1 / 3], pvPriors: [] }, o);
  const drift = Math.max(Math.abs(plain.model.means[1]! - 60), Math.abs(plain.model.means[2]! - 100));
  assert.ok(drift > 2, `plain EM means ${plain.model.means}`);
  assert.ok(Math.sqrt(plain.model.variances[0]!) > 5);
});
