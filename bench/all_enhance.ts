// One timed enhancement for `npm run bench` (bench/all.ts), run as a child process so that its
// peak resident memory (process.resourceUsage().maxRSS) is that of the enhancement alone: reading the
// LR NIfTI, loading the model, and enhanceVolume — not the benchmark's own simulation and training.
//
//   node dist/bench/all_enhance.js SPEC.json      (SPEC: EnhanceRunSpec below; written by bench/all.ts)
//
// The last line printed is one JSON object (EnhanceRunReport). Progress goes to stderr.
// Timing: `seconds` is the wall time of enhanceVolume only (model loading excluded). Per-batch times
// are the intervals between enhanceVolume's progress reports, which it makes once before the first
// batch of an axis and once after each batch (encode, sample, decode, blend), so each interval is one
// batch of up to `batch` tiles.
// Threads: the parent sets MOEDIFF_NUM_THREADS (and OMP/OPENBLAS_NUM_THREADS) in this process's
// environment, so the engine starts with that count.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Grid } from "../src/volume/affine.js";
import type { Axis } from "../src/data/slicing.js";

/** What to enhance and how (JSON). */
export interface EnhanceRunSpec {
  /** A label for progress lines ("slab joint", "volume"). */
  label: string;
  model: string;
  /** The LR volume (NIfTI). */
  lr: string;
  /** Output grid (enhance --like); null: the model card's voxel size over the input's field of view. */
  like: Grid | null;
  /** Divisor instead of the input's own percentile (a slab scaled as its whole volume); null: its own. */
  inputScale: number | null;
  mode: "joint" | "async";
  steps: number;
  start: number;
  snapToCodebook: boolean;
  eta: number;
  seed: number;
  batch: number;
  overlap: number;
  axes: Axis[];
}

export interface BatchTime {
  /** Tiles in the batch. */
  tiles: number;
  seconds: number;
}

export interface EnhanceRunReport {
  label: string;
  /** Wall time of enhanceVolume. */
  seconds: number;
  /** Model loading (not in `seconds`). */
  loadSeconds: number;
  batches: BatchTime[];
  /** Slices of the target grid along the axes, and those with signal that ran. */
  slices: number;
  slicesRun: number;
  tilesRun: number;
  /** Expert forward passes per expert, summed over batches. */
  evaluations: number[];
  targetDims: [number, number, number];
  /** Peak resident set of this process, MiB. */
  peakRssMb: number;
  threads: number;
}

/** Checks a parsed spec; names the first bad field. */
export function parseEnhanceRunSpec(json: unknown, where: string): EnhanceRunSpec {
  const fail = (what: string): never => {
    throw new Error(`${where}: ${what}`);
  };
  if (typeof json !== "object" || json === null || Array.isArray(json)) return fail("the spec must be a JSON object");
  const s = json as Record<string, unknown>;
  const str = (k: string): void => void (typeof s[k] === "string" && s[k] !== "" ? 0 : fail(`${k} must be a non-empty string, got ${JSON.stringify(s[k])}`));
  const int = (k: string, min: number): void => void (Number.isInteger(s[k]) && (s[k] as number) >= min ? 0 : fail(`${k} must be an integer >= ${min}, got ${JSON.stringify(s[k])}`));
  str("label");
  str("model");
  str("lr");
  if (s.mode !== "joint" && s.mode !== "async") fail(`mode must be "joint" or "async", got ${JSON.stringify(s.mode)}`);
  int("steps", 1);
  int("seed", 0);
  int("batch", 1);
  int("overlap", 0);
  if (!(typeof s.start === "number" && s.start > 0 && s.start <= 1)) fail(`start must be a fraction in (0, 1], got ${JSON.stringify(s.start)}`);
  if (!(typeof s.eta === "number" && s.eta >= 0)) fail(`eta must be a number >= 0, got ${JSON.stringify(s.eta)}`);
  if (typeof s.snapToCodebook !== "boolean") fail(`snapToCodebook must be true or false, got ${JSON.stringify(s.snapToCodebook)}`);
  if (!(s.inputScale === null || (typeof s.inputScale === "number" && s.inputScale > 0))) fail(`inputScale must be null or a positive number, got ${JSON.stringify(s.inputScale)}`);
  if (!Array.isArray(s.axes) || s.axes.length === 0 || !s.axes.every((a) => a === "x" || a === "y" || a === "z")) fail(`axes must be a non-empty list of "x", "y", "z", got ${JSON.stringify(s.axes)}`);
  if (s.like !== null) {
    const g = s.like as Partial<Grid> | undefined;
    if (typeof g !== "object" || !Array.isArray(g.dims) || g.dims.length !== 3 || !Array.isArray(g.affine) || g.affine.length !== 16) {
      fail(`like must be null or a grid {dims: [3 integers], affine: [16 numbers]}, got ${JSON.stringify(s.like)}`);
    }
  }
  return s as unknown as EnhanceRunSpec;
}

async function main(): Promise<void> {
  const specPath = process.argv[2];
  if (specPath === undefined) {
    throw new Error("all_enhance: this is the enhancement child of `npm run bench` (bench/all.ts); it needs a spec file: node dist/bench/all_enhance.js SPEC.json");
  }
  const spec = parseEnhanceRunSpec(JSON.parse(readFileSync(specPath, "utf8")), specPath);
  const T = await import("../src/torch/index.js");
  const { readNifti, toVolume } = await import("../src/nifti/index.js");
  const { MoEDiffSRPipeline } = await import("../src/inference/pipeline.js");
  const { enhanceVolume } = await import("../src/inference/enhance.js");
  const lr = toVolume(readNifti(spec.lr));
  const t0 = performance.now();
  const pipe = MoEDiffSRPipeline.fromDir(spec.model);
  const loadSeconds = (performance.now() - t0) / 1000;
  try {
    const batches: BatchTime[] = [];
    let last = 0;
    let lastTiles = 0;
    let lastAxis = "";
    let lastPrint = 0;
    const start = performance.now();
    const r = await enhanceVolume(pipe, lr, {
      ...(spec.like !== null ? { like: spec.like } : {}),
      ...(spec.inputScale !== null ? { inputScale: spec.inputScale } : {}),
      steps: spec.steps,
      eta: spec.eta,
      start: spec.start,
      mode: spec.mode,
      seed: spec.seed,
      batch: spec.batch,
      axes: spec.axes,
      overlap: spec.overlap,
      snapToCodebook: spec.snapToCodebook,
      onProgress: (p) => {
        const now = performance.now();
        if (p.axis === lastAxis && p.tilesDone > lastTiles) batches.push({ tiles: p.tilesDone - lastTiles, seconds: (now - last) / 1000 });
        last = now;
        lastTiles = p.tilesDone;
        lastAxis = p.axis;
        if (now - lastPrint > 15_000 || p.tilesDone === p.tiles) {
          lastPrint = now;
          process.stderr.write(`bench: ${spec.label}: ${p.tilesDone}/${p.tiles} tiles, ${((now - start) / 1000).toFixed(0)} s\n`);
        }
      },
    });
    const seconds = (performance.now() - start) / 1000;
    const s = r.stats;
    const report: EnhanceRunReport = {
      label: spec.label,
      seconds,
      loadSeconds,
      batches,
      slices: s.slices,
      slicesRun: s.slicesRun,
      tilesRun: s.tilesRun,
      evaluations: s.evaluations,
      targetDims: s.targetDims,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
      threads: T.getNumThreads(),
    };
    console.log(JSON.stringify(report));
  } finally {
    pipe.dispose();
  }
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
