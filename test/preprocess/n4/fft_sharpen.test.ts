// The FFT and N4's histogram sharpening (src/preprocess/n4/fft.ts, sharpen.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { fft, ifft, nextPowerOfTwo } from "../../../src/preprocess/n4/fft.js";
import { applySharpening, sharpeningMap, sharpenValues, DEFAULT_SHARPEN } from "../../../src/preprocess/n4/sharpen.js";
import { Random } from "../../../src/util/random.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

test("fft matches a direct DFT and ifft inverts it", () => {
  const r = new Random(5, "fft");
  const n = 64;
  const re = Float64Array.from({ length: n }, () => r.normal());
  const im = Float64Array.from({ length: n }, () => r.normal());
  const dre = new Float64Array(n);
  const dim = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    for (let t = 0; t < n; t++) {
      const a = (-2 * Math.PI * k * t) / n;
      dre[k] = dre[k]! + re[t]! * Math.cos(a) - im[t]! * Math.sin(a);
      dim[k] = dim[k]! + re[t]! * Math.sin(a) + im[t]! * Math.cos(a);
    }
  }
  const fre = Float64Array.from(re);
  const fim = Float64Array.from(im);
  fft(fre, fim);
  assertClose(fre, dre, { atol: 1e-10, rtol: 0 });
  assertClose(fim, dim, { atol: 1e-10, rtol: 0 });
  ifft(fre, fim);
  assertClose(fre, re, { atol: 1e-12, rtol: 0 });
  assertClose(fim, im, { atol: 1e-12, rtol: 0 });
  assert.equal(nextPowerOfTwo(200), 256);
  assert.equal(nextPowerOfTwo(256), 256);
  assertThrowsMatching(() => fft(new Float64Array(12), new Float64Array(12)), /power of two, got 12/);
  assertThrowsMatching(() => fft(new Float64Array(8), new Float64Array(4)), /differ in length/);
});

/** Two tissue peaks (log intensities 0 and 0.7, sd 0.03) blurred by a field spread (sd 0.08). */
function blurredTwoPeaks(n: number): { values: Float64Array; label: Uint8Array } {
  const r = new Random(3, "peaks");
  const values = new Float64Array(n);
  const label = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    label[i] = i % 2;
    values[i] = (label[i] === 1 ? 0.7 : 0) + 0.03 * r.normal() + 0.08 * r.normal();
  }
  return { values, label };
}

function classStats(v: Float64Array, label: Uint8Array, c: number): { mean: number; sd: number } {
  let n = 0;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < v.length; i++) {
    if (label[i] !== c) continue;
    n++;
    s += v[i]!;
    s2 += v[i]! * v[i]!;
  }
  const mean = s / n;
  return { mean, sd: Math.sqrt(s2 / n - mean * mean) };
}

test("sharpening a blurred two-peak histogram narrows both peaks and keeps their positions", () => {
  const { values, label } = blurredTwoPeaks(20000);
  const s = sharpenValues(values);
  for (const c of [0, 1]) {
    const before = classStats(values, label, c);
    const after = classStats(s, label, c);
    // The blur (sd 0.085 in all) is about halved; the peak stays where it was.
    assert.ok(after.sd < 0.6 * before.sd, `class ${c}: sd ${after.sd} vs ${before.sd} before`);
    assertClose(after.mean, before.mean, { atol: 0.01, rtol: 0 });
  }
  const map = sharpeningMap(values);
  // The histogram holds every value once (linear splitting between bins).
  assertClose(map.histogram.reduce((a, b) => a + b, 0), values.length, { atol: 1e-6, rtol: 0 });
  // The deconvolved histogram has sharper peaks: fewer counts on their flanks, more at their centres.
  const bin = (x: number) => Math.round((x - map.min) / map.slope);
  for (const [centre, flank] of [[0, 0.15], [0.7, 0.55]] as const) {
    assert.ok(map.deconvolved[bin(flank)]! < 0.5 * map.histogram[bin(flank)]!, `flank ${flank}`);
    assert.ok(map.deconvolved[bin(centre)]! > 1.2 * map.histogram[bin(centre)]!, `peak ${centre}`);
  }
  // E[u|v] is non-decreasing and maps the midpoint between the peaks to itself (symmetric input).
  for (let b = 1; b < map.expected.length; b++) assert.ok(map.expected[b]! >= map.expected[b - 1]! - 1e-9, `not monotone at bin ${b}`);
  assertClose(applySharpening(map, 0.35), 0.35, { atol: 0.03, rtol: 0 });
  // Interpolation between bin centres and clamping at the ends.
  assertClose(applySharpening(map, map.min + 3.5 * map.slope), (map.expected[3]! + map.expected[4]!) / 2, { atol: 1e-12, rtol: 0 });
  assert.equal(applySharpening(map, map.min - 1), map.expected[0]);
  assert.equal(applySharpening(map, 1e9), map.expected[map.expected.length - 1]);
});

test("a wider assumed blur sharpens more", () => {
  const { values, label } = blurredTwoPeaks(20000);
  const narrow = classStats(sharpenValues(values, { ...DEFAULT_SHARPEN, fwhm: 0.05 }), label, 0).sd;
  const wide = classStats(sharpenValues(values, { ...DEFAULT_SHARPEN, fwhm: 0.2 }), label, 0).sd;
  assert.ok(wide < 0.8 * narrow, `fwhm 0.2 gives sd ${wide}, fwhm 0.05 gives ${narrow}`);
});

test("sharpening rejects constant or non-finite values and bad options", () => {
  assertThrowsMatching(() => sharpeningMap([1, 1, 1]), /at least two distinct values/);
  assertThrowsMatching(() => sharpeningMap([1, Number.NaN, 2]), /value 1 is NaN/);
  assertThrowsMatching(() => sharpeningMap([1, 2], { bins: 2, fwhm: 0.15, wienerNoise: 0.01 }), /bins must be an integer >= 4, got 2/);
  assertThrowsMatching(() => sharpeningMap([1, 2], { bins: 200, fwhm: 0, wienerNoise: 0.01 }), /fwhm must be a positive number, got 0/);
  assertThrowsMatching(() => sharpeningMap([1, 2], { bins: 200, fwhm: 0.15, wienerNoise: -1 }), /wienerNoise must be a positive number/);
});
