// Colour maps for the figures, each defined by a published formula (no copied colour tables):
// - grey: linear black to white.
// - hot: piecewise-linear black -> red -> yellow -> white (R rises on [0, 1/3], G on [1/3, 2/3], B on
//   [2/3, 1]); every channel is non-decreasing and one rises at every t, so luminance rises monotonically.
//   Used for absolute differences: brighter = larger difference.
// - cubehelix: D. A. Green (2011), "A colour scheme for the display of astronomical intensity images",
//   Bull. Astr. Soc. India 39, 289-295, Eq. 2: a helix around the grey diagonal whose perceived
//   brightness (0.30 R + 0.59 G + 0.11 B) is lambda^gamma. Defaults start 0.5, rotations -1.5, hue 1,
//   gamma 1 (the paper's). Used for gate weights.
// - blue-white-red: linear from blue (0, 0, 1) at t = 0 through white at t = 0.5 to red (1, 0, 0) at
//   t = 1 (a diverging map for signed differences centred on 0; heat maps of evaluate-grid).
// A colour map takes t in [0, 1] (clamped; NaN -> 0) and returns linear RGB components in [0, 1].

export type Rgb = readonly [number, number, number];
export type ColourMap = (t: number) => Rgb;

export interface NamedColourMap {
  readonly name: string;
  /** One line for a figure caption. */
  readonly description: string;
  readonly map: ColourMap;
}

const clamp01 = (x: number): number => (x > 0 ? (x < 1 ? x : 1) : 0);

export function grey(t: number): Rgb {
  const v = clamp01(t);
  return [v, v, v];
}

export function hot(t: number): Rgb {
  const v = clamp01(t);
  return [clamp01(3 * v), clamp01(3 * v - 1), clamp01(3 * v - 2)];
}

export function blueWhiteRed(t: number): Rgb {
  const v = clamp01(t);
  return v <= 0.5 ? [2 * v, 2 * v, 1] : [1, 2 * (1 - v), 2 * (1 - v)];
}

export interface CubehelixParams {
  /** Start colour: 0 blue, 1 red, 2 green (Green 2011's s). */
  start: number;
  /** Rotations through R -> G -> B over the map (r). */
  rotations: number;
  /** Saturation (h). */
  hue: number;
  /** Gamma on the brightness (gamma). */
  gamma: number;
}

export const CUBEHELIX_DEFAULT: Readonly<CubehelixParams> = Object.freeze({ start: 0.5, rotations: -1.5, hue: 1, gamma: 1 });

/** Green (2011) Eq. 2; the components are clipped to [0, 1]. */
export function cubehelixMap(p: CubehelixParams = CUBEHELIX_DEFAULT): ColourMap {
  return (t: number): Rgb => {
    const lambda = clamp01(t);
    const lg = lambda ** p.gamma;
    const phi = 2 * Math.PI * (p.start / 3 + p.rotations * lambda);
    const a = (p.hue * lg * (1 - lg)) / 2;
    const c = Math.cos(phi);
    const s = Math.sin(phi);
    return [clamp01(lg + a * (-0.14861 * c + 1.78277 * s)), clamp01(lg + a * (-0.29227 * c - 0.90649 * s)), clamp01(lg + a * (1.97294 * c))];
  };
}

/** Green (2011)'s perceived brightness of a colour (components in [0, 1]). */
export function luminance(c: Rgb): number {
  return 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2];
}

export const GREY: NamedColourMap = Object.freeze({ name: "grey", description: "grey (linear black to white)", map: grey });
export const HOT: NamedColourMap = Object.freeze({
  name: "hot",
  description: "hot (piecewise-linear black-red-yellow-white; brighter = larger)",
  map: hot,
});
export const CUBEHELIX: NamedColourMap = Object.freeze({
  name: "cubehelix",
  description: "cubehelix (Green 2011; start 0.5, rotations -1.5, hue 1, gamma 1; brighter = larger)",
  map: cubehelixMap(),
});

export const BLUE_WHITE_RED: NamedColourMap = Object.freeze({
  name: "blue-white-red",
  description: "blue-white-red (linear; white = 0, red = positive, blue = negative)",
  map: blueWhiteRed,
});

/** 256-entry lookup table, RGB bytes (3 per entry): entry i is map(i / 255). */
export function colourLut(map: ColourMap): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = map(i / 255);
    lut[3 * i] = Math.round(255 * c[0]);
    lut[3 * i + 1] = Math.round(255 * c[1]);
    lut[3 * i + 2] = Math.round(255 * c[2]);
  }
  return lut;
}

/** The LUT index of value v on the scale [lo, hi] (values outside are clamped; NaN -> 0). */
export function lutIndex(v: number, lo: number, hi: number): number {
  const t = hi > lo ? (v - lo) / (hi - lo) : 0;
  return Math.round(255 * clamp01(t));
}

/** The byte colour of value v on [lo, hi] through `lut`. */
export function lutColour(lut: Uint8Array, v: number, lo: number, hi: number): [number, number, number] {
  const i = 3 * lutIndex(v, lo, hi);
  return [lut[i]!, lut[i + 1]!, lut[i + 2]!];
}
