// The model card of a trained run (RUN/card.json): what inference must know about the data the model
// was trained on, so that `enhance` prepares its input the same way and picks sane defaults.
//   slice        height x width of the training slices and the voxel axis they were cut along (RAS)
//   voxelSize    the HR (7T-like) voxel size of the training data, mm: enhance's default target grid
//   normalise    the percentile that mapped to 1 (src/data/normalise.ts), for LR and HR alike
//   lrInterpolation  how an LR volume was put on the HR grid before slicing (prepare: cubic B-spline)
//   reference    the HR grid of the first training pair (for model-info's per-volume figures)
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
  /** Where the model was trained: data set directory and counts, for the record. */
  readonly dataset: { readonly path: string; readonly counts: Readonly<Record<string, number>> };
  /**
   * Written by `export` (src/export/export_model.ts, ExportRecord): where the model came from, each
   * network's stored dtype and size, and the float16 precision check. For the record; inference does
   * not read it.
   */
  readonly export?: Readonly<Record<string, unknown>>;
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
    dataset: { path: dataPath, counts: { ...manifest.counts } },
  };
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
  return c as ModelCard;
}

export function axisDim(a: Axis): 0 | 1 | 2 {
  return AXIS_DIM[a];
}
