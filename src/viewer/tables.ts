// The tables beside the images: the metrics of a `demo` run (its metrics.json: whole slab, brain and
// each region, against the reference), how it was made, and what an enhance job from the page did.
import { readFileSync } from "node:fs";
import type { MetricsTable } from "./api.js";

interface ScoreJson {
  psnr?: number;
  ssim?: number;
  hfen?: number;
  rmse?: number;
}
interface MethodJson {
  method: string;
  file?: string;
  volume?: ScoreJson;
  regions?: (ScoreJson & { name: string })[];
}
interface EvaluationJson {
  scope?: string;
  reference?: string;
  dataRange?: number;
  note?: string | null;
  methods?: MethodJson[];
}
interface DemoMetricsJson {
  format?: string;
  evaluations?: EvaluationJson[];
  enhance?: Record<string, unknown>;
  model?: { dir?: string; experts?: number[] };
  heldout?: { source?: { subject?: string }; acquisition?: { voxelSize?: number; snr?: number }; slab?: { axis?: string; first?: number; last?: number } };
  timings?: Record<string, number>;
}

const METHOD_LABELS: Record<string, string> = { input: "input (nearest)", trilinear: "trilinear", bspline: "cubic B-spline", enhanced: "MoEDiff-SR" };

function num(x: unknown): number | null {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

/** One evaluation of a demo run: PSNR/SSIM/HFEN over the whole scope and inside the brain mask. */
export function evaluationTable(e: EvaluationJson): MetricsTable {
  const rows = (e.methods ?? []).map((m) => {
    const brain = m.regions?.find((r) => r.name === "brain");
    return [METHOD_LABELS[m.method] ?? m.method, num(m.volume?.psnr), num(m.volume?.ssim), num(m.volume?.hfen), num(brain?.psnr), num(brain?.ssim)];
  });
  const range = e.dataRange !== undefined ? `data range ${e.dataRange}` : "";
  return {
    title: `Against the reference (${e.scope ?? "volume"})`,
    columns: ["method", "PSNR dB", "SSIM", "HFEN", "brain PSNR dB", "brain SSIM"],
    rows,
    note: [range, e.note ?? ""].filter((s) => s !== "").join("; ") || undefined,
  };
}

/** Each region's PSNR per method (the second table of a demo run). */
export function regionsTable(e: EvaluationJson): MetricsTable | null {
  const methods = e.methods ?? [];
  const names = [...new Set(methods.flatMap((m) => (m.regions ?? []).map((r) => r.name)))];
  if (names.length === 0) return null;
  return {
    title: "PSNR dB by region",
    columns: ["region", ...methods.map((m) => METHOD_LABELS[m.method] ?? m.method)],
    rows: names.map((name) => [name, ...methods.map((m) => num(m.regions?.find((r) => r.name === name)?.psnr))]),
  };
}

/** How the run was made: source, acquisition, sampler, time. */
export function runTable(m: DemoMetricsJson): MetricsTable | null {
  const rows: (string | number | null)[][] = [];
  const h = m.heldout;
  if (h?.source?.subject !== undefined) rows.push(["subject", h.source.subject]);
  if (h?.slab !== undefined) rows.push(["slab", `${h.slab.axis ?? "z"} ${h.slab.first ?? "?"}–${h.slab.last ?? "?"}`]);
  if (h?.acquisition?.voxelSize !== undefined) rows.push(["acquisition voxel mm", num(h.acquisition.voxelSize)]);
  if (h?.acquisition?.snr !== undefined) rows.push(["acquisition SNR", num(h.acquisition.snr)]);
  if (m.model?.experts !== undefined) rows.push(["experts", m.model.experts.map((k) => `E${k}`).join(", ")]);
  const e = m.enhance;
  if (e !== undefined) {
    if (typeof e.sampler === "string") rows.push(["sampler", `${e.sampler}${typeof e.steps === "number" ? ` ${e.steps} steps` : ""}${typeof e.start === "number" ? `, start ${e.start}` : ""}`]);
    if (typeof e.seconds === "number") rows.push(["enhance s", num(e.seconds)]);
  }
  if (m.timings?.total !== undefined) rows.push(["total s", num(m.timings.total)]);
  return rows.length > 0 ? { title: "Run", columns: ["", ""], rows } : null;
}

/** The tables of a demo metrics.json; an unreadable file is one table saying why (the images still show). */
export function tablesFromMetricsFile(path: string): MetricsTable[] {
  let m: DemoMetricsJson;
  try {
    m = JSON.parse(readFileSync(path, "utf8")) as DemoMetricsJson;
  } catch (e) {
    return [{ title: "Metrics", columns: [], rows: [], note: `${path} could not be read: ${e instanceof Error ? e.message : String(e)}` }];
  }
  const tables: MetricsTable[] = [];
  for (const e of m.evaluations ?? []) {
    tables.push(evaluationTable(e));
    const r = regionsTable(e);
    if (r !== null) tables.push(r);
  }
  const run = runTable(m);
  if (run !== null) tables.push(run);
  return tables;
}

/** What an enhance job did (from the worker's summary). */
export interface JobSummary {
  input: { dims: number[]; voxelSize: number[] };
  output: { dims: number[]; voxelSize: number[] };
  model: string;
  sampler: string;
  slices: number;
  slicesRun: number;
  tilesRun: number;
  tileSize: number[];
  evaluations: number[];
  seconds: number;
}

export function jobTable(s: JobSummary): MetricsTable {
  const mm = (v: number[]): string => v.map((x) => Number(x.toFixed(3))).join(" × ");
  return {
    title: "Enhancement",
    columns: ["", ""],
    rows: [
      ["input", `${s.input.dims.join(" × ")} at ${mm(s.input.voxelSize)} mm`],
      ["output", `${s.output.dims.join(" × ")} at ${mm(s.output.voxelSize)} mm`],
      ["model", s.model],
      ["sampler", s.sampler],
      ["slices with signal", `${s.slicesRun} of ${s.slices}`],
      ["tiles", `${s.tilesRun} of ${s.tileSize.join(" × ")}`],
      ["expert evaluations", s.evaluations.join(" / ")],
      ["seconds", Number(s.seconds.toFixed(1))],
    ],
    note: "No reference: nothing to score against. `moediff-sr evaluate --pred enhanced.nii.gz --ref REF` scores it.",
  };
}
