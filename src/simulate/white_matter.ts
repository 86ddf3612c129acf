// Mean white-matter intensity of a T1-weighted volume: the signal level the simulator's SNR refers to
// (SNR = mean WM intensity / noise sigma).
//
// Method (simple and deterministic):
// 1. Foreground: voxels brighter than 10% of the 99th percentile of all voxels (background and most
//    of the air are darker; the 99th percentile ignores a few hot voxels).
// 2. Three-class 1-D k-means on the foreground intensities. Lloyd's iterations alone depend on their
//    start (quantile starts merge GM and WM when CSF dominates the foreground), so the start is the
//    globally optimal 3-class split of a 1024-bin histogram of the foreground, found by dynamic
//    programming over contiguous bin ranges (optimal 1-D clusters are intervals); Lloyd's iterations
//    then refine it on the exact values (a value exactly between two centres goes to the lower class),
//    on the sorted intensities with prefix sums.
// 3. WM is the brightest class; its mean is returned.
// Meant for skull-stripped T1w images (e.g. Colin27 ch2bet). With the scalp present the brightest
// class may take in fat; pass the WM level explicitly then. Empty, non-positive, constant or
// two-level volumes throw, saying so.
import { multiOtsu } from "../volume/otsu.js";
import { checkVolume, type Volume } from "../volume/volume.js";

export interface WhiteMatterEstimate {
  /** Mean intensity of the brightest class. */
  readonly mean: number;
  /** 99th percentile of all voxels (linear interpolation between order statistics). */
  readonly p99: number;
  /** Foreground threshold: 0.1 * p99. */
  readonly threshold: number;
  readonly foregroundCount: number;
  /** Class means, darkest first. */
  readonly classMeans: readonly [number, number, number];
  readonly classCounts: readonly [number, number, number];
  readonly iterations: number;
}

const MAX_ITERATIONS = 1000;
const BINS = 1024;
const ADVICE = "pass the white-matter level explicitly (wmMean, --wm-mean)";

/** First index in sorted[from..to) whose value is > x. */
function upperBound(sorted: Float32Array, x: number, from: number, to: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function estimateWhiteMatter(volume: Volume): WhiteMatterEstimate {
  checkVolume(volume, "estimateWhiteMatter: volume");
  const n = volume.data.length;
  // Only positive values are sorted (the background of a brain image is mostly 0): the 99th
  // percentile's rank among all voxels is shifted by the count of non-positive ones.
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const v = volume.data[i] as number;
    if (!Number.isFinite(v)) throw new RangeError(`estimateWhiteMatter: voxel ${i} is not finite (${v}); replace NaN/Inf first`);
    if (v > 0) positives++;
  }
  const sorted = new Float32Array(positives);
  for (let i = 0, w = 0; i < n; i++) if ((volume.data[i] as number) > 0) sorted[w++] = volume.data[i] as number;
  sorted.sort();
  const rank = 0.99 * (n - 1) - (n - positives);
  if (!(rank >= 0)) {
    throw new RangeError(`estimateWhiteMatter: only ${positives} of ${n} voxels are positive (the 99th percentile is not); an empty or non-magnitude image? ${ADVICE}`);
  }
  const r0 = Math.floor(rank);
  const r1 = Math.min(r0 + 1, positives - 1);
  const p99 = (sorted[r0] as number) + (rank - r0) * ((sorted[r1] as number) - (sorted[r0] as number));
  const threshold = 0.1 * p99;
  const m = positives;
  const start = upperBound(sorted, threshold, 0, m);
  const fg = m - start;
  const lowest = sorted[start] as number;
  const highest = sorted[m - 1] as number;
  if (fg < 3 || lowest === highest) {
    throw new RangeError(
      `estimateWhiteMatter: the foreground (${fg} voxels above ${threshold}) ${fg < 3 ? "is too small" : `is constant (${lowest})`}: ` +
        `no tissue contrast to find white matter in; ${ADVICE}`,
    );
  }
  // Prefix sums over the foreground (float64).
  const prefix = new Float64Array(fg + 1);
  for (let i = 0; i < fg; i++) prefix[i + 1] = (prefix[i] as number) + (sorted[start + i] as number);
  let c = histogramStart(sorted, start, m);
  let cut1 = -1;
  let cut2 = -1;
  let iterations = 0;
  let counts: [number, number, number] = [0, 0, 0];
  for (; iterations < MAX_ITERATIONS; iterations++) {
    const b1 = upperBound(sorted, (c[0] + c[1]) / 2, start, m) - start;
    const b2 = upperBound(sorted, (c[1] + c[2]) / 2, start, m) - start;
    if (b1 === cut1 && b2 === cut2) break;
    cut1 = b1;
    cut2 = b2;
    counts = [b1, b2 - b1, fg - b2];
    if (counts.some((k) => k === 0)) {
      throw new RangeError(`estimateWhiteMatter: k-means left a class empty (counts ${counts.join(", ")}): fewer than 3 intensity levels; ${ADVICE}`);
    }
    c = [(prefix[b1] as number) / b1, ((prefix[b2] as number) - (prefix[b1] as number)) / (b2 - b1), ((prefix[fg] as number) - (prefix[b2] as number)) / (fg - b2)];
  }
  return { mean: c[2], p99, threshold, foregroundCount: fg, classMeans: c, classCounts: counts, iterations };
}

/**
 * Class means of the optimal 3-class split (least within-class sum of squares) of a histogram of
 * sorted[start..end), over cuts at bin edges (multiOtsu). Throws when fewer than 3 bins are occupied.
 */
function histogramStart(sorted: Float32Array, start: number, end: number): [number, number, number] {
  let means: number[];
  try {
    means = multiOtsu(sorted.subarray(start, end), 3, { bins: BINS, what: "estimateWhiteMatter" }).means;
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new RangeError(`estimateWhiteMatter: the foreground has fewer than 3 intensity levels: no 3 tissue classes to find; ${ADVICE}`);
  }
  return [means[0] as number, means[1] as number, means[2] as number];
}

/** estimateWhiteMatter(volume).mean. */
export function whiteMatterMean(volume: Volume): number {
  return estimateWhiteMatter(volume).mean;
}
