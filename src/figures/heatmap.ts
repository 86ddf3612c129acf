// A labelled heat map of signed values (evaluate-grid: model minus B-spline brain PSNR per cell): one
// or more panels stacked vertically, each a table of coloured cells with the value printed in it,
// row labels on the left and column labels (one or two lines) on top; one colour scale for all panels,
// symmetric about 0 (blue-white-red, white = 0), with a colour bar on the right; a caption below.
// NaN cells are grey and read "n/a".
import { BLACK, Canvas, wrapText, type Colour } from "./canvas.js";
import { BLUE_WHITE_RED, colourLut, lutColour } from "./colormaps.js";
import type { Box } from "./grid.js";
import { formatTicks, niceRange } from "./ticks.js";

export interface HeatmapPanel {
  readonly title: string;
  /** values[r][c]; NaN = no value. */
  readonly values: readonly (readonly number[])[];
}

export interface HeatmapSpec {
  readonly title: string;
  readonly rowLabels: readonly string[];
  /** One or two lines per column. */
  readonly colLabels: readonly (readonly string[])[];
  readonly panels: readonly HeatmapPanel[];
  /** The colour bar's label, e.g. "Δ brain PSNR (dB)". */
  readonly unit: string;
  /** Printed values: decimals (default 2) and a sign for positives (default true). */
  readonly decimals?: number;
  readonly caption: readonly string[];
  /** The scale is at least +-this (default 0.5), so a near-zero map does not look saturated. */
  readonly minScale?: number;
}

export interface HeatmapFigure {
  readonly canvas: Canvas;
  /** cells[p][r][c]: where each cell landed (tests read colours there). */
  readonly cells: readonly (readonly (readonly Box[])[])[];
  /** The symmetric scale: [-scale, scale]. */
  readonly scale: number;
}

const MARGIN = 16;
const GAP = 14;
const TITLE = 18;
const LABEL = 14;
const TEXT = 13;
const CELL_W = 84;
const CELL_H = 36;
const BAR_W = 22;
const NAN_GREY: Colour = [200, 200, 200];

const lineH = (size: number): number => Math.round(size * 1.45);

export function renderHeatmap(spec: HeatmapSpec): HeatmapFigure {
  const nr = spec.rowLabels.length;
  const nc = spec.colLabels.length;
  if (nr === 0 || nc === 0 || spec.panels.length === 0) throw new RangeError("renderHeatmap: no rows, columns or panels");
  for (const p of spec.panels) {
    if (p.values.length !== nr || p.values.some((row) => row.length !== nc)) throw new RangeError(`renderHeatmap: panel "${p.title}" must be ${nr} x ${nc}`);
  }
  const decimals = spec.decimals ?? 2;
  const finite = spec.panels.flatMap((p) => p.values.flatMap((row) => row.filter((v) => Number.isFinite(v))));
  const scale = Math.max(spec.minScale ?? 0.5, ...finite.map(Math.abs));
  const measure = new Canvas(1, 1);
  const rowLabelW = Math.ceil(Math.max(...spec.rowLabels.map((l) => measure.textWidth(l, LABEL)))) + GAP;
  const headLines = Math.max(...spec.colLabels.map((l) => l.length));
  const panelH = lineH(LABEL) + headLines * lineH(TEXT) + nr * CELL_H + GAP;
  const ticks = niceRange(-scale, scale, 4).ticks.filter((t) => Math.abs(t) <= scale * (1 + 1e-9));
  const tickLabels = formatTicks(ticks);
  const barLabelW = Math.max(...tickLabels.map((l) => measure.textWidth(l, TEXT))) + 12;
  const tableW = rowLabelW + nc * CELL_W;
  const width = Math.max(MARGIN * 2 + tableW + GAP * 2 + BAR_W + Math.ceil(barLabelW), Math.ceil(measure.textWidth(spec.title, TITLE)) + 2 * MARGIN, Math.ceil(measure.textWidth(spec.unit, TEXT)) + tableW + 3 * MARGIN);
  const captionLines = spec.caption.flatMap((c) => wrapText(measure, c, width - 2 * MARGIN, TEXT));
  const tableTop = MARGIN + lineH(TITLE) + GAP / 2;
  const panelsBottom = tableTop + spec.panels.length * panelH;
  // Colour bar (top = +scale) beside the cells of every panel, at least 120 px tall.
  const barTop = tableTop + lineH(LABEL) + headLines * lineH(TEXT);
  const bar: Box = { x: MARGIN + tableW + GAP * 2, y: barTop, w: BAR_W, h: Math.max(120, panelsBottom - GAP - barTop) };
  const captionTop = Math.max(panelsBottom, bar.y + bar.h + GAP);
  const height = captionTop + captionLines.length * lineH(TEXT) + MARGIN;
  const canvas = new Canvas(width, Math.ceil(height));
  const lut = colourLut(BLUE_WHITE_RED.map);
  canvas.text(spec.title, MARGIN, MARGIN, { size: TITLE, baseline: "top" });
  let y = tableTop;
  const cells: Box[][][] = [];
  for (const panel of spec.panels) {
    canvas.text(panel.title, MARGIN, y, { size: LABEL, baseline: "top" });
    y += lineH(LABEL);
    spec.colLabels.forEach((lines, c) => {
      lines.forEach((l, k) => canvas.text(l, MARGIN + rowLabelW + c * CELL_W + CELL_W / 2, y + k * lineH(TEXT), { size: TEXT, baseline: "top", align: "center" }));
    });
    y += headLines * lineH(TEXT);
    const placed: Box[][] = [];
    for (let r = 0; r < nr; r++) {
      const rowTop = y + r * CELL_H;
      canvas.text(spec.rowLabels[r] as string, MARGIN, rowTop + CELL_H / 2, { size: LABEL, baseline: "middle" });
      const row: Box[] = [];
      for (let c = 0; c < nc; c++) {
        const v = panel.values[r]?.[c] as number;
        const box = { x: MARGIN + rowLabelW + c * CELL_W, y: rowTop, w: CELL_W, h: CELL_H };
        const colour: Colour = Number.isFinite(v) ? lutColour(lut, v, -scale, scale) : NAN_GREY;
        canvas.fillRect(box.x, box.y, box.w, box.h, colour);
        canvas.strokeRect(box.x, box.y, box.w, box.h, [255, 255, 255], 1);
        const dark = 0.3 * colour[0] + 0.59 * colour[1] + 0.11 * colour[2] < 110;
        const text = Number.isFinite(v) ? `${v > 0 ? "+" : ""}${v.toFixed(decimals)}` : "n/a";
        canvas.text(text, box.x + box.w / 2, box.y + box.h / 2, { size: TEXT, baseline: "middle", align: "center", colour: dark ? [255, 255, 255] : BLACK });
        row.push(box);
      }
      placed.push(row);
    }
    cells.push(placed);
    y += nr * CELL_H + GAP;
  }
  for (let r = 0; r < bar.h; r++) {
    const t = bar.h > 1 ? 1 - r / (bar.h - 1) : 1;
    const k = 3 * Math.round(255 * t);
    canvas.fillRect(bar.x, bar.y + r, bar.w, 1, [lut[k]!, lut[k + 1]!, lut[k + 2]!]);
  }
  canvas.strokeRect(bar.x - 1, bar.y - 1, bar.w + 2, bar.h + 2, BLACK, 1);
  ticks.forEach((t, i) => {
    const ty = bar.y + Math.round((1 - (t + scale) / (2 * scale)) * (bar.h - 1));
    canvas.fillRect(bar.x + bar.w + 1, ty, 5, 1, BLACK);
    canvas.text(tickLabels[i] as string, bar.x + bar.w + 9, ty, { size: TEXT, baseline: "middle" });
  });
  canvas.text(spec.unit, Math.min(bar.x, width - MARGIN - measure.textWidth(spec.unit, TEXT)), bar.y - 8, { size: TEXT });
  y = captionTop;
  for (const line of captionLines) {
    canvas.text(line, MARGIN, y, { size: TEXT, baseline: "top", colour: [40, 40, 40] });
    y += lineH(TEXT);
  }
  return { canvas, cells, scale };
}
