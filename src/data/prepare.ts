// `prepare`: build a paired slice data set from simulated or real LR/HR pairs.
//
// For every pair (acquisition), in order: the HR volume is read, reoriented to RAS (exact), normalised
// (normalise.ts); slices with too little brain are skipped (brain_fraction.ts); the LR volume is made
// (simulated from the HR with per-pair random acquisition parameters, or read and resampled onto the HR
// grid; with --register, after a rigid LR-to-HR registration recorded in the pair's entry), normalised
// separately; b and g are made (channels.ts); each kept slice is assigned to a split (split.ts: by
// subject; one subject -> slabs with gaps) and written to that split's shards (shards.ts) as cond
// [3,H,W], hr, bias, g [1,H,W]. Everything is written into a temporary directory renamed into place at
// the end (output_dir.ts) with manifest.json (manifest.ts).
//
// Simulated pairs: subject = the HR file's name without .nii/.nii.gz; --pairs-per-volume acquisitions
// per HR file, each with voxel size, SNR, bias strength and gradwarp drawn uniformly from their ranges
// (rounded to 3 decimals, so the manifest shows exactly what was used) and its own simulation seed, all
// from one stream seeded by `seed`. Same inputs and options -> byte-identical output.
//
// With options.randomise (prepare --randomise N), randomise/build.ts builds N randomised subjects from the
// HR volume(s) instead, in the same format (docs/randomisation.md).
import { writeFileSync, readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { type AcquisitionParams } from "../simulate/simulate.js";
import { brainFractions, keptSlices } from "./brain_fraction.js";
import { DATASET_FORMAT, DATASET_VERSION, MANIFEST_FILE, formatManifest, type DatasetManifest, type DatasetSettings, type PairRecord } from "./manifest.js";
import { loadHr, realPair, simulatedPair, type HrSource, type PairVolumes } from "./pair_volumes.js";
import { readPairsManifest, selectSubjects, type PairEntry } from "./pairs_manifest.js";
import { resolvePrepareOptions, type PrepareOptions, type ResolvedPrepareOptions } from "./prepare_options.js";
import { Rng } from "./rng.js";
import { ShardWriter, type ShardInfo } from "./shards.js";
import { extractCondition, extractSlice, sliceGeometry } from "./slicing.js";
import { sourceFile } from "./sources.js";
import { assignSlice, planSplit, SPLITS, type SplitName } from "./split.js";
import { checkSplitsFilled, commonSettings } from "./dataset_settings.js";
import { stageOutput } from "./output_dir.js";
import { buildRandomised } from "./randomise/build.js";

export { PREPARE_DEFAULTS, defaultHrSource, defaultRandomiseSource, type PrepareOptions, type PrepareSource, type PrepareProgress, type RandomiseOptions } from "./prepare_options.js";

export interface PrepareResult {
  /** The data-set directory (absolute). */
  readonly output: string;
  readonly manifest: DatasetManifest;
  /** Total size of the files written. */
  readonly bytes: number;
  readonly seconds: number;
}

/** One pair to build, before its volumes exist. */
interface PlannedPair {
  readonly subject: string;
  readonly hrPath: string;
  readonly entry?: PairEntry;
  readonly params?: AcquisitionParams;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Subject ids from HR file names: the name without .nii(.gz), other characters as '_', made unique. */
export function subjectIdsFromPaths(paths: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return paths.map((p) => {
    const base = basename(p).replace(/\.nii(\.gz)?$/i, "").replace(/[^A-Za-z0-9._-]/g, "_") || "volume";
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}

function planPairs(o: ResolvedPrepareOptions): PlannedPair[] {
  if (o.source.kind === "pairs") {
    let entries = readPairsManifest(o.source.manifest);
    if (o.source.subjects !== undefined) entries = selectSubjects(entries, o.source.subjects, o.source.manifest);
    return entries.map((e) => ({ subject: e.subject, hrPath: e.hr, entry: e }));
  }
  const ids = subjectIdsFromPaths(o.source.hr);
  const rng = new Rng(o.seed, "acquisition");
  const out: PlannedPair[] = [];
  o.source.hr.forEach((hrPath, v) => {
    for (let j = 0; j < o.pairsPerVolume; j++) {
      const r = o.ranges;
      const params: AcquisitionParams = {
        voxelSize: round3(rng.uniform(r.voxel[0], r.voxel[1])),
        snr: round3(rng.uniform(r.snr[0], r.snr[1])),
        bias: round3(rng.uniform(r.bias[0], r.bias[1])),
        gradwarp: round3(rng.uniform(r.gradwarp[0], r.gradwarp[1])),
        seed: rng.nextUint32(),
      };
      out.push({ subject: ids[v] as string, hrPath, params });
    }
  });
  return out;
}

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

function dirBytes(dir: string): number {
  return readdirSync(dir).reduce((a, f) => a + statSync(join(dir, f)).size, 0);
}

/** Builds the data set (see the top of this file). Rejects with a clear error; never leaves a partial output. */
export async function prepareDataset(options: PrepareOptions): Promise<PrepareResult> {
  const t0 = Date.now();
  const o = resolvePrepareOptions(options);
  const pairs = o.randomise === null ? planPairs(o) : [];
  const staged = stageOutput(o.output, o.force);
  try {
    const manifest =
      o.randomise === null
        ? await build(o, pairs, staged.tmp)
        : await buildRandomised(o, o.randomise, o.source.kind === "simulate" ? subjectIdsFromPaths(o.source.hr) : [], staged.tmp);
    const bytes = dirBytes(staged.tmp);
    staged.commit();
    return { output: staged.output, manifest, bytes, seconds: (Date.now() - t0) / 1000 };
  } catch (e) {
    staged.abort();
    throw e;
  }
}

async function build(o: ResolvedPrepareOptions, pairs: readonly PlannedPair[], dir: string): Promise<DatasetManifest> {
  const abortIfAsked = (): void => {
    if (o.signal?.aborted === true) throw new Error("prepare was interrupted; nothing was written");
  };
  // The HR volume of the previous pair stays loaded (acquisitions of one source are consecutive).
  let cached: { path: string; hr: HrSource; kept: number[] } | null = null;
  const hrOf = (path: string): { hr: HrSource; kept: number[] } => {
    if (cached?.path !== path) {
      cached = null; // let the old one go before loading the next
      const hr = loadHr(path, o.nonFinite);
      cached = { path, hr, kept: keptSlices(brainFractions(hr.norm, o.axis), o.minBrain) };
    }
    return cached;
  };

  // The split; with 1 or 2 subjects it needs each subject's kept slice range (union over its HR files).
  const subjects = [...new Set(pairs.map((p) => p.subject))];
  const kept = new Map<string, Set<number>>();
  if (subjects.length <= 2) {
    for (const p of pairs) {
      const set = kept.get(p.subject) ?? new Set<number>();
      for (const k of hrOf(p.hrPath).kept) set.add(k);
      kept.set(p.subject, set);
      abortIfAsked();
    }
  }
  const plan = planSplit(
    subjects.map((s) => (kept.has(s) ? { subject: s, kept: [...(kept.get(s) as Set<number>)].sort((a, b) => a - b) } : { subject: s })),
    { seed: o.seed, gap: o.slabGap },
  );

  const writers = Object.fromEntries(SPLITS.map((s) => [s, new ShardWriter(dir, s, { height: o.height, width: o.width, shardSize: o.shardSize, axis: o.axis })])) as Record<SplitName, ShardWriter>;
  const records: PairRecord[] = [];
  const hw = o.height * o.width;
  const buf = { cond: new Float32Array(3 * hw), hr: new Float32Array(hw), bias: new Float32Array(hw), g: new Float32Array(hw) };
  let written = 0;
  for (const [id, p] of pairs.entries()) {
    const report = (stage: string): void => o.onProgress?.({ pairsDone: id, pairs: pairs.length, stage, slicesWritten: written });
    report(`loading ${p.subject}`);
    const { hr, kept: keptHere } = hrOf(p.hrPath);
    report(p.params !== undefined ? `simulating ${p.subject}` : o.register !== null ? `registering ${p.subject}` : `resampling ${p.subject}`);
    await yieldToEventLoop();
    abortIfAsked();
    const v: PairVolumes = p.params !== undefined ? simulatedPair(hr, p.params) : realPair(hr, p.entry as PairEntry, o.nonFinite, o.register);
    if (v.channels.bias === "zero") o.log?.(`note: pair ${id} (${p.subject}): no bias map given; its b channel is zero`);
    if (v.channels.g === "zero") o.log?.(`note: pair ${id} (${p.subject}): no gdc warp given; its g channel is zero`);
    const geo = sliceGeometry(hr.ras.dims, o.axis, o.height, o.width);
    const biasVol = { data: v.bias, dims: hr.ras.dims, affine: hr.ras.affine };
    const gVol = { data: v.g, dims: hr.ras.dims, affine: hr.ras.affine };
    const counts = { train: 0, val: 0, test: 0, unused: 0 };
    for (const [n, k] of keptHere.entries()) {
      const split = assignSlice(plan, p.subject, k);
      if (split === null) {
        counts.unused++;
        continue;
      }
      extractCondition(v.lr, geo, k, buf.cond);
      extractSlice(hr.norm, geo, k, buf.hr);
      extractSlice(biasVol, geo, k, buf.bias);
      extractSlice(gVol, geo, k, buf.g);
      writers[split].add(buf, { pair: id, subject: p.subject, index: k });
      counts[split]++;
      written++;
      if (n % 16 === 15) {
        report(`slicing ${p.subject} ${n + 1}/${keptHere.length}`);
        await yieldToEventLoop();
        abortIfAsked();
      }
    }
    if (keptHere.length === 0) o.log?.(`warning: pair ${id} (${p.subject}): no slice has at least ${100 * o.minBrain}% brain; it contributes nothing`);
    records.push({
      id,
      subject: p.subject,
      kind: p.params !== undefined ? "simulated" : "real",
      hr: hr.file,
      ...(v.lrFile !== undefined ? { lr: v.lrFile } : {}),
      ...(v.biasFile !== undefined ? { bias: v.biasFile } : {}),
      ...(v.gdcFile !== undefined ? { gdc: v.gdcFile } : {}),
      ...(v.acquisition !== undefined ? { acquisition: v.acquisition } : {}),
      channels: v.channels,
      scale: { hr: hr.scale, lr: v.lrScale },
      grid: { dims: hr.ras.dims, affine: Array.from(hr.ras.affine), originalOrientation: hr.originalOrientation },
      crop: { rowOffset: geo.rowOffset, colOffset: geo.colOffset },
      ...(v.overlap !== undefined ? { overlap: round3(v.overlap) } : {}),
      ...(v.registration !== undefined ? { registration: v.registration } : {}),
      slices: { total: geo.count, skipped: geo.count - keptHere.length, ...counts },
    });
    o.onProgress?.({ pairsDone: id + 1, pairs: pairs.length, stage: `done ${p.subject}`, slicesWritten: written });
  }
  const shards = Object.fromEntries(SPLITS.map((s) => [s, writers[s].finish()])) as Record<SplitName, ShardInfo[]>;
  const sum = (f: (r: PairRecord) => number): number => records.reduce((a, r) => a + f(r), 0);
  const counts = { train: sum((r) => r.slices.train), val: sum((r) => r.slices.val), test: sum((r) => r.slices.test), skipped: sum((r) => r.slices.skipped), unused: sum((r) => r.slices.unused) };
  checkSplitsFilled(counts, "more/larger volumes");
  const settings: DatasetSettings = {
    ...commonSettings(o),
    ...(o.source.kind === "simulate" ? { pairsPerVolume: o.pairsPerVolume, ranges: o.ranges } : {}),
  };
  const { height: H, width: W } = o;
  const manifest: DatasetManifest = {
    format: DATASET_FORMAT,
    version: DATASET_VERSION,
    generator: "moediff-sr prepare",
    source:
      o.source.kind === "pairs"
        ? { kind: "pairs", manifest: sourceFile(o.source.manifest), ...(o.source.subjects !== undefined ? { subjects: o.source.subjects } : {}) }
        : { kind: "simulate" },
    settings,
    tensors: {
      cond: { shape: [3, H, W], description: "LR slices k-1, k, k+1 on the HR grid, normalised to [0, 1] (edge slices repeated)" },
      hr: { shape: [1, H, W], description: "HR slice k, normalised to [0, 1]" },
      bias: { shape: [1, H, W], description: "b: ln(bias field) minus its median over the HR brain; 0 = no bias" },
      g: { shape: [1, H, W], description: "g: gradient-nonlinearity displacement magnitude |u| in mm; 0 = no distortion" },
    },
    pairs: records,
    split: plan,
    counts,
    shards,
  };
  writeFileSync(join(dir, MANIFEST_FILE), formatManifest(manifest));
  return manifest;
}
