// Options of `prepare`, their defaults, and their checks (each bad value is named with what to do).
//
// Default acquisition ranges for simulated pairs (per pair, uniform):
//   voxel 1.4:2.1 mm  (isotropic LR voxel; the paper's 1.5 mm -> 0.7 mm is a factor 2.14, Colin27 is 1 mm)
//   snr   15:40       (mean white-matter intensity / noise sigma)
//   bias  0:0.4       (bias strength s: b in [exp(-s/2), exp(s/2)])
//   gradwarp 0:1.0 mm (maximum displacement of the gradient-nonlinearity stand-in)
import { existsSync, statSync } from "node:fs";
import { resolveRegisterOptions, type RegisterOptions } from "../preprocess/register/options.js";
import { MIN_BRAIN_FRACTION } from "./brain_fraction.js";
import { MIN_RANDOMISE_SUBJECTS, RANDOMISE_SLICES_PER_VIEW, resolveRandomiseRanges, type ResolvedRandomise } from "./randomise/ranges.js";
import type { Axis } from "./slicing.js";
import { MIN_SLAB_GAP } from "./split.js";

export type PrepareSource =
  | { readonly kind: "simulate"; readonly hr: readonly string[] }
  | { readonly kind: "pairs"; readonly manifest: string; readonly subjects?: readonly string[] };

export interface PrepareProgress {
  readonly pairsDone: number;
  readonly pairs: number;
  /** What is happening, e.g. "simulating colin27", "slicing colin27 40/140". */
  readonly stage: string;
  readonly slicesWritten: number;
}

export type Range = readonly [number, number];

export interface AcquisitionRanges {
  readonly voxel: Range;
  readonly snr: Range;
  readonly bias: Range;
  readonly gradwarp: Range;
}

/** prepare --randomise: randomised subjects instead of plain simulated pairs (src/data/randomise/). */
export interface RandomiseOptions {
  /** Number of randomised subjects (>= 3: whole subjects go to train, val and test). */
  readonly subjects: number;
  /** Slices per slice axis and skull variant of each subject (default 16; 0 = every kept slice). */
  readonly slicesPerView?: number;
  /** Per HR volume of the source: a skull-stripped companion on the same grid (its nonzero voxels are the brain), or null. */
  readonly stripped?: readonly (string | null)[];
}

export interface PrepareOptions {
  /** The data-set directory to create. */
  readonly output: string;
  readonly source: PrepareSource;
  /** Replace an existing data set at `output`. */
  readonly force?: boolean;
  readonly axis?: Axis;
  readonly height?: number;
  readonly width?: number;
  readonly seed?: number;
  /** Slices per shard file. */
  readonly shardSize?: number;
  /** Minimum fraction of brain voxels for a slice to be kept. */
  readonly minBrain?: number;
  /** Unused slices between slabs of different splits (>= 3). */
  readonly slabGap?: number;
  /** Simulated acquisitions per HR volume. */
  readonly pairsPerVolume?: number;
  readonly ranges?: Partial<AcquisitionRanges>;
  /** NaN/Inf voxels in the inputs: "error" (default) or "zero". */
  readonly nonFinite?: "error" | "zero";
  /** Real pairs only: rigidly register each LR to its HR before resampling (true: default registration options). */
  readonly register?: boolean | RegisterOptions;
  /**
   * Randomised subjects (domain randomisation, docs/randomisation.md). `ranges`, when given, then
   * replace the randomisation's acquisition ranges (voxel: the 3-D isotropic voxel).
   */
  readonly randomise?: RandomiseOptions;
  readonly onProgress?: (p: PrepareProgress) => void;
  /** Notes and warnings for the user. */
  readonly log?: (message: string) => void;
  /** Aborting stops the build at the next slice or pair; the temporary directory is removed. */
  readonly signal?: AbortSignal;
}

export interface ResolvedPrepareOptions {
  readonly output: string;
  readonly source: PrepareSource;
  readonly force: boolean;
  readonly axis: Axis;
  readonly height: number;
  readonly width: number;
  readonly seed: number;
  readonly shardSize: number;
  readonly minBrain: number;
  readonly slabGap: number;
  readonly pairsPerVolume: number;
  readonly ranges: AcquisitionRanges;
  readonly nonFinite: "error" | "zero";
  /** Options for registerRigid, or null for no registration. */
  readonly register: RegisterOptions | null;
  /** Randomised subjects, or null for prepare's plain pairs. */
  readonly randomise: ResolvedRandomise | null;
  readonly onProgress?: (p: PrepareProgress) => void;
  readonly log?: (message: string) => void;
  readonly signal?: AbortSignal;
}

export const PREPARE_DEFAULTS = Object.freeze({
  axis: "z" as Axis,
  height: 256,
  width: 256,
  seed: 1,
  shardSize: 64,
  minBrain: MIN_BRAIN_FRACTION,
  slabGap: MIN_SLAB_GAP,
  pairsPerVolume: 1,
  ranges: Object.freeze({
    voxel: Object.freeze([1.4, 2.1] as const),
    snr: Object.freeze([15, 40] as const),
    bias: Object.freeze([0, 0.4] as const),
    gradwarp: Object.freeze([0, 1.0] as const),
  }),
});

/** Where Debian's mricron-data package puts the Colin27 template; the brain-extracted one first. */
export const DEFAULT_HR_CANDIDATES = ["/usr/share/mricron/templates/ch2bet.nii.gz", "/usr/share/mricron/templates/ch2.nii.gz"] as const;

/**
 * The default source of prepare --default --randomise: Colin27 with its skull (ch2) and the
 * skull-stripped ch2bet as its companion; whichever of the two is installed when only one is.
 */
export function defaultRandomiseSource(): { hr: string; stripped: string | null } {
  const [bet, head] = DEFAULT_HR_CANDIDATES;
  if (existsSync(head) && existsSync(bet)) return { hr: head, stripped: bet };
  return { hr: defaultHrSource(), stripped: null };
}

/** The default HR source (Colin27), or a clear error saying how to get it. */
export function defaultHrSource(): string {
  const found = DEFAULT_HR_CANDIDATES.find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(
      `the default HR volume (Colin27, ${DEFAULT_HR_CANDIDATES.join(" or ")}) is not installed; install the Debian/Ubuntu package mricron-data (apt install mricron-data) or give --simulate HR.nii.gz`,
    );
  }
  return found;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

function checkRange(name: string, r: Range, min: number, minInclusive: boolean): Range {
  if (!Array.isArray(r) || r.length !== 2 || r.some((x) => typeof x !== "number" || !Number.isFinite(x))) {
    throw new RangeError(`${name} range must be two finite numbers lo:hi, got ${JSON.stringify(r)}`);
  }
  const [lo, hi] = r;
  if (lo > hi) throw new RangeError(`${name} range ${lo}:${hi} has lo > hi`);
  if (minInclusive ? lo < min : lo <= min) throw new RangeError(`${name} range ${lo}:${hi} must be ${minInclusive ? ">=" : ">"} ${min}`);
  return [lo, hi];
}

function checkFile(path: string, what: string): void {
  if (typeof path !== "string" || path === "") throw new RangeError(`${what}: no file given`);
  if (!existsSync(path)) throw new Error(`${what} ${path} does not exist`);
  if (!statSync(path).isFile()) throw new Error(`${what} ${path} is not a regular file`);
}

export function resolvePrepareOptions(o: PrepareOptions): ResolvedPrepareOptions {
  if (typeof o.output !== "string" || o.output === "") throw new RangeError("prepare: an output directory is required (-o DIR)");
  const d = PREPARE_DEFAULTS;
  const src = o.source;
  if (src.kind === "simulate") {
    if (src.hr.length === 0) throw new RangeError("prepare: --simulate needs at least one HR volume");
    for (const p of src.hr) checkFile(p, "HR volume");
  } else if (src.kind === "pairs") {
    checkFile(src.manifest, "pairs manifest");
    if (src.subjects !== undefined && src.subjects.length === 0) throw new RangeError("prepare: the subject list is empty");
  } else {
    throw new RangeError(`prepare: source kind must be "simulate" or "pairs", got ${JSON.stringify((src as { kind: unknown }).kind)}`);
  }
  const axis = o.axis ?? d.axis;
  if (axis !== "x" && axis !== "y" && axis !== "z") throw new RangeError(`prepare: axis must be x, y or z, got ${JSON.stringify(axis)}`);
  const seed = o.seed ?? d.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`prepare: seed must be an integer in 0..4294967295, got ${seed}`);
  const minBrain = o.minBrain ?? d.minBrain;
  if (!(minBrain >= 0 && minBrain <= 1)) throw new RangeError(`prepare: minimum brain fraction must be in [0, 1], got ${minBrain}`);
  const slabGap = o.slabGap ?? d.slabGap;
  if (!Number.isInteger(slabGap) || slabGap < MIN_SLAB_GAP) throw new RangeError(`prepare: slab gap must be an integer >= ${MIN_SLAB_GAP}, got ${slabGap}`);
  const r = { ...d.ranges, ...(o.ranges ?? {}) };
  const nonFinite = o.nonFinite ?? "error";
  if (nonFinite !== "error" && nonFinite !== "zero") throw new RangeError(`prepare: nonFinite must be "error" or "zero", got ${JSON.stringify(nonFinite)}`);
  const register = o.register === undefined || o.register === false ? null : o.register === true ? {} : o.register;
  if (register !== null) {
    if (src.kind !== "pairs") throw new RangeError("prepare: registration (--register) applies only to real pairs (--pairs); simulated pairs are aligned by construction");
    if (typeof register !== "object" || register === null) throw new TypeError(`prepare: register must be true, false or registration options, got ${JSON.stringify(register)}`);
    resolveRegisterOptions(register); // check the options now, before any volume is read
  }
  const randomise = resolveRandomise(o);
  return {
    output: o.output,
    source: src,
    force: o.force ?? false,
    axis,
    height: positiveInt("slice height", o.height ?? d.height),
    width: positiveInt("slice width", o.width ?? d.width),
    seed,
    shardSize: positiveInt("shard size", o.shardSize ?? d.shardSize),
    minBrain,
    slabGap,
    pairsPerVolume: positiveInt("pairs per volume", o.pairsPerVolume ?? d.pairsPerVolume),
    ranges: {
      voxel: checkRange("voxel size", r.voxel, 0, false),
      snr: checkRange("SNR", r.snr, 0, false),
      bias: checkRange("bias strength", r.bias, 0, true),
      gradwarp: checkRange("gradwarp", r.gradwarp, 0, true),
    },
    nonFinite,
    register,
    randomise,
    ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}),
    ...(o.log !== undefined ? { log: o.log } : {}),
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
  };
}

function resolveRandomise(o: PrepareOptions): ResolvedRandomise | null {
  const r = o.randomise;
  if (r === undefined) return null;
  if (typeof r !== "object" || r === null) throw new TypeError(`prepare: randomise must be {subjects, slicesPerView?, stripped?}, got ${JSON.stringify(r)}`);
  if (o.source.kind !== "simulate") throw new RangeError("prepare: --randomise makes subjects from HR volumes (--default or --simulate), not from real pairs (--pairs)");
  if (!Number.isInteger(r.subjects) || r.subjects < MIN_RANDOMISE_SUBJECTS) {
    throw new RangeError(`prepare: --randomise needs an integer number of subjects >= ${MIN_RANDOMISE_SUBJECTS} (whole subjects go to train, val and test), got ${r.subjects}`);
  }
  const slicesPerView = r.slicesPerView ?? RANDOMISE_SLICES_PER_VIEW;
  if (!Number.isInteger(slicesPerView) || slicesPerView < 0) throw new RangeError(`prepare: slices per view must be an integer >= 0 (0 = all), got ${slicesPerView}`);
  if (o.pairsPerVolume !== undefined && o.pairsPerVolume !== 1) {
    throw new RangeError("prepare: --pairs-per-volume does not apply with --randomise (each randomised subject has its own acquisitions)");
  }
  const hr = o.source.hr;
  const stripped = r.stripped ?? hr.map(() => null);
  if (stripped.length !== hr.length) throw new RangeError(`prepare: randomise.stripped has ${stripped.length} entries for ${hr.length} HR volumes`);
  for (const p of stripped) if (p !== null) checkFile(p, "skull-stripped volume");
  const given = o.ranges ?? {};
  const ranges = resolveRandomiseRanges({
    ...(given.voxel !== undefined ? { voxel: given.voxel } : {}),
    ...(given.snr !== undefined ? { snr: given.snr } : {}),
    ...(given.bias !== undefined ? { bias: given.bias } : {}),
    ...(given.gradwarp !== undefined ? { gradwarp: given.gradwarp } : {}),
  });
  return { subjects: r.subjects, slicesPerView, stripped, ranges };
}
