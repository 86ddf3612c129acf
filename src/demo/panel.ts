// The demo's comparison panel: one row per slice, one column per method (LR input shown by nearest
// neighbour, trilinear, cubic B-spline, MoEDiff-SR) and the reference, each with the same zoomed inset.
// Built from the blocks of `figures panel` (src/figures/): display orientation, the grey window of a
// row (0.5-99.5th percentile of the reference slice, shared by every column), the inset square around
// the brain's centre of mass (a quarter of the slice's shorter side), the grid layout.
// `figures panel` shows LR | SR | HR only; the demo needs the baselines beside them, so it lays the
// columns out itself.
import { GREY } from "../figures/colormaps.js";
import { renderGrid, type GridFigure, type GridRow } from "../figures/grid.js";
import { makeWindow, mapSlice } from "../figures/image.js";
import { zoomSquare } from "../figures/panel.js";
import { brainThreshold, centreOfMass, checkSlices, displayOrientation, extractSlice, maskOf, percentiles, upscaleFactor, type Axis } from "../figures/slices.js";
import { formatValue } from "../figures/ticks.js";
import type { Volume } from "../volume/volume.js";

export interface PanelColumn {
  readonly title: string;
  readonly volume: Volume;
}

export interface ComparisonPanelOptions {
  readonly title: string;
  /** The methods, left to right; the reference is added as the last column. */
  readonly columns: readonly PanelColumn[];
  readonly reference: Volume;
  readonly referenceTitle?: string;
  readonly axis: Axis;
  readonly slices: readonly number[];
  readonly caption?: readonly string[];
  /** The row label's slice name (default "<plane> slice <index> of <n>"). */
  readonly sliceLabel?: (index: number) => string;
}

export function makeComparisonPanel(o: ComparisonPanelOptions): GridFigure {
  const ref = o.reference;
  for (const c of o.columns) {
    if (c.volume.dims.join(",") !== ref.dims.join(",")) throw new RangeError(`comparison panel: ${c.title} has dims [${c.volume.dims.join(", ")}], the reference [${ref.dims.join(", ")}]`);
  }
  const n = ref.dims[o.axis];
  checkSlices(o.slices, o.axis, n);
  const orient = displayOrientation(ref.affine, o.axis);
  const threshold = brainThreshold(ref);
  const columns = [...o.columns, { title: o.referenceTitle ?? "reference", volume: ref }];
  let scale = 1;
  const rows: GridRow[] = o.slices.map((s) => {
    const refSlice = extractSlice(ref, orient, s);
    const [lo, hi] = percentiles(refSlice.data, [0.5, 99.5]) as [number, number];
    const win = makeWindow(lo, hi);
    scale = upscaleFactor(refSlice.width, refSlice.height);
    const side = Math.round(Math.min(refSlice.width, refSlice.height) / 4);
    const zoom = zoomSquare(refSlice.width, refSlice.height, centreOfMass(refSlice, maskOf(refSlice, threshold)), side);
    return {
      label: `${o.sliceLabel?.(s) ?? `${orient.plane} slice ${s} of ${n}`} · window [${formatValue(win.lo)}, ${formatValue(win.hi)}]`,
      cells: columns.map((c) => ({ title: c.title, image: mapSlice(extractSlice(c.volume, orient, s), GREY.map, win), zoom })),
    };
  });
  const caption = [
    ...(o.caption ?? []),
    `${orient.plane} slices across voxel axis ${o.axis} · ${orient.description} · grey window per row: 0.5–99.5th percentile of the reference slice, the same for every column.`,
    `Images ×${scale} nearest neighbour; the yellow square is shown magnified below each image.`,
  ];
  return renderGrid({ title: o.title, rows, scale, caption });
}
