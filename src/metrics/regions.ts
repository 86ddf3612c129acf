// Regions of interest for the volume metrics, and the metrics per region.
//
// A region set labels each voxel with at most one region: from a mask volume (nonzero = inside, one
// region) or from a label map (one region per distinct nonzero integer value; values must be
// integers). Region names come from an optional lookup: a JSON object {"17": "Left-Hippocampus"} or
// a text table whose lines are "value<TAB or spaces>name[...]" (FreeSurfer LUTs work; a header line
// and # comments are skipped).
//
// Per region (design decisions where the paper and the issue are silent):
// - MSE, RMSE, PSNR over the voxels in the region; PSNR uses the volume's data range, so regions
//   are comparable with each other and with the whole volume.
// - SSIM: the 3-D SSIM map of the whole volume (see volume_metrics.ts) averaged over the region's
//   voxels that lie in the cropped interior; null when none do (reported with ssimVoxels = 0).
// - HFEN: the LoG of the whole volume (so filters see the region's surroundings), sums restricted
//   to the region.
// The whole volume and all regions are computed in one pass over each filter.
// `planar`: SSIM and HFEN with 2-D filters in the x-y plane of each k slice (the per-slice definitions of
// volume_metrics.ts), for a stack of separate slices (evaluate --planar, evaluate-grid); MSE and PSNR
// are voxelwise and do not change.
import { readFileSync } from "node:fs";
import { describeJsonSyntaxError } from "../util/json_file.js";
import { psnrFromMse, visitLog, visitSsimMap, type Dims3 } from "./volume_metrics.js";

export interface RegionSet {
  /** Region r has name names[r] and label value labels[r] (1 for a mask). */
  readonly names: readonly string[];
  readonly labels: readonly number[];
  /** Region index of each voxel, -1 outside every region. */
  readonly index: Int32Array;
  /** Voxels per region. */
  readonly counts: readonly number[];
}

export interface RegionMetrics {
  name: string;
  label: number;
  voxels: number;
  mse: number;
  rmse: number;
  psnr: number;
  /** Mean of the SSIM map over the region's interior voxels; NaN when there are none. */
  ssim: number;
  /** How many region voxels entered the SSIM average. */
  ssimVoxels: number;
  hfen: number;
}

/** One region: the nonzero voxels of `data`. Throws if there are none. */
export function regionsFromMask(data: ArrayLike<number>, name = "mask"): RegionSet {
  const index = new Int32Array(data.length).fill(-1);
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v !== 0 && !Number.isNaN(v)) {
      index[i] = 0;
      n++;
    }
  }
  if (n === 0) throw new RangeError(`${name}: the mask is empty (no nonzero voxel): check the file, or that it belongs to this image`);
  return { names: [name], labels: [1], index, counts: [n] };
}

/** One region per distinct nonzero label value, in increasing order. Names from `names`, else "label N". */
export function regionsFromLabels(data: ArrayLike<number>, names?: ReadonlyMap<number, string>, what = "label map"): RegionSet {
  const seen = new Map<number, number>();
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v === 0) continue;
    if (!Number.isInteger(v)) {
      throw new RangeError(`${what}: voxel ${i} has the non-integer value ${v}; a label map holds integer labels (use --mask for a soft or binary mask)`);
    }
    seen.set(v, (seen.get(v) ?? 0) + 1);
  }
  if (seen.size === 0) throw new RangeError(`${what}: no nonzero label: the label map is empty`);
  const labels = [...seen.keys()].sort((a, b) => a - b);
  const slot = new Map(labels.map((l, r) => [l, r]));
  const index = new Int32Array(data.length).fill(-1);
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as number;
    if (v !== 0) index[i] = slot.get(v)!;
  }
  return {
    names: labels.map((l) => names?.get(l) ?? `label ${l}`),
    labels,
    index,
    counts: labels.map((l) => seen.get(l)!),
  };
}

/** Parses a label-name lookup (JSON object or a value/name table). */
export function parseLabelNames(text: string, source = "label names"): Map<number, string> {
  const out = new Map<number, string>();
  const put = (key: string, name: string, where: string): void => {
    const v = Number(key);
    if (key.trim() === "" || !Number.isInteger(v)) throw new RangeError(`${source}: ${where}: label value '${key}' is not an integer`);
    out.set(v, name);
  };
  if (text.trimStart().startsWith("{")) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new RangeError(`${source}: not valid JSON (${describeJsonSyntaxError(e instanceof Error ? e.message : String(e), text)}); fix it, or give a value<TAB>name table`);
    }
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      if (typeof v !== "string") throw new RangeError(`${source}: the name of label ${k} must be a string, got ${JSON.stringify(v)}`);
      put(k, v, `key "${k}"`);
    }
    return out;
  }
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, n) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const cols = line.includes("\t") ? line.split("\t").map((c) => c.trim()) : line.split(/\s+/);
    if (out.size === 0 && !/^-?\d+$/.test(cols[0]!)) return; // a header line
    if (cols.length < 2 || cols[1] === "") throw new RangeError(`${source}: line ${n + 1}: expected "value<TAB>name", got '${line}'`);
    put(cols[0]!, cols[1]!, `line ${n + 1}`);
  });
  return out;
}

export function readLabelNames(path: string): Map<number, string> {
  return parseLabelNames(readFileSync(path, "utf8"), path);
}

/** Whole-volume scores (as the regions', without the SSIM voxel count). */
export interface VolumeScores {
  mse: number;
  rmse: number;
  psnr: number;
  ssim: number;
  hfen: number;
  voxels: number;
}

/** Metrics per region of `set` (see the header for the definitions). */
export function regionMetrics(pred: ArrayLike<number>, ref: ArrayLike<number>, dims: Dims3, dataRange: number, set: RegionSet): RegionMetrics[] {
  return volumeAndRegionMetrics(pred, ref, dims, dataRange, [set]).regions[0]!;
}

/**
 * Whole-volume metrics and the metrics of every region of every set, with one SSIM pass and one LoG
 * pass over the volume (the filters dominate the cost). regions[s] holds the regions of sets[s].
 */
export function volumeAndRegionMetrics(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  dims: Dims3,
  dataRange: number,
  sets: readonly RegionSet[],
  o: { planar?: boolean } = {},
): { volume: VolumeScores; regions: RegionMetrics[][] } {
  const planar = o.planar === true;
  const n = dims[0] * dims[1] * dims[2];
  if (pred.length !== n || ref.length !== n) throw new RangeError(`regionMetrics: pred has ${pred.length} values and ref ${ref.length}; dims [${dims.join(", ")}] need ${n}`);
  for (const set of sets) {
    if (set.index.length !== n) throw new RangeError(`regionMetrics: the regions cover ${set.index.length} voxels, dims [${dims.join(", ")}] have ${n}`);
  }
  // Accumulators: slot 0 is the whole volume, then the regions of each set in order.
  const offsets: number[] = [];
  let slots = 1;
  for (const set of sets) {
    offsets.push(slots);
    slots += set.names.length;
  }
  const acc = () => new Float64Array(slots);
  const [se, cnt, ssimSum, ssimCnt, num, den] = [acc(), acc(), acc(), acc(), acc(), acc()];
  const add = (i: number, f: (slot: number) => void): void => {
    f(0);
    for (let s = 0; s < sets.length; s++) {
      const r = sets[s]!.index[i]!;
      if (r >= 0) f(offsets[s]! + r);
    }
  };
  for (let i = 0; i < n; i++) {
    const d = (pred[i] as number) - (ref[i] as number);
    add(i, (q) => {
      se[q]! += d * d;
      cnt[q]! += 1;
    });
  }
  visitSsimMap(pred, ref, dims, dataRange, { planar }, (i, v) =>
    add(i, (q) => {
      ssimSum[q]! += v;
      ssimCnt[q]! += 1;
    }),
  );
  visitLog(pred, ref, dims, { planar }, (i, ld, lr) =>
    add(i, (q) => {
      num[q]! += ld * ld;
      den[q]! += lr * lr;
    }),
  );
  const scores = (q: number) => {
    const m = cnt[q]! === 0 ? NaN : se[q]! / cnt[q]!;
    return {
      mse: m,
      rmse: Math.sqrt(m),
      psnr: psnrFromMse(m, dataRange),
      ssim: ssimCnt[q]! === 0 ? NaN : ssimSum[q]! / ssimCnt[q]!,
      hfen: den[q]! === 0 ? NaN : Math.sqrt(num[q]! / den[q]!),
      voxels: cnt[q]!,
    };
  };
  return {
    volume: scores(0),
    regions: sets.map((set, s) =>
      set.names.map((name, r) => ({ name, label: set.labels[r]!, ...scores(offsets[s]! + r), ssimVoxels: ssimCnt[offsets[s]! + r]! })),
    ),
  };
}
