// `enhance --qc DIR` (issue 21, point 9): a quality report for a result with no reference to score it
// against. Per volume, DIR/<name>.png (input | B-spline | enhanced | enhanced - B-spline in three
// planes, src/figures/qc.ts) and DIR/<name>.json: the mean intensity of each tissue class (CSF, GM, WM
// of `segment` on the B-spline image) before (B-spline) and after (enhanced), their ratio, and the
// run's warnings for that volume. After the run, DIR/qc.md tabulates every volume. A white-matter ratio
// outside [0.9, 1.1] is itself a warning: the enhanced brain should stay in the input's units.
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import type { Volume } from "../volume/volume.js";
import { resampleLike } from "../volume/resample.js";
import { segment } from "../preprocess/segment/index.js";
import { makeQcFigure } from "../figures/qc.js";
import { writePngAtomic } from "../figures/canvas.js";
import { writeFileAtomic } from "../util/atomic_write.js";

/** How far the white matter's mean may move (enhanced / B-spline) before the report warns. */
export const WM_RATIO_LIMITS: readonly [number, number] = [0.9, 1.1];

export interface TissueMean {
  tissue: "CSF" | "GM" | "WM";
  voxels: number;
  /** Mean of the B-spline image (the input, in its own units) and of the enhanced image. */
  before: number;
  after: number;
  ratio: number;
}

export interface QcRecord {
  name: string;
  input: string;
  output: string;
  figure: string;
  tissue: TissueMean[];
  brainVoxels: number;
  warnings: string[];
}

const NAMES = ["CSF", "GM", "WM"] as const;

/** Tissue means of `before` and `after` over the classes of `segment(before)`. */
export function tissueMeans(before: Volume, after: Volume): { tissue: TissueMean[]; brainVoxels: number } {
  const seg = segment(before, { regions: false });
  const labels = seg.tissue.labels;
  const tissue = NAMES.map((name, c) => {
    let a = 0;
    let b = 0;
    let n = 0;
    for (let i = 0; i < labels.length; i++) {
      if (labels[i] !== c + 1) continue;
      a += before.data[i] as number;
      b += after.data[i] as number;
      n++;
    }
    return { tissue: name, voxels: n, before: n > 0 ? a / n : Number.NaN, after: n > 0 ? b / n : Number.NaN, ratio: a > 0 ? b / a : Number.NaN };
  });
  return { tissue, brainVoxels: seg.brainVoxels };
}

/** Writes DIR/<name>.png and DIR/<name>.json for one volume; returns the record (with any new warning). */
export async function writeQc(dir: string, name: string, paths: { input: string; output: string }, lr: Volume, enhanced: Volume, warnings: readonly string[]): Promise<QcRecord> {
  mkdirSync(dir, { recursive: true });
  const bspline = resampleLike(lr, enhanced, { interpolation: "bspline", fill: 0 });
  const { tissue, brainVoxels } = tissueMeans(bspline, enhanced);
  const all = [...warnings];
  const wm = tissue.find((t) => t.tissue === "WM");
  if (wm !== undefined && Number.isFinite(wm.ratio) && (wm.ratio < (WM_RATIO_LIMITS[0] as number) || wm.ratio > (WM_RATIO_LIMITS[1] as number))) {
    all.push(`white matter comes out at ${wm.ratio.toFixed(2)}x the input's mean (${wm.after.toFixed(1)} vs ${wm.before.toFixed(1)}): the result is not in the input's units; check the input against the model card`);
  }
  const figure = join(dir, `${name}.png`);
  const fig = makeQcFigure({ title: `${name}: input | cubic B-spline | enhanced | enhanced − B-spline`, input: lr, bspline, enhanced });
  writePngAtomic(figure, await fig.canvas.toPng());
  const record: QcRecord = { name, input: paths.input, output: paths.output, figure, tissue, brainVoxels, warnings: all };
  writeFileAtomic(join(dir, `${name}.json`), (w) => w(Buffer.from(`${JSON.stringify(record, null, 2)}\n`)));
  return record;
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : "–");

/** DIR/qc.md: one row per volume (tissue means before -> after, ratios, warnings) and the figures. */
export function writeQcSummary(dir: string, records: readonly QcRecord[]): string {
  const lines = [
    "# Quality report (moediff-sr enhance --qc)",
    "",
    "Mean intensity per tissue class (segment of the cubic B-spline image): B-spline → enhanced (ratio). The enhanced brain should stay in the input's units (white matter ratio within 0.9–1.1).",
    "",
    "| volume | CSF | GM | WM | warnings |",
    "|---|---|---|---|---|",
    ...records.map((r) => {
      const cell = (t: TissueMean | undefined): string => (t === undefined ? "–" : `${f1(t.before)} → ${f1(t.after)} (${Number.isFinite(t.ratio) ? t.ratio.toFixed(3) : "–"})`);
      const by = (n: string) => r.tissue.find((t) => t.tissue === n);
      return `| [${r.name}](${r.name}.png) | ${cell(by("CSF"))} | ${cell(by("GM"))} | ${cell(by("WM"))} | ${r.warnings.length === 0 ? "none" : r.warnings.join("; ").replace(/\|/g, "\\|")} |`;
    }),
    "",
    ...records.map((r) => `![${r.name}](${r.name}.png)`),
    "",
  ];
  const path = join(dir, "qc.md");
  writeFileAtomic(path, (w) => w(Buffer.from(lines.join("\n"))));
  return path;
}
