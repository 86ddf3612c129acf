// A small in-place radix-2 complex FFT on split real/imaginary Float64Arrays, for the N4 histogram
// sharpening (sizes of a few hundred bins). Iterative Cooley-Tukey: bit-reversal permutation, then
// butterflies with twiddles from a table of cos/sin per stage (computed directly, not by recurrence,
// so round-off does not accumulate along a stage).
// Sign convention as numpy: forward X[k] = sum_n x[n] exp(-2 pi i k n / N); inverse has +i and 1/N.

/** True when n is a power of two >= 1. */
export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

/** The smallest power of two >= n (n >= 1). */
export function nextPowerOfTwo(n: number): number {
  if (!(Number.isFinite(n) && n >= 1)) throw new RangeError(`nextPowerOfTwo: n must be >= 1, got ${n}`);
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function transform(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = re.length;
  if (im.length !== n) throw new RangeError(`fft: re and im differ in length (${n} vs ${im.length})`);
  if (!isPowerOfTwo(n)) throw new RangeError(`fft: length must be a power of two, got ${n}`);
  // Bit-reversal permutation.
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const tr = re[i] as number;
      re[i] = re[j] as number;
      re[j] = tr;
      const ti = im[i] as number;
      im[i] = im[j] as number;
      im[j] = ti;
    }
  }
  const sign = inverse ? 1 : -1;
  for (let len = 2; len <= n; len *= 2) {
    const half = len / 2;
    const cos = new Float64Array(half);
    const sin = new Float64Array(half);
    for (let k = 0; k < half; k++) {
      const a = (sign * 2 * Math.PI * k) / len;
      cos[k] = Math.cos(a);
      sin[k] = Math.sin(a);
    }
    for (let start = 0; start < n; start += len) {
      for (let k = 0; k < half; k++) {
        const p = start + k;
        const q = p + half;
        const wr = cos[k] as number;
        const wi = sin[k] as number;
        const xr = re[q] as number;
        const xi = im[q] as number;
        const tr = wr * xr - wi * xi;
        const ti = wr * xi + wi * xr;
        const ur = re[p] as number;
        const ui = im[p] as number;
        re[p] = ur + tr;
        im[p] = ui + ti;
        re[q] = ur - tr;
        im[q] = ui - ti;
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < n; i++) {
      re[i] = (re[i] as number) / n;
      im[i] = (im[i] as number) / n;
    }
  }
}

/** Forward DFT in place. */
export function fft(re: Float64Array, im: Float64Array): void {
  transform(re, im, false);
}

/** Inverse DFT in place (with the 1/N factor). */
export function ifft(re: Float64Array, im: Float64Array): void {
  transform(re, im, true);
}
