// The page's view types (Axial, Coronal, Sagittal, Multi = tri-planar) and their NiiVue equivalents.
import { SLICE_TYPE } from "@niivue/niivue";

export type View = "axial" | "coronal" | "sagittal" | "multi";
export const VIEWS: readonly View[] = ["axial", "coronal", "sagittal", "multi"];

export const VIEW_LABELS: Record<View, string> = {
  axial: "Axial",
  coronal: "Coronal",
  sagittal: "Sagittal",
  multi: "Multi",
};

export function sliceTypeOf(view: View): SLICE_TYPE {
  switch (view) {
    case "axial":
      return SLICE_TYPE.AXIAL;
    case "coronal":
      return SLICE_TYPE.CORONAL;
    case "sagittal":
      return SLICE_TYPE.SAGITTAL;
    case "multi":
      return SLICE_TYPE.MULTIPLANAR;
  }
}

/** RAS axis the slice slider moves along: x for sagittal, y for coronal, z for axial (and multi-planar). */
export function axisOf(view: View): 0 | 1 | 2 {
  return view === "sagittal" ? 0 : view === "coronal" ? 1 : 2;
}

export const AXIS_NAMES = ["x", "y", "z"] as const;

export function isView(value: string | null | undefined): value is View {
  return value !== null && value !== undefined && (VIEWS as readonly string[]).includes(value);
}
