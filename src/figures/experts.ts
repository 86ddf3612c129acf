// `figures experts`: the paper's Table IV view. One row per slice; one column per expert with
// |E_k - HR|, and a last column |SR - HR| when the enhanced volume is known (--sr, else the "output" of
// explain.json when that file exists).
//
// Decisions: one colour scale for the whole figure, 0 .. the 99th percentile of every shown difference
// inside the brain (reference > 5% of its maximum), larger differences saturate; colour map "hot"
// (brighter = larger difference; the paper's maps use lighter = smaller, we keep the usual heat
// convention and say so in the caption). MAE in a panel title is over the brain mask of that slice
// ("n/a" when the slice has no brain voxel).
import { basename } from "node:path";
import type { Volume } from "../volume/volume.js";
import { HOT } from "./colormaps.js";
import { readExplainDir } from "./explain.js";
import { renderGrid, type GridFigure, type GridRow } from "./grid.js";
import { mapSlice } from "./image.js";
import { brainThreshold, checkSlices, defaultSlices, displayOrientation, extractSlice, maskOf, percentile, upscaleFactor, type Axis, type DisplaySlice } from "./slices.js";
import { formatValue } from "./ticks.js";
import { loadVolume, requireSameGrid } from "./volumes.js";

export interface ExpertsOptions {
  readonly explain: string;
  readonly ref: string;
  readonly sr?: string;
  readonly axis?: Axis;
  readonly slices?: readonly number[];
}

export interface ExpertPanelInfo {
  readonly name: string;
  readonly title: string;
  /** Mean |diff| over the slice's brain mask (NaN when empty). */
  readonly mae: number;
}

export interface ExpertsFigure extends GridFigure {
  readonly slices: readonly number[];
  /** Top of the shared colour scale (bottom is 0). */
  readonly scaleMax: number;
  readonly panels: readonly (readonly ExpertPanelInfo[])[];
  /** The SR volume used for the last column, or null when none. */
  readonly sr: string | null;
}

function absDiff(a: DisplaySlice, b: DisplaySlice): DisplaySlice {
  const data = new Float32Array(a.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.abs(a.data[i]! - b.data[i]!);
  return { width: a.width, height: a.height, data };
}

function maskedMean(values: Float32Array, mask: Uint8Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    if (mask[i] === 1) {
      s += values[i]!;
      n++;
    }
  }
  return n > 0 ? s / n : NaN;
}

export function makeExperts(o: ExpertsOptions): ExpertsFigure {
  const axis: Axis = o.axis ?? 2;
  const ex = readExplainDir(o.explain, { experts: true, gates: false });
  const ref = loadVolume(o.ref, "--ref");
  const columns: { name: string; vol: Volume }[] = [];
  for (const k of ex.experts) {
    const v = loadVolume(ex.expertPath(k), `expert E${k}`);
    requireSameGrid(v, `expert E${k}`, ex.expertPath(k), ref, `--ref ${o.ref}`);
    columns.push({ name: `E${k}`, vol: v });
  }
  const srPath = o.sr ?? ex.output;
  if (srPath !== null) {
    const sr = loadVolume(srPath, o.sr !== undefined ? "--sr" : "the explain output");
    requireSameGrid(sr, o.sr !== undefined ? "--sr" : "the explain output", srPath, ref, `--ref ${o.ref}`);
    columns.push({ name: "SR", vol: sr });
  }
  const n = ref.dims[axis];
  const slices = o.slices !== undefined ? [...o.slices] : defaultSlices(ref, axis, n);
  checkSlices(slices, axis, n);
  const orient = displayOrientation(ref.affine, axis);
  const threshold = brainThreshold(ref);

  const perRow = slices.map((s) => {
    const refSlice = extractSlice(ref, orient, s);
    const mask = maskOf(refSlice, threshold);
    return { s, mask, diffs: columns.map((c) => absDiff(extractSlice(c.vol, orient, s), refSlice)) };
  });
  const inBrain: number[] = [];
  const all: number[] = [];
  for (const r of perRow) {
    for (const d of r.diffs) {
      for (let i = 0; i < d.data.length; i++) {
        all.push(d.data[i]!);
        if (r.mask[i] === 1) inBrain.push(d.data[i]!);
      }
    }
  }
  let scaleMax = percentile(inBrain.length > 0 ? inBrain : all, 99);
  if (!(scaleMax > 0)) scaleMax = Math.max(0, ...all) || 1;
  const first = perRow[0]!.diffs[0]!;
  const scale = upscaleFactor(first.width, first.height);
  const panels: ExpertPanelInfo[][] = [];
  const rows: GridRow[] = perRow.map((r) => {
    const info = r.diffs.map((d, j) => {
      const mae = maskedMean(d.data, r.mask);
      const name = columns[j]!.name;
      return { name, mae, title: `${name} |diff|  MAE ${Number.isNaN(mae) ? "n/a" : formatValue(mae)}` };
    });
    panels.push(info);
    return {
      label: `${orient.plane} slice ${r.s} of ${n}`,
      cells: r.diffs.map((d, j) => ({ title: info[j]!.title, image: mapSlice(d, HOT.map, { lo: 0, hi: scaleMax }) })),
    };
  });
  const caption = [
    `|estimate − reference| per voxel against --ref ${basename(o.ref)}; E1… are each expert's own decoded estimate${srPath !== null ? `, SR the aggregated output (${basename(srPath)})` : ""}.`,
    `Colour map ${HOT.description}; one scale for the whole figure, 0 to ${formatValue(scaleMax)} = 99th percentile of all shown differences inside the brain (reference > 5% of its maximum), larger values saturate. MAE over the brain mask of the slice.`,
    `${orient.plane} slices across voxel axis ${axis} · ${orient.description} · images ×${scale} nearest neighbour.`,
  ];
  const fig = renderGrid({
    title: `Per-expert absolute difference to the reference: ${basename(o.explain.replace(/\/+$/, ""))}`,
    rows,
    scale,
    caption,
    colourBar: { map: HOT.map, lo: 0, hi: scaleMax, label: "|diff|" },
  });
  return { ...fig, slices, scaleMax, panels, sr: srPath };
}
