import { test } from "node:test";
import assert from "node:assert/strict";
import { assignSlice, planSplit, type SplitName } from "../../src/data/split.js";
import { assertThrowsMatching } from "../helpers.js";

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

function bySplit(plan: ReturnType<typeof planSplit>, subject: string, kept: number[]): Record<SplitName | "none", number[]> {
  const out: Record<SplitName | "none", number[]> = { train: [], val: [], test: [], none: [] };
  for (const k of kept) out[assignSlice(plan, subject, k) ?? "none"].push(k);
  return out;
}

test("10 subjects split 8:1:1, deterministic by seed", () => {
  const subjects = range(1, 10).map((i) => ({ subject: `sub-${String(i).padStart(2, "0")}` }));
  const plan = planSplit(subjects, { seed: 5 });
  assert.equal(plan.method, "subjects");
  const count = (s: SplitName): number => plan.assignments.filter((a) => a.split === s).length;
  assert.deepEqual([count("train"), count("val"), count("test")], [8, 1, 1]);
  assert.deepEqual(planSplit(subjects, { seed: 5 }), plan, "same seed, same split");
  const tests = new Set(range(0, 20).map((seed) => planSplit(subjects, { seed }).assignments.find((a) => a.split === "test")?.subject));
  assert.ok(tests.size > 3, `different seeds pick different test subjects (got ${[...tests].join(", ")})`);
  // Order of the input does not matter.
  assert.deepEqual(planSplit([...subjects].reverse(), { seed: 5 }), plan);
  // Every slice of a subject goes where the subject goes.
  const testSubject = plan.assignments.find((a) => a.split === "test")?.subject as string;
  assert.deepEqual(new Set(range(0, 50).map((k) => assignSlice(plan, testSubject, k))), new Set(["test"]));
});

test("3 subjects give 1/1/1 and 20 give 16/2/2", () => {
  const p3 = planSplit(range(1, 3).map((i) => ({ subject: `s${i}` })), { seed: 1 });
  assert.deepEqual(p3.assignments.map((a) => a.split).sort(), ["test", "train", "val"]);
  const p20 = planSplit(range(1, 20).map((i) => ({ subject: `s${i}` })), { seed: 1 });
  const n = (s: SplitName): number => p20.assignments.filter((a) => a.split === s).length;
  assert.deepEqual([n("train"), n("val"), n("test")], [16, 2, 2]);
});

test("one subject: contiguous slabs; no val/test slice is within 3 slices of a train slice", () => {
  for (const kept of [range(10, 109), range(0, 180), range(1, 18), range(5, 40)]) {
    const plan = planSplit([{ subject: "colin", kept }], { seed: 1 });
    assert.equal(plan.method, "slabs");
    const s = bySplit(plan, "colin", kept);
    assert.ok(s.train.length > 0 && s.val.length > 0 && s.test.length > 0, `all splits used for ${kept.length} slices`);
    assert.equal(s.val.length, Math.max(1, Math.round(kept.length / 10)));
    assert.equal(s.test.length, s.val.length);
    for (const held of [...s.val, ...s.test]) {
      for (const t of s.train) assert.ok(Math.abs(held - t) >= 4, `held-out slice ${held} and train slice ${t} are ${Math.abs(held - t)} apart`);
      // Their 3-slice conditions share no slice.
      for (const t of s.train) for (const a of [held - 1, held, held + 1]) assert.ok(Math.abs(a - t) > 1);
    }
    for (const v of s.val) for (const t of s.test) assert.ok(Math.abs(v - t) >= 4, `val ${v} and test ${t}`);
    // Val and test are contiguous slabs.
    for (const held of [s.val, s.test]) assert.equal((held.at(-1) as number) - (held[0] as number) + 1, held.length);
    // Every kept slice is in a split or in a gap next to a held-out slab.
    assert.equal(s.train.length + s.val.length + s.test.length + s.none.length, kept.length);
    for (const u of s.none) assert.ok([...s.val, ...s.test].some((h) => Math.abs(h - u) <= 3), `unused slice ${u} is in a gap`);
  }
});

test("one subject with too few slices for slabs and gaps is refused with a clear message", () => {
  assertThrowsMatching(
    () => planSplit([{ subject: "tiny", kept: range(0, 11) }], { seed: 1 }),
    /subject "tiny" has only 12 slices with brain \(indices 0\.\.11\), too few for train\/val\/test slabs separated by 3 unused slices/,
  );
  assertThrowsMatching(() => planSplit([{ subject: "x", kept: [] }], { seed: 1 }), /subject "x" has no slice with enough brain to keep \(lower --min-brain\?\)/);
  assertThrowsMatching(() => planSplit([{ subject: "x", kept: range(0, 99) }], { seed: 1, gap: 2 }), /slab gap must be an integer >= 3, got 2/);
  assertThrowsMatching(() => planSplit([{ subject: "a" }, { subject: "a" }, { subject: "b" }], { seed: 1 }), /subject "a" is listed twice/);
});

test("two subjects: one is all train, the other val and test slabs with a gap", () => {
  const plan = planSplit(
    [
      { subject: "a", kept: range(0, 59) },
      { subject: "b", kept: range(3, 62) },
    ],
    { seed: 2 },
  );
  assert.equal(plan.method, "two-subjects");
  const train = plan.assignments.find((a) => a.split === "train");
  const other = plan.assignments.find((a) => a.split === undefined);
  assert.ok(train !== undefined && other !== undefined);
  const s = bySplit(plan, other.subject, other.subject === "a" ? range(0, 59) : range(3, 62));
  assert.equal(s.train.length, 0, "train and test never share a subject");
  assert.ok(s.val.length >= 28 && s.test.length >= 28);
  for (const v of s.val) for (const t of s.test) assert.ok(Math.abs(v - t) >= 4);
});
