// The seeded generator: reference outputs (an independent Python implementation,
// test/fixtures/sim_random_reference.py), reproducibility, independence of streams, distributions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Random, checkSeed } from "../../src/util/random.js";
import { assertThrowsMatching } from "../helpers.js";

const draw = (r: Random, n: number) => Array.from({ length: n }, () => r.nextUint32());

test("xoshiro128** from state [1, 2, 3, 4] gives the reference sequence", () => {
  const r = Random.fromState([1, 2, 3, 4]);
  assert.deepEqual(draw(r, 8), [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
});

test("seeding through splitmix32 and the stream label matches the reference", () => {
  assert.deepEqual(draw(new Random(1), 4), [2165290244, 1508378944, 4006771649, 1268299864]);
  assert.deepEqual(draw(new Random(1, "noise"), 4), [2486577420, 2664184878, 2612529364, 2104837922]);
  assert.deepEqual(draw(new Random(4294967295, "bias"), 4), [1157423479, 3648677375, 2090209272, 2709337258]);
  assert.equal(new Random(7).uniform(), 0.11066507576804141);
});

test("same seed and stream repeat; other seeds and streams differ", () => {
  assert.deepEqual(draw(new Random(42, "a"), 16), draw(new Random(42, "a"), 16));
  assert.notDeepEqual(draw(new Random(42, "a"), 16), draw(new Random(43, "a"), 16));
  assert.notDeepEqual(draw(new Random(42, "a"), 16), draw(new Random(42, "b"), 16));
  const x = new Random(5).fillNormal(new Float64Array(101));
  const y = new Random(5).fillNormal(new Float64Array(101));
  assert.deepEqual(x, y);
});

test("uniform is in [0, 1) with mean 1/2 and variance 1/12", () => {
  const r = new Random(3);
  const n = 100_000;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
    s += u;
    s2 += u * u;
  }
  const mean = s / n;
  const variance = s2 / n - mean * mean;
  // Standard error of the mean: sqrt(1/12 / n) ~ 9e-4; 5 of them.
  assert.ok(Math.abs(mean - 0.5) < 5e-3, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1 / 12) < 2e-3, `variance ${variance}`);
  const v = new Random(3).uniformRange(-2, 6);
  assert.ok(v >= -2 && v < 6);
});

test("normal draws have the requested mean and standard deviation and normal tails", () => {
  const r = new Random(11, "normal");
  const n = 100_000;
  let s = 0;
  let s2 = 0;
  let beyond2 = 0;
  for (let i = 0; i < n; i++) {
    const z = r.normal(3, 2);
    s += z;
    s2 += z * z;
    if (Math.abs(z - 3) > 4) beyond2++;
  }
  const mean = s / n;
  const std = Math.sqrt(s2 / n - mean * mean);
  assert.ok(Math.abs(mean - 3) < 0.03, `mean ${mean}`); // SE 0.0063
  assert.ok(Math.abs(std - 2) < 0.03, `std ${std}`); // SE ~0.0045
  // P(|z| > 2) = 0.0455; SE of the fraction ~6.6e-4.
  assert.ok(Math.abs(beyond2 / n - 0.0455) < 0.004, `tail fraction ${beyond2 / n}`);
});

test("integer covers min..max inclusive, evenly", () => {
  const r = new Random(9);
  const counts = new Array<number>(7).fill(0);
  const n = 70_000;
  for (let i = 0; i < n; i++) {
    const k = r.integer(-3, 3);
    assert.ok(Number.isInteger(k) && k >= -3 && k <= 3);
    counts[k + 3]!++;
  }
  // Expected 10000 each, SD ~93.
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `counts ${counts.join(", ")}`);
  assert.equal(r.integer(5, 5), 5);
  const big = r.integer(0, 2 ** 32 - 1);
  assert.ok(big >= 0 && big <= 2 ** 32 - 1);
});

test("bad seeds and ranges are rejected with the value", () => {
  assertThrowsMatching(() => new Random(-1), /seed must be an integer from 0 to 4294967295, got -1/);
  assertThrowsMatching(() => new Random(1.5), /got 1\.5/);
  assertThrowsMatching(() => new Random(2 ** 32), /got 4294967296/);
  assertThrowsMatching(() => checkSeed("7", "--seed"), /--seed must be an integer/, /"7"/);
  assertThrowsMatching(() => new Random(1).integer(3, 2), /min <= max/);
  assertThrowsMatching(() => new Random(1).uniformRange(1, 0), /lo <= hi/);
  assertThrowsMatching(() => Random.fromState([0, 0, 0, 0]), /not all zero/);
});
