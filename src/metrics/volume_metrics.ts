// Image-quality metrics on whole 3-D volumes and on their 2-D slices: MSE, RMSE, PSNR, SSIM, HFEN.
// Pure functions over Float32Array volumes (dims [nx, ny, nz], i fastest as in src/volume/volume.ts),
// computed in double precision, with an optional mask (nonzero = inside). No tensor engine.
//
// Conventions (the issue asks for scikit-image's definitions, so results can be compared):
// - PSNR = 10 log10(dataRange^2 / MSE); an exact match gives +Infinity.
// - SSIM (Wang et al. 2004) as skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
//   use_sample_covariance=False, data_range=R): local means and (population) variances from a
//   separable Gaussian filter (sigma 1.5, truncated at 3.5 sigma: radius int(3.5 * 1.5 + 0.5) = 5,
//   an 11-voxel window) with scipy's "reflect" border mode (d c b a | a b c d | d c b a);
//   K1 = 0.01, K2 = 0.03; the SSIM map is averaged after cropping (win - 1) / 2 = 5 voxels from
//   every border. With a mask, the average runs over the cropped interior inside the mask.
// - HFEN (Ravishankar & Bresler 2011) = ||LoG(pred) - LoG(ref)||_2 / ||LoG(ref)||_2 with LoG the
//   Laplacian of Gaussian as scipy.ndimage.gaussian_laplace(sigma=1.5) (truncate 4: radius 6,
//   reflect border). The filter always sees the whole volume/slice; a mask restricts only the sums.
// - Per-slice metrics use 2-D versions of the same filters in the slice plane.
// The filters run slice by slice along k with a rolling cache of filtered slices, so memory stays
// O(window * nx * ny) rather than several copies of the volume.

export type Dims3 = readonly [number, number, number];
/** Voxels with a nonzero (or true) value are inside. Same length and order as the volume data. */
export type Mask = ArrayLike<number | boolean>;

export interface SsimOptions {
  /** Gaussian sigma (voxels), default 1.5. */
  sigma?: number;
  /** Window half-width in sigmas, default 3.5 (11-voxel window at sigma 1.5). */
  truncate?: number;
  /** Only voxels inside the mask count in the average. */
  mask?: Mask;
}

export interface HfenOptions {
  /** LoG sigma (voxels), default 1.5. */
  sigma?: number;
  /** Kernel half-width in sigmas, default 4 (scipy's default). */
  truncate?: number;
  mask?: Mask;
}

const K1 = 0.01;
const K2 = 0.03;

/** scipy.ndimage's kernel radius for a Gaussian: int(truncate * sigma + 0.5). */
export function kernelRadius(sigma: number, truncate: number): number {
  return Math.floor(truncate * sigma + 0.5);
}

/** Index i mapped into [0, n) by scipy's "reflect" mode (half-sample symmetric, repeated). */
export function reflectIndex(i: number, n: number): number {
  const p = 2 * n;
  const m = ((i % p) + p) % p;
  return m < n ? m : p - 1 - m;
}

/** 1-D Gaussian kernel (order 0) or its second derivative (order 2), as scipy's _gaussian_kernel1d. */
export function gaussianKernel1d(sigma: number, order: 0 | 2, radius: number): Float64Array {
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let t = 0; t < k.length; t++) {
    const x = t - radius;
    k[t] = Math.exp((-0.5 * x * x) / (sigma * sigma));
    sum += k[t]!;
  }
  const s2 = sigma * sigma;
  for (let t = 0; t < k.length; t++) {
    const x = t - radius;
    k[t] = (k[t]! / sum) * (order === 2 ? (x * x) / (s2 * s2) - 1 / s2 : 1);
  }
  return k;
}

function checkPair(name: string, pred: ArrayLike<number>, ref: ArrayLike<number>, dims: Dims3, mask?: Mask): void {
  for (const d of dims) if (!Number.isInteger(d) || d < 1) throw new RangeError(`${name}: dims must be positive integers, got [${dims.join(", ")}]`);
  const n = dims[0] * dims[1] * dims[2];
  if (pred.length !== n || ref.length !== n) {
    throw new RangeError(`${name}: pred has ${pred.length} values and ref ${ref.length}; dims [${dims.join(", ")}] need ${n} each`);
  }
  if (mask !== undefined && mask.length !== n) throw new RangeError(`${name}: mask has ${mask.length} values, dims [${dims.join(", ")}] need ${n}`);
}

function checkRange(name: string, dataRange: number): void {
  if (!(dataRange > 0) || !Number.isFinite(dataRange)) {
    throw new RangeError(`${name}: dataRange must be a positive finite number, got ${dataRange} (a constant reference has range 0: pass one explicitly)`);
  }
}

function checkSigma(name: string, sigma: number, truncate: number): void {
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new RangeError(`${name}: sigma must be a positive number, got ${sigma}`);
  if (!(truncate > 0) || !Number.isFinite(truncate)) throw new RangeError(`${name}: truncate must be a positive number, got ${truncate}`);
}

/** Mean squared error over all voxels, or over those inside the mask (NaN for an empty mask). */
export function mse(pred: ArrayLike<number>, ref: ArrayLike<number>, mask?: Mask): number {
  if (pred.length !== ref.length) throw new RangeError(`mse: pred has ${pred.length} values, ref ${ref.length}`);
  if (mask !== undefined && mask.length !== ref.length) throw new RangeError(`mse: mask has ${mask.length} values, ref ${ref.length}`);
  let s = 0;
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    if (mask !== undefined && !mask[i]) continue;
    const d = (pred[i] as number) - (ref[i] as number);
    s += d * d;
    n++;
  }
  return n === 0 ? NaN : s / n;
}

export function rmse(pred: ArrayLike<number>, ref: ArrayLike<number>, mask?: Mask): number {
  return Math.sqrt(mse(pred, ref, mask));
}

/** PSNR (dB) from an MSE: 10 log10(dataRange^2 / MSE). */
export function psnrFromMse(m: number, dataRange: number): number {
  checkRange("psnr", dataRange);
  return m === 0 ? Infinity : 10 * Math.log10((dataRange * dataRange) / m);
}

export function psnr(pred: ArrayLike<number>, ref: ArrayLike<number>, dataRange: number, mask?: Mask): number {
  return psnrFromMse(mse(pred, ref, mask), dataRange);
}

/** Reflect-index table for one axis: tab[i * (2r + 1) + t] = reflect(i + t - r). */
function indexTable(n: number, r: number): Int32Array {
  const w = 2 * r + 1;
  const tab = new Int32Array(n * w);
  for (let i = 0; i < n; i++) for (let t = 0; t < w; t++) tab[i * w + t] = reflectIndex(i + t - r, n);
  return tab;
}

/** out = src filtered along x (kernel kx) in an nx-by-ny slice. */
function passX(src: Float64Array, nx: number, ny: number, k: Float64Array, tab: Int32Array, out: Float64Array): void {
  const w = k.length;
  const r = (w - 1) >> 1;
  for (let j = 0; j < ny; j++) {
    const row = j * nx;
    for (let i = 0; i < nx; i++) {
      let s = 0;
      if (i >= r && i < nx - r) {
        const o = row + i - r; // no reflection needed
        for (let t = 0; t < w; t++) s += k[t]! * src[o + t]!;
      } else {
        for (let t = 0; t < w; t++) s += k[t]! * src[row + tab[i * w + t]!]!;
      }
      out[row + i] = s;
    }
  }
}

/** out = src filtered along y (kernel ky) in an nx-by-ny slice. */
function passY(src: Float64Array, nx: number, ny: number, k: Float64Array, tab: Int32Array, out: Float64Array): void {
  const w = k.length;
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) out[j * nx + i] = 0;
    for (let t = 0; t < w; t++) {
      const kt = k[t]!;
      const off = tab[j * w + t]! * nx;
      for (let i = 0; i < nx; i++) out[j * nx + i]! += kt * src[off + i]!;
    }
  }
}

/**
 * Runs a per-slice computation `make(k)` lazily along z and, for each output slice z in
 * [z0, z1), hands `use(z, get)` where get(t) is the cached slice reflect(z + t - rz).
 */
function rollZ<S>(nz: number, rz: number, z0: number, z1: number, make: (k: number) => S, use: (z: number, get: (t: number) => S) => void): void {
  const cache = new Map<number, S>();
  const tab = indexTable(nz, rz);
  const w = 2 * rz + 1;
  for (let z = z0; z < z1; z++) {
    for (const k of cache.keys()) if (k < z - rz) cache.delete(k);
    const get = (t: number): S => {
      const k = tab[z * w + t]!;
      let s = cache.get(k);
      if (s === undefined) {
        s = make(k);
        cache.set(k, s);
      }
      return s;
    };
    use(z, get);
  }
}

/**
 * Visits the SSIM map at every voxel of the cropped interior: visit(index, value) with index into the
 * volume data. `planar` filters in the x-y plane only (2-D SSIM of an nx-by-ny image with nz = 1).
 */
export function visitSsimMap(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  dims: Dims3,
  dataRange: number,
  o: { sigma?: number; truncate?: number; planar?: boolean },
  visit: (index: number, value: number) => void,
): void {
  const name = o.planar ? "ssim2d" : "ssim3d";
  checkPair(name, pred, ref, dims);
  checkRange(name, dataRange);
  const sigma = o.sigma ?? 1.5;
  const truncate = o.truncate ?? 3.5;
  checkSigma(name, sigma, truncate);
  const [nx, ny, nz] = dims;
  const r = kernelRadius(sigma, truncate);
  const rz = o.planar ? 0 : r;
  const win = 2 * r + 1;
  const axes = o.planar ? [nx, ny] : [nx, ny, nz];
  if (axes.some((n) => n < win)) {
    throw new RangeError(`${name}: image of [${axes.join(", ")}] is smaller than the ${win}-voxel SSIM window (sigma ${sigma}, truncate ${truncate}) along some axis`);
  }
  const g = gaussianKernel1d(sigma, 0, r);
  const gz = o.planar ? Float64Array.of(1) : g;
  const tx = indexTable(nx, r);
  const ty = indexTable(ny, r);
  const c1 = (K1 * dataRange) ** 2;
  const c2 = (K2 * dataRange) ** 2;
  const plane = nx * ny;
  const tmp = new Float64Array(plane);
  const prod = new Float64Array(plane);
  // Per slice k: Gaussian-filtered x, y, x^2, y^2, xy in the x-y plane.
  const make = (k: number): Float64Array[] => {
    const base = k * plane;
    const outs: Float64Array[] = [];
    for (let q = 0; q < 5; q++) {
      for (let i = 0; i < plane; i++) {
        const a = pred[base + i] as number;
        const b = ref[base + i] as number;
        prod[i] = q === 0 ? a : q === 1 ? b : q === 2 ? a * a : q === 3 ? b * b : a * b;
      }
      const out = new Float64Array(plane);
      passX(prod, nx, ny, g, tx, tmp);
      passY(tmp, nx, ny, g, ty, out);
      outs.push(out);
    }
    return outs;
  };
  rollZ(nz, rz, rz, nz - rz, make, (z, get) => {
    const slices = Array.from({ length: gz.length }, (_, t) => get(t));
    for (let j = r; j < ny - r; j++) {
      for (let i = r; i < nx - r; i++) {
        const p = j * nx + i;
        let ux = 0, uy = 0, uxx = 0, uyy = 0, uxy = 0;
        for (let t = 0; t < gz.length; t++) {
          const w = gz[t]!;
          const s = slices[t]!;
          ux += w * s[0]![p]!;
          uy += w * s[1]![p]!;
          uxx += w * s[2]![p]!;
          uyy += w * s[3]![p]!;
          uxy += w * s[4]![p]!;
        }
        const vx = uxx - ux * ux;
        const vy = uyy - uy * uy;
        const vxy = uxy - ux * uy;
        const s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
        visit(z * plane + p, s);
      }
    }
  });
}

/** 3-D SSIM (mean of the cropped SSIM map, or of its voxels inside the mask; NaN if none). */
export function ssim3d(pred: ArrayLike<number>, ref: ArrayLike<number>, dims: Dims3, dataRange: number, o: SsimOptions = {}): number {
  checkPair("ssim3d", pred, ref, dims, o.mask);
  const mask = o.mask;
  let s = 0;
  let n = 0;
  visitSsimMap(pred, ref, dims, dataRange, o, (idx, v) => {
    if (mask !== undefined && !mask[idx]) return;
    s += v;
    n++;
  });
  return n === 0 ? NaN : s / n;
}

/** 2-D SSIM of an nx-by-ny image (same conventions as ssim3d, in the plane). */
export function ssim2d(pred: ArrayLike<number>, ref: ArrayLike<number>, nx: number, ny: number, dataRange: number, o: SsimOptions = {}): number {
  checkPair("ssim2d", pred, ref, [nx, ny, 1], o.mask);
  const mask = o.mask;
  let s = 0;
  let n = 0;
  visitSsimMap(pred, ref, [nx, ny, 1], dataRange, { ...o, planar: true }, (idx, v) => {
    if (mask !== undefined && !mask[idx]) return;
    s += v;
    n++;
  });
  return n === 0 ? NaN : s / n;
}

/**
 * Visits LoG(pred - ref) and LoG(ref) at every voxel: visit(index, logDiff, logRef). LoG is the sum over
 * axes of the Gaussian filter with the second-derivative kernel on that axis (scipy's gaussian_laplace).
 */
export function visitLog(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  dims: Dims3,
  o: { sigma?: number; truncate?: number; planar?: boolean },
  visit: (index: number, logDiff: number, logRef: number) => void,
): void {
  checkPair(o.planar ? "hfen2d" : "hfen", pred, ref, dims);
  const sigma = o.sigma ?? 1.5;
  const truncate = o.truncate ?? 4;
  checkSigma("hfen", sigma, truncate);
  const [nx, ny, nz] = dims;
  const r = kernelRadius(sigma, truncate);
  const g = gaussianKernel1d(sigma, 0, r);
  const d2 = gaussianKernel1d(sigma, 2, r);
  const gz = o.planar ? Float64Array.of(1) : g;
  const d2z = o.planar ? Float64Array.of(0) : d2;
  const rz = o.planar ? 0 : r;
  const tx = indexTable(nx, r);
  const ty = indexTable(ny, r);
  const plane = nx * ny;
  const src = new Float64Array(plane);
  const ax = new Float64Array(plane);
  const bx = new Float64Array(plane);
  const tmp = new Float64Array(plane);
  // Per slice k and field (diff, ref): [in-plane LoG (d2x gy + gx d2y), in-plane Gaussian gx gy].
  const make = (k: number): Float64Array[] => {
    const out: Float64Array[] = [];
    for (const field of [0, 1]) {
      for (let i = 0; i < plane; i++) {
        const idx = k * plane + i;
        src[i] = field === 0 ? (pred[idx] as number) - (ref[idx] as number) : (ref[idx] as number);
      }
      passX(src, nx, ny, d2, tx, ax);
      passX(src, nx, ny, g, tx, bx);
      const lap = new Float64Array(plane);
      passY(ax, nx, ny, g, ty, lap);
      passY(bx, nx, ny, d2, ty, tmp);
      for (let i = 0; i < plane; i++) lap[i]! += tmp[i]!;
      const gauss = new Float64Array(plane);
      if (!o.planar) passY(bx, nx, ny, g, ty, gauss);
      out.push(lap, gauss);
    }
    return out;
  };
  rollZ(nz, rz, 0, nz, make, (z, get) => {
    const slices = Array.from({ length: gz.length }, (_, t) => get(t));
    for (let p = 0; p < plane; p++) {
      let ld = 0, lr = 0;
      for (let t = 0; t < gz.length; t++) {
        const s = slices[t]!;
        ld += gz[t]! * s[0]![p]! + d2z[t]! * s[1]![p]!;
        lr += gz[t]! * s[2]![p]! + d2z[t]! * s[3]![p]!;
      }
      visit(z * plane + p, ld, lr);
    }
  });
}

/** HFEN = ||LoG(pred) - LoG(ref)|| / ||LoG(ref)|| over the volume or the mask (NaN if the denominator is 0). */
export function hfen(pred: ArrayLike<number>, ref: ArrayLike<number>, dims: Dims3, o: HfenOptions = {}): number {
  checkPair("hfen", pred, ref, dims, o.mask);
  return hfenSums(pred, ref, dims, o, false);
}

/** HFEN of an nx-by-ny image with the 2-D LoG. */
export function hfen2d(pred: ArrayLike<number>, ref: ArrayLike<number>, nx: number, ny: number, o: HfenOptions = {}): number {
  checkPair("hfen2d", pred, ref, [nx, ny, 1], o.mask);
  return hfenSums(pred, ref, [nx, ny, 1], o, true);
}

function hfenSums(pred: ArrayLike<number>, ref: ArrayLike<number>, dims: Dims3, o: HfenOptions, planar: boolean): number {
  const mask = o.mask;
  let num = 0;
  let den = 0;
  visitLog(pred, ref, dims, { ...o, planar }, (idx, ld, lr) => {
    if (mask !== undefined && !mask[idx]) return;
    num += ld * ld;
    den += lr * lr;
  });
  return den === 0 ? NaN : Math.sqrt(num / den);
}

export type Axis = 0 | 1 | 2;

/** Slice `index` across `axis` as an image [w, h] (axis 2: i by j; axis 1: i by k; axis 0: j by k), copied to float64. */
export function extractSlice(data: ArrayLike<number>, dims: Dims3, axis: Axis, index: number): { data: Float64Array; w: number; h: number } {
  const [nx, ny, nz] = dims;
  if (!Number.isInteger(index) || index < 0 || index >= dims[axis]) {
    throw new RangeError(`extractSlice: slice ${index} does not exist along axis ${axis} of [${dims.join(", ")}] (0 to ${dims[axis] - 1})`);
  }
  const [w, h] = axis === 2 ? [nx, ny] : axis === 1 ? [nx, nz] : [ny, nz];
  const out = new Float64Array(w * h);
  for (let b = 0; b < h; b++) {
    for (let a = 0; a < w; a++) {
      const idx = axis === 2 ? a + nx * (b + ny * index) : axis === 1 ? a + nx * (index + ny * b) : index + nx * (a + ny * b);
      out[a + w * b] = data[idx] as number;
    }
  }
  return { data: out, w, h };
}

export interface SliceMetrics {
  index: number;
  mse: number;
  rmse: number;
  psnr: number;
  ssim: number;
  hfen: number;
}

/**
 * Metrics of every slice across `axis`: 2-D SSIM and 2-D HFEN in the slice plane; PSNR with the given
 * (volume) dataRange so slices are comparable. A slice whose reference LoG is zero has HFEN NaN.
 */
export function perSliceMetrics(pred: ArrayLike<number>, ref: ArrayLike<number>, dims: Dims3, dataRange: number, axis: Axis = 2): SliceMetrics[] {
  checkPair("perSliceMetrics", pred, ref, dims);
  checkRange("perSliceMetrics", dataRange);
  if (axis !== 0 && axis !== 1 && axis !== 2) throw new RangeError(`perSliceMetrics: axis must be 0, 1 or 2, got ${String(axis)}`);
  const out: SliceMetrics[] = [];
  for (let s = 0; s < dims[axis]; s++) {
    const p = extractSlice(pred, dims, axis, s);
    const r = extractSlice(ref, dims, axis, s);
    const m = mse(p.data, r.data);
    out.push({
      index: s,
      mse: m,
      rmse: Math.sqrt(m),
      psnr: psnrFromMse(m, dataRange),
      ssim: ssim2d(p.data, r.data, p.w, p.h, dataRange),
      hfen: hfen2d(p.data, r.data, p.w, p.h),
    });
  }
  return out;
}
