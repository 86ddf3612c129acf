// What evaluate-grid writes: results.json (every number; non-finite ones as the strings "Infinity",
// "-Infinity", "NaN"), results.md (the table, one row per cell and a mean row) and heatmap.png (model
// minus B-spline brain PSNR per cell; a second panel for the U-Net when it was run).
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.js";
import { renderHeatmap, type HeatmapFigure } from "../figures/heatmap.js";
import { writePngAtomic } from "../figures/canvas.js";
import { GRID_ACQUISITIONS } from "./cells.js";
import { METHOD_LABELS, type BrainScores, type GridMethod, type GridResults } from "./run.js";

export const RESULTS_JSON = "results.json";
export const RESULTS_MD = "results.md";
export const HEATMAP_PNG = "heatmap.png";

export function resultsToJson(r: GridResults): string {
  return `${JSON.stringify(r, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2)}\n`;
}

const num = (v: number | undefined, d: number): string => (v === undefined || Number.isNaN(v) ? "n/a" : Number.isFinite(v) ? v.toFixed(d) : v > 0 ? "inf" : "-inf");
const signed = (v: number | undefined, d: number): string => (v !== undefined && Number.isFinite(v) && v > 0 ? `+${v.toFixed(d)}` : num(v, d));

/** The Markdown report: what was run, then the table. */
export function formatMarkdown(r: GridResults): string {
  const ms = r.methods;
  const learned = ms.filter((m) => m === "model" || m === "unet");
  const psnrCols = ms.map((m) => `${METHOD_LABELS[m]} PSNR`);
  const ssimCols = ms.map((m) => `${METHOD_LABELS[m]} SSIM`);
  const deltaCols = learned.map((m) => `Δ ${METHOD_LABELS[m]} − B-spline`);
  const header = ["acquisition", "SNR", "bias", ...psnrCols, ...deltaCols, ...ssimCols];
  const row = (cells: string[]): string => `| ${cells.join(" | ")} |`;
  const values = (methods: Partial<Record<GridMethod, BrainScores>>, deltas: Partial<Record<GridMethod, number>>): string[] => [
    ...ms.map((m) => num(methods[m]?.psnr, 2)),
    ...learned.map((m) => signed(deltas[m], 2)),
    ...ms.map((m) => num(methods[m]?.ssim, 4)),
  ];
  const worse = r.cells.filter((c) => c.modelMinusBspline < 0).length;
  const lines = [
    "# Held-out acquisition grid",
    "",
    `- model: \`${r.model.dir}\` (hash ${r.model.hash}), ${r.model.sampler}, seed ${r.model.settings.seed}`,
    ...(r.unet !== null ? [`- U-Net: \`${r.unet.dir}\` (hash ${r.unet.hash})`] : []),
    `- test subjects: ${r.subjects.length} generated from ${r.source.id} (seed ${r.heldout.seed}, stream namespace \`${r.heldout.namespace}\`, never used in training), ${r.heldout.variant} variant; ` +
      `${r.subjects[0]?.slices.length ?? 0} axial slices each (${r.subjects.map((s) => `${s.id}: z ${s.slices.join(", ")}`).join("; ")})`,
    `- metric: ${r.metric}`,
    `- MoEDiff-SR below B-spline (brain PSNR, mean over subjects) in ${worse} of ${r.cells.length} cells`,
    `- moediff-sr ${r.tool}; ${r.seconds.toFixed(0)} s`,
    "",
    row(header),
    row(header.map((_, i) => (i < 3 ? "---" : "---:"))),
    ...r.cells.map((c) => row([c.acquisitionLabel, String(c.snr), String(c.bias), ...values(c.methods, { model: c.modelMinusBspline, ...(c.unetMinusBspline !== undefined ? { unet: c.unetMinusBspline } : {}) })])),
    row([
      "**mean over cells**",
      "",
      "",
      ...values(r.mean.methods, { model: r.mean.modelMinusBspline, ...(r.mean.unetMinusBspline !== undefined ? { unet: r.mean.unetMinusBspline } : {}) }),
    ]),
    "",
  ];
  return lines.join("\n");
}

/** The heat map: rows = acquisitions, columns = (SNR, bias), value = learned method − B-spline brain PSNR. */
export function heatmapFigure(r: GridResults): HeatmapFigure {
  const acquisitions = GRID_ACQUISITIONS.filter((a) => r.cells.some((c) => c.acquisition === a.key));
  const cols: { snr: number; bias: number }[] = [];
  for (const c of r.cells) if (!cols.some((x) => x.snr === c.snr && x.bias === c.bias)) cols.push({ snr: c.snr, bias: c.bias });
  cols.sort((a, b) => a.bias - b.bias || a.snr - b.snr);
  const panel = (m: "model" | "unet") => ({
    title: `${METHOD_LABELS[m]} − B-spline`,
    values: acquisitions.map((a) =>
      cols.map((col) => {
        const c = r.cells.find((x) => x.acquisition === a.key && x.snr === col.snr && x.bias === col.bias);
        return c === undefined ? Number.NaN : m === "model" ? c.modelMinusBspline : (c.unetMinusBspline ?? Number.NaN);
      }),
    ),
  });
  return renderHeatmap({
    title: `Brain PSNR gain over cubic B-spline on ${r.subjects.length} held-out subjects`,
    rowLabels: acquisitions.map((a) => a.label),
    colLabels: cols.map((c) => [`SNR ${c.snr}`, `bias ${c.bias}`]),
    panels: [panel("model"), ...(r.methods.includes("unet") ? [panel("unet")] : [])],
    unit: "Δ brain PSNR (dB)",
    caption: [
      `Mean over subjects of (method − B-spline) brain-masked PSNR in dB, ${r.subjects[0]?.slices.length ?? 0} axial slices per subject; red: the method beats B-spline, blue: it is worse.`,
      `Model ${r.model.hash}, ${r.model.sampler}.`,
    ],
  });
}

/** Writes results.json, results.md and heatmap.png into `dir`; returns their paths. */
export async function writeGridOutputs(dir: string, r: GridResults): Promise<{ json: string; md: string; png: string }> {
  const json = join(dir, RESULTS_JSON);
  const md = join(dir, RESULTS_MD);
  const png = join(dir, HEATMAP_PNG);
  writeFileAtomic(json, (w) => w(Buffer.from(resultsToJson(r))));
  writeFileAtomic(md, (w) => w(Buffer.from(formatMarkdown(r))));
  writePngAtomic(png, await heatmapFigure(r).canvas.toPng());
  return { json, md, png };
}
