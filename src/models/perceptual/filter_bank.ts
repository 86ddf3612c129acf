// The frozen stand-in for Φ (Eq. 10) when no VGG-16 weight file is given: a
// fixed, non-learned multi-scale Gabor filter bank.
//
// What it measures: for every latent channel, at 3 scales (octaves) and 4
// orientations, the local oriented energy
//     E = sqrt(even^2 + odd^2 + eps^2) - eps
// of a quadrature pair of Gabor filters (even = cosine, odd = sine carrier under
// one Gaussian envelope) — the classic "complex cell" model of early vision
// (Adelson & Bergen 1985). Scales are made by 2x2 average pooling of the input
// between levels (a Gaussian-pyramid-like cascade), and the same kernels run at
// every level, so level s looks at structures of wavelength ~4 * 2^s latent pixels.
//
// Why it is a reasonable stand-in: the early layers of VGG-16 that perceptual
// losses use (relu1_2 .. relu3_3) are largely oriented band-pass filters followed
// by rectification and pooling. This bank keeps that structure — band-pass,
// orientation-selective, rectified (the energy is phase-invariant, so it compares
// the presence of edges and textures rather than exact values, which the MSE term
// of Eq. 10 already does), multi-scale — without random or learned weights: it is
// deterministic and identical on every machine. It is not VGG: results are not
// comparable to runs that used VGG-16 weights, and the run log says which was used.
//
// Design decisions: wavelength 4 px, sigma 2 px (about one octave of bandwidth,
// so the octave-spaced levels tile the spectrum), kernel 11 x 11 (radius 2.5
// sigma); even kernels have their mean removed (a constant latent gives no
// response) and every kernel has unit L2 norm; orientation o has its wave vector
// at angle o * 180 / 4 degrees from the width axis toward the height axis
// (o = 0 responds to intensity changing along the width, i.e. vertical stripes);
// borders are replicate-padded; channels are filtered independently (no mixing,
// unlike the VGG path, which has to squeeze C channels into 3).
// Output: one map per level, [B, C * 4, h / 2^s, w / 2^s], channel c * 4 + o.
import * as T from "../../torch/index.js";

export interface FilterBankOptions {
  /** Number of levels (default 3). */
  scales?: number;
  /** Number of orientations evenly spread over 180 degrees (default 4). */
  orientations?: number;
  /** Carrier wavelength in pixels at each level (default 4). */
  wavelength?: number;
  /** Gaussian envelope standard deviation in pixels (default 2). */
  sigma?: number;
  /** Kernel radius in pixels; the kernel is (2 radius + 1) square (default 5). */
  radius?: number;
  /** Smooths the energy's square root at zero (default 1e-4). */
  eps?: number;
  dtype?: T.DType;
  device?: T.Device;
}

export const FILTER_BANK_DEFAULTS = Object.freeze({ scales: 3, orientations: 4, wavelength: 4, sigma: 2, radius: 5, eps: 1e-4 });

export interface GaborPair {
  /** (2 radius + 1)^2 values, row-major (rows = height). */
  even: Float64Array;
  odd: Float64Array;
}

/** The quadrature pairs, one per orientation (zero-mean even kernels, unit L2 norm). */
export function gaborKernels(o: { orientations: number; wavelength: number; sigma: number; radius: number }): GaborPair[] {
  const size = 2 * o.radius + 1;
  const out: GaborPair[] = [];
  for (let k = 0; k < o.orientations; k++) {
    const theta = (k * Math.PI) / o.orientations;
    const even = new Float64Array(size * size);
    const odd = new Float64Array(size * size);
    const env = new Float64Array(size * size);
    for (let row = 0; row < size; row++) {
      for (let col = 0; col < size; col++) {
        const dy = row - o.radius;
        const dx = col - o.radius;
        const g = Math.exp(-(dx * dx + dy * dy) / (2 * o.sigma * o.sigma));
        const phase = (2 * Math.PI * (dx * Math.cos(theta) + dy * Math.sin(theta))) / o.wavelength;
        const i = row * size + col;
        env[i] = g;
        even[i] = g * Math.cos(phase);
        odd[i] = g * Math.sin(phase);
      }
    }
    // Remove the even kernel's DC under the envelope, so it stays localised.
    const dc = even.reduce((a, b) => a + b, 0) / env.reduce((a, b) => a + b, 0);
    for (let i = 0; i < even.length; i++) even[i] = (even[i] as number) - dc * (env[i] as number);
    for (const kern of [even, odd]) {
      const norm = Math.sqrt(kern.reduce((a, b) => a + b * b, 0));
      for (let i = 0; i < kern.length; i++) kern[i] = (kern[i] as number) / norm;
    }
    out.push({ even, odd });
  }
  return out;
}

function positive(name: string, v: number, integer: boolean): number {
  if (!(Number.isFinite(v) && v > 0) || (integer && !Number.isInteger(v))) {
    throw new RangeError(`GaborFilterBank: ${name} must be a positive ${integer ? "integer" : "number"}, got ${String(v)}`);
  }
  return v;
}

/** The fixed filter bank as a module (no parameters; the kernels are a non-persistent buffer). */
export class GaborFilterBank extends T.nn.Module {
  readonly scales: number;
  readonly orientations: number;
  readonly wavelength: number;
  readonly sigma: number;
  readonly radius: number;
  readonly eps: number;
  /** [2 * orientations, 1, k, k]: the even kernels, then the odd ones. */
  readonly kernels: T.Tensor;

  constructor(options: FilterBankOptions = {}) {
    super();
    const d = FILTER_BANK_DEFAULTS;
    this.scales = positive("scales", options.scales ?? d.scales, true);
    this.orientations = positive("orientations", options.orientations ?? d.orientations, true);
    this.wavelength = positive("wavelength", options.wavelength ?? d.wavelength, false);
    this.sigma = positive("sigma", options.sigma ?? d.sigma, false);
    this.radius = positive("radius", options.radius ?? d.radius, true);
    this.eps = positive("eps", options.eps ?? d.eps, false);
    const pairs = gaborKernels(this);
    const size = 2 * this.radius + 1;
    const all = new Float64Array(2 * this.orientations * size * size);
    pairs.forEach((p, k) => {
      all.set(p.even, k * size * size);
      all.set(p.odd, (this.orientations + k) * size * size);
    });
    const kernels = T.tensor(all, [2 * this.orientations, 1, size, size], { dtype: options.dtype ?? T.getDefaultDType(), device: options.device });
    this.kernels = this.registerBuffer("kernels", kernels, false);
    this.eval();
  }

  /** The smallest input height/width: every level keeps at least one pixel. */
  get minInputSize(): number {
    return 2 ** (this.scales - 1);
  }

  /** z [B, C, h, w] -> one energy map per level, [B, C * orientations, h / 2^s, w / 2^s]. */
  forward(z: T.Tensor): T.Tensor[] {
    if (z.ndim !== 4) throw new RangeError(`GaborFilterBank.forward: z must be [B, C, h, w], got [${z.shape.join(", ")}]`);
    const [b, c, h, w] = z.shape as [number, number, number, number];
    if (h < this.minInputSize || w < this.minInputSize) {
      throw new RangeError(`GaborFilterBank.forward: input ${h}x${w} is too small for ${this.scales} scales (needs at least ${this.minInputSize}x${this.minInputSize})`);
    }
    if (z.dtype !== this.kernels.dtype || z.device !== this.kernels.device) {
      throw new TypeError(`GaborFilterBank.forward: z is ${z.dtype} on ${z.device} but the filters are ${this.kernels.dtype} on ${this.kernels.device}; create the extractor with the latents' dtype and device`);
    }
    const o = this.orientations;
    const r = this.radius;
    const eps2 = this.eps * this.eps;
    return T.tidy(() => {
      const out: T.Tensor[] = [];
      let x = z.reshape(b * c, 1, h, w);
      for (let s = 0; s < this.scales; s++) {
        if (s > 0) x = T.F.avgPool2d(x, 2, { stride: 2 });
        const resp = T.F.conv2d(T.pad(x, [r, r, r, r], "replicate"), this.kernels);
        const even = resp.narrow(1, 0, o);
        const odd = resp.narrow(1, o, o);
        const energy = even.square().add(odd.square()).add(eps2).sqrt().sub(this.eps);
        out.push(energy.reshape(b, c * o, x.shape[2] as number, x.shape[3] as number));
      }
      return out;
    });
  }
}
