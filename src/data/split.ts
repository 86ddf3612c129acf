// Train/val/test split, by subject so that no anatomy is shared between the splits.
//
// - 3 or more subjects ("subjects"): the subjects are shuffled with the seed; round(n/10) (at least 1)
//   go to test, as many to val, the rest to train (8:1:1; 10 subjects -> 8/1/1, 3 -> 1/1/1).
// - 2 subjects ("two-subjects"): one subject (chosen by the seed) is all train; the other is cut along
//   the slice axis into a val slab (first half) and a test slab (second half) separated by `gap`
//   slices that belong to no split. Train and test never share a subject.
// - 1 subject ("slabs"): contiguous slabs along the slice axis. Over the range of kept slice indices
//   [a, b] (n = b - a + 1): a val slab of round(n/10) slices centred at 30% of the range and a test
//   slab of round(n/10) centred at 70%; every index within `gap` slices of a val or test slab belongs
//   to no split; the rest is train (up to three train slabs; one squeezed to nothing in a short range is dropped). With gap >= 3, a test slice t and a train
//   slice r satisfy |t - r| >= gap + 1 = 4, so their 3-slice conditions (t-1..t+1, r-1..r+1) never
//   share a slice.
// Acquisitions of one source (several simulations of one HR volume, several sessions of one subject)
// share its subject id and so always land in the same split.
import { Rng } from "./rng.js";

export type SplitName = "train" | "val" | "test";
export const SPLITS: readonly SplitName[] = ["train", "val", "test"];

/** Minimum number of unused slices between slabs of different splits. */
export const MIN_SLAB_GAP = 3;

/** An inclusive range of slice indices assigned to one split. */
export interface Slab {
  readonly split: SplitName;
  readonly first: number;
  readonly last: number;
}

/** Where one subject's slices go: all to `split`, or by `slabs` (indices in no slab are unused). */
export interface SubjectAssignment {
  readonly subject: string;
  readonly split?: SplitName;
  readonly slabs?: readonly Slab[];
}

export interface SplitPlan {
  readonly method: "subjects" | "two-subjects" | "slabs";
  readonly seed: number;
  readonly gap: number;
  readonly assignments: readonly SubjectAssignment[];
}

export interface SubjectSlices {
  readonly subject: string;
  /**
   * Kept slice indices of this subject (ascending); only their range matters, and only for 1 or 2
   * subjects (slabs). May be omitted with 3 or more subjects.
   */
  readonly kept?: readonly number[];
}

/** Number of val (and of test) subjects or slices out of n for 8:1:1. */
export function holdOutCount(n: number): number {
  return Math.max(1, Math.round(n / 10));
}

function rangeOf(s: SubjectSlices): [number, number] {
  if (s.kept === undefined || s.kept.length === 0) throw new RangeError(`split: subject ${JSON.stringify(s.subject)} has no slice with enough brain to keep (lower --min-brain?); nothing to split`);
  return [s.kept[0] as number, s.kept[s.kept.length - 1] as number];
}

function singleSubjectSlabs(s: SubjectSlices, gap: number): Slab[] {
  const [a, b] = rangeOf(s);
  const n = b - a + 1;
  const h = holdOutCount(n);
  const valFirst = a + Math.round(0.3 * n - h / 2);
  const testFirst = a + Math.round(0.7 * n - h / 2);
  const val: Slab = { split: "val", first: valFirst, last: valFirst + h - 1 };
  const test: Slab = { split: "test", first: testFirst, last: testFirst + h - 1 };
  const train: Slab[] = [
    { split: "train", first: a, last: val.first - gap - 1 },
    { split: "train", first: val.last + gap + 1, last: test.first - gap - 1 },
    { split: "train", first: test.last + gap + 1, last: b },
  ];
  // A train slab squeezed to nothing (small n) is dropped; val and test must still be `gap` apart.
  const slabs = [train[0], val, train[1], test, train[2]].filter((x): x is Slab => x !== undefined && x.last >= x.first);
  if (val.first < a || test.last > b || test.first - val.last - 1 < gap || !slabs.some((x) => x.split === "train")) {
    throw new RangeError(
      `split: subject ${JSON.stringify(s.subject)} has only ${n} slices with brain (indices ${a}..${b}), too few for train/val/test slabs ` +
        `separated by ${gap} unused slices; use a larger volume, another --axis, or more subjects`,
    );
  }
  return slabs;
}

function valTestSlabs(s: SubjectSlices, gap: number): Slab[] {
  const [a, b] = rangeOf(s);
  const n = b - a + 1;
  const valLast = a + Math.floor((n - gap) / 2) - 1;
  const slabs: Slab[] = [
    { split: "val", first: a, last: valLast },
    { split: "test", first: valLast + gap + 1, last: b },
  ];
  if (slabs.some((x) => x.last < x.first)) {
    throw new RangeError(
      `split: subject ${JSON.stringify(s.subject)} has only ${n} slices with brain, too few for val and test slabs separated by ${gap} unused slices`,
    );
  }
  return slabs;
}

/** Decides the split (see the top of this file). Subject ids must be unique. */
export function planSplit(subjects: readonly SubjectSlices[], options: { seed: number; gap?: number }): SplitPlan {
  const gap = options.gap ?? MIN_SLAB_GAP;
  if (!Number.isInteger(gap) || gap < MIN_SLAB_GAP) throw new RangeError(`split: slab gap must be an integer >= ${MIN_SLAB_GAP}, got ${gap}`);
  const ids = subjects.map((s) => s.subject);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) throw new RangeError(`split: subject ${JSON.stringify(dup)} is listed twice`);
  if (subjects.length === 0) throw new RangeError("split: no subjects");
  const sorted = [...subjects].sort((x, y) => (x.subject < y.subject ? -1 : x.subject > y.subject ? 1 : 0));
  const rng = new Rng(options.seed, "split");
  if (sorted.length === 1) {
    const s = sorted[0] as SubjectSlices;
    return { method: "slabs", seed: options.seed, gap, assignments: [{ subject: s.subject, slabs: singleSubjectSlabs(s, gap) }] };
  }
  const order = rng.shuffle(sorted);
  if (order.length === 2) {
    const [tr, vt] = order as [SubjectSlices, SubjectSlices];
    const assignments: SubjectAssignment[] = [
      { subject: tr.subject, split: "train" },
      { subject: vt.subject, slabs: valTestSlabs(vt, gap) },
    ];
    return {
      method: "two-subjects",
      seed: options.seed,
      gap,
      assignments: assignments.sort((x, y) => (x.subject < y.subject ? -1 : 1)),
    };
  }
  const h = holdOutCount(order.length);
  const assignments: SubjectAssignment[] = order.map((s, i) => ({ subject: s.subject, split: i < h ? "test" : i < 2 * h ? "val" : "train" }));
  assignments.sort((x, y) => (x.subject < y.subject ? -1 : 1));
  return { method: "subjects", seed: options.seed, gap, assignments };
}

/** The split of slice `index` of `subject`, or null when it falls in a gap between slabs. */
export function assignSlice(plan: SplitPlan, subject: string, index: number): SplitName | null {
  const a = plan.assignments.find((x) => x.subject === subject);
  if (a === undefined) throw new RangeError(`split: subject ${JSON.stringify(subject)} is not in the split plan`);
  if (a.split !== undefined) return a.split;
  for (const s of a.slabs ?? []) if (index >= s.first && index <= s.last) return s.split;
  return null;
}
