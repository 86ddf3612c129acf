// Turning display slices into RGB images: a value window through a colour map, blending a colour map
// over a grey background inside a mask, and cropping (for zoomed insets).
import type { RgbImage } from "./canvas.js";
import { colourLut, type ColourMap } from "./colormaps.js";
import type { DisplaySlice } from "./slices.js";

/** A value window [lo, hi]; hi > lo always (a constant window is widened by 1). */
export interface Window {
  readonly lo: number;
  readonly hi: number;
}

export function makeWindow(lo: number, hi: number): Window {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { lo: 0, hi: 1 };
  return hi > lo ? { lo, hi } : { lo, hi: lo + 1 };
}

function index(v: number, w: Window): number {
  const t = (v - w.lo) / (w.hi - w.lo);
  return t > 0 ? (t < 1 ? Math.round(255 * t) : 255) : 0;
}

/** The slice through `map` on window `w`. */
export function mapSlice(slice: DisplaySlice, map: ColourMap, w: Window): RgbImage {
  const lut = colourLut(map);
  const data = new Uint8Array(3 * slice.data.length);
  for (let i = 0; i < slice.data.length; i++) {
    const k = 3 * index(slice.data[i]!, w);
    data[3 * i] = lut[k]!;
    data[3 * i + 1] = lut[k + 1]!;
    data[3 * i + 2] = lut[k + 2]!;
  }
  return { width: slice.width, height: slice.height, data };
}

/** alpha * colour + (1 - alpha) * background where mask is 1; the background elsewhere. Same sizes required. */
export function blendInside(colour: RgbImage, background: RgbImage, mask: Uint8Array, alpha: number): RgbImage {
  if (colour.width !== background.width || colour.height !== background.height || mask.length !== colour.width * colour.height) {
    throw new RangeError(`blendInside: sizes differ (${colour.width}x${colour.height}, ${background.width}x${background.height}, mask ${mask.length})`);
  }
  const data = new Uint8Array(colour.data.length);
  for (let i = 0; i < mask.length; i++) {
    for (let c = 0; c < 3; c++) {
      const b = background.data[3 * i + c]!;
      data[3 * i + c] = mask[i] === 1 ? Math.round(alpha * colour.data[3 * i + c]! + (1 - alpha) * b) : b;
    }
  }
  return { width: colour.width, height: colour.height, data };
}

/** The size x size square of `img` with its top-left at (x, y); must lie inside. */
export function crop(img: RgbImage, x: number, y: number, size: number): RgbImage {
  if (x < 0 || y < 0 || x + size > img.width || y + size > img.height) {
    throw new RangeError(`crop: square (${x}, ${y}, ${size}) leaves the ${img.width} x ${img.height} image`);
  }
  const data = new Uint8Array(3 * size * size);
  for (let r = 0; r < size; r++) data.set(img.data.subarray(3 * ((y + r) * img.width + x), 3 * ((y + r) * img.width + x + size)), 3 * r * size);
  return { width: size, height: size, data };
}
