// `figures panel`: one row per slice, columns LR | SR | HR (HR optional), each with a zoomed inset.
//
// Decisions: SR and HR must share a grid (else an error); LR is resampled onto the SR grid by nearest
// neighbour, so the acquired voxels stay visible ("LR (nearest)"). The grey window of a row is the
// 0.5th..99.5th percentile of the HR slice (SR without HR), the same for every column of the row. The
// inset square is centred on the intensity-weighted centre of the brain (reference > 5% of its maximum)
// in that slice, side a quarter of the slice's shorter side, unless --zoom x,y,size gives the centre
// (column, row of the displayed slice, 0-based from the top-left) and side; a square reaching past an
// edge is shifted inside. Images are upscaled by an integer factor so the shorter side is >= 256 px.
import { basename } from "node:path";
import { resampleLike } from "../volume/resample.js";
import type { Volume } from "../volume/volume.js";
import type { Colour } from "./canvas.js";
import { GREY } from "./colormaps.js";
import { renderGrid, type GridFigure, type GridRow, type Zoom } from "./grid.js";
import { makeWindow, mapSlice, type Window } from "./image.js";
import { brainThreshold, centreOfMass, checkSlices, defaultSlices, displayOrientation, extractSlice, maskOf, percentiles, upscaleFactor, type Axis } from "./slices.js";
import { formatValue } from "./ticks.js";
import { gridDifference, loadVolume, requireSameGrid } from "./volumes.js";

export const ZOOM_COLOUR: Colour = [255, 215, 0];

export interface ZoomSpec {
  /** Centre column and row in the displayed slice (pixels from the top-left) and side, in voxels. */
  readonly x: number;
  readonly y: number;
  readonly size: number;
}

export interface PanelOptions {
  readonly lr: string;
  readonly sr: string;
  readonly hr?: string;
  readonly axis?: Axis;
  readonly slices?: readonly number[];
  readonly zoom?: ZoomSpec;
}

export interface PanelFigure extends GridFigure {
  readonly slices: readonly number[];
  readonly windows: readonly Window[];
  readonly zooms: readonly Zoom[];
  readonly scale: number;
  readonly lrResampled: boolean;
}

/** Parses "--zoom x,y,size" (non-negative integers, size >= 2). */
export function parseZoom(text: string): ZoomSpec {
  const parts = text.split(",").map((s) => s.trim());
  if (parts.length !== 3 || !parts.every((p) => /^\d+$/.test(p))) {
    throw new Error(`--zoom expects x,y,size (centre column and row in the displayed slice, and side, in voxels), e.g. 90,110,40; got '${text}'`);
  }
  const [x, y, size] = parts.map(Number) as [number, number, number];
  if (size < 2) throw new Error(`--zoom: the side must be at least 2 voxels, got ${size}`);
  return { x, y, size };
}

/** The inset square (top-left, side) for one slice: from --zoom, or around the brain's centre. */
export function zoomSquare(width: number, height: number, centre: readonly [number, number], size: number): Zoom {
  const side = Math.max(2, Math.min(size, width, height));
  const clampTo = (v: number, max: number) => Math.max(0, Math.min(max, v));
  const x = clampTo(Math.round(centre[0] - side / 2 + 0.5), width - side);
  const y = clampTo(Math.round(centre[1] - side / 2 + 0.5), height - side);
  return { x, y, size: side, colour: ZOOM_COLOUR };
}

export function makePanel(o: PanelOptions): PanelFigure {
  const axis: Axis = o.axis ?? 2;
  const sr = loadVolume(o.sr, "--sr");
  let hr: Volume | null = null;
  if (o.hr !== undefined) {
    hr = loadVolume(o.hr, "--hr");
    requireSameGrid(hr, "--hr", o.hr, sr, `--sr ${o.sr}`);
  }
  const lrRaw = loadVolume(o.lr, "--lr");
  const lrResampled = gridDifference(lrRaw, sr) !== null;
  const lr = lrResampled ? resampleLike(lrRaw, sr, { interpolation: "nearest" }) : lrRaw;
  const ref = hr ?? sr;
  const refName = hr !== null ? "HR" : "SR";
  const n = sr.dims[axis];
  const slices = o.slices !== undefined ? [...o.slices] : defaultSlices(ref, axis, n);
  checkSlices(slices, axis, n);
  const orient = displayOrientation(sr.affine, axis);
  if (o.zoom !== undefined) {
    const w = sr.dims[orient.across.voxelAxis];
    const h = sr.dims[orient.down.voxelAxis];
    if (o.zoom.x >= w || o.zoom.y >= h) throw new RangeError(`--zoom: centre (${o.zoom.x}, ${o.zoom.y}) is outside the displayed ${w} x ${h} slice`);
  }
  const threshold = brainThreshold(ref);
  const columns: { title: string; vol: Volume }[] = [
    { title: lrResampled ? "LR (nearest)" : "LR", vol: lr },
    { title: "SR", vol: sr },
    ...(hr !== null ? [{ title: "HR", vol: hr }] : []),
  ];
  const windows: Window[] = [];
  const zooms: Zoom[] = [];
  const rows: GridRow[] = [];
  let scale = 1;
  for (const s of slices) {
    const refSlice = extractSlice(ref, orient, s);
    const [lo, hi] = percentiles(refSlice.data, [0.5, 99.5]) as [number, number];
    const win = makeWindow(lo, hi);
    windows.push(win);
    scale = upscaleFactor(refSlice.width, refSlice.height);
    const side = o.zoom?.size ?? Math.round(Math.min(refSlice.width, refSlice.height) / 4);
    const centre: [number, number] = o.zoom !== undefined ? [o.zoom.x, o.zoom.y] : centreOfMass(refSlice, maskOf(refSlice, threshold));
    const zoom = zoomSquare(refSlice.width, refSlice.height, centre, side);
    zooms.push(zoom);
    rows.push({
      label: `${orient.plane} slice ${s} of ${n} · window [${formatValue(win.lo)}, ${formatValue(win.hi)}] · inset columns ${zoom.x}–${zoom.x + zoom.size - 1}, rows ${zoom.y}–${zoom.y + zoom.size - 1}`,
      cells: columns.map((c) => ({ title: c.title, image: mapSlice(extractSlice(c.vol, orient, s), GREY.map, win), zoom })),
    });
  }
  const names = columns.map((c) => c.title.split(" ")[0]).join(" | ");
  const caption = [
    `${orient.plane} slices across voxel axis ${axis} · ${orient.description} · colour map ${GREY.description}; window per row: 0.5–99.5th percentile of the ${refName} slice, same for every column.`,
    `${lrResampled ? "LR resampled onto the SR grid by nearest neighbour (acquired voxels shown as blocks). " : ""}Images ×${scale} nearest neighbour; the yellow square is shown magnified below each image (nearest neighbour).`,
  ];
  const fig = renderGrid({ title: `${names}: ${basename(o.sr)}`, rows, scale, caption });
  return { ...fig, slices, windows, zooms, scale, lrResampled };
}
