// Multi-scale patch embedding of the 3T condition slice y (paper section II-A,
// before Eq. 1): one Conv2d per patch size p with kernel = stride = p (64, 32,
// 16 by default), each giving a grid of tokens of dimension d; the grids are
// flattened row-major and concatenated along the token axis in the order of
// `patchSizes` (256x256 -> 16 + 64 + 256 = 336 tokens).
//
// Design decisions (the paper is silent on these):
// - Each scale's tokens go through one shared LayerNorm (Swin's "patch_norm").
// - Position: a FIXED 2-D sinusoidal embedding of the patch centre, measured in
//   units of the smallest patch size, so it exists for any input size and a
//   64-pixel token and the 16-pixel tokens under it get nearby positions.
//   For a token at (row r, col c) of the grid of patch size p, with
//   u = (r + 0.5) p / pMin, v = (c + 0.5) p / pMin, m = d / 4 and
//   w_k = 10000^(-k/m), k = 0..m-1:
//     pe = [sin(u w), cos(u w), sin(v w), cos(v w)]   (d must be divisible by 4).
//   Optional (absolutePosition false): a model trained on 128-pixel crops only ever saw positions
//   0.5-7.5 and met 8.5-15.5 first on a whole 256-pixel slice.
// - Scale: a LEARNED embedding per scale ("scale_embed" [S, d], truncated
//   normal std 0.02) added to every token of that scale, so attention that
//   mixes scales can tell them apart.
// Inputs must have H and W divisible by every patch size (by 64 for the
// default sizes); other sizes are rejected rather than silently cropped.
import * as T from "../../torch/index.js";

type Tensor = T.Tensor;

/** The paper's patch sizes (section II-A, before Eq. 1): large, medium, small. */
export const PAPER_PATCH_SIZES: readonly number[] = Object.freeze([64, 32, 16]);

export interface MultiScalePatchEmbedConfig {
  inChannels: number;
  dim: number;
  /** Patch sizes, in token order; default order in the paper: 64, 32, 16. */
  patchSizes: number[];
  /**
   * Add the fixed absolute position embedding (default true). False: the tokens carry content and
   * scale only, so they are translation-equivariant (up to Swin's window grid). A model trained on
   * crops (training.cropSize) never sees the positions a whole slice has beyond the crop.
   */
  absolutePosition?: boolean;
}

export interface MultiScaleTokens {
  /** [B, N, d], scales concatenated in patchSizes order, each row-major. */
  tokens: Tensor;
  /** [gh, gw] per scale, in the same order. */
  grids: [number, number][];
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const lcm = (a: number, b: number): number => (a / gcd(a, b)) * b;
const shapeText = (x: Tensor): string => `[${x.shape.join(", ")}]`;

/**
 * The fixed 2-D sinusoidal position embedding described in the header, for the
 * given grids, as a flat Float32Array [N * dim] in token order.
 */
export function sincosPositionEmbedding(grids: readonly (readonly [number, number])[], patchSizes: readonly number[], dim: number): Float32Array {
  if (dim % 4 !== 0) throw new RangeError(`sincosPositionEmbedding: dim must be divisible by 4, got ${dim}`);
  if (grids.length !== patchSizes.length) {
    throw new RangeError(`sincosPositionEmbedding: ${grids.length} grids for ${patchSizes.length} patch sizes`);
  }
  const m = dim / 4;
  const pMin = Math.min(...patchSizes);
  const omega = Float64Array.from({ length: m }, (_, k) => Math.pow(10000, -k / m));
  const n = grids.reduce((a, [gh, gw]) => a + gh * gw, 0);
  const out = new Float32Array(n * dim);
  let t = 0;
  grids.forEach(([gh, gw], s) => {
    const p = patchSizes[s] as number;
    for (let r = 0; r < gh; r++) {
      for (let c = 0; c < gw; c++, t++) {
        const u = ((r + 0.5) * p) / pMin;
        const v = ((c + 0.5) * p) / pMin;
        const base = t * dim;
        for (let k = 0; k < m; k++) {
          const w = omega[k] as number;
          out[base + k] = Math.sin(u * w);
          out[base + m + k] = Math.cos(u * w);
          out[base + 2 * m + k] = Math.sin(v * w);
          out[base + 3 * m + k] = Math.cos(v * w);
        }
      }
    }
  });
  return out;
}

/**
 * Patch embedding at several scales. Keys: proj.{s}.weight/bias (Conv2d per
 * scale), norm.weight/bias, scale_embed.
 */
export class MultiScalePatchEmbed extends T.nn.Module {
  readonly inChannels: number;
  readonly dim: number;
  readonly patchSizes: readonly number[];
  /** H and W must be multiples of this (the lcm of the patch sizes). */
  readonly multiple: number;
  readonly proj: T.nn.ModuleList<T.nn.Conv2d>;
  readonly norm: T.nn.LayerNorm;
  readonly scaleEmbed: T.nn.Parameter;
  readonly absolutePosition: boolean;

  constructor(c: MultiScalePatchEmbedConfig, o: T.nn.LayerOptions = {}) {
    super();
    const { inChannels, dim, patchSizes } = c;
    if (!Number.isInteger(inChannels) || inChannels < 1) throw new RangeError(`MultiScalePatchEmbed: inChannels must be a positive integer, got ${inChannels}`);
    if (!Number.isInteger(dim) || dim < 4 || dim % 4 !== 0) {
      throw new RangeError(`MultiScalePatchEmbed: dim must be a positive multiple of 4 (2-D sinusoidal positions), got ${dim}`);
    }
    if (!Array.isArray(patchSizes) || patchSizes.length === 0 || patchSizes.some((p) => !Number.isInteger(p) || p < 1)) {
      throw new RangeError(`MultiScalePatchEmbed: patchSizes must be a non-empty list of positive integers, got ${JSON.stringify(patchSizes)}`);
    }
    this.inChannels = inChannels;
    this.dim = dim;
    this.patchSizes = Object.freeze([...patchSizes]);
    this.multiple = patchSizes.reduce(lcm, 1);
    this.absolutePosition = c.absolutePosition ?? true;
    this.proj = this.registerModule(
      "proj",
      new T.nn.ModuleList(patchSizes.map((p) => new T.nn.Conv2d(inChannels, dim, p, { ...o, stride: p }))),
    );
    this.norm = this.registerModule("norm", new T.nn.LayerNorm(dim, o));
    this.scaleEmbed = this.registerParameter("scale_embed", T.nn.emptyParameter([patchSizes.length, dim], o));
    T.nn.init.truncNormal_(this.scaleEmbed, { std: 0.02, generator: o.generator });
  }

  /** The token grid of each scale for an H x W input (throws if not divisible). */
  gridsFor(h: number, w: number): [number, number][] {
    if (h % this.multiple !== 0 || w % this.multiple !== 0 || h === 0 || w === 0) {
      throw new RangeError(
        `MultiScalePatchEmbed: H and W must be positive multiples of ${this.multiple} (patch sizes ${this.patchSizes.join(", ")}), ` +
          `got ${h}x${w}; pad or crop the slice first`,
      );
    }
    return this.patchSizes.map((p) => [h / p, w / p]);
  }

  /** y [B, C, H, W] -> tokens [B, N, d] and the grid of each scale. */
  forward(y: Tensor): MultiScaleTokens {
    if (y.ndim !== 4 || y.shape[1] !== this.inChannels) {
      throw new RangeError(`MultiScalePatchEmbed.forward: y must be [B, ${this.inChannels}, H, W], got ${shapeText(y)}`);
    }
    const grids = this.gridsFor(y.size(2), y.size(3));
    return T.tidy(() => {
      const perScale = this.patchSizes.map((_, s) => {
        const conv = this.proj.at(s);
        // [B, d, gh, gw] -> [B, gh*gw, d] (row-major over the grid)
        return conv.forward(y).flatten(2).transpose(1, 2);
      });
      const n = grids.reduce((a, [gh, gw]) => a + gh * gw, 0);
      const scaleIds = T.tensor(
        Int32Array.from(grids.flatMap(([gh, gw], s) => new Array<number>(gh * gw).fill(s))),
        [n],
        { dtype: "int64", device: y.device },
      );
      const scale = this.scaleEmbed.indexSelect(0, scaleIds); // [N, d]
      const normed = this.norm.forward(T.cat(perScale, 1));
      const pe = this.absolutePosition ? T.tensor(sincosPositionEmbedding(grids, this.patchSizes, this.dim), [n, this.dim], { dtype: y.dtype, device: y.device }) : null;
      const tokens = normed.add(pe === null ? scale : pe.add(scale));
      return { tokens, grids };
    });
  }

  override extraRepr(): string {
    return `${this.inChannels}, ${this.dim}, patchSizes=[${this.patchSizes.join(", ")}]${this.absolutePosition ? "" : ", absolutePosition=false"}`;
  }
}
