// prepare --randomise N: a slice data set of N randomised subjects made from the source volume(s), in
// the format prepare always writes (manifest.json and split shards of cond/hr/bias/g slices), so the
// trainers read it unchanged.
//
// Per subject, one at a time (memory holds one source and one subject's volumes, whatever N is): draw
// its parameters (subject.ts), build its skull variants, and for each variant and each slice axis x
// (sagittal), y (coronal), z (axial) cut the kept slices (>= minBrain brain, brain_fraction.ts),
// choose `slicesPerView` of them (one at random from each of that many equal parts of the kept
// range; 0 = all) and write them, centre-cropped/padded to the data set's H x W, to the subject's
// split. Every (subject, variant, axis) is one entry of `pairs` (with `axis` and `randomised`); slice
// metadata index = slice index along that pair's axis. Whole subjects go to one split (split.ts,
// method "subjects": 8:1:1, at least one subject each to val and test, so N >= 3).
// Subjects are spread over the sources in contiguous blocks (subject i uses source floor(i S / N)), so
// each source is read and segmented once. The manifest's `randomisation` records each source (files,
// tissue statistics, brain centre) and each subject's drawn parameters and measured outcomes; with
// drawSubject(seed, index, source, subject, settings.randomise.ranges) and SubjectGenerator a pair can be
// regenerated exactly.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { brainFractions, keptSlices } from "../brain_fraction.js";
import { DATASET_FORMAT, DATASET_VERSION, MANIFEST_FILE, formatManifest, type DatasetManifest, type DatasetSettings, type PairRecord } from "../manifest.js";
import type { ResolvedPrepareOptions } from "../prepare_options.js";
import { Rng } from "../rng.js";
import { ShardWriter, type ShardInfo } from "../shards.js";
import type { SourceFile } from "../sources.js";
import { AXES, extractCondition, extractSlice, sliceGeometry, type Axis } from "../slicing.js";
import { planSplit, SPLITS, type SplitName } from "../split.js";
import { checkSplitsFilled, commonSettings } from "../dataset_settings.js";
import type { AcquisitionResult } from "./acquisition.js";
import type { AnatomyParams } from "./anatomy.js";
import type { ContrastParams } from "./contrast.js";
import type { ResolvedRandomise } from "./ranges.js";
import { drawSubject, loadRandomiseSource, SubjectGenerator, type RandomiseSource, type SkullVariant } from "./subject.js";

/** A pair record of a randomised data set: one (subject, skull variant, slice axis). */
export interface RandomisedPairRecord extends PairRecord {
  readonly axis: Axis;
  readonly randomised: { readonly subject: number; readonly variant: SkullVariant };
}

export interface RandomisedSubjectRecord {
  readonly subject: string;
  readonly index: number;
  readonly source: number;
  readonly split: SplitName;
  readonly anatomy: AnatomyParams;
  readonly contrast: ContrastParams;
  readonly slicesSeed: number;
  /** Largest elastic displacement over the grid, mm. */
  readonly maxDisplacementMm: number;
  readonly variants: Partial<
    Record<SkullVariant, { readonly acquisition: AcquisitionResult; readonly scale: { readonly hr: number; readonly lr: number }; readonly targetClassMeans: readonly [number, number, number] }>
  >;
}

export interface RandomisationRecord {
  readonly sources: readonly {
    readonly id: string;
    readonly hr: SourceFile;
    readonly stripped?: SourceFile;
    readonly hasSkull: boolean;
    readonly maskFrom: string;
    readonly centre: readonly number[];
    readonly tissue: { readonly means: readonly number[]; readonly sds: readonly number[]; readonly counts: readonly number[] };
  }[];
  readonly subjects: readonly RandomisedSubjectRecord[];
}

export type RandomisedManifest = DatasetManifest & { readonly settings: DatasetSettings & { readonly randomise: Record<string, unknown> }; readonly randomisation: RandomisationRecord };

/** Indices `k` chosen from `kept` (ascending): one at random from each of k equal parts; all when k is 0 or >= the count. */
export function chooseSlices(kept: readonly number[], k: number, rng: Rng): number[] {
  const n = kept.length;
  if (k === 0 || k >= n) return kept.slice();
  const out: number[] = [];
  for (let b = 0; b < k; b++) {
    const lo = Math.floor((b * n) / k);
    const hi = Math.floor(((b + 1) * n) / k);
    out.push(kept[lo + Math.min(hi - lo - 1, Math.floor(rng.next() * (hi - lo)))] as number);
  }
  return out;
}

const r6 = (x: number): number => Number(x.toPrecision(6));
const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Writes the randomised data set into `dir` (the staging directory); `sourceIds` name the sources. */
export async function buildRandomised(o: ResolvedPrepareOptions, r: ResolvedRandomise, sourceIds: readonly string[], dir: string): Promise<RandomisedManifest> {
  if (o.source.kind !== "simulate") throw new RangeError("prepare: --randomise makes subjects from HR volumes (--default or --simulate), not from --pairs");
  const hrPaths = o.source.hr;
  const abortIfAsked = (): void => {
    if (o.signal?.aborted === true) throw new Error("prepare was interrupted; nothing was written");
  };
  const S = hrPaths.length;
  const N = r.subjects;
  const sourceOf = (i: number): number => Math.floor((i * S) / N);
  const ids = Array.from({ length: N }, (_, i) => `${sourceIds[sourceOf(i)] as string}-r${String(i + 1).padStart(3, "0")}`);
  const plan = planSplit(ids.map((subject) => ({ subject })), { seed: o.seed, gap: o.slabGap });
  const splitOf = new Map(plan.assignments.map((a) => [a.subject, a.split as SplitName]));
  const writers = Object.fromEntries(SPLITS.map((s) => [s, new ShardWriter(dir, s, { height: o.height, width: o.width, shardSize: o.shardSize, axis: "xyz" })])) as Record<SplitName, ShardWriter>;
  const hw = o.height * o.width;
  const buf = { cond: new Float32Array(3 * hw), hr: new Float32Array(hw), bias: new Float32Array(hw), g: new Float32Array(hw) };
  const pairs: RandomisedPairRecord[] = [];
  const subjects: RandomisedSubjectRecord[] = [];
  const sources: RandomisationRecord["sources"][number][] = [];
  let written = 0;
  let source: RandomiseSource | null = null;
  for (let i = 0; i < N; i++) {
    const id = ids[i] as string;
    const report = (stage: string): void => o.onProgress?.({ pairsDone: i, pairs: N, stage, slicesWritten: written });
    const si = sourceOf(i);
    if (source === null || sources.length <= si) {
      source = null; // let the previous one go first
      report(`segmenting ${sourceIds[si]}`);
      await yieldToEventLoop();
      abortIfAsked();
      const stripped = r.stripped[si];
      source = loadRandomiseSource(sourceIds[si] as string, hrPaths[si] as string, { ...(stripped !== null && stripped !== undefined ? { stripped } : {}), nonFinite: o.nonFinite });
      const s = source;
      sources.push({
        id: s.id,
        hr: s.files!.hr,
        ...(s.files?.stripped !== undefined ? { stripped: s.files.stripped } : {}),
        hasSkull: s.hasSkull,
        maskFrom: s.maskFrom,
        centre: [...s.centre],
        tissue: { means: s.stats.means.map(r6), sds: s.stats.sds.map(r6), counts: [...s.stats.counts] },
      });
    }
    const params = drawSubject(o.seed, i, si, id, r.ranges);
    report(`deforming ${id}`);
    await yieldToEventLoop();
    abortIfAsked();
    const gen = new SubjectGenerator(source, params);
    const split = splitOf.get(id) as SplitName;
    const variants: RandomisedSubjectRecord["variants"] = {};
    for (const variant of gen.variants) {
      report(`simulating ${id} (${variant})`);
      await yieldToEventLoop();
      abortIfAsked();
      const v = gen.variant(variant);
      variants[variant] = { acquisition: v.pair.acquisition, scale: { hr: v.hrScale, lr: v.pair.lrScale }, targetClassMeans: v.classMeans };
      const dims = v.hr.dims;
      const biasVol = { data: v.pair.bias, dims, affine: v.hr.affine };
      const gVol = { data: v.pair.g, dims, affine: v.hr.affine };
      for (const axis of AXES) {
        const geo = sliceGeometry(dims, axis, o.height, o.width);
        const kept = keptSlices(brainFractions(v.hrNorm, axis), o.minBrain);
        const chosen = chooseSlices(kept, r.slicesPerView, new Rng(params.slicesSeed, `${variant}/${axis}`));
        const pairId = pairs.length;
        for (const k of chosen) {
          extractCondition(v.pair.lr, geo, k, buf.cond);
          extractSlice(v.hrNorm, geo, k, buf.hr);
          extractSlice(biasVol, geo, k, buf.bias);
          extractSlice(gVol, geo, k, buf.g);
          writers[split].add(buf, { pair: pairId, subject: id, index: k });
          written++;
        }
        if (kept.length === 0) o.log?.(`warning: ${id} (${variant}), axis ${axis}: no slice has at least ${100 * o.minBrain}% brain; it contributes nothing`);
        const files = source.files!;
        pairs.push({
          id: pairId,
          subject: id,
          kind: "simulated",
          hr: variant === "brain" && files.stripped !== undefined ? files.stripped : files.hr,
          axis,
          randomised: { subject: i, variant },
          channels: { bias: "simulated", g: "simulated" },
          scale: { hr: v.hrScale, lr: v.pair.lrScale },
          grid: { dims: [dims[0], dims[1], dims[2]], affine: Array.from(v.hr.affine), originalOrientation: source.originalOrientation },
          crop: { rowOffset: geo.rowOffset, colOffset: geo.colOffset },
          slices: {
            total: geo.count,
            skipped: geo.count - kept.length,
            unused: kept.length - chosen.length,
            train: split === "train" ? chosen.length : 0,
            val: split === "val" ? chosen.length : 0,
            test: split === "test" ? chosen.length : 0,
          },
        });
        report(`slicing ${id} (${variant}, ${axis})`);
        await yieldToEventLoop();
        abortIfAsked();
      }
    }
    subjects.push({
      subject: id,
      index: i,
      source: si,
      split,
      anatomy: params.anatomy,
      contrast: params.contrast,
      slicesSeed: params.slicesSeed,
      maxDisplacementMm: r6(gen.deformation.maxDisplacementMm),
      variants,
    });
    o.onProgress?.({ pairsDone: i + 1, pairs: N, stage: `done ${id}`, slicesWritten: written });
  }
  const shards = Object.fromEntries(SPLITS.map((s) => [s, writers[s].finish()])) as Record<SplitName, ShardInfo[]>;
  const sum = (f: (p: PairRecord) => number): number => pairs.reduce((a, p) => a + f(p), 0);
  const counts = { train: sum((p) => p.slices.train), val: sum((p) => p.slices.val), test: sum((p) => p.slices.test), skipped: sum((p) => p.slices.skipped), unused: sum((p) => p.slices.unused) };
  checkSplitsFilled(counts, "larger volumes");
  const { height: H, width: W } = o;
  const manifest: RandomisedManifest = {
    format: DATASET_FORMAT,
    version: DATASET_VERSION,
    generator: "moediff-sr prepare --randomise",
    source: { kind: "simulate" },
    settings: {
      ...commonSettings(o),
      randomise: { subjects: N, slicesPerView: r.slicesPerView, axes: [...AXES], variants: ["head", "brain"], ranges: r.ranges },
    },
    randomisation: { sources, subjects },
    tensors: {
      cond: { shape: [3, H, W], description: "LR slices k-1, k, k+1 along the pair's axis, on the HR grid, normalised to [0, 1] (edge slices repeated)" },
      hr: { shape: [1, H, W], description: "HR slice k (randomised contrast and anatomy), normalised to [0, 1]" },
      bias: { shape: [1, H, W], description: "b: ln(bias field) minus its median over the HR brain; 0 = no bias" },
      g: { shape: [1, H, W], description: "g: gradient-nonlinearity displacement magnitude |u| in mm; 0 = no distortion" },
    },
    pairs,
    split: plan,
    counts,
    shards,
  };
  writeFileSync(join(dir, MANIFEST_FILE), formatManifest(manifest));
  return manifest;
}
