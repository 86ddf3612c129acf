// A line plot on a Canvas: frame, light grid, ticks with labels, axis labels, series as 2-px lines,
// optional marker points (filled discs with a black rim), and a legend to the right of the plot area.
// Linear or log-10 y axis. The caller chooses sizes; measurePlot() says how much room the plot needs.
import { BLACK, type Canvas, type Colour } from "./canvas.js";
import type { Box } from "./grid.js";
import { formatDecade, formatTicks, logRange, niceRange } from "./ticks.js";

export interface PlotSeries {
  readonly label: string;
  readonly colour: Colour;
  readonly points: readonly { step: number; value: number }[];
  /** Drawn as markers instead of a line. */
  readonly markers?: boolean;
}

export interface PlotSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly logY: boolean;
  readonly series: readonly PlotSeries[];
}

export interface PlotLayout {
  /** The plot area (inside the frame). */
  readonly area: Box;
  readonly xToPx: (x: number) => number;
  readonly yToPx: (y: number) => number;
  readonly xRange: readonly [number, number];
  readonly yRange: readonly [number, number];
}

const TICK_SIZE = 12;
const LABEL_SIZE = 13;
const TITLE_SIZE = 15;
const GRID: Colour = [228, 228, 228];
const LINE_WIDTH = 2;
const MARKER_RADIUS = 4.5;

interface Axes {
  x: { lo: number; hi: number; ticks: number[]; labels: string[] };
  y: { lo: number; hi: number; ticks: number[]; labels: string[] };
}

function axes(spec: PlotSpec): Axes {
  const pts = spec.series.flatMap((s) => s.points);
  if (pts.length === 0) throw new RangeError(`plot "${spec.title}": no points`);
  let xlo = Infinity;
  let xhi = -Infinity;
  let ylo = Infinity;
  let yhi = -Infinity;
  for (const p of pts) {
    xlo = Math.min(xlo, p.step);
    xhi = Math.max(xhi, p.step);
    ylo = Math.min(ylo, p.value);
    yhi = Math.max(yhi, p.value);
  }
  const x = niceRange(xlo, xhi, 6);
  let y: { lo: number; hi: number; ticks: number[] };
  let yLabels: string[];
  if (spec.logY) {
    if (!(ylo > 0)) throw new RangeError(`plot "${spec.title}": a log axis needs positive values, the smallest is ${ylo}`);
    y = logRange(ylo, yhi);
    yLabels = y.ticks.map(formatDecade);
  } else {
    y = niceRange(ylo, yhi, 5);
    yLabels = formatTicks(y.ticks);
  }
  return { x: { ...x, labels: formatTicks(x.ticks) }, y: { ...y, ticks: y.ticks, labels: yLabels } };
}

/** Room around a plot area of the given size: left (y tick labels), right (legend), top and bottom. */
export function measurePlot(canvas: Canvas, spec: PlotSpec): { left: number; right: number; top: number; bottom: number } {
  const a = axes(spec);
  const left = Math.ceil(Math.max(...a.y.labels.map((l) => canvas.textWidth(l, TICK_SIZE)))) + 12;
  const right = Math.ceil(Math.max(...spec.series.map((s) => canvas.textWidth(s.label, LABEL_SIZE)))) + 48;
  const top = (spec.title !== "" ? Math.round(TITLE_SIZE * 1.5) : 0) + Math.round(LABEL_SIZE * 1.6);
  const bottom = Math.round(TICK_SIZE * 1.5) + Math.round(LABEL_SIZE * 1.6) + 4;
  return { left, right, top, bottom };
}

/** Draws the plot with its area at `area`; returns the coordinate mapping. */
export function drawPlot(canvas: Canvas, area: Box, spec: PlotSpec): PlotLayout {
  const a = axes(spec);
  const { x: ax, y: ay } = a;
  const xToPx = (x: number) => area.x + ((x - ax.lo) / (ax.hi - ax.lo)) * (area.w - 1);
  const yToPx = spec.logY
    ? (y: number) => area.y + (1 - (Math.log10(y) - Math.log10(ay.lo)) / (Math.log10(ay.hi) - Math.log10(ay.lo))) * (area.h - 1)
    : (y: number) => area.y + (1 - (y - ay.lo) / (ay.hi - ay.lo)) * (area.h - 1);
  // Grid and ticks.
  ax.ticks.forEach((t, i) => {
    const px = Math.round(xToPx(t));
    canvas.fillRect(px, area.y, 1, area.h, GRID);
    canvas.fillRect(px, area.y + area.h, 1, 5, BLACK);
    canvas.text(ax.labels[i]!, px, area.y + area.h + 7, { size: TICK_SIZE, align: "center", baseline: "top" });
  });
  ay.ticks.forEach((t, i) => {
    const py = Math.round(yToPx(t));
    canvas.fillRect(area.x, py, area.w, 1, GRID);
    canvas.fillRect(area.x - 5, py, 5, 1, BLACK);
    canvas.text(ay.labels[i]!, area.x - 8, py, { size: TICK_SIZE, align: "right", baseline: "middle" });
  });
  canvas.strokeRect(area.x - 1, area.y - 1, area.w + 2, area.h + 2, BLACK, 1);
  // Labels and title.
  canvas.text(spec.xLabel, area.x + area.w / 2, area.y + area.h + 7 + Math.round(TICK_SIZE * 1.5), { size: LABEL_SIZE, align: "center", baseline: "top" });
  canvas.text(spec.yLabel, area.x - 1, area.y - 6, { size: LABEL_SIZE });
  if (spec.title !== "") canvas.text(spec.title, area.x + area.w / 2, area.y - 6 - Math.round(LABEL_SIZE * 1.6), { size: TITLE_SIZE, align: "center" });
  // Series: lines first, markers on top.
  for (const s of spec.series) {
    if (s.markers === true) continue;
    const pts = [...s.points].sort((p, q) => p.step - q.step);
    if (pts.length === 1) canvas.disc(xToPx(pts[0]!.step), yToPx(pts[0]!.value), LINE_WIDTH, s.colour);
    for (let i = 1; i < pts.length; i++) {
      canvas.line(xToPx(pts[i - 1]!.step), yToPx(pts[i - 1]!.value), xToPx(pts[i]!.step), yToPx(pts[i]!.value), s.colour, LINE_WIDTH);
    }
  }
  for (const s of spec.series) {
    if (s.markers !== true) continue;
    for (const p of s.points) canvas.disc(xToPx(p.step), yToPx(p.value), MARKER_RADIUS, s.colour, BLACK);
  }
  // Legend.
  const lx = area.x + area.w + 14;
  spec.series.forEach((s, i) => {
    const ly = area.y + 10 + i * Math.round(LABEL_SIZE * 1.5);
    if (s.markers === true) canvas.disc(lx + 10, ly, MARKER_RADIUS, s.colour, BLACK);
    else canvas.line(lx, ly, lx + 20, ly, s.colour, LINE_WIDTH + 1);
    canvas.text(s.label, lx + 28, ly, { size: LABEL_SIZE, baseline: "middle" });
  });
  return { area, xToPx, yToPx, xRange: [ax.lo, ax.hi], yRange: [ay.lo, ay.hi] };
}
