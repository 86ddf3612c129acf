// Eq. 17: w = 1 / EMA variance of the gating loss, bounded; checkpoint state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { UncertaintyWeight } from "../../src/losses/uncertainty_weight.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

test("Eq. 17: EMA mean and variance by hand (decay 0.99)", () => {
  const u = new UncertaintyWeight();
  assert.equal(u.decay, 0.99);
  assert.equal(u.weight, 1, "before any observation w = 1 / initialVariance");
  // x = 1: the mean starts at the first value, the variance stays at 1.
  assertClose(u.update(1), 1, { atol: 0, rtol: 1e-15 });
  // x = 3: delta 2; mean 1 + 0.01 * 2 = 1.02; var 0.99 (1 + 0.01 * 4) = 1.0296.
  assertClose(u.update(3), 1 / 1.0296, { atol: 0, rtol: 1e-13 });
  assertClose([u.mean, u.variance], [1.02, 1.0296], { atol: 0, rtol: 1e-13 });
  // x = 2: delta 0.98; mean 1.0298; var 0.99 (1.0296 + 0.01 * 0.9604) = 1.02881196.
  assertClose(u.update(2), 1 / 1.02881196, { atol: 0, rtol: 1e-13 });
  assertClose([u.mean, u.variance], [1.0298, 1.02881196], { atol: 0, rtol: 1e-13 });
  assert.equal(u.count, 3);
});

test("Eq. 17: a steady loss shrinks the variance by the decay each step, and w is clamped at wMax", () => {
  const u = new UncertaintyWeight({ wMax: 50 });
  for (let i = 1; i <= 300; i++) {
    u.update(0.7);
    assertClose(u.variance, 0.99 ** (i - 1), { atol: 0, rtol: 1e-12 });
  }
  // 0.99^299 ~ 0.0495 -> 1/var ~ 20.2, still under the bound.
  assertClose(u.weight, 1 / 0.99 ** 299, { atol: 0, rtol: 1e-12 });
  for (let i = 0; i < 200; i++) u.update(0.7);
  assert.equal(u.weight, 50);
  // Exactly constant input drives the variance to 0: the floor keeps 1/var finite, the clamp bounds w.
  const z = new UncertaintyWeight({ decay: 0, initialVariance: 0 });
  z.update(1);
  z.update(1);
  assert.equal(z.variance, 0);
  assert.equal(z.weight, 100);
});

test("Eq. 17: a very noisy loss is clamped at wMin", () => {
  const u = new UncertaintyWeight({ initialVariance: 1e6, wMin: 0.05 });
  assert.equal(u.weight, 0.05);
  u.update(0);
  u.update(1e4);
  assert.equal(u.weight, 0.05);
});

test("Eq. 17: state survives a JSON round trip; mismatched configuration and bad values are rejected", () => {
  const u = new UncertaintyWeight({ wMax: 20 });
  for (const x of [0.9, 1.1, 0.95, 1.3]) u.update(x);
  const json = JSON.parse(JSON.stringify(u.stateDict())) as ReturnType<UncertaintyWeight["stateDict"]>;
  const v = UncertaintyWeight.fromStateDict(json);
  assert.deepEqual(v.stateDict(), u.stateDict());
  assert.equal(v.update(1.2), u.update(1.2));
  const w = new UncertaintyWeight({ wMax: 20 });
  w.loadStateDict(json);
  assert.equal(w.count, 4);
  assertThrowsMatching(() => new UncertaintyWeight().loadStateDict(json), /checkpoint has wMax=20, this object 100/);
  assertThrowsMatching(() => w.loadStateDict({ ...json, variance: Number.NaN }), /'variance' must be a finite number/);
  assertThrowsMatching(() => w.loadStateDict({ ...json, count: -1 }), /invalid state/);
  assertThrowsMatching(() => w.update(Number.POSITIVE_INFINITY), /the gating loss must be finite, got Infinity/);
  assertThrowsMatching(() => new UncertaintyWeight({ decay: 1 }), /decay must be in \[0, 1\), got 1/);
  assertThrowsMatching(() => new UncertaintyWeight({ wMin: 2, wMax: 1 }), /need 0 < wMin <= wMax < Infinity/);
});
