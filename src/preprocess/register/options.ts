// Options of rigid registration, their defaults and checks (each bad value is named with what to do).
//
// Defaults (the spec leaves them open; chosen to resemble an ANTs rigid stage, measured on Colin27):
//   metric ncc, shrink factors 4x2x1, smoothing sigmas 2x1x0 fixed-image voxels, iterations 150x100x50,
//   init com, at most 100000 sample points per level, 32 histogram bins (mi), learning rate 0.25 voxel
//   (times the level's shrink factor) decayed along a cosine to 2% of itself over each level, minimum
//   overlap 25% of the fixed field of view.
import * as T from "../../torch/index.js";
import { checkSeed } from "../../util/random.js";
import { METRICS, type Metric } from "./metrics.js";

export type Init = "none" | "com" | "geometry";
export const INITS: readonly Init[] = ["none", "com", "geometry"];

export interface LevelProgress {
  /** 0-based level index and count. */
  readonly level: number;
  readonly levels: number;
  readonly shrink: number;
  /** 1-based iteration within the level and the level's maximum. */
  readonly iteration: number;
  readonly iterations: number;
  readonly cost: number;
}

export interface RegisterOptions {
  readonly metric?: Metric;
  /** Shrink factors, coarse to fine (positive integers, last usually 1). */
  readonly levels?: readonly number[];
  /** Gaussian sigma per level, in fixed-image voxels (0 = none). Default: f / 2 for f > 1, else 0. */
  readonly smoothing?: readonly number[];
  /** Maximum iterations per level. */
  readonly iterations?: readonly number[];
  readonly init?: Init;
  /** Sample points per level at most (a fixed random subset beyond that). */
  readonly maxSamples?: number;
  /** Histogram bins per image for mi. */
  readonly bins?: number;
  /** Adam step at the start of a level, in fixed voxels times the level's shrink factor. */
  readonly learningRate?: number;
  /** Refuse when less than this fraction of the fixed field of view lies inside the moving one. */
  readonly minOverlap?: number;
  /** Stop a level early when the cost's slope over the last `convergenceWindow` iterations, relative to the cost, is below this. */
  readonly convergence?: number;
  readonly convergenceWindow?: number;
  readonly seed?: number;
  readonly device?: T.Device;
  readonly dtype?: T.DType;
  readonly onProgress?: (p: LevelProgress) => void;
}

export interface ResolvedRegisterOptions {
  readonly metric: Metric;
  readonly levels: readonly number[];
  readonly smoothing: readonly number[];
  readonly iterations: readonly number[];
  readonly init: Init;
  readonly maxSamples: number;
  readonly bins: number;
  readonly learningRate: number;
  readonly minOverlap: number;
  readonly convergence: number;
  readonly convergenceWindow: number;
  readonly seed: number;
  readonly device: T.Device;
  readonly dtype: T.DType;
  readonly onProgress?: (p: LevelProgress) => void;
}

export const REGISTER_DEFAULTS = Object.freeze({
  metric: "ncc" as Metric,
  levels: Object.freeze([4, 2, 1]),
  iterations: Object.freeze([150, 100, 50]),
  init: "com" as Init,
  maxSamples: 100000,
  bins: 32,
  learningRate: 0.25,
  minOverlap: 0.25,
  convergence: 1e-6,
  convergenceWindow: 10,
  seed: 1,
});

const KNOWN = new Set([
  "metric", "levels", "smoothing", "iterations", "init", "maxSamples", "bins", "learningRate", "minOverlap",
  "convergence", "convergenceWindow", "seed", "device", "dtype", "onProgress",
]);

/** The default smoothing sigma (fixed voxels) for a shrink factor. */
export const defaultSmoothing = (shrink: number): number => (shrink > 1 ? shrink / 2 : 0);

function list(name: string, v: readonly number[], ok: (x: number) => boolean, what: string): readonly number[] {
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== "number" || !ok(x))) {
    throw new RangeError(`register: ${name} must be a non-empty list of ${what}, got ${JSON.stringify(v)}`);
  }
  return [...v];
}

export function resolveRegisterOptions(o: RegisterOptions): ResolvedRegisterOptions {
  if (typeof o !== "object" || o === null) throw new TypeError("register: options must be an object");
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw new TypeError(`register: unknown option '${k}' (known: ${[...KNOWN].join(", ")})`);
  const d = REGISTER_DEFAULTS;
  const metric = o.metric ?? d.metric;
  if (!METRICS.includes(metric)) throw new RangeError(`register: metric must be ${METRICS.join(" or ")}, got ${JSON.stringify(metric)}`);
  const init = o.init ?? d.init;
  if (!INITS.includes(init)) throw new RangeError(`register: init must be ${INITS.join(", ")}, got ${JSON.stringify(init)}`);
  const levels = list("levels (shrink factors)", o.levels ?? d.levels, (x) => Number.isInteger(x) && x >= 1, "integers >= 1");
  const smoothing = list("smoothing (sigmas in voxels)", o.smoothing ?? levels.map(defaultSmoothing), (x) => Number.isFinite(x) && x >= 0, "numbers >= 0");
  const iterations = list("iterations", o.iterations ?? (levels.length === d.levels.length ? d.iterations : levels.map(() => 100)), (x) => Number.isInteger(x) && x >= 1, "integers >= 1");
  if (smoothing.length !== levels.length || iterations.length !== levels.length) {
    throw new RangeError(
      `register: give one shrink factor, smoothing sigma and iteration count per level; got ${levels.length} levels (${levels.join("x")}), ` +
        `${smoothing.length} sigmas (${smoothing.join("x")}) and ${iterations.length} iteration counts (${iterations.join("x")})`,
    );
  }
  const maxSamples = o.maxSamples ?? d.maxSamples;
  if (!Number.isInteger(maxSamples) || maxSamples < 1000) throw new RangeError(`register: maxSamples must be an integer >= 1000, got ${maxSamples}`);
  const bins = o.bins ?? d.bins;
  if (!Number.isInteger(bins) || bins < 8 || bins > 256) throw new RangeError(`register: bins must be an integer in 8..256, got ${bins}`);
  const learningRate = o.learningRate ?? d.learningRate;
  if (!(learningRate > 0 && Number.isFinite(learningRate))) throw new RangeError(`register: learningRate must be a positive number (fixed voxels), got ${learningRate}`);
  const minOverlap = o.minOverlap ?? d.minOverlap;
  if (!(minOverlap > 0 && minOverlap <= 1)) throw new RangeError(`register: minOverlap must be a fraction in (0, 1], got ${minOverlap}`);
  const convergence = o.convergence ?? d.convergence;
  if (!(convergence >= 0 && Number.isFinite(convergence))) throw new RangeError(`register: convergence must be a number >= 0 (0: always run every iteration), got ${convergence}`);
  const convergenceWindow = o.convergenceWindow ?? d.convergenceWindow;
  if (!Number.isInteger(convergenceWindow) || convergenceWindow < 3) throw new RangeError(`register: convergenceWindow must be an integer >= 3, got ${convergenceWindow}`);
  const dtype = o.dtype ?? T.getDefaultDType();
  if (dtype !== "float32" && dtype !== "float64") throw new RangeError(`register: dtype must be float32 or float64, got ${JSON.stringify(dtype)}`);
  return {
    metric,
    levels,
    smoothing,
    iterations,
    init,
    maxSamples,
    bins,
    learningRate,
    minOverlap,
    convergence,
    convergenceWindow,
    seed: checkSeed(o.seed ?? d.seed, "register: seed"),
    device: o.device ?? T.getDefaultDevice(),
    dtype,
    ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}),
  };
}
