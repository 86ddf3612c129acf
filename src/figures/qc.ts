// The quality-control figure of `enhance --qc` (issue 21, point 9): with no reference to compare with,
// a person judges the result by eye against what went in. Rows: the axial, coronal and sagittal slices
// through the brain's centre (intensity-weighted, voxels above 5% of the B-spline image's maximum);
// columns: the input (nearest neighbour onto the output grid, the acquired voxels as blocks) | cubic
// B-spline | enhanced | enhanced - B-spline. The grey window of a row is the 0.5th-99.5th percentile of
// the B-spline slice, the same for the first three columns; the difference is blue-white-red over
// +-the 99th percentile of |difference| inside the head over all three slices (the colour bar).
import { resampleLike } from "../volume/resample.js";
import type { Volume } from "../volume/volume.js";
import { BLUE_WHITE_RED, GREY } from "./colormaps.js";
import { renderGrid, type GridFigure, type GridRow } from "./grid.js";
import { makeWindow, mapSlice } from "./image.js";
import { brainThreshold, displayOrientation, extractSlice, percentiles, upscaleFactor, type Axis, type DisplaySlice } from "./slices.js";
import { formatValue } from "./ticks.js";

export interface QcFigureInput {
  readonly title: string;
  /** The input on its own grid. */
  readonly input: Volume;
  /** The input on the output grid by cubic B-spline, and the enhanced volume (same grid). */
  readonly bspline: Volume;
  readonly enhanced: Volume;
}

export interface QcFigure extends GridFigure {
  /** Voxel index of each row's slice along its axis (axial, coronal, sagittal order of `axes`). */
  readonly slices: readonly number[];
  readonly axes: readonly Axis[];
  /** The difference colour bar's half-range. */
  readonly differenceRange: number;
}

/** The intensity-weighted centre (voxel indices) of the voxels above `threshold`. */
function centreVoxel(v: Volume, threshold: number): [number, number, number] {
  const [nx, ny, nz] = v.dims;
  let s = 0;
  let ci = 0;
  let cj = 0;
  let ck = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const x = v.data[i + nx * (j + ny * k)] as number;
        if (!(x > threshold)) continue;
        s += x;
        ci += x * i;
        cj += x * j;
        ck += x * k;
      }
  return s > 0 ? [Math.round(ci / s), Math.round(cj / s), Math.round(ck / s)] : [nx >> 1, ny >> 1, nz >> 1];
}

const difference = (a: DisplaySlice, b: DisplaySlice): DisplaySlice => ({ ...a, data: a.data.map((x, i) => x - (b.data[i] as number)) });

export function makeQcFigure(q: QcFigureInput): QcFigure {
  const { bspline, enhanced } = q;
  if (bspline.dims.join() !== enhanced.dims.join()) throw new RangeError(`makeQcFigure: the B-spline image [${bspline.dims.join(", ")}] and the enhanced one [${enhanced.dims.join(", ")}] must share a grid`);
  const input = resampleLike(q.input, enhanced, { interpolation: "nearest" });
  const threshold = brainThreshold(bspline);
  const centre = centreVoxel(bspline, threshold);
  // Rows by the plane each voxel axis shows (RAS-ish inputs: axis 2 axial, 1 coronal, 0 sagittal).
  const axes: Axis[] = [2, 1, 0];
  const planes = axes.map((axis) => ({ axis, orient: displayOrientation(enhanced.affine, axis), index: centre[axis] as number }));
  const diffs = planes.map((p) => {
    const d = difference(extractSlice(enhanced, p.orient, p.index), extractSlice(bspline, p.orient, p.index));
    const head = extractSlice(bspline, p.orient, p.index);
    return { d, head };
  });
  const inside: number[] = [];
  for (const { d, head } of diffs) d.data.forEach((x, i) => void ((head.data[i] as number) > threshold && inside.push(Math.abs(x))));
  const range = Math.max(1e-6, (percentiles(inside.length > 0 ? Float32Array.from(inside) : new Float32Array([1]), [99]) as [number])[0]);
  const diffWindow = makeWindow(-range, range);
  let scale = 1;
  const rows: GridRow[] = planes.map((p, r) => {
    const bs = extractSlice(bspline, p.orient, p.index);
    const [lo, hi] = percentiles(bs.data, [0.5, 99.5]) as [number, number];
    const win = makeWindow(lo, hi);
    scale = Math.max(scale, upscaleFactor(bs.width, bs.height, 200));
    return {
      label: `${p.orient.plane} slice ${p.index} of ${enhanced.dims[p.axis]} · window [${formatValue(win.lo)}, ${formatValue(win.hi)}]`,
      cells: [
        { title: "input (nearest)", image: mapSlice(extractSlice(input, p.orient, p.index), GREY.map, win) },
        { title: "cubic B-spline", image: mapSlice(bs, GREY.map, win) },
        { title: "enhanced", image: mapSlice(extractSlice(enhanced, p.orient, p.index), GREY.map, win) },
        { title: "enhanced − B-spline", image: mapSlice((diffs[r] as { d: DisplaySlice }).d, BLUE_WHITE_RED.map, diffWindow) },
      ],
    };
  });
  const fig = renderGrid({
    title: q.title,
    rows,
    scale,
    caption: [
      "Slices through the brain's centre. Grey window per row: 0.5–99.5th percentile of the B-spline slice, the same for the first three columns; the input is shown on the output grid by nearest neighbour.",
      `Difference: blue-white-red over ±${formatValue(range)} (99th percentile of |enhanced − B-spline| inside the head); red = the enhanced image is brighter.`,
    ],
    colourBar: { map: BLUE_WHITE_RED.map, lo: -range, hi: range, label: "enhanced − B-spline" },
  });
  return { ...fig, slices: planes.map((p) => p.index), axes, differenceRange: range };
}
