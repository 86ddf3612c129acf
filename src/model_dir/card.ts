// The model card of a trained run (RUN/card.json): what inference must know about the data the model
// was trained on, so that `enhance` prepares its input the same way and picks sane defaults.
//   slice        height x width of the training slices and the voxel axis they were cut along (RAS)
//   voxelSize    the HR (7T-like) voxel size of the training data, mm: enhance's default target grid
//   normalise    the percentile that mapped to 1 (src/data/normalise.ts), for LR and HR alike
//   lrInterpolation  how an LR volume was put on the HR grid before slicing (prepare: cubic B-spline)
//   reference    the HR grid of the first training pair (for model-info's per-volume figures)
//   trainingData what the LR inputs of training looked like (LR voxel sizes, SNRs, contrast, fields of
//                view, orientation), so `enhance` can warn about an input outside it (src/inference/
//                trust.ts). Optional, and each entry in it too: cards written before it existed, and
//                data sets that do not record an entry (real pairs: no simulated SNR), check less.
// `train` writes it from the data set's manifest; a run without one cannot be used for inference.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { DatasetManifest } from "../data/manifest.js";
import { voxelSizes } from "../volume/affine.js";
import type { Axis } from "../data/slicing.js";
import { writeFileAtomic } from "../util/atomic_write.js";
import { readJsonFile } from "../util/json_file.js";

export const MODEL_CARD_FILE = "card.json";
export const MODEL_CARD_FORMAT = "moediff-sr-model-card";

export interface ModelCard {
  readonly format: typeof MODEL_CARD_FORMAT;
  readonly version: 1;
  readonly slice: { readonly height: number; readonly width: number; readonly axis: Axis };
  readonly voxelSize: readonly [number, number, number];
  readonly normalisePercentile: number;
  readonly lrInterpolation: "bspline";
  readonly reference: { readonly dims: readonly [number, number, number]; readonly slices: number };
  /**
   * Median over the training pairs of HR divisor / LR divisor (each volume is normalised by its own
   * 99.5th percentile; noise and blur move the LR's). The model returns HR-normalised intensities, so
   * enhance multiplies its output by the input's divisor times this ratio (1 when absent: older cards).
   */
  readonly hrToLrScale?: number;
  /** What the training inputs looked like (see the top of this file); absent on older cards. */
  readonly trainingData?: TrainingData;
  /** Where the model was trained: data set directory and counts, for the record. */
  readonly dataset: { readonly path: string; readonly counts: Readonly<Record<string, number>> };
  /**
   * Written by `export` (src/export/export_model.ts, ExportRecord): where the model came from, each
   * network's stored dtype and size, and the float16 precision check. For the record; inference does
   * not read it.
   */
  readonly export?: Readonly<Record<string, unknown>>;
}

/** The training inputs, as far as the data set's manifest says (every entry optional). */
export interface TrainingData {
  /** The LR acquisitions' voxel edges, mm: the smallest and largest over every axis of every acquisition. */
  readonly lrVoxelSize?: readonly [number, number];
  /** The largest ratio of longest to shortest voxel edge of one acquisition (1: isotropic only). */
  readonly lrAnisotropy?: number;
  /** The simulated SNRs (white-matter mean / noise sigma): smallest and largest. */
  readonly snr?: readonly [number, number];
  /** "T1": T1-weighted sources (CSF darker than GM darker than WM). */
  readonly contrast?: "T1";
  /** Extent (mm) of the training volumes along R, A, S (after reorientation to RAS): smallest and largest. */
  readonly fieldOfViewMm?: { readonly min: readonly [number, number, number]; readonly max: readonly [number, number, number] };
  /**
   * Largest angle (degrees) between a training grid's voxel axes and the world axes, plus the random
   * rotation of the anatomy (prepare --randomise): how obliquely the brain lay in the training slices.
   */
  readonly orientationDeg?: number;
}

export class ModelCardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelCardError";
  }
}

const AXIS_DIM: Readonly<Record<Axis, 0 | 1 | 2>> = { x: 0, y: 1, z: 2 };

/** The card for a model trained on the data set `manifest` (read from `dataPath`). */
export function modelCardFromManifest(manifest: DatasetManifest, dataPath: string): ModelCard {
  const first = manifest.pairs[0];
  if (first === undefined) throw new ModelCardError(`${dataPath}: the data set has no pairs`);
  const vs = voxelSizes(first.grid.affine);
  const s = manifest.settings;
  return {
    format: MODEL_CARD_FORMAT,
    version: 1,
    slice: { height: s.height, width: s.width, axis: s.axis },
    voxelSize: [vs[0], vs[1], vs[2]].map((v) => Number(v.toFixed(6))) as unknown as [number, number, number],
    normalisePercentile: s.normalisePercentile,
    lrInterpolation: "bspline",
    reference: { dims: first.grid.dims, slices: first.grid.dims[AXIS_DIM[s.axis]] },
    hrToLrScale: median(manifest.pairs.map((p) => p.scale.hr / p.scale.lr)),
    trainingData: trainingDataFromManifest(manifest),
    dataset: { path: dataPath, counts: { ...manifest.counts } },
  };
}

/** Angle (degrees) between the most oblique voxel axis of `affine` and its nearest world axis. */
export function obliquityDeg(affine: ArrayLike<number>): number {
  let worst = 0;
  for (let c = 0; c < 3; c++) {
    const v = [affine[c] as number, affine[4 + c] as number, affine[8 + c] as number];
    const n = Math.hypot(v[0] as number, v[1] as number, v[2] as number);
    if (!(n > 0)) continue;
    const cos = Math.min(1, Math.max(...v.map((x) => Math.abs(x))) / n);
    worst = Math.max(worst, (Math.acos(cos) * 180) / Math.PI);
  }
  return worst;
}

const round = (x: number, d = 4): number => Number(x.toFixed(d));

/** What the manifest says about the training inputs (see TrainingData); entries it cannot say are left out. */
export function trainingDataFromManifest(manifest: DatasetManifest): TrainingData {
  const voxels: (readonly [number, number, number])[] = [];
  const snrs: number[] = [];
  for (const p of manifest.pairs) {
    if (p.acquisition !== undefined) {
      const v = p.acquisition.voxelSize as number | readonly number[];
      voxels.push(typeof v === "number" ? [v, v, v] : [v[0] as number, v[1] as number, v[2] as number]);
      snrs.push(p.acquisition.snr);
    }
  }
  // prepare --randomise records each subject's acquisitions per skull variant.
  const rnd = (manifest as { randomisation?: { subjects?: readonly { variants?: Record<string, { acquisition?: { voxelSize?: readonly number[]; snr?: number } } | undefined> }[] } }).randomisation;
  let rotation = 0;
  if (rnd?.subjects !== undefined) {
    voxels.length = 0;
    snrs.length = 0;
    for (const s of rnd.subjects) {
      for (const v of Object.values(s.variants ?? {})) {
        const a = v?.acquisition;
        if (a?.voxelSize !== undefined && a.voxelSize.length === 3) voxels.push([a.voxelSize[0] as number, a.voxelSize[1] as number, a.voxelSize[2] as number]);
        if (typeof a?.snr === "number") snrs.push(a.snr);
      }
    }
    const r = (manifest.settings as { randomise?: { ranges?: { anatomy?: { rotationDeg?: unknown } } } }).randomise?.ranges?.anatomy?.rotationDeg;
    if (typeof r === "number") rotation = r;
  }
  const extents = manifest.pairs.map((p) => {
    const vs = voxelSizes(p.grid.affine);
    return [0, 1, 2].map((a) => p.grid.dims[a]! * vs[a]!) as [number, number, number];
  });
  const out: { -readonly [K in keyof TrainingData]: TrainingData[K] } = {};
  if (voxels.length > 0) {
    out.lrVoxelSize = [round(Math.min(...voxels.flat())), round(Math.max(...voxels.flat()))];
    out.lrAnisotropy = round(Math.max(...voxels.map((v) => Math.max(...v) / Math.min(...v))));
  }
  if (snrs.length > 0) out.snr = [round(Math.min(...snrs)), round(Math.max(...snrs))];
  if ((manifest.source as DatasetManifest["source"] | undefined)?.kind === "simulate") out.contrast = "T1";
  if (extents.length > 0) {
    out.fieldOfViewMm = {
      min: [0, 1, 2].map((a) => round(Math.min(...extents.map((e) => e[a]!)), 2)) as unknown as [number, number, number],
      max: [0, 1, 2].map((a) => round(Math.max(...extents.map((e) => e[a]!)), 2)) as unknown as [number, number, number],
    };
    out.orientationDeg = round(Math.max(...manifest.pairs.map((p) => obliquityDeg(p.grid.affine))) + rotation, 2);
  }
  return out;
}

function median(xs: readonly number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 === 1 ? (v[m] as number) : ((v[m - 1] as number) + (v[m] as number)) / 2;
}

export function writeModelCard(runDir: string, card: ModelCard): void {
  writeFileAtomic(join(runDir, MODEL_CARD_FILE), (w) => w(Buffer.from(`${JSON.stringify(card, null, 2)}\n`)));
}

const isPosInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0;

/** Reads and checks RUN/card.json. */
export function readModelCard(runDir: string): ModelCard {
  const path = join(runDir, MODEL_CARD_FILE);
  if (!existsSync(path)) {
    throw new ModelCardError(
      `${runDir} has no ${MODEL_CARD_FILE} (the model card that says how its training data were prepared); ` +
        `runs trained with this version write one; for an older run, write it with \`moediff-sr card ${runDir} --data DATA\``,
    );
  }
  const j = readJsonFile(path, { what: "the model card", fix: "write it again with `moediff-sr card RUN --data DATA`", error: ModelCardError });
  if (typeof j !== "object" || j === null || Array.isArray(j)) throw new ModelCardError(`the model card ${path} must hold a JSON object; write it again with \`moediff-sr card RUN --data DATA\``);
  const c = j as Partial<ModelCard>;
  const bad = (what: string): never => {
    throw new ModelCardError(`${path}: ${what}; the file is damaged, write it again with \`moediff-sr card RUN --data DATA\``);
  };
  if (c.format !== MODEL_CARD_FORMAT || c.version !== 1) bad(`not a version-1 ${MODEL_CARD_FORMAT} file`);
  if (!isPosInt(c.slice?.height) || !isPosInt(c.slice?.width) || !["x", "y", "z"].includes(c.slice?.axis as string)) bad("slice must have positive integer height/width and axis x|y|z");
  if (!Array.isArray(c.voxelSize) || c.voxelSize.length !== 3 || c.voxelSize.some((v) => !(typeof v === "number" && v > 0))) bad("voxelSize must be three positive numbers (mm)");
  if (!(typeof c.normalisePercentile === "number" && c.normalisePercentile > 0 && c.normalisePercentile <= 100)) bad("normalisePercentile must be in (0, 100]");
  if (c.hrToLrScale !== undefined && !(typeof c.hrToLrScale === "number" && c.hrToLrScale > 0 && Number.isFinite(c.hrToLrScale))) bad("hrToLrScale must be a positive number");
  if (!Array.isArray(c.reference?.dims) || c.reference.dims.length !== 3 || !c.reference.dims.every(isPosInt) || !isPosInt(c.reference.slices)) bad("reference must have dims (3 positive integers) and slices");
  if (c.trainingData !== undefined) checkTrainingData(c.trainingData, bad);
  return c as ModelCard;
}

function checkTrainingData(t: unknown, bad: (what: string) => never): void {
  if (typeof t !== "object" || t === null || Array.isArray(t)) bad("trainingData must be an object");
  const d = t as Record<string, unknown>;
  const pos = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v) && v > 0;
  const pair = (v: unknown): boolean => Array.isArray(v) && v.length === 2 && v.every(pos) && (v[0] as number) <= (v[1] as number);
  const triple = (v: unknown): boolean => Array.isArray(v) && v.length === 3 && v.every(pos);
  if (d.lrVoxelSize !== undefined && !pair(d.lrVoxelSize)) bad("trainingData.lrVoxelSize must be [lo, hi] in mm");
  if (d.lrAnisotropy !== undefined && !(pos(d.lrAnisotropy) && (d.lrAnisotropy as number) >= 1)) bad("trainingData.lrAnisotropy must be a number >= 1");
  if (d.snr !== undefined && !pair(d.snr)) bad("trainingData.snr must be [lo, hi]");
  if (d.contrast !== undefined && d.contrast !== "T1") bad('trainingData.contrast must be "T1"');
  const fov = d.fieldOfViewMm as { min?: unknown; max?: unknown } | undefined;
  if (fov !== undefined && !(typeof fov === "object" && fov !== null && triple(fov.min) && triple(fov.max))) bad("trainingData.fieldOfViewMm must be {min, max}, three extents in mm each");
  if (d.orientationDeg !== undefined && !(typeof d.orientationDeg === "number" && d.orientationDeg >= 0 && d.orientationDeg <= 90)) bad("trainingData.orientationDeg must be in 0..90 degrees");
}

export function axisDim(a: Axis): 0 | 1 | 2 {
  return AXIS_DIM[a];
}
