// NiiVue instances as the page uses them (dark background, thin green crosshair, no colorbar, the
// page's mouse mapping) and small helpers over NiiVue images.
import { DRAG_MODE, Niivue, SHOW_RENDER, type NVImage } from "@niivue/niivue";
import { sliceTypeOf, type View } from "./view.js";

const BACK: [number, number, number, number] = [0.06, 0.065, 0.075, 1];

/** Colormap of the input mix layer: gray with every level opaque, so at "input" it covers the output
 * fully (NiiVue's "gray" makes the lowest level of an overlay transparent). "_" hides it from menus. */
export const MIX_COLORMAP = "_grayOpaque";
const MIX_COLORMAP_DEF = { R: [0, 255], G: [0, 255], B: [0, 255], A: [255, 255], I: [0, 255] };

/** A NiiVue instance set up for a pane of the page. */
export function niivueFor(view: View): Niivue {
  const nv = new Niivue({
    backColor: BACK,
    crosshairColor: [0.25, 0.85, 0.45, 0.85],
    // Width as a fraction of the field of view, so the line stays thin on coarse grids (a 1-voxel
    // line covers 1/24 of a 24-voxel test volume).
    crosshairWidth: 0.5,
    crosshairWidthUnit: "percent",
    isColorbar: false,
    show3Dcrosshair: false,
    dragAndDropEnabled: false,
    multiplanarShowRender: SHOW_RENDER.NEVER,
    sliceType: sliceTypeOf(view),
    // Left: crosshair (shift: pan); right-drag: window level/width; middle-drag: pan. The wheel
    // scrolls slices (NiiVue's default); Ctrl+wheel zooms (handled by the page, on every pane).
    dragMode: DRAG_MODE.windowing,
    // NiiVue's own view-cycling/clip keys would change one pane only: the page handles views.
    viewModeHotKey: "Disabled",
    clipPlaneHotKey: "Disabled",
    cycleClipPlaneHotKey: "Disabled",
    logLevel: "warn",
  });
  // (The constructor ignores mouseEventConfig; the setter applies it.)
  nv.setMouseEventConfig({
    leftButton: { primary: DRAG_MODE.crosshair, withShift: DRAG_MODE.pan },
    rightButton: DRAG_MODE.windowing,
    centerButton: DRAG_MODE.pan,
  });
  if (!nv.colormaps().includes(MIX_COLORMAP)) nv.addColormap(MIX_COLORMAP, MIX_COLORMAP_DEF);
  return nv;
}

/** Element-wise |a − b| <= tol. */
export function closeTo(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Math.abs((a[i] ?? 0) - (b[i] ?? 0)) > tol) return false;
  return true;
}

/** The value of a volume at a point in mm, or NaN outside its grid. */
export function valueAt(image: NVImage, mm: number[]): number {
  const vox = image.mm2vox(mm);
  const dims = image.hdr?.dims;
  const x = Math.round(vox[0] ?? NaN);
  const y = Math.round(vox[1] ?? NaN);
  const z = Math.round(vox[2] ?? NaN);
  if (!dims || x < 0 || y < 0 || z < 0 || x >= (dims[1] ?? 0) || y >= (dims[2] ?? 0) || z >= (dims[3] ?? 1)) return NaN;
  return image.getValue(x, y, z);
}
