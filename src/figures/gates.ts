// `figures gates`: one row per slice, one column per expert's gate weight map, on a fixed 0..1
// cubehelix scale with a colour bar.
//
// Decisions: with --background, the colour is blended over the grey background (alpha 0.6) inside the
// brain (background > 5% of its maximum) and the background alone is shown outside; the title's mean is
// over that brain mask. Without a background the map covers the whole slice and the mean is over the
// whole slice. Default slices follow the brain extent of the background, else of the enhanced volume
// named in explain.json when it exists on the gates' grid, else the whole axis. Gate values outside
// [0, 1] (beyond 1e-3) are reported as a warning; the scale clamps them.
import { basename } from "node:path";
import type { Volume } from "../volume/volume.js";
import { CUBEHELIX, GREY } from "./colormaps.js";
import { readExplainDir } from "./explain.js";
import { renderGrid, type GridFigure, type GridRow } from "./grid.js";
import { blendInside, makeWindow, mapSlice } from "./image.js";
import { brainThreshold, checkSlices, defaultSlices, displayOrientation, extractSlice, maskOf, percentiles, upscaleFactor, type Axis } from "./slices.js";
import { formatValue } from "./ticks.js";
import { gridDifference, loadVolume, requireSameGrid } from "./volumes.js";

export const GATE_ALPHA = 0.6;

export interface GatesOptions {
  readonly explain: string;
  readonly background?: string;
  readonly axis?: Axis;
  readonly slices?: readonly number[];
}

export interface GatesFigure extends GridFigure {
  readonly slices: readonly number[];
  /** Per row, per expert: the mean gate shown in the title. */
  readonly means: readonly (readonly number[])[];
  readonly warnings: readonly string[];
}

function mean(values: Float32Array, mask: Uint8Array | null): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (mask === null || mask[i] === 1) {
      s += values[i]!;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

export function makeGates(o: GatesOptions): GatesFigure {
  const axis: Axis = o.axis ?? 2;
  const ex = readExplainDir(o.explain, { experts: false, gates: true });
  const gates: { name: string; vol: Volume }[] = [];
  const warnings: string[] = [];
  for (const k of ex.experts) {
    const path = ex.gatePath(k);
    const v = loadVolume(path, `gate E${k}`);
    if (gates.length > 0) requireSameGrid(v, `gate E${k}`, path, gates[0]!.vol, `gate ${gates[0]!.name}`);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < v.data.length; i++) {
      lo = Math.min(lo, v.data[i]!);
      hi = Math.max(hi, v.data[i]!);
    }
    if (lo < -1e-3 || hi > 1 + 1e-3) warnings.push(`gate E${k} has values in [${formatValue(lo)}, ${formatValue(hi)}], outside [0, 1]; the colour scale clamps them`);
    gates.push({ name: `E${k}`, vol: v });
  }
  const grid = gates[0]!.vol;
  let background: Volume | null = null;
  if (o.background !== undefined) {
    background = loadVolume(o.background, "--background");
    requireSameGrid(background, "--background", o.background, grid, `the gate maps in ${o.explain}`);
  }
  let sliceRef: Volume | null = background;
  if (sliceRef === null && ex.output !== null) {
    const out = loadVolume(ex.output, "the explain output");
    if (gridDifference(out, grid) === null) sliceRef = out;
  }
  const n = grid.dims[axis];
  const slices = o.slices !== undefined ? [...o.slices] : defaultSlices(sliceRef, axis, n);
  checkSlices(slices, axis, n);
  const orient = displayOrientation(grid.affine, axis);
  const threshold = background !== null ? brainThreshold(background) : 0;
  const means: number[][] = [];
  let scale = 1;
  const rows: GridRow[] = slices.map((s) => {
    let bgImage = null;
    let mask: Uint8Array | null = null;
    if (background !== null) {
      const bg = extractSlice(background, orient, s);
      const [lo, hi] = percentiles(bg.data, [0.5, 99.5]) as [number, number];
      bgImage = mapSlice(bg, GREY.map, makeWindow(lo, hi));
      mask = maskOf(bg, threshold);
    }
    const rowMeans: number[] = [];
    const cells = gates.map((g) => {
      const sl = extractSlice(g.vol, orient, s);
      scale = upscaleFactor(sl.width, sl.height);
      const colour = mapSlice(sl, CUBEHELIX.map, { lo: 0, hi: 1 });
      const m = mean(sl.data, mask);
      rowMeans.push(m);
      return {
        title: `${g.name} gate  mean ${Number.isNaN(m) ? "n/a" : formatValue(m, 2)}`,
        image: bgImage !== null && mask !== null ? blendInside(colour, bgImage, mask, GATE_ALPHA) : colour,
      };
    });
    means.push(rowMeans);
    return { label: `${orient.plane} slice ${s} of ${n}`, cells };
  });
  const caption = [
    `Gate weight of each expert (${ex.gating} gating, ${ex.mode} mode). Colour map ${CUBEHELIX.description}, fixed scale 0 to 1.`,
    background !== null
      ? `Blended at alpha ${GATE_ALPHA} over the grey background ${basename(o.background!)} (window 0.5–99.5th percentile per slice) inside the brain (background > 5% of its maximum); mean over that mask.`
      : "No background: the mean is over the whole slice.",
    `${orient.plane} slices across voxel axis ${axis} · ${orient.description} · images ×${scale} nearest neighbour.`,
  ];
  const fig = renderGrid({
    title: `Gating weights: ${basename(o.explain.replace(/\/+$/, ""))}`,
    rows,
    scale,
    caption,
    colourBar: { map: CUBEHELIX.map, lo: 0, hi: 1, label: "gate" },
  });
  return { ...fig, slices, means, warnings };
}
