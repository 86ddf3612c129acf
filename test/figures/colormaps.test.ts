// Colour maps: endpoints from their formulas, monotone luminance, LUT indexing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CUBEHELIX, GREY, HOT, colourLut, cubehelixMap, hot, luminance, lutColour, lutIndex, type ColourMap } from "../../src/figures/colormaps.js";
import { assertClose } from "../helpers.js";

function lumaSeries(map: ColourMap, n: number): number[] {
  return Array.from({ length: n }, (_, i) => luminance(map(i / (n - 1))));
}

test("luminance increases strictly along hot, cubehelix and grey", () => {
  for (const m of [HOT, CUBEHELIX, GREY]) {
    const l = lumaSeries(m.map, 1001);
    for (let i = 1; i < l.length; i++) assert.ok(l[i]! > l[i - 1]!, `${m.name}: luminance at ${i} (${l[i]}) is not above ${l[i - 1]}`);
  }
});

test("8-bit LUT luminance never decreases", () => {
  for (const m of [HOT, CUBEHELIX, GREY]) {
    const lut = colourLut(m.map);
    let prev = -1;
    for (let i = 0; i < 256; i++) {
      const l = luminance([lut[3 * i]! / 255, lut[3 * i + 1]! / 255, lut[3 * i + 2]! / 255]);
      assert.ok(l >= prev - 1e-3, `${m.name}: LUT luminance drops at ${i}`);
      prev = l;
    }
  }
});

test("hot passes black, red, yellow, white at 0, 1/3, 2/3, 1", () => {
  assert.deepEqual(hot(0), [0, 0, 0]);
  assertClose(hot(1 / 3), [1, 0, 0], { atol: 1e-12 });
  assertClose(hot(2 / 3), [1, 1, 0], { atol: 1e-12 });
  assert.deepEqual(hot(1), [1, 1, 1]);
  assert.deepEqual(hot(-3), [0, 0, 0]);
  assert.deepEqual(hot(Number.NaN), [0, 0, 0]);
});

test("cubehelix runs black to white with Green's brightness lambda^gamma where unclipped", () => {
  const m = cubehelixMap();
  assert.deepEqual(m(0), [0, 0, 0]);
  assertClose(m(1), [1, 1, 1], { atol: 1e-12 });
  // Eq. 2's perturbation is orthogonal to (0.30, 0.59, 0.11) up to the published coefficients' rounding.
  assertClose(luminance(m(0.5)), 0.5, { atol: 2e-3 });
  const g2 = cubehelixMap({ start: 0.5, rotations: -1.5, hue: 0, gamma: 2 });
  assertClose(g2(0.5), [0.25, 0.25, 0.25], { atol: 1e-12 });
  // With a hue the colour leaves the grey diagonal.
  const c = m(0.3);
  assert.ok(Math.max(...c) - Math.min(...c) > 0.1);
});

test("lutIndex clamps and maps the window ends to 0 and 255", () => {
  assert.equal(lutIndex(0, 0, 3), 0);
  assert.equal(lutIndex(3, 0, 3), 255);
  assert.equal(lutIndex(1, 0, 3), 85);
  assert.equal(lutIndex(9, 0, 3), 255);
  assert.equal(lutIndex(-1, 0, 3), 0);
  assert.deepEqual(lutColour(colourLut(hot), 2, 0, 3), [255, 255, 0]);
});
