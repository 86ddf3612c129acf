// The pure parts of `npm run bench` (bench/all.ts): its command line, reading a child benchmark's
// last JSON line, per-slice times from per-batch times, the headline figures and their targets, and
// the printed table. No engine here, so the tests (test/bench/all.test.ts) run without a model.
//
// Design decisions (the issue names the figures, not every rule):
// - Per-slice time of a run = median over its batches of (batch seconds / tiles in the batch) x (tiles
//   per slice that ran), over the full batches only when there are any: a short last batch costs more
//   per tile, and the first batch carries the one-off warm-up, which the median leaves out.
// - async_time_ratio = async per-slice time / joint per-slice time, both from the same slab, run one
//   after the other in fresh processes; async_flops_ratio from the FLOP counts of one tile with the
//   step counts the two runs really made (their expert evaluations per batch).
// - Targets: the (whole Colin27 volume under 5 minutes, peak memory under 4 GB = 4096 MiB),
//   parity's own bound on ours/PyTorch (bench/parity.ts MAX_TIME_RATIO), and asynchronous mode below
//   joint in FLOPs and time (its purpose; paper Table III: 42.21 vs 56.12 GFLOPs). The other figures
//   are reported without a target.
import { parseBenchArgs } from "./args.js";
import { MAX_TIME_RATIO } from "./parity.js";
import { median } from "./stats.js";
import type { BatchTime, EnhanceRunReport } from "./all_enhance.js";

export interface AllOptions {
  model: string;
  /** Skip the whole-volume run. */
  quick: boolean;
  threads: number;
  skipParity: boolean;
  skipEngine: boolean;
  /** HR slices of the slab enhanced in joint and async mode. */
  slab: number;
  /** Timed training steps, after trainWarmup untimed ones. */
  trainSteps: number;
  trainWarmup: number;
}

export const USAGE = `usage: npm run -s bench [-- options]   (npm run bench <name> runs one of the other benchmarks)
  --model DIR         trained model directory (default: models/default)
  --quick             skip the whole-volume run (enhance_volume_s is then null)
  --threads N         intra-op threads for every part (default: MOEDIFF_NUM_THREADS, else every core)
  --skip-engine       do not run bench/engine (engine_ratio null)
  --skip-parity       do not run bench/parity (pytorch_time_ratio null)
  --slab N            slices of the slab enhanced in joint and asynchronous mode (default 12)
  --train-steps N     timed training steps (default 5)
  --train-warmup N    untimed training steps first (default 2)
The last line printed is one JSON object.`;

export class BenchArgsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BenchArgsError";
  }
}

/**
 * Parses the command line. `root` is the repository (for models/default), `env` gives
 * MOEDIFF_NUM_THREADS, `defaultThreads` the count used without either.
 */
export function parseAllArgs(args: readonly string[], root: string, env: Readonly<Record<string, string | undefined>>, defaultThreads: number): AllOptions {
  const a = parseBenchArgs(args, {
    name: "bench",
    flags: ["--quick", "--skip-parity", "--skip-engine"],
    valued: ["--model", "--threads", "--slab", "--train-steps", "--train-warmup"],
    help: USAGE,
    error: BenchArgsError,
  });
  const threadsDefault = a.threadsDefault(env, defaultThreads);
  return {
    model: a.model(root, "config.json, card.json, model.safetensors, vqvae/"),
    quick: a.has("--quick"),
    threads: a.int("threads", threadsDefault, 1),
    skipParity: a.has("--skip-parity"),
    skipEngine: a.has("--skip-engine"),
    slab: a.int("slab", 12, 1),
    trainSteps: a.int("train-steps", 5, 1),
    trainWarmup: a.int("train-warmup", 2, 0),
  };
}

/** The last non-empty line of a child's stdout parsed as a JSON object, or null. */
export function lastJsonLine(stdout: string): Record<string, unknown> | null {
  const lines = stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const last = lines[lines.length - 1];
  if (last === undefined) return null;
  try {
    const v: unknown = JSON.parse(last);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Seconds per slice of each batch: seconds / tiles x tilesPerSlice. Only the batches of `batch` tiles
 * when there are any (see the header), else all.
 */
export function perSliceSeconds(batches: readonly BatchTime[], batch: number, tilesPerSlice: number): number[] {
  if (batches.length === 0) throw new RangeError("perSliceSeconds: the run recorded no batch");
  if (!(tilesPerSlice > 0)) throw new RangeError(`perSliceSeconds: tiles per slice must be > 0, got ${tilesPerSlice}`);
  const full = batches.filter((b) => b.tiles === batch);
  return (full.length > 0 ? full : batches).map((b) => (b.seconds / b.tiles) * tilesPerSlice);
}

/** Median seconds per slice of an enhancement run. */
export function runSecondsPerSlice(r: Pick<EnhanceRunReport, "batches" | "tilesRun" | "slicesRun">, batch: number): number {
  if (r.slicesRun === 0) throw new RangeError("runSecondsPerSlice: no slice of the run had signal");
  return median(perSliceSeconds(r.batches, batch, r.tilesRun / r.slicesRun));
}

/** Denoiser evaluations per tile of each expert: evaluations / batches (each batch runs every step once). */
export function stepsPerTile(r: Pick<EnhanceRunReport, "evaluations" | "batches" | "label">): number[] {
  const n = r.batches.length;
  if (n === 0) throw new RangeError(`stepsPerTile: the ${r.label} run recorded no batch`);
  return r.evaluations.map((e, i) => {
    const s = e / n;
    if (!Number.isInteger(s)) throw new RangeError(`stepsPerTile: the ${r.label} run made ${e} evaluations of expert ${i} in ${n} batches, not a whole number per batch`);
    return s;
  });
}

// ----------------------------------------------------------------------------------- targets

export const HEADLINE = [
  "enhance_efficiency",
  "enhance_s_per_slice",
  "enhance_volume_s",
  "enhance_peak_rss_mb",
  "train_samples_per_s",
  "async_flops_ratio",
  "async_time_ratio",
  "engine_ratio",
  "pytorch_time_ratio",
  "forward_time_ratio",
] as const;
export type Headline = (typeof HEADLINE)[number];

export const UNITS: Readonly<Record<Headline, string>> = {
  enhance_efficiency: "of engine",
  enhance_s_per_slice: "s/slice",
  enhance_volume_s: "s",
  enhance_peak_rss_mb: "MiB",
  train_samples_per_s: "samples/s",
  async_flops_ratio: "async/joint",
  async_time_ratio: "async/joint",
  engine_ratio: "TS/C++",
  pytorch_time_ratio: "ours/PyTorch",
  forward_time_ratio: "ours/PyTorch",
};

export interface Target {
  /** value < limit ("<"), value <= limit ("<=") or value >= limit (">="). */
  op: "<" | "<=" | ">=";
  limit: number;
  why: string;
}

export const TARGETS: Readonly<Partial<Record<Headline, Target>>> = {
  enhance_efficiency: { op: ">=", limit: 0.35, why: "issue 18: the whole-volume enhancement's effective GFLOP/s at least 0.35 of bench:engine's conv training step" },
  enhance_volume_s: { op: "<=", limit: 60, why: "issue 18: the whole Colin27 volume in at most 60 s on 2 cores, default settings" },
  enhance_peak_rss_mb: { op: "<", limit: 2048, why: "issue 18: peak memory under 2 GB" },
  async_flops_ratio: { op: "<", limit: 1, why: "asynchronous inference saves compute (paper Table III: 42.21 vs 56.12 GFLOPs)" },
  async_time_ratio: { op: "<", limit: 1, why: "asynchronous inference saves time" },
  pytorch_time_ratio: { op: "<=", limit: MAX_TIME_RATIO, why: "issue 7 point 4 (bench/parity.ts MAX_TIME_RATIO)" },
  forward_time_ratio: { op: "<=", limit: 1, why: "issue 18: forward passes (inference mode on both sides) no slower than PyTorch's" },
};

export type Status = "pass" | "FAIL" | "n/a" | "";

/**
 * pass/FAIL against the figure's target; "n/a" when it was not measured; "" when it has none. A value
 * that is only a lower bound of the figure (`lowerBound`: the slab's memory standing in for the whole
 * volume's) can fail the target but not pass it: "n/a" unless it fails.
 */
export function targetStatus(name: Headline, value: number | null, lowerBound = false): Status {
  const t = TARGETS[name];
  if (t === undefined) return "";
  if (value === null || !Number.isFinite(value)) return "n/a";
  const ok = t.op === "<" ? value < t.limit : t.op === "<=" ? value <= t.limit : value >= t.limit;
  return ok ? (lowerBound ? "n/a" : "pass") : "FAIL";
}

/** The JSON's pass field: true/false per targeted figure, null where the status is n/a. */
export function passMap(figures: Figures, lowerBounds: ReadonlySet<Headline> = new Set()): Partial<Record<Headline, boolean | null>> {
  const out: Partial<Record<Headline, boolean | null>> = {};
  for (const k of HEADLINE) {
    if (TARGETS[k] === undefined) continue;
    const s = targetStatus(k, figures[k], lowerBounds.has(k));
    out[k] = s === "n/a" ? null : s === "pass";
  }
  return out;
}

export type Figures = Record<Headline, number | null>;

/** Rounds for the JSON: 4 significant digits below 1000, integers above. */
export function roundFigure(v: number | null): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  if (Math.abs(v) >= 1000) return Math.round(v);
  return Number(v.toPrecision(4));
}

/** The headline figures from the measurements (null where a part was skipped or failed). */
export function headlineFigures(m: {
  batch: number;
  slabJoint: EnhanceRunReport;
  slabAsync: EnhanceRunReport;
  volume: EnhanceRunReport | null;
  trainSamplesPerSecond: number;
  flops: { joint: number; async: number };
  engineRatio: number | null;
  /** bench:engine's conv training step, GFLOP/s (the efficiency's denominator). */
  engineGflops: number | null;
  pytorchTimeRatio: number | null;
  forwardTimeRatio: number | null;
}): Figures {
  const joint = runSecondsPerSlice(m.slabJoint, m.batch);
  const asyn = runSecondsPerSlice(m.slabAsync, m.batch);
  // The whole volume's effective GFLOP/s: every tile that ran, at the joint run's FLOPs per tile.
  const volumeGflops = m.volume === null ? null : (m.flops.joint * m.volume.tilesRun) / 1e9 / m.volume.seconds;
  return {
    enhance_efficiency: volumeGflops === null || m.engineGflops === null || !(m.engineGflops > 0) ? null : volumeGflops / m.engineGflops,
    enhance_s_per_slice: joint,
    enhance_volume_s: m.volume === null ? null : m.volume.seconds,
    enhance_peak_rss_mb: m.volume === null ? m.slabJoint.peakRssMb : m.volume.peakRssMb,
    train_samples_per_s: m.trainSamplesPerSecond,
    async_flops_ratio: m.flops.async / m.flops.joint,
    async_time_ratio: asyn / joint,
    engine_ratio: m.engineRatio,
    pytorch_time_ratio: m.pytorchTimeRatio,
    forward_time_ratio: m.forwardTimeRatio,
  };
}

/** A number field of a child's JSON, or null. */
export function numberField(json: Record<string, unknown> | null, key: string): number | null {
  const v = json?.[key];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

const show = (v: number | null): string => (v === null ? "null" : String(roundFigure(v)));

/** The readable table: figure, value, unit, target, status; then the notes. `lowerBounds`: see targetStatus. */
export function formatFigures(figures: Figures, notes: Readonly<Record<string, string>>, lowerBounds: ReadonlySet<Headline> = new Set()): string {
  const rows: string[][] = [["figure", "value", "unit", "target", "status"]];
  for (const k of HEADLINE) {
    const t = TARGETS[k];
    rows.push([k, show(figures[k]), UNITS[k], t === undefined ? "-" : `${t.op} ${t.limit}`, targetStatus(k, figures[k], lowerBounds.has(k))]);
  }
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => (r[j] as string).length)));
  const line = (r: string[]): string =>
    r
      .map((c, j) => (j === 0 || j === 2 ? c.padEnd(widths[j] as number) : c.padStart(widths[j] as number)))
      .join("  ")
      .trimEnd();
  const out = [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)];
  const noteLines = Object.entries(notes).map(([k, v]) => `  ${k}: ${v}`);
  if (noteLines.length > 0) out.push("notes:", ...noteLines);
  return out.join("\n");
}
