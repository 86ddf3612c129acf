// Eq. 6 and Eq. 13: L_E = sum_i G_i (L_diffusion(i) + L_task(i)), per sample.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { expertLoss, perSampleGates } from "../../src/losses/expert_loss.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

const f64 = (v: number[], shape: number[]): T.Tensor => T.tensor(Float64Array.from(v), shape, { dtype: "float64" });

test("Eq. 13 by hand with global gates [B, K]", () => {
  T.tidy(() => {
    const diffusion = [f64([1, 2], [2]), f64([3, 4], [2]), f64([5, 6], [2])];
    const task = [f64([0.5, 0.25], [2]), f64([1, 0], [2]), f64([2, 3], [2])];
    const g = f64([0.2, 0.3, 0.5, 0.6, 0.3, 0.1], [2, 3]);
    const r = expertLoss({ diffusion, task, gates: g });
    // L_Ei (Eq. 6): sample 0: 1.5, 4, 7; sample 1: 2.25, 4, 9.
    const s0 = 0.2 * 1.5 + 0.3 * 4 + 0.5 * 7;
    const s1 = 0.6 * 2.25 + 0.3 * 4 + 0.1 * 9;
    assertClose(r.loss.item(), (s0 + s1) / 2, { atol: 1e-15, rtol: 1e-12 });
    assertClose(r.perExpert.toArray(), [(1.5 + 2.25) / 2, 4, 8], { atol: 1e-15, rtol: 1e-12 });
    assertClose(r.diffusion.toArray(), [1.5, 3.5, 5.5], { atol: 1e-15, rtol: 1e-12 });
    assertClose(r.task.toArray(), [0.375, 0.5, 2.5], { atol: 1e-15, rtol: 1e-12 });
    assertClose(r.weights.toArray(), g.toArray(), { atol: 0, rtol: 0 });
    // Without task losses: diffusion only.
    const d = expertLoss({ diffusion, gates: g });
    assertClose(d.loss.item(), (0.2 * 1 + 0.3 * 3 + 0.5 * 5 + 0.6 * 2 + 0.3 * 4 + 0.1 * 6) / 2, { atol: 1e-15, rtol: 1e-12 });
  });
});

test("Eq. 13 with spatial maps [B, K, h, w]: each sample's weight is the map's spatial mean", () => {
  T.tidy(() => {
    const maps = f64([0.1, 0.3, 0.2, 0.2, 0.6, 0.4, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3], [1, 3, 2, 2]);
    const gates = perSampleGates(maps, 1, 3);
    assertClose(gates.toArray(), [0.2, 0.5, 0.3], { atol: 1e-15, rtol: 1e-12 });
    const r = expertLoss({ diffusion: [f64([1], [1]), f64([2], [1]), f64([4], [1])], gates: maps });
    assertClose(r.loss.item(), 0.2 * 1 + 0.5 * 2 + 0.3 * 4, { atol: 1e-15, rtol: 1e-12 });
  });
});

test("Eq. 13 gradient: into the expert losses always, into G only with detachGateInExpertLoss: false", () => {
  T.tidy(() => {
    const l = [f64([1, 2], [2]).requiresGrad_(), f64([3, 4], [2]).requiresGrad_()];
    const g = f64([0.25, 0.75, 0.5, 0.5], [2, 2]).requiresGrad_();
    expertLoss({ diffusion: l, gates: g }).loss.backward();
    assert.equal(g.grad, null, "detached by default");
    // dL_E / dL_i,b = G_bi / B
    assertClose((l[0]?.grad as T.Tensor).toArray(), [0.125, 0.25], { atol: 1e-15, rtol: 0 });
    assertClose((l[1]?.grad as T.Tensor).toArray(), [0.375, 0.25], { atol: 1e-15, rtol: 0 });
    const g2 = f64([0.25, 0.75, 0.5, 0.5], [2, 2]).requiresGrad_();
    const l2 = [f64([1, 2], [2]), f64([3, 4], [2])];
    expertLoss({ diffusion: l2, gates: g2 }, { detachGateInExpertLoss: false }).loss.backward();
    // dL_E / dG_bi = L_i,b / B
    assertClose((g2.grad as T.Tensor).toArray(), [0.5, 1.5, 1, 2], { atol: 1e-15, rtol: 0 });
  });
});

test("Eq. 13: losses that are not per sample, and mismatched gates, are errors", () => {
  T.tidy(() => {
    const per = [T.zeros([2]), T.zeros([2]), T.zeros([2])];
    const g = T.zeros([2, 3]);
    assertThrowsMatching(() => expertLoss({ diffusion: [], gates: g }), /no experts/);
    assertThrowsMatching(() => expertLoss({ diffusion: [T.zeros([]), T.zeros([]), T.zeros([])], gates: g }), /diffusion\[0\] must be a per-sample loss \[B\] \(compute it with perSample: true\), got \[\]/);
    assertThrowsMatching(() => expertLoss({ diffusion: per, task: [T.zeros([2]), T.zeros([3]), T.zeros([2])], gates: g }), /task\[1\] must be a per-sample loss \[B\] = \[2\]/);
    assertThrowsMatching(() => expertLoss({ diffusion: per, task: per.slice(0, 2), gates: g }), /task has 2 entries, expected one per expert \(3\)/);
    assertThrowsMatching(() => expertLoss({ diffusion: per, gates: T.zeros([2, 2]) }), /gates must be \[B, K\] = \[2, 3\] or \[B, K, h, w\], got \[2, 2\]/);
  });
});
