// Percentiles of large arrays (volumes' intensities) by selection, without sorting: O(n).
// Used by intensity normalisation (src/data/normalise.ts), bias-field masks and brain masks.

/** Moves the k-th smallest value of a[lo..hi] to a[k] (values left of k <= a[k] <= values right of k). */
function select(a: Float32Array, k: number): void {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    // Median of three as pivot.
    const mid = (lo + hi) >>> 1;
    const x = a[lo] as number;
    const y = a[mid] as number;
    const z = a[hi] as number;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const t = a[i] as number;
        a[i] = a[j] as number;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * The p-th percentile (0..100) of `values`, interpolating linearly between the order statistics at
 * ranks floor(r) and ceil(r), r = p/100 * (n - 1) (numpy.percentile's default). Throws on an empty
 * input or non-finite values. `values` is not modified.
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile: p must be in [0, 100], got ${p}`);
  const n = values.length;
  if (n === 0) throw new RangeError("percentile: no values");
  const a = Float32Array.from(values as ArrayLike<number>);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(a[i] as number)) throw new RangeError(`percentile: value ${i} is ${a[i]}, not finite`);
  }
  const r = (p / 100) * (n - 1);
  const k = Math.floor(r);
  select(a, k);
  const lo = a[k] as number;
  if (r === k) return lo;
  let hi = Infinity;
  for (let i = k + 1; i < n; i++) if ((a[i] as number) < hi) hi = a[i] as number;
  return lo + (r - k) * (hi - lo);
}
