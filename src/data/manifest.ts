// manifest.json of a prepared slice data set: what was built, from what, how, and where the slices are.
// It holds no timestamps and no temporary paths, so the same inputs and arguments give the same bytes.
// Versioned: readers reject other versions with a message saying to re-run prepare.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Mat4 } from "../volume/volume.js";
import { JsonFileError, readJsonFile } from "../util/json_file.js";
import type { ShardInfo } from "./shards.js";
import type { Axis } from "./slicing.js";
import type { SourceFile } from "./sources.js";
import type { SplitName, SplitPlan } from "./split.js";

export const DATASET_FORMAT = "moediff-sr-slices";
export const DATASET_VERSION = 1;
export const MANIFEST_FILE = "manifest.json";

/** Acquisition parameters drawn for one simulated pair (those given to simulateAcquisition) and what it reported. */
export interface AcquisitionRecord {
  readonly voxelSize: number;
  readonly snr: number;
  readonly bias: number;
  readonly gradwarp: number;
  readonly seed: number;
  readonly wmMean: number;
  readonly sigma: number;
}

/** The rigid LR-to-HR registration of a real pair, as recorded in the data-set manifest. */
export interface PairRegistration {
  readonly metric: string;
  readonly init: string;
  /** 4x4 rows: HR (fixed) world point -> LR (moving) world point, mm. */
  readonly matrix: number[][];
  /** 4x4 rows: LR world -> HR world. */
  readonly inverse: number[][];
  /** Angles about x, y, z in degrees (R = Rz Ry Rx) about the centre of the HR field of view. */
  readonly rotationDeg: number[];
  readonly translationMm: number[];
  readonly levels: { readonly shrink: number; readonly iterations: number; readonly finalCost: number }[];
  /** Fraction of the HR field of view inside the LR one after registration. */
  readonly overlapAfter: number;
}

/** One LR/HR pair (acquisition) and what became of it. */
export interface PairRecord {
  readonly id: number;
  readonly subject: string;
  readonly kind: "simulated" | "real";
  readonly hr: SourceFile;
  readonly lr?: SourceFile;
  readonly bias?: SourceFile;
  readonly gdc?: SourceFile;
  readonly acquisition?: AcquisitionRecord;
  /** Where b and g came from: the simulation, a file, or nothing (zeros). */
  readonly channels: { readonly bias: "simulated" | "file" | "zero"; readonly g: "simulated" | "file" | "zero" };
  /** The normalisation divisors (foreground 99.5th percentiles) of HR and LR. */
  readonly scale: { readonly hr: number; readonly lr: number };
  /** The HR grid after reorientation to RAS (the grid the slices are cut from), and the original orientation. */
  readonly grid: { readonly dims: readonly [number, number, number]; readonly affine: Mat4; readonly originalOrientation: string };
  /** Output row r / column c reads native row r + rowOffset / column c + colOffset (negative: padding). */
  readonly crop: { readonly rowOffset: number; readonly colOffset: number };
  /** For an LR file: the fraction of HR brain voxels inside the LR field of view. */
  readonly overlap?: number;
  /** With prepare --register: the rigid LR-to-HR registration applied before resampling. */
  readonly registration?: PairRegistration;
  /** Slices along the axis: all, skipped for too little brain, in no split (slab gaps), and per split. */
  readonly slices: { readonly total: number; readonly skipped: number; readonly unused: number; readonly train: number; readonly val: number; readonly test: number };
}

export interface DatasetSettings {
  readonly axis: Axis;
  readonly height: number;
  readonly width: number;
  readonly seed: number;
  readonly shardSize: number;
  readonly minBrain: number;
  readonly brainLevel: number;
  readonly normalisePercentile: number;
  readonly slabGap: number;
  /** Simulation only. */
  readonly pairsPerVolume?: number;
  readonly ranges?: { readonly voxel: readonly [number, number]; readonly snr: readonly [number, number]; readonly bias: readonly [number, number]; readonly gradwarp: readonly [number, number] };
}

export interface DatasetManifest {
  readonly format: typeof DATASET_FORMAT;
  readonly version: number;
  readonly generator: string;
  readonly source: { readonly kind: "simulate" | "pairs"; readonly manifest?: SourceFile; readonly subjects?: readonly string[] };
  readonly settings: DatasetSettings;
  /** Human-readable definitions of the stored tensors. */
  readonly tensors: Readonly<Record<"cond" | "hr" | "bias" | "g", { readonly shape: readonly number[]; readonly description: string }>>;
  readonly pairs: readonly PairRecord[];
  readonly split: SplitPlan;
  readonly counts: { readonly train: number; readonly val: number; readonly test: number; readonly skipped: number; readonly unused: number };
  readonly shards: Readonly<Record<SplitName, readonly ShardInfo[]>>;
}

export class ManifestError extends Error {
  constructor(
    readonly source: string,
    problem: string,
  ) {
    super(`data set ${source}: ${problem}`);
    this.name = "ManifestError";
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/**
 * Checks the parts of a manifest that readers rely on and returns it typed. `dir`, when given, is the
 * data-set directory: every shard file must then exist.
 */
export function validateManifest(json: unknown, source: string, dir?: string): DatasetManifest {
  const fail = (p: string): never => {
    throw new ManifestError(source, p);
  };
  if (!isObj(json)) fail("manifest.json must hold a JSON object");
  const m = json as Record<string, unknown>;
  if (m.format !== DATASET_FORMAT) fail(`not a moediff-sr slice data set (format is ${JSON.stringify(m.format)}, expected "${DATASET_FORMAT}")`);
  if (m.version !== DATASET_VERSION) fail(`manifest version ${JSON.stringify(m.version)}; this program reads version ${DATASET_VERSION}: re-run moediff-sr prepare`);
  const s = m.settings;
  if (!isObj(s)) fail("settings is missing");
  const st = s as Record<string, unknown>;
  if (st.axis !== "x" && st.axis !== "y" && st.axis !== "z") fail(`settings.axis must be x, y or z, got ${JSON.stringify(st.axis)}`);
  for (const k of ["height", "width", "shardSize"]) if (!(isCount(st[k]) && (st[k] as number) > 0)) fail(`settings.${k} must be a positive integer, got ${JSON.stringify(st[k])}`);
  if (!Array.isArray(m.pairs)) fail("pairs must be a list");
  if (!isObj(m.split) || !Array.isArray((m.split as Record<string, unknown>).assignments)) fail("split is missing or has no assignments");
  const counts = m.counts;
  if (!isObj(counts)) fail("counts is missing");
  const shards = m.shards;
  if (!isObj(shards)) fail("shards is missing");
  for (const split of ["train", "val", "test"] as const) {
    const list = (shards as Record<string, unknown>)[split];
    if (!Array.isArray(list)) fail(`shards.${split} must be a list`);
    let total = 0;
    for (const [i, e] of (list as unknown[]).entries()) {
      if (!isObj(e) || typeof e.file !== "string" || !isCount(e.count) || e.count === 0) fail(`shards.${split}[${i}] must be {file, count > 0}`);
      const info = e as { file: string; count: number };
      if (info.file.includes("/") || info.file.includes("\\") || info.file.startsWith(".")) fail(`shards.${split}[${i}].file ${JSON.stringify(info.file)} must be a plain file name in the data-set directory`);
      total += info.count;
      if (dir !== undefined) {
        const p = join(dir, info.file);
        if (!existsSync(p) || !statSync(p).isFile()) fail(`shard ${info.file} (listed in shards.${split}) is missing; the data set is incomplete: re-run moediff-sr prepare`);
      }
    }
    const c = (counts as Record<string, unknown>)[split];
    if (c !== total) fail(`counts.${split} is ${JSON.stringify(c)} but the ${split} shards hold ${total} slices`);
  }
  return json as unknown as DatasetManifest;
}

/** JSON text of a manifest: indented objects, arrays of numbers/strings on one line. Ends with a newline. */
export function formatManifest(value: unknown): string {
  const fmt = (v: unknown, indent: string): string => {
    if (Array.isArray(v)) {
      if (v.every((x) => x === null || typeof x !== "object")) return `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
      const inner = indent + "  ";
      return `[\n${v.map((x) => inner + fmt(x, inner)).join(",\n")}\n${indent}]`;
    }
    if (v !== null && typeof v === "object") {
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      if (entries.length === 0) return "{}";
      const inner = indent + "  ";
      return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${fmt(x, inner)}`).join(",\n")}\n${indent}}`;
    }
    return JSON.stringify(v) ?? "null";
  };
  return fmt(value, "") + "\n";
}

/** Reads and validates DIR/manifest.json. */
export function readManifest(dir: string): DatasetManifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(dir)) throw new ManifestError(dir, "the directory does not exist");
  if (!statSync(dir).isDirectory()) throw new ManifestError(dir, "is not a directory (give the directory moediff-sr prepare wrote)");
  if (!existsSync(path)) throw new ManifestError(dir, `no ${MANIFEST_FILE}: not a data set written by moediff-sr prepare`);
  let json: unknown;
  try {
    json = readJsonFile(path, { what: "the data set manifest", fix: "the data set is damaged: prepare it again with `moediff-sr prepare ... --force`" });
  } catch (e) {
    throw new ManifestError(dir, `${MANIFEST_FILE} ${e instanceof JsonFileError ? e.problem : String(e)}`);
  }
  return validateManifest(json, dir, dir);
}
