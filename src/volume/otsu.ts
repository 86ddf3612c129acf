// Multi-level Otsu thresholds: the split of a 1-D sample into K intervals with the least total
// within-class sum of squares (for K = 2 this is Otsu's threshold, which maximises the between-class
// variance). Exact over cuts at the edges of a `bins`-bin histogram spanning [min, max]: each bin keeps
// the count, sum and sum of squares of its values, and dynamic programming over contiguous bin
// ranges finds the optimum in O(K bins^2). Optimal 1-D clusters are intervals, so this is the global
// optimum at the histogram's resolution (unlike Lloyd's iterations, which depend on their start).
export interface OtsuResult {
  /** K - 1 increasing thresholds (bin edges): class c holds the values in [thresholds[c-1], thresholds[c]). */
  readonly thresholds: number[];
  /** Class means, darkest first. */
  readonly means: number[];
  /** Values per class. */
  readonly counts: number[];
}

/**
 * Optimal K-class split of `values` (see the file header). Only values with select(i) true are used
 * when `select` is given. Throws when fewer than K histogram bins are occupied.
 */
export function multiOtsu(
  values: ArrayLike<number>,
  classes: number,
  options: { bins?: number; select?: (i: number) => boolean; what?: string } = {},
): OtsuResult {
  const what = options.what ?? "multiOtsu";
  const bins = options.bins ?? 256;
  if (!Number.isInteger(classes) || classes < 2) throw new RangeError(`${what}: classes must be an integer >= 2, got ${classes}`);
  if (!Number.isInteger(bins) || bins < classes) throw new RangeError(`${what}: bins must be an integer >= classes, got ${bins}`);
  const select = options.select;
  let lo = Infinity;
  let hi = -Infinity;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (select && !select(i)) continue;
    const v = values[i] as number;
    if (!Number.isFinite(v)) throw new RangeError(`${what}: value ${i} is ${v}, not finite`);
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    n++;
  }
  if (n === 0) throw new RangeError(`${what}: no values to split`);
  if (!(hi > lo)) throw new RangeError(`${what}: all ${n} values equal ${lo}; no ${classes} intensity classes to separate`);
  const width = (hi - lo) / bins;
  const pc = new Float64Array(bins + 1);
  const ps = new Float64Array(bins + 1);
  const pq = new Float64Array(bins + 1);
  for (let i = 0; i < values.length; i++) {
    if (select && !select(i)) continue;
    const v = values[i] as number;
    const b = Math.min(bins - 1, Math.floor((v - lo) / width)) + 1;
    pc[b] = (pc[b] as number) + 1;
    ps[b] = (ps[b] as number) + v;
    pq[b] = (pq[b] as number) + v * v;
  }
  let occupied = 0;
  for (let b = 1; b <= bins; b++) if ((pc[b] as number) > 0) occupied++;
  if (occupied < classes) throw new RangeError(`${what}: only ${occupied} distinct intensity levels; cannot split them into ${classes} classes`);
  for (let b = 1; b <= bins; b++) {
    pc[b] = (pc[b] as number) + (pc[b - 1] as number);
    ps[b] = (ps[b] as number) + (ps[b - 1] as number);
    pq[b] = (pq[b] as number) + (pq[b - 1] as number);
  }
  // Within-class sum of squares of bins [a, b); Infinity when empty (every class must hold values).
  const cost = (a: number, b: number): number => {
    const c = (pc[b] as number) - (pc[a] as number);
    if (c === 0) return Infinity;
    const s = (ps[b] as number) - (ps[a] as number);
    return Math.max(0, (pq[b] as number) - (pq[a] as number) - (s * s) / c);
  };
  // best[k][j]: least cost of splitting bins [0, j) into k + 1 classes; from[k][j]: start of the last class.
  const best: Float64Array[] = [];
  const from: Int32Array[] = [];
  const first = new Float64Array(bins + 1).fill(Infinity);
  for (let j = 1; j <= bins; j++) first[j] = cost(0, j);
  best.push(first);
  from.push(new Int32Array(bins + 1));
  for (let k = 1; k < classes; k++) {
    const prev = best[k - 1] as Float64Array;
    const cur = new Float64Array(bins + 1).fill(Infinity);
    const arg = new Int32Array(bins + 1);
    for (let j = k + 1; j <= bins; j++) {
      for (let i = k; i < j; i++) {
        const v = (prev[i] as number) + cost(i, j);
        if (v < (cur[j] as number)) {
          cur[j] = v;
          arg[j] = i;
        }
      }
    }
    best.push(cur);
    from.push(arg);
  }
  const cuts: number[] = [];
  let j = bins;
  for (let k = classes - 1; k >= 1; k--) {
    j = (from[k] as Int32Array)[j] as number;
    cuts.unshift(j);
  }
  const edges = [0, ...cuts, bins];
  const thresholds = cuts.map((c) => lo + c * width);
  const means: number[] = [];
  const counts: number[] = [];
  for (let c = 0; c < classes; c++) {
    const a = edges[c] as number;
    const b = edges[c + 1] as number;
    const cnt = (pc[b] as number) - (pc[a] as number);
    counts.push(cnt);
    means.push(((ps[b] as number) - (ps[a] as number)) / cnt);
  }
  return { thresholds, means, counts };
}
