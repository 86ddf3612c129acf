// Reading a training log (JSON lines, as `train` and `train-vqvae` write): numeric series per key versus
// step, plus held-out evaluation points, and which keys to plot by default.
//
// A usable line is a JSON object with a finite numeric "step". Training lines contribute every finite
// numeric top-level value. Lines with an "eval" object contribute evaluation points: eval.total is
// matched to the training key "loss", other numeric fields to the key of the same name, and numeric
// lists (eval.diffusion, eval.task, eval.gateMean as "gate") to "<name>_E1", "<name>_E2", ... (per-expert
// keys as the trainer logs them); eval.slices (how many slices were evaluated) is not a value and is
// ignored. Blank lines are ignored; anything else is skipped and counted.
import { readFileSync } from "node:fs";

export interface Point {
  readonly step: number;
  readonly value: number;
}

export interface LossLog {
  readonly source: string;
  /** Training series by key, in order of first appearance. */
  readonly series: ReadonlyMap<string, readonly Point[]>;
  /** Evaluation points by training key. */
  readonly evals: ReadonlyMap<string, readonly Point[]>;
  /** The split named by eval lines ("val"), when any says. */
  readonly evalSplit: string | null;
  readonly trainLines: number;
  readonly evalLines: number;
  readonly skipped: number;
  /** 1-based line numbers of the first few skipped lines. */
  readonly skippedExamples: readonly number[];
}

/** Keys never plotted by default: bookkeeping, schedules and gate statistics rather than losses. */
const EXCLUDED = new Set(["step", "time", "lr", "uniform", "w", "temperature", "gradNorm", "restarts"]);
const EXCLUDED_PREFIXES = ["usage_", "gate_"];
/** Eval field -> training key: the eval total is the training "loss"; per-expert gate means are "gate_E<k>". */
const EVAL_ALIASES: Readonly<Record<string, string>> = { total: "loss", gateMean: "gate" };

export function isDefaultKey(key: string): boolean {
  return !EXCLUDED.has(key) && !EXCLUDED_PREFIXES.some((p) => key.startsWith(p));
}

function push(m: Map<string, Point[]>, key: string, p: Point): void {
  let list = m.get(key);
  if (list === undefined) {
    list = [];
    m.set(key, list);
  }
  list.push(p);
}

export function parseLossLog(text: string, source: string): LossLog {
  const series = new Map<string, Point[]>();
  const evals = new Map<string, Point[]>();
  let evalSplit: string | null = null;
  let trainLines = 0;
  let evalLines = 0;
  let skipped = 0;
  const skippedExamples: number[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    let j: unknown;
    try {
      j = JSON.parse(line);
    } catch {
      j = undefined;
    }
    const o = typeof j === "object" && j !== null && !Array.isArray(j) ? (j as Record<string, unknown>) : null;
    const step = o?.["step"];
    if (o === null || typeof step !== "number" || !Number.isFinite(step)) {
      skipped++;
      if (skippedExamples.length < 5) skippedExamples.push(i + 1);
      return;
    }
    const ev = o["eval"];
    if (typeof ev === "object" && ev !== null && !Array.isArray(ev)) {
      evalLines++;
      const e = ev as Record<string, unknown>;
      if (typeof e["split"] === "string") evalSplit = e["split"];
      for (const [k0, v] of Object.entries(e)) {
        if (k0 === "slices") continue;
        const k = EVAL_ALIASES[k0] ?? k0;
        if (typeof v === "number" && Number.isFinite(v)) push(evals, k, { step, value: v });
        else if (Array.isArray(v)) {
          v.forEach((x, idx) => {
            if (typeof x === "number" && Number.isFinite(x)) push(evals, `${k}_E${idx + 1}`, { step, value: x });
          });
        }
      }
      return;
    }
    trainLines++;
    for (const [k, v] of Object.entries(o)) {
      if (k !== "step" && typeof v === "number" && Number.isFinite(v)) push(series, k, { step, value: v });
    }
  });
  return { source, series, evals, evalSplit, trainLines, evalLines, skipped, skippedExamples };
}

export function readLossLog(path: string): LossLog {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = e !== null && typeof e === "object" && "code" in e ? String(e.code) : "";
    throw new Error(code === "ENOENT" ? `figures losses: --log ${path} does not exist` : `figures losses: cannot read --log ${path} (${e instanceof Error ? e.message : String(e)})`);
  }
  return parseLossLog(text, path);
}

/** The keys to plot: `requested` (each must exist), else every default key present. */
export function selectKeys(log: LossLog, requested?: readonly string[]): string[] {
  const available = [...log.series.keys()];
  if (requested !== undefined && requested.length > 0) {
    const missing = requested.filter((k) => !log.series.has(k));
    if (missing.length > 0) {
      throw new Error(`figures losses: --keys ${missing.join(", ")} not found in ${log.source}; numeric keys there: ${available.join(", ") || "(none)"}`);
    }
    return [...new Set(requested)];
  }
  const keys = available.filter(isDefaultKey);
  if (keys.length === 0) {
    throw new Error(`figures losses: ${log.source} has no loss-like numeric keys to plot by default; choose with --keys (available: ${available.join(", ") || "(none)"})`);
  }
  return keys;
}

export interface KeyGroup {
  readonly title: string;
  readonly keys: readonly string[];
}

/** Up to 8 keys: one plot. More: "total" (loss, expert, gating), "diffusion_E*", "task_E*", then "other". */
export function groupKeys(keys: readonly string[]): KeyGroup[] {
  if (keys.length <= 8) return [{ title: "", keys }];
  const total = keys.filter((k) => k === "loss" || k === "expert" || k === "gating");
  const diffusion = keys.filter((k) => k.startsWith("diffusion_"));
  const task = keys.filter((k) => k.startsWith("task_"));
  const taken = new Set([...total, ...diffusion, ...task]);
  const other = keys.filter((k) => !taken.has(k));
  return [
    { title: "total", keys: total },
    { title: "diffusion_E*", keys: diffusion },
    { title: "task_E*", keys: task },
    { title: "other", keys: other },
  ].filter((g) => g.keys.length > 0);
}
