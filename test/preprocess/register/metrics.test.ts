// The similarity costs (NCC, Mattes MI) and their gradients with respect to the 6 rigid parameters.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import type { Volume } from "../../../src/volume/volume.js";
import { binPositions, cubicBSplineKernel, mattesCost, nccCost, parzenTaps } from "../../../src/preprocess/register/metrics.js";
import { fixedLevel, fovCentre, movingLevel } from "../../../src/preprocess/register/pyramid.js";
import { costFunction, movingGeometry } from "../../../src/preprocess/register/register.js";
import { assertClose } from "../../helpers.js";

const f64 = { dtype: "float64" as const };

test("nccCost: -1 for an affine copy, +1 for a negated one, only weighted points count", () => {
  T.tidy(() => {
    const f = T.tensor([1, 4, 2, 8, 5, 7], [6], f64);
    const w = T.ones([6], f64);
    assertClose(nccCost(f, f.mul(3).add(10), w).item(), -1, { atol: 1e-12 });
    assertClose(nccCost(f, f.mul(-2), w).item(), 1, { atol: 1e-12 });
    // Garbage at the last two points is ignored when their weight is 0.
    const m = T.tensor([1, 4, 2, 8, -100, 300], [6], f64);
    const w4 = T.tensor([1, 1, 1, 1, 0, 0], [6], f64);
    assertClose(nccCost(f, m, w4).item(), -1, { atol: 1e-12 });
    assert.ok(nccCost(f, m, w).item() > -0.9);
  });
  assert.throws(() => nccCost(T.zeros([3]), T.zeros([4]), T.zeros([3])), /nccCost: f, m and w must be \[N\] each, got \[3\], \[4\], \[3\]/);
});

test("parzenTaps: 4 bins per sample, weights = cubic B-spline kernel, summing to 1", () => {
  T.tidy(() => {
    const x = T.tensor([2, 2.25, 7.5, 12.999], [4], f64);
    const taps = parzenTaps(x);
    assert.deepEqual(taps.index.shape, [4, 4]);
    assert.deepEqual(taps.index.toArray(), [1, 2, 3, 4, 1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14]);
    const expected = T.noGrad(() => cubicBSplineKernel(x.unsqueeze(1).sub(taps.index.to("float64"))));
    assertClose(taps.weight.toArray(), expected.toArray(), { atol: 1e-12 });
    assertClose(taps.weight.sum(1).toArray(), [1, 1, 1, 1], { atol: 1e-12 });
    // Positions span [2, bins - 3] over the intensity range; the support stays inside 0 .. bins-1.
    assertClose(binPositions(T.tensor([0, 5, 10, 20], [4], f64), 0, 10, 32).toArray(), [2, 15.5, 29, 29], { atol: 1e-12 });
  });
});

test("mattesCost: identical images share more information than independent ones; invariant to a linear rescale", () => {
  T.tidy(() => {
    const g = new T.Generator({ seed: 3 });
    const f = T.rand([4000], { dtype: "float64", generator: g });
    const indep = T.rand([4000], { dtype: "float64", generator: g });
    const w = T.ones([4000], f64);
    const taps = parzenTaps(binPositions(f, 0, 1, 24));
    const same = mattesCost(taps, f, w, { bins: 24, movingRange: [0, 1] }).item();
    const scaled = mattesCost(taps, f.mul(5).add(2), w, { bins: 24, movingRange: [2, 7] }).item();
    const none = mattesCost(taps, indep, w, { bins: 24, movingRange: [0, 1] }).item();
    // A uniform variable over ~19 bins has entropy ln 19 = 2.9 nats; the Parzen kernels blur the
    // diagonal of the joint histogram, so MI(f, f) is lower but far above the independent case.
    assert.ok(same < -1.5 && same > -Math.log(19), `MI of an image with itself ${-same} nats`);
    assertClose(scaled, same, { atol: 1e-9 });
    assert.ok(none > -0.1 && none < 0, `MI of independent images ${-none} nats (histogram bias only)`);
  });
});

/** A smooth test image: two Gaussian blobs (world mm). */
function blobs(dims: readonly [number, number, number], affine: number[]): Volume {
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  let q = 0;
  for (let k = 0; k < dims[2]; k++) {
    for (let j = 0; j < dims[1]; j++) {
      for (let i = 0; i < dims[0]; i++, q++) {
        const x = affine[0]! * i + affine[3]!;
        const y = affine[5]! * j + affine[7]!;
        const z = affine[10]! * k + affine[11]!;
        data[q] = 100 * Math.exp(-((x - 4) ** 2 + (y + 3) ** 2 + (z - 2) ** 2) / 60) + 60 * Math.exp(-((x + 6) ** 2 + (y - 5) ** 2 + z ** 2) / 30);
      }
    }
  }
  return { data, dims, affine };
}

for (const metric of ["ncc", "mi"] as const) {
  test(`${metric}: the cost's gradient w.r.t. the 6 parameters matches finite differences`, () => {
    const fixed = blobs([12, 12, 12], [2, 0, 0, -11, 0, 2, 0, -11, 0, 0, 2, -11, 0, 0, 0, 1]);
    // The moving grid is larger, so every transformed point stays inside (the overlap weights are constant).
    const moving = blobs([24, 24, 24], [1.5, 0, 0, -17.25, 0, 1.5, 0, -17.25, 0, 0, 1.5, -17.25, 0, 0, 0, 1]);
    const centre = fovCentre(fixed);
    const before = T.memory().numTensors;
    const fl = fixedLevel(fixed, { dtype: "float64", shrink: 1, sigmaMm: 0, maxSamples: 100000, seed: 1, centre });
    const ml = movingLevel(moving, 0, { dtype: "float64" });
    const geo = movingGeometry(moving, centre, { dtype: "float64", device: "cpu" });
    const taps = metric === "mi" ? T.tidy(() => parzenTaps(binPositions(fl.values, fl.values.amin().item(), fl.values.amax().item(), 16))) : null;
    try {
      const cost = costFunction(fl, ml, geo, 20, { metric, bins: 16, dtype: "float64" }, taps);
      T.tidy(() => {
        const theta = T.tensor([0.7, -0.4, 0.3, 0.9, -1.3, 0.6], [6], { dtype: "float64", requiresGrad: true });
        const v = cost(theta);
        assertClose(v.overlap.item(), 1, { atol: 0, message: "every point inside" });
        const mismatches = T.gradcheck((x) => cost(x).cost, [theta], { eps: 1e-6, atol: 1e-7, rtol: 1e-4 });
        assert.deepEqual(mismatches, []);
        // The gradient is not trivially zero: the parameters are away from the optimum.
        v.cost.backward();
        const g = theta.grad as T.Tensor;
        assert.ok(g.abs().amax().item() > 1e-4, `gradient ${g.toArray().join(", ")}`);
      });
    } finally {
      taps?.index.dispose();
      taps?.weight.dispose();
      geo.dispose();
      ml.dispose();
      fl.dispose();
    }
    assert.equal(T.memory().numTensors, before, "every tensor freed");
  });
}
