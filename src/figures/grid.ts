// Layout of the image figures (panel, experts, gates): a title, then per row a label line and a row of
// titled images (integer-upscaled, nearest neighbour), each optionally with a square outlined on it
// and that square magnified below it; an optional vertical colour bar with ticks to the right; caption
// lines (wrapped) at the bottom. Returns the canvas and where everything landed (tests read pixels there).
import { BLACK, Canvas, wrapText, type Colour, type RgbImage } from "./canvas.js";
import { colourLut, type ColourMap } from "./colormaps.js";
import { crop } from "./image.js";
import { formatTicks, formatValue, niceRange } from "./ticks.js";

export interface Zoom {
  /** Top-left and side of the square, in pixels of the unscaled image. */
  readonly x: number;
  readonly y: number;
  readonly size: number;
  readonly colour: Colour;
}

export interface GridCell {
  readonly title: string;
  readonly image: RgbImage;
  readonly zoom?: Zoom;
}

export interface GridRow {
  readonly label: string;
  readonly cells: readonly GridCell[];
}

export interface ColourBarSpec {
  readonly map: ColourMap;
  readonly lo: number;
  readonly hi: number;
  readonly label: string;
}

export interface GridSpec {
  readonly title: string;
  readonly rows: readonly GridRow[];
  /** Integer upscaling of every image. */
  readonly scale: number;
  readonly caption: readonly string[];
  readonly colourBar?: ColourBarSpec;
}

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export interface CellPlacement {
  /** The upscaled image. */
  readonly image: Box;
  /** The magnified inset, when the cell has a zoom. */
  readonly inset?: Box;
  /** Inset magnification (inset px per image px). */
  readonly magnification?: number;
}

export interface GridFigure {
  readonly canvas: Canvas;
  readonly cells: readonly (readonly CellPlacement[])[];
  /** The colour bar's gradient (top = hi, bottom = lo). */
  readonly colourBar?: Box;
}

const MARGIN = 16;
const GAP = 14;
const TITLE_SIZE = 18;
const LABEL_SIZE = 15;
const CELL_TITLE_SIZE = 14;
const CAPTION_SIZE = 13;
const ZOOM_LINE = 2;
const BAR_WIDTH = 22;

/** Inset magnification: the largest integer keeping the inset no wider than the scaled image. */
export function insetMagnification(imageWidth: number, scale: number, size: number): number {
  return Math.max(1, Math.floor((imageWidth * scale) / size));
}

export function renderGrid(spec: GridSpec): GridFigure {
  if (spec.rows.length === 0) throw new RangeError("renderGrid: no rows");
  const s = spec.scale;
  const measure = new Canvas(1, 1);
  const nCols = Math.max(...spec.rows.map((r) => r.cells.length));
  const colWidth = new Array<number>(nCols).fill(0);
  const rowImageH: number[] = [];
  const rowInsetH: number[] = [];
  for (const row of spec.rows) {
    let ih = 0;
    let zh = 0;
    row.cells.forEach((c, j) => {
      colWidth[j] = Math.max(colWidth[j]!, c.image.width * s, Math.ceil(measure.textWidth(c.title, CELL_TITLE_SIZE)));
      ih = Math.max(ih, c.image.height * s);
      if (c.zoom !== undefined) zh = Math.max(zh, c.zoom.size * insetMagnification(c.image.width, s, c.zoom.size) + GAP / 2);
    });
    rowImageH.push(ih);
    rowInsetH.push(zh);
  }
  const gridW = colWidth.reduce((a, b) => a + b, 0) + GAP * (nCols - 1);
  const bar = spec.colourBar;
  let barTickW = 0;
  let barTicks: { lo: number; hi: number; ticks: number[] } | undefined;
  if (bar !== undefined) {
    barTicks = niceRange(bar.lo, bar.hi, 5);
    const inside = barTicks.ticks.filter((t) => t >= bar.lo - 1e-12 * Math.abs(bar.hi) && t <= bar.hi * (1 + 1e-12));
    barTicks = { ...barTicks, ticks: inside };
    const labels = [...formatTicks(inside), formatValue(bar.hi)];
    barTickW = Math.max(measure.textWidth(bar.label, CELL_TITLE_SIZE) - BAR_WIDTH, ...labels.map((l) => measure.textWidth(l, CAPTION_SIZE) + 10));
  }
  const barArea = bar !== undefined ? GAP * 2 + BAR_WIDTH + Math.ceil(barTickW) : 0;
  const width = Math.max(MARGIN * 2 + gridW + barArea, Math.ceil(measure.textWidth(spec.title, TITLE_SIZE)) + 2 * MARGIN, 320);
  const captionLines = spec.caption.flatMap((c) => wrapText(measure, c, width - 2 * MARGIN, CAPTION_SIZE));
  const lineH = (size: number) => Math.round(size * 1.45);
  let height = MARGIN + lineH(TITLE_SIZE) + GAP / 2;
  spec.rows.forEach((_r, i) => {
    height += lineH(LABEL_SIZE) + lineH(CELL_TITLE_SIZE) + rowImageH[i]! + rowInsetH[i]! + GAP;
  });
  height += captionLines.length * lineH(CAPTION_SIZE) + MARGIN;

  const canvas = new Canvas(width, Math.ceil(height));
  let y = MARGIN;
  canvas.text(spec.title, MARGIN, y, { size: TITLE_SIZE, baseline: "top" });
  y += lineH(TITLE_SIZE) + GAP / 2;
  const cells: CellPlacement[][] = [];
  let firstImageTop = 0;
  spec.rows.forEach((row, i) => {
    canvas.text(row.label, MARGIN, y, { size: LABEL_SIZE, baseline: "top" });
    y += lineH(LABEL_SIZE);
    const placed: CellPlacement[] = [];
    let x = MARGIN;
    row.cells.forEach((c, j) => {
      const cw = colWidth[j]!;
      canvas.text(c.title, x + cw / 2, y, { size: CELL_TITLE_SIZE, baseline: "top", align: "center" });
      const iy = y + lineH(CELL_TITLE_SIZE);
      if (i === 0 && j === 0) firstImageTop = iy;
      const iw = c.image.width * s;
      const ih = c.image.height * s;
      const ix = x + Math.floor((cw - iw) / 2);
      canvas.drawImage(c.image, ix, iy, s);
      let inset: Box | undefined;
      let magnification: number | undefined;
      if (c.zoom !== undefined) {
        const z = c.zoom;
        canvas.strokeRect(ix + z.x * s, iy + z.y * s, z.size * s, z.size * s, z.colour, ZOOM_LINE);
        magnification = insetMagnification(c.image.width, s, z.size);
        const side = z.size * magnification;
        inset = { x: x + Math.floor((cw - side) / 2), y: iy + rowImageH[i]! + GAP / 2, w: side, h: side };
        canvas.drawImage(crop(c.image, z.x, z.y, z.size), inset.x, inset.y, magnification);
        canvas.strokeRect(inset.x, inset.y, side, side, z.colour, ZOOM_LINE);
      }
      placed.push({ image: { x: ix, y: iy, w: iw, h: ih }, ...(inset !== undefined ? { inset, magnification } : {}) });
      x += cw + GAP;
    });
    cells.push(placed);
    y += lineH(CELL_TITLE_SIZE) + rowImageH[i]! + rowInsetH[i]! + GAP;
  });

  let colourBar: Box | undefined;
  if (bar !== undefined && barTicks !== undefined) {
    const bx = MARGIN + gridW + GAP * 2;
    const bh = Math.max(120, rowImageH[0]!);
    colourBar = { x: bx, y: firstImageTop, w: BAR_WIDTH, h: bh };
    drawColourBar(canvas, colourBar, bar, barTicks.ticks);
  }
  for (const line of captionLines) {
    canvas.text(line, MARGIN, y, { size: CAPTION_SIZE, baseline: "top", colour: [40, 40, 40] });
    y += lineH(CAPTION_SIZE);
  }
  return { canvas, cells, ...(colourBar !== undefined ? { colourBar } : {}) };
}

/** A vertical gradient (top = hi) with a frame, tick marks and labels on the right, and the label above. */
function drawColourBar(canvas: Canvas, box: Box, bar: ColourBarSpec, ticks: readonly number[]): void {
  const lut = colourLut(bar.map);
  for (let r = 0; r < box.h; r++) {
    const t = box.h > 1 ? 1 - r / (box.h - 1) : 1;
    const k = 3 * Math.round(255 * t);
    canvas.fillRect(box.x, box.y + r, box.w, 1, [lut[k]!, lut[k + 1]!, lut[k + 2]!]);
  }
  canvas.strokeRect(box.x - 1, box.y - 1, box.w + 2, box.h + 2, BLACK, 1);
  const labels = formatTicks(ticks);
  const tickY = (t: number) => box.y + Math.round((1 - (t - bar.lo) / (bar.hi - bar.lo)) * (box.h - 1));
  const mark = (ty: number, label: string) => {
    canvas.fillRect(box.x + box.w + 1, ty, 5, 1, BLACK);
    canvas.text(label, box.x + box.w + 9, ty, { size: CAPTION_SIZE, baseline: "middle" });
  };
  ticks.forEach((t, i) => mark(tickY(t), labels[i]!));
  // The top of the scale is labelled too when it is not a tick and there is room.
  const last = ticks[ticks.length - 1];
  if (last === undefined || tickY(last) - box.y >= CAPTION_SIZE + 8) mark(box.y, formatValue(bar.hi));
  canvas.text(bar.label, box.x, box.y - 12, { size: CELL_TITLE_SIZE });
}
