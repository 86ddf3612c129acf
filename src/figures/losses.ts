// `figures losses`: training curves from a log.jsonl, versus step, with held-out evaluation points as
// markers in their series' colour. Title = the run directory's name.
//
// Decisions: default keys are every numeric key except bookkeeping (step, time, lr, uniform, w,
// temperature, gradNorm, restarts, usage_*, gate_*); more than 8 keys are split into subplots
// (total / diffusion_E* / task_E* / other). A subplot's y axis is log-10 when its values are all positive
// and span more than 2 decades (or with --log-y, when they are all positive; otherwise it stays linear
// with a warning). Series colours: evenly spaced hues at fixed saturation and lightness (HSL), so
// neighbouring series differ most.
import { basename, dirname, resolve } from "node:path";
import { Canvas, wrapText, type Colour } from "./canvas.js";
import { groupKeys, isDefaultKey, readLossLog, selectKeys, type LossLog } from "./loss_log.js";
import { drawPlot, measurePlot, type PlotLayout, type PlotSeries, type PlotSpec } from "./plot.js";

export interface LossesOptions {
  readonly log: string;
  readonly keys?: readonly string[];
  /** Force a log-10 y axis (where values are positive). */
  readonly logY?: boolean;
}

export interface Subplot {
  readonly title: string;
  readonly keys: readonly string[];
  readonly logY: boolean;
  readonly colours: ReadonlyMap<string, Colour>;
  readonly layout: PlotLayout;
}

export interface LossesFigure {
  readonly canvas: Canvas;
  readonly title: string;
  readonly subplots: readonly Subplot[];
  readonly warnings: readonly string[];
}

const PLOT_W = 560;
const PLOT_H = 300;
const MARGIN = 16;
const GAP = 18;
const TITLE_SIZE = 18;
const CAPTION_SIZE = 13;
const CAPTION_GAP = 10;

function hslToRgb(h: number, s: number, l: number): Colour {
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const hp = (((h % 360) + 360) % 360) / 60;
  const x = c * (1 - Math.abs((hp % 2) - 1));
  const [r, g, b] = hp < 1 ? [c, x, 0] : hp < 2 ? [x, c, 0] : hp < 3 ? [0, c, x] : hp < 4 ? [0, x, c] : hp < 5 ? [x, 0, c] : [c, 0, x];
  const m = l - c / 2;
  return [Math.round(255 * (r + m)), Math.round(255 * (g + m)), Math.round(255 * (b + m))];
}

/** n distinct series colours: hues 360/n apart starting at blue, saturation 0.8, lightness 0.42. */
export function seriesColours(n: number): Colour[] {
  return Array.from({ length: n }, (_, i) => hslToRgb(215 + (360 * i) / Math.max(n, 3), 0.8, 0.42));
}

/** "run" for RUN/log.jsonl. */
export function runName(logPath: string): string {
  return basename(dirname(resolve(logPath)));
}

export function makeLosses(o: LossesOptions): LossesFigure {
  const log: LossLog = readLossLog(o.log);
  const warnings: string[] = [];
  if (log.skipped > 0) {
    warnings.push(`skipped ${log.skipped} malformed line${log.skipped === 1 ? "" : "s"} of ${o.log} (line${log.skipped === 1 ? "" : "s"} ${log.skippedExamples.join(", ")}${log.skipped > log.skippedExamples.length ? ", ..." : ""})`);
  }
  if (log.trainLines === 0) {
    throw new Error(`figures losses: ${o.log} has no usable line (JSON objects with a numeric "step"${log.skipped > 0 ? `; ${log.skipped} malformed skipped` : ", the file is empty"})`);
  }
  const keys = selectKeys(log, o.keys);
  const groups = groupKeys(keys);
  const specs: { spec: PlotSpec; colours: Map<string, Colour>; keys: readonly string[] }[] = groups.map((g) => {
    const colours = new Map<string, Colour>();
    seriesColours(g.keys.length).forEach((c, i) => colours.set(g.keys[i]!, c));
    const series: PlotSeries[] = g.keys.map((k) => ({ label: k, colour: colours.get(k)!, points: log.series.get(k)! }));
    const evalSeries: PlotSeries[] = g.keys
      .filter((k) => log.evals.has(k))
      .map((k) => ({ label: `${k} (${log.evalSplit ?? "eval"})`, colour: colours.get(k)!, points: log.evals.get(k)!, markers: true }));
    const values = [...series, ...evalSeries].flatMap((s) => s.points.map((p) => p.value));
    const min = Math.min(...values);
    const max = Math.max(...values);
    const positive = min > 0;
    let logY = positive && max / min > 100;
    let yLabel = logY ? "value (log scale: the values span > 2 decades)" : "value";
    if (o.logY === true) {
      if (positive) {
        logY = true;
        yLabel = "value (log scale, --log-y)";
      } else warnings.push(`--log-y: ${g.title !== "" ? `subplot ${g.title}` : "the plot"} has values <= 0 (smallest ${min}); its y axis stays linear`);
    }
    return { spec: { title: g.title, xLabel: "step", yLabel, logY, series: [...series, ...evalSeries] }, colours, keys: g.keys };
  });

  const measure = new Canvas(1, 1);
  const rooms = specs.map((s) => measurePlot(measure, s.spec));
  const cellW = Math.max(...rooms.map((r) => r.left + PLOT_W + r.right));
  const cellH = Math.max(...rooms.map((r) => r.top + PLOT_H + r.bottom));
  const cols = specs.length > 1 ? 2 : 1;
  const rowsN = Math.ceil(specs.length / cols);
  const title = runName(o.log);
  const width = Math.max(2 * MARGIN + cols * cellW + (cols - 1) * GAP, 480);
  const unmatched = [...log.evals.keys()].filter((k) => !log.series.has(k) && isDefaultKey(k));
  const evalNote =
    log.evalLines > 0
      ? `, ${log.evalLines} evaluation line${log.evalLines === 1 ? "" : "s"} (markers: held-out ${log.evalSplit ?? "eval"} values${log.evals.has("loss") ? '; eval.total is drawn with "loss"' : ""}${unmatched.length > 0 ? `; eval values without a training series, not drawn: ${unmatched.join(", ")}` : ""})`
      : "";
  const caption = wrapText(
    measure,
    `Source ${o.log}: ${log.trainLines} training line${log.trainLines === 1 ? "" : "s"}${evalNote}${log.skipped > 0 ? `, ${log.skipped} malformed skipped` : ""}. Series colours: evenly spaced hues.`,
    width - 2 * MARGIN,
    CAPTION_SIZE,
  );
  const titleH = Math.round(TITLE_SIZE * 1.6);
  const height = MARGIN + titleH + rowsN * cellH + (rowsN - 1) * GAP + CAPTION_GAP + caption.length * Math.round(CAPTION_SIZE * 1.45) + MARGIN;
  const canvas = new Canvas(width, height);
  canvas.text(title, MARGIN, MARGIN, { size: TITLE_SIZE, baseline: "top" });
  const subplots: Subplot[] = specs.map((s, i) => {
    const cx = MARGIN + (i % cols) * (cellW + GAP);
    const cy = MARGIN + titleH + Math.floor(i / cols) * (cellH + GAP);
    const room = rooms[i]!;
    const layout = drawPlot(canvas, { x: cx + room.left, y: cy + room.top, w: PLOT_W, h: PLOT_H }, s.spec);
    return { title: s.spec.title, keys: s.keys, logY: s.spec.logY, colours: s.colours, layout };
  });
  let y = MARGIN + titleH + rowsN * cellH + (rowsN - 1) * GAP + CAPTION_GAP;
  for (const line of caption) {
    canvas.text(line, MARGIN, y, { size: CAPTION_SIZE, baseline: "top", colour: [40, 40, 40] });
    y += Math.round(CAPTION_SIZE * 1.45);
  }
  return { canvas, title, subplots, warnings };
}
