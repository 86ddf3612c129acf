// N4's histogram sharpening step (Tustison et al. 2010, after Sled's N3): the log-intensity histogram
// of the (current) corrected image is modelled as the true histogram blurred by a Gaussian (the bias
// field's spread); deconvolving it with a Wiener filter gives a sharper estimate U of the true
// distribution, and each value v is mapped to its expected true value E[u | v] under U.
//
// Steps (all on a padded histogram, circular convolution by FFT):
// 1. Histogram of the values over `bins` bins spanning [min, max] exactly (bin centres at min + n * slope,
//    slope = (max - min) / (bins - 1)); each value is split linearly between its two nearest centres, so
//    the histogram is a continuous function of the values.
// 2. Padded to P = 2^(ceil(log2 bins) + 1) samples with the histogram in the middle (offset
//    floor((P - bins) / 2)), so the circular convolutions do not wrap the tails onto each other.
// 3. Gaussian kernel F with the given FWHM (in value units, converted to bins), normalised as a density
//    (sum ~ 1); Wiener deconvolution U = IFFT(FFT(H) conj(FFT(F)) / (|FFT(F)|^2 + noise)); negative
//    parts of U (ringing) are set to 0.
// 4. E[u | v] = (F * (x U))(v) / (F * U)(v) (Bayes with the Gaussian blur as the likelihood), x the bin
//    centres; values are mapped by linear interpolation between bin centres.
// Where the smoothed denominator vanishes (far outside the data) the identity x is used instead of 0,
// so a value cannot be mapped to an arbitrary level.
import { fft, ifft, nextPowerOfTwo } from "./fft.js";

export interface SharpenOptions {
  /** Number of histogram bins (N4 default 200). */
  readonly bins: number;
  /** FWHM of the Gaussian blur, in the units of the values (log intensity; N4 default 0.15). */
  readonly fwhm: number;
  /** Wiener filter noise (N4 default 0.01). */
  readonly wienerNoise: number;
}

export const DEFAULT_SHARPEN: SharpenOptions = Object.freeze({ bins: 200, fwhm: 0.15, wienerNoise: 0.01 });

export function checkSharpenOptions(o: SharpenOptions, what = "sharpen"): void {
  if (!Number.isInteger(o.bins) || o.bins < 4) throw new RangeError(`${what}: bins must be an integer >= 4, got ${o.bins}`);
  if (!(Number.isFinite(o.fwhm) && o.fwhm > 0)) throw new RangeError(`${what}: fwhm must be a positive number, got ${o.fwhm}`);
  if (!(Number.isFinite(o.wienerNoise) && o.wienerNoise > 0)) throw new RangeError(`${what}: wienerNoise must be a positive number, got ${o.wienerNoise}`);
}

/** The sharpening map over bin centres: E[u | v] at v = min + n * slope, n = 0 .. bins - 1. */
export interface SharpenMap {
  readonly min: number;
  readonly slope: number;
  /** E[u | v] at the bin centres. */
  readonly expected: Float64Array;
  /** The histogram H (bins values) and the deconvolved distribution U (same bins), for inspection. */
  readonly histogram: Float64Array;
  readonly deconvolved: Float64Array;
}

/** Circular convolution of a real signal with the (real, symmetric) kernel whose spectrum is `kernelRe`. */
function convolveWithSpectrum(signal: Float64Array, kernelRe: Float64Array): Float64Array {
  const re = Float64Array.from(signal);
  const im = new Float64Array(re.length);
  fft(re, im);
  for (let k = 0; k < re.length; k++) {
    re[k] = (re[k] as number) * (kernelRe[k] as number);
    im[k] = (im[k] as number) * (kernelRe[k] as number);
  }
  ifft(re, im);
  return re;
}

/** Builds the sharpening map from values (which must be finite and not all equal). */
export function sharpeningMap(values: ArrayLike<number>, options: SharpenOptions = DEFAULT_SHARPEN): SharpenMap {
  checkSharpenOptions(options);
  const { bins, fwhm, wienerNoise } = options;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) throw new RangeError(`sharpeningMap: value ${i} is ${v}; values must be finite`);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!(max > min)) throw new RangeError(`sharpeningMap: needs at least two distinct values, got ${values.length} value(s) in [${min}, ${max}]`);
  const slope = (max - min) / (bins - 1);
  // 1. Histogram with linear splitting between the two nearest bin centres.
  const histogram = new Float64Array(bins);
  for (let i = 0; i < values.length; i++) {
    const c = ((values[i] as number) - min) / slope;
    const b = Math.min(bins - 1, Math.floor(c));
    const f = c - b;
    histogram[b] = (histogram[b] as number) + (1 - f);
    if (f > 0 && b + 1 < bins) histogram[b + 1] = (histogram[b + 1] as number) + f;
  }
  // 2. Padding.
  const P = 2 * nextPowerOfTwo(bins);
  const offset = Math.floor((P - bins) / 2);
  const padded = new Float64Array(P);
  padded.set(histogram, offset);
  // 3. Gaussian kernel (centred at index 0, circular) and its spectrum (real: the kernel is symmetric).
  const w = fwhm / slope;
  const expFactor = (4 * Math.LN2) / (w * w);
  const scale = (2 * Math.sqrt(Math.LN2 / Math.PI)) / w;
  const kre = new Float64Array(P);
  const kim = new Float64Array(P);
  for (let n = 0; n < P; n++) {
    const d = Math.min(n, P - n);
    kre[n] = scale * Math.exp(-expFactor * d * d);
  }
  fft(kre, kim);
  // Wiener deconvolution: the kernel spectrum is real, so conj(F) = F.
  const re = Float64Array.from(padded);
  const im = new Float64Array(P);
  fft(re, im);
  for (let k = 0; k < P; k++) {
    const f = kre[k] as number;
    const g = f / (f * f + wienerNoise);
    re[k] = (re[k] as number) * g;
    im[k] = (im[k] as number) * g;
  }
  ifft(re, im);
  const U = new Float64Array(P);
  for (let n = 0; n < P; n++) U[n] = Math.max(re[n] as number, 0);
  // 4. E[u | v] = (F * (x U)) / (F * U).
  const xU = new Float64Array(P);
  for (let n = 0; n < P; n++) xU[n] = (min + (n - offset) * slope) * (U[n] as number);
  const num = convolveWithSpectrum(xU, kre);
  const den = convolveWithSpectrum(U, kre);
  let denMax = 0;
  for (let n = 0; n < P; n++) denMax = Math.max(denMax, den[n] as number);
  const expected = new Float64Array(bins);
  for (let b = 0; b < bins; b++) {
    const d = den[offset + b] as number;
    expected[b] = d > 1e-12 * denMax ? (num[offset + b] as number) / d : min + b * slope;
  }
  return { min, slope, expected, histogram, deconvolved: U.slice(offset, offset + bins) };
}

/** E[u | v] for one value v, by linear interpolation between bin centres (clamped at the ends). */
export function applySharpening(map: SharpenMap, v: number): number {
  const e = map.expected;
  const last = e.length - 1;
  const c = (v - map.min) / map.slope;
  if (!(c > 0)) return e[0] as number;
  if (c >= last) return e[last] as number;
  const b = Math.floor(c);
  const lo = e[b] as number;
  return lo + ((e[b + 1] as number) - lo) * (c - b);
}

/** The sharpened values E[u | v] of all values. */
export function sharpenValues(values: ArrayLike<number>, options: SharpenOptions = DEFAULT_SHARPEN): Float64Array {
  const map = sharpeningMap(values, options);
  const out = new Float64Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = applySharpening(map, values[i] as number);
  return out;
}
