// Image-quality metrics on batches of 2-D images [B, C, H, W]: PSNR, RMSE and SSIM, each per image
// (returns a Float64Array of B values). Pure functions over engine tensors; inputs are not modified.
//
// - PSNR = 10 log10(dataRange^2 / MSE); an exact match gives +Infinity.
// - SSIM (Wang et al. 2004): Gaussian window 11x11, sigma 1.5, K1 = 0.01, K2 = 0.03, computed over
//   the "valid" region (no padding), channels averaged; dataRange must be given (our slices are
//   normalised to [0, 1], so 1).
import * as T from "../torch/index.js";

function checkPair(name: string, pred: T.Tensor, ref: T.Tensor): void {
  if (pred.ndim !== 4) throw new RangeError(`${name}: pred must be [B, C, H, W], got [${pred.shape.join(", ")}]`);
  if (pred.shape.join(",") !== ref.shape.join(",")) {
    throw new RangeError(`${name}: pred and ref shapes differ: [${pred.shape.join(", ")}] vs [${ref.shape.join(", ")}]`);
  }
}

function checkRange(name: string, dataRange: number): void {
  if (!(dataRange > 0) || !Number.isFinite(dataRange)) throw new RangeError(`${name}: dataRange must be a positive number, got ${dataRange}`);
}

/** Mean squared error per image. */
export function mse(pred: T.Tensor, ref: T.Tensor): Float64Array {
  checkPair("mse", pred, ref);
  return T.tidy(() => {
    const d = pred.double().sub(ref.double());
    return Float64Array.from(d.square().flatten(1).mean(1).toArray() as number[]);
  });
}

/** Root-mean-square error per image. */
export function rmse(pred: T.Tensor, ref: T.Tensor): Float64Array {
  return mse(pred, ref).map(Math.sqrt);
}

/** Peak signal-to-noise ratio (dB) per image. */
export function psnr(pred: T.Tensor, ref: T.Tensor, dataRange: number): Float64Array {
  checkRange("psnr", dataRange);
  return mse(pred, ref).map((m) => (m === 0 ? Infinity : 10 * Math.log10((dataRange * dataRange) / m)));
}

export interface SsimOptions {
  /** Window size (odd), default 11. */
  windowSize?: number;
  /** Gaussian sigma, default 1.5. */
  sigma?: number;
}

/** The normalised 1-D Gaussian window. */
export function gaussianWindow(size: number, sigma: number): Float64Array {
  const w = new Float64Array(size);
  const c = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) {
    w[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
    s += w[i]!;
  }
  return w.map((v) => v / s);
}

/** Structural similarity per image (mean SSIM map over the valid region, averaged over channels). */
export function ssim(pred: T.Tensor, ref: T.Tensor, dataRange: number, o: SsimOptions = {}): Float64Array {
  checkPair("ssim", pred, ref);
  checkRange("ssim", dataRange);
  const size = o.windowSize ?? 11;
  const sigma = o.sigma ?? 1.5;
  if (!Number.isInteger(size) || size < 1 || size % 2 === 0) throw new RangeError(`ssim: windowSize must be an odd positive integer, got ${size}`);
  const [b, c, h, w] = pred.shape as [number, number, number, number];
  if (h < size || w < size) throw new RangeError(`ssim: images of ${h}x${w} are smaller than the ${size}x${size} window`);
  const c1 = (0.01 * dataRange) ** 2;
  const c2 = (0.03 * dataRange) ** 2;
  return T.tidy(() => {
    const g = gaussianWindow(size, sigma);
    const k2d = T.tensor(Float64Array.from({ length: size * size }, (_, i) => g[Math.floor(i / size)]! * g[i % size]!), [1, 1, size, size], {
      dtype: "float64",
      device: pred.device,
    });
    const x = pred.double().reshape(b * c, 1, h, w);
    const y = ref.double().reshape(b * c, 1, h, w);
    const blur = (t: T.Tensor): T.Tensor => T.F.conv2d(t, k2d);
    const mx = blur(x);
    const my = blur(y);
    const sxx = blur(x.mul(x)).sub(mx.mul(mx));
    const syy = blur(y.mul(y)).sub(my.mul(my));
    const sxy = blur(x.mul(y)).sub(mx.mul(my));
    const num = mx.mul(my).mul(2).add(c1).mul(sxy.mul(2).add(c2));
    const den = mx.square().add(my.square()).add(c1).mul(sxx.add(syy).add(c2));
    const map = num.div(den);
    return Float64Array.from(map.reshape(b, -1).mean(1).toArray() as number[]);
  });
}
