// Plain-JS reference computations for the loss tests: a seeded PRNG, 2-D DFT,
// Sobel with replicate padding, reflect padding, medians. Independent of libtorch.

/** Deterministic uniform numbers in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n values uniform in [-1, 1). */
export function randomValues(n: number, seed: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n }, () => 2 * r() - 1);
}

/** Element (b, c, y, x) of a flat [B, C, H, W] array. */
export const at4 = (a: ArrayLike<number>, shape: readonly number[], b: number, c: number, y: number, x: number): number =>
  a[((b * (shape[1] as number) + c) * (shape[2] as number) + y) * (shape[3] as number) + x] as number;

/** Orthonormal 2-D DFT of a real h x w image (row-major): [re, im]. */
export function dft2(img: ArrayLike<number>, h: number, w: number): [Float64Array, Float64Array] {
  const re = new Float64Array(h * w);
  const im = new Float64Array(h * w);
  const scale = 1 / Math.sqrt(h * w);
  for (let u = 0; u < h; u++) {
    for (let v = 0; v < w; v++) {
      let sr = 0;
      let si = 0;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const ang = -2 * Math.PI * ((u * y) / h + (v * x) / w);
          const val = img[y * w + x] as number;
          sr += val * Math.cos(ang);
          si += val * Math.sin(ang);
        }
      }
      re[u * w + v] = sr * scale;
      im[u * w + v] = si * scale;
    }
  }
  return [re, im];
}

/** One h x w channel image of a [B, C, H, W] flat array. */
export function channel(a: ArrayLike<number>, shape: readonly number[], b: number, c: number): Float64Array {
  const h = shape[2] as number;
  const w = shape[3] as number;
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = at4(a, shape, b, c, y, x);
  return out;
}

/** Classic Sobel (dx, dy) of an h x w image with replicate padding. */
export function sobelRef(img: ArrayLike<number>, h: number, w: number): [Float64Array, Float64Array] {
  const get = (y: number, x: number): number => img[Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))] as number;
  const dx = new Float64Array(h * w);
  const dy = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      dx[y * w + x] = get(y - 1, x + 1) + 2 * get(y, x + 1) + get(y + 1, x + 1) - get(y - 1, x - 1) - 2 * get(y, x - 1) - get(y + 1, x - 1);
      dy[y * w + x] = get(y + 1, x - 1) + 2 * get(y + 1, x) + get(y + 1, x + 1) - get(y - 1, x - 1) - 2 * get(y - 1, x) - get(y - 1, x + 1);
    }
  }
  return [dx, dy];
}

/** Reflect padding (no edge repeat, as numpy 'reflect' / torch 'reflect') of an h x w image by p. */
export function reflectPad(img: ArrayLike<number>, h: number, w: number, p: number): Float64Array {
  const ref = (i: number, n: number): number => (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i);
  const H = h + 2 * p;
  const W = w + 2 * p;
  const out = new Float64Array(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[y * W + x] = img[ref(y - p, h) * w + ref(x - p, w)] as number;
  return out;
}

/** The statistical median (mean of the two middle values for an even count). */
export function medianRef(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 === 1 ? (s[(n - 1) / 2] as number) : ((s[n / 2 - 1] as number) + (s[n / 2] as number)) / 2;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

export function cosineRef(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
}

export function softmaxRef(x: readonly number[]): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const s = e.reduce((p, q) => p + q, 0);
  return e.map((v) => v / s);
}
