// Building blocks shared by the three experts (paper section II.C): timestep
// embedding, residual/conv blocks with a timestep bias, 4x4 stride-2 down and
// up sampling, cross-attention to the condition tokens, SE channel attention,
// the non-local block, the DenseBlock, the complex convolution block, and the
// Laplacian edge-enhancement block.
//
// Design decisions (the paper names the blocks but not their insides):
// - Normalisation is GroupNorm + SiLU in pre-activation order (norm -> SiLU ->
//   conv), as in DDPM/ADM UNets; no dropout. Groups: the largest divisor of C
//   that is <= 32 and leaves >= 4 channels per group (C = 32 -> 8 groups), so
//   no width degenerates into a per-channel (instance) norm.
// - The timestep enters every ResBlock, ConvBlock, DenseLayer and
//   ComplexConvBlock as a per-channel bias Linear(SiLU(temb)). It is added
//   right after a GroupNorm (before the SiLU), so the next normalisation cannot
//   subtract it away: ResBlock after norm2, ConvBlock/DenseLayer after their
//   norm; in the ComplexConvBlock after the first complex conv (a complex
//   bias seen by modReLU). Not in the Laplacian block, down/up sampling convs,
//   attention or the output conv.
// - Complex convolution: the feature map's channels are split into real and
//   imaginary halves (deep complex networks); one complex 3x3 convolution is
//   (W_r*x_r - W_i*x_i) + i(W_r*x_i + W_i*x_r), computed as a single real conv
//   with the block weight [[W_r, -W_i], [W_i, W_r]]. The nonlinearity is modReLU,
//   ReLU(|z| + b) z/|z|: it shrinks the magnitude and keeps the phase (b = 0 at
//   init, learnt). Chosen over an FFT spectral conv because it stays local, needs
//   no periodic boundary, works for any latent size, and E2's loss already has a
//   Fourier term (Eq. 11).
// - The DenseBlock ends in a plain 1x1 transition back to the level width (no
//   norm/activation), which keeps a linear path from the block's input.
// - Laplacian block: x + conv1x1(L * x), L = [[0,1,0],[1,-4,1],[0,1,0]] applied
//   depthwise with replicate padding (no false edges at the border); L is a
//   non-persistent buffer (a constant, not in the state dict).
// - Channel attention: squeeze-excitation with reduction 4 and SiLU inside
//   (ReLU could leave hidden units dead for a whole batch).
// - Non-local block: GroupNorm, then 1x1 query/key/value to C/2 channels, softmax
//   over positions with the 1/sqrt(C/2) scale, 1x1 back to C, residual.
// - No zero-initialised layers: every layer has PyTorch's default init (complex
//   conv weights scaled by 1/sqrt(2) so the complex product keeps the variance
//   of a real conv), so a fresh expert's gradient reaches every parameter.
import * as T from "../../torch/index.js";

type Tensor = T.Tensor;
type LayerOptions = T.nn.LayerOptions;
const { F, nn } = T;

/** The number of GroupNorm groups for a width: the largest divisor <= 32 leaving >= 4 channels per group (else 1). */
export function numGroups(channels: number): number {
  for (let g = Math.min(32, Math.floor(channels / 4)); g > 1; g--) if (channels % g === 0) return g;
  return 1;
}

/** GroupNorm with numGroups(channels) groups. */
export function groupNorm(channels: number, options: LayerOptions): T.nn.GroupNorm {
  return new nn.GroupNorm(numGroups(channels), channels, options);
}

/** [B, n] -> [B, n, 1, 1], to add to a feature map as a per-channel bias. */
function asChannelBias(v: Tensor): Tensor {
  return v.reshape(v.shape[0] ?? 0, v.shape[1] ?? 0, 1, 1);
}

export interface SinusoidalOptions {
  /** Default 10000. */
  maxPeriod?: number;
  /** Output dtype (default float32). */
  dtype?: T.DType;
}

/**
 * Sinusoidal timestep embedding [B, dim] of t [B]: with half = dim / 2 and
 * f_i = maxPeriod^(-i / half), emb = [cos(t f_0..half-1), sin(t f_0..half-1)].
 * Computed in float64 and cast, so large t (E2 has T = 2000) loses nothing.
 */
export function sinusoidalEmbedding(t: Tensor, dim: number, options: SinusoidalOptions = {}): Tensor {
  if (t.ndim !== 1) throw new RangeError(`sinusoidalEmbedding: t must be 1-D [B], got [${t.shape.join(", ")}]`);
  if (!Number.isInteger(dim) || dim < 2 || dim % 2 !== 0) throw new RangeError(`sinusoidalEmbedding: dim must be an even integer >= 2, got ${dim}`);
  const maxPeriod = options.maxPeriod ?? 10000;
  const half = dim / 2;
  return T.tidy(() => {
    const i = T.arange(0, half, 1, { dtype: "float64", device: t.device });
    const freqs = i.mul(-Math.log(maxPeriod) / half).exp();
    const args = t.to("float64").unsqueeze(1).mul(freqs.unsqueeze(0));
    return T.cat([args.cos(), args.sin()], 1).to(options.dtype ?? "float32");
  });
}

/** t [B] -> sinusoidal(dim) -> Linear -> SiLU -> Linear -> temb [B, dim]. */
export class TimestepEmbedding extends nn.Module {
  readonly linear1: T.nn.Linear;
  readonly linear2: T.nn.Linear;

  constructor(
    readonly dim: number,
    options: LayerOptions = {},
  ) {
    super();
    this.linear1 = this.registerModule("linear_1", new nn.Linear(dim, dim, options));
    this.linear2 = this.registerModule("linear_2", new nn.Linear(dim, dim, options));
  }

  forward(t: Tensor): Tensor {
    return T.tidy(() => {
      const emb = sinusoidalEmbedding(t, this.dim, { dtype: this.linear1.weight.dtype });
      return this.linear2.forward(F.silu(this.linear1.forward(emb)));
    });
  }
}

/** norm -> SiLU -> conv3x3 -> norm (+ time bias) -> SiLU -> conv3x3, plus a (1x1 if widths differ) skip. */
export class ResBlock extends nn.Module {
  readonly norm1: T.nn.GroupNorm;
  readonly conv1: T.nn.Conv2d;
  readonly tembProj: T.nn.Linear;
  readonly norm2: T.nn.GroupNorm;
  readonly conv2: T.nn.Conv2d;
  readonly skip: T.nn.Conv2d | null;

  constructor(inChannels: number, outChannels: number, tembDim: number, options: LayerOptions = {}) {
    super();
    this.norm1 = this.registerModule("norm1", groupNorm(inChannels, options));
    this.conv1 = this.registerModule("conv1", new nn.Conv2d(inChannels, outChannels, 3, { ...options, padding: 1 }));
    this.tembProj = this.registerModule("temb_proj", new nn.Linear(tembDim, outChannels, options));
    this.norm2 = this.registerModule("norm2", groupNorm(outChannels, options));
    this.conv2 = this.registerModule("conv2", new nn.Conv2d(outChannels, outChannels, 3, { ...options, padding: 1 }));
    this.skip = this.registerModule("skip", inChannels === outChannels ? null : new nn.Conv2d(inChannels, outChannels, 1, options));
  }

  forward(x: Tensor, temb: Tensor): Tensor {
    return T.tidy(() => {
      const h = this.conv1.forward(F.silu(this.norm1.forward(x)));
      const shifted = this.norm2.forward(h).add(asChannelBias(this.tembProj.forward(F.silu(temb))));
      return (this.skip === null ? x : this.skip.forward(x)).add(this.conv2.forward(F.silu(shifted)));
    });
  }
}

export interface ConvBlockOptions extends LayerOptions {
  /** Default 3. */
  kernelSize?: number;
  /** Default 1; padding keeps the size. */
  dilation?: number;
}

/** A single conv layer as a block: norm (+ time bias) -> SiLU -> conv. */
export class ConvBlock extends nn.Module {
  readonly norm: T.nn.GroupNorm;
  readonly conv: T.nn.Conv2d;
  readonly tembProj: T.nn.Linear;

  constructor(inChannels: number, outChannels: number, tembDim: number, options: ConvBlockOptions = {}) {
    super();
    const { kernelSize = 3, dilation = 1, ...layer } = options;
    if (kernelSize % 2 !== 1) throw new RangeError(`ConvBlock: kernelSize must be odd to keep the size, got ${kernelSize}`);
    this.norm = this.registerModule("norm", groupNorm(inChannels, layer));
    this.conv = this.registerModule(
      "conv",
      new nn.Conv2d(inChannels, outChannels, kernelSize, { ...layer, dilation, padding: (dilation * (kernelSize - 1)) / 2 }),
    );
    this.tembProj = this.registerModule("temb_proj", new nn.Linear(tembDim, inChannels, layer));
  }

  forward(x: Tensor, temb: Tensor): Tensor {
    return T.tidy(() => this.conv.forward(F.silu(this.norm.forward(x).add(asChannelBias(this.tembProj.forward(F.silu(temb)))))));
  }
}

/** 4x4 stride-2 convolution: [B, in, h, w] -> [B, out, h/2, w/2] (h, w even). */
export class Downsample extends nn.Module {
  readonly conv: T.nn.Conv2d;
  constructor(inChannels: number, outChannels: number, options: LayerOptions = {}) {
    super();
    this.conv = this.registerModule("conv", new nn.Conv2d(inChannels, outChannels, 4, { ...options, stride: 2, padding: 1 }));
  }
  forward(x: Tensor): Tensor {
    return this.conv.forward(x);
  }
  /** h, w: the input size. */
}

/** 4x4 stride-2 transposed convolution: [B, in, h, w] -> [B, out, 2h, 2w]. */
export class Upsample extends nn.Module {
  readonly conv: T.nn.ConvTranspose2d;
  constructor(inChannels: number, outChannels: number, options: LayerOptions = {}) {
    super();
    this.conv = this.registerModule("conv", new nn.ConvTranspose2d(inChannels, outChannels, 4, { ...options, stride: 2, padding: 1 }));
  }
  forward(x: Tensor): Tensor {
    return this.conv.forward(x);
  }
  /** h, w: the input size. */
}

/**
 * Cross-attention from a feature map (queries, after GroupNorm) to condition
 * tokens (keys and values, after LayerNorm), multi-head, with a residual:
 * x + reshape(out(softmax(q k^T / sqrt(d_head)) v)).
 */
export class CrossAttention extends nn.Module {
  readonly norm: T.nn.GroupNorm;
  readonly normTokens: T.nn.LayerNorm;
  readonly toQ: T.nn.Linear;
  readonly toK: T.nn.Linear;
  readonly toV: T.nn.Linear;
  readonly toOut: T.nn.Linear;

  constructor(
    readonly channels: number,
    readonly tokenDim: number,
    readonly numHeads: number,
    options: LayerOptions = {},
  ) {
    super();
    if (!Number.isInteger(numHeads) || numHeads < 1 || channels % numHeads !== 0) {
      throw new RangeError(`CrossAttention: numHeads (${numHeads}) must be a positive divisor of channels (${channels})`);
    }
    this.norm = this.registerModule("norm", groupNorm(channels, options));
    this.normTokens = this.registerModule("norm_tokens", new nn.LayerNorm(tokenDim, options));
    this.toQ = this.registerModule("to_q", new nn.Linear(channels, channels, { ...options, bias: false }));
    this.toK = this.registerModule("to_k", new nn.Linear(tokenDim, channels, { ...options, bias: false }));
    this.toV = this.registerModule("to_v", new nn.Linear(tokenDim, channels, { ...options, bias: false }));
    this.toOut = this.registerModule("to_out", new nn.Linear(channels, channels, options));
  }

  /** x [B, C, h, w], tokens [B, N, d] -> [B, C, h, w]. */
  forward(x: Tensor, tokens: Tensor): Tensor {
    const [b, c, h, w] = x.shape as [number, number, number, number];
    if (x.ndim !== 4 || c !== this.channels) throw new RangeError(`CrossAttention: x must be [B, ${this.channels}, h, w], got [${x.shape.join(", ")}]`);
    if (tokens.ndim !== 3 || tokens.shape[0] !== b || tokens.shape[2] !== this.tokenDim) {
      throw new RangeError(`CrossAttention: tokens must be [${b}, N, ${this.tokenDim}], got [${tokens.shape.join(", ")}]`);
    }
    const n = tokens.shape[1] as number;
    const heads = this.numHeads;
    const dh = c / heads;
    return T.tidy(() => {
      const q = this.toQ.forward(this.norm.forward(x).flatten(2).transpose(1, 2)); // [B, hw, C]
      const zc = this.normTokens.forward(tokens);
      const split = (v: Tensor, len: number): Tensor => v.reshape(b, len, heads, dh).transpose(1, 2); // [B, heads, len, dh]
      const o = F.scaledDotProductAttention(split(q, h * w), split(this.toK.forward(zc), n), split(this.toV.forward(zc), n));
      const merged = this.toOut.forward(o.transpose(1, 2).reshape(b, h * w, c)); // [B, hw, C]
      return x.add(merged.transpose(1, 2).reshape(b, c, h, w));
    });
  }
}

/** Squeeze-excitation: x * sigmoid(fc2(SiLU(fc1(mean over h, w)))) per channel. */
export class ChannelAttention extends nn.Module {
  readonly fc1: T.nn.Linear;
  readonly fc2: T.nn.Linear;

  constructor(
    readonly channels: number,
    reduction = 4,
    options: LayerOptions = {},
  ) {
    super();
    const hidden = Math.max(1, Math.floor(channels / reduction));
    this.fc1 = this.registerModule("fc1", new nn.Linear(channels, hidden, options));
    this.fc2 = this.registerModule("fc2", new nn.Linear(hidden, channels, options));
  }

  /** The per-channel scales [B, C], each in (0, 1). */
  scales(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.channels) {
      throw new RangeError(`ChannelAttention: x must be [B, ${this.channels}, h, w], got [${x.shape.join(", ")}]`);
    }
    return T.tidy(() => this.fc2.forward(F.silu(this.fc1.forward(x.mean([2, 3])))).sigmoid());
  }

  forward(x: Tensor): Tensor {
    return T.tidy(() => x.mul(asChannelBias(this.scales(x))));
  }
}

/** Non-local (self-attention over all positions) block with a residual; see the header. */
export class NonLocalBlock extends nn.Module {
  readonly norm: T.nn.GroupNorm;
  readonly query: T.nn.Conv2d;
  readonly key: T.nn.Conv2d;
  readonly value: T.nn.Conv2d;
  readonly out: T.nn.Conv2d;
  readonly inner: number;

  constructor(
    readonly channels: number,
    options: LayerOptions = {},
  ) {
    super();
    this.inner = Math.max(1, Math.floor(channels / 2));
    this.norm = this.registerModule("norm", groupNorm(channels, options));
    this.query = this.registerModule("query", new nn.Conv2d(channels, this.inner, 1, options));
    this.key = this.registerModule("key", new nn.Conv2d(channels, this.inner, 1, options));
    this.value = this.registerModule("value", new nn.Conv2d(channels, this.inner, 1, options));
    this.out = this.registerModule("out", new nn.Conv2d(this.inner, channels, 1, options));
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.channels) {
      throw new RangeError(`NonLocalBlock: x must be [B, ${this.channels}, h, w], got [${x.shape.join(", ")}]`);
    }
    const [b, , h, w] = x.shape as [number, number, number, number];
    return T.tidy(() => {
      const hn = this.norm.forward(x);
      const seq = (conv: T.nn.Conv2d): Tensor => conv.forward(hn).flatten(2).transpose(1, 2); // [B, hw, inner]
      const o = F.scaledDotProductAttention(seq(this.query), seq(this.key), seq(this.value));
      return x.add(this.out.forward(o.transpose(1, 2).reshape(b, this.inner, h, w)));
    });
  }
}

/** One DenseBlock layer: norm (+ time bias) -> SiLU -> conv3x3 to `growth` channels. */
export class DenseLayer extends ConvBlock {}

export interface DenseBlockOptions extends LayerOptions {
  /** Default 4 (paper). */
  numLayers?: number;
  /** Default 16 (paper). */
  growth?: number;
}

/**
 * Paper II.C, E2: "all preceding feature maps are concatenated as input to each
 * subsequent layer, with a growth rate of 16 channels per layer", 4 layers;
 * then a 1x1 transition to outChannels.
 */
export class DenseBlock extends nn.Module {
  readonly layers: T.nn.ModuleList<DenseLayer>;
  readonly transition: T.nn.Conv2d;
  readonly growth: number;
  readonly numLayers: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    tembDim: number,
    options: DenseBlockOptions = {},
  ) {
    super();
    const { numLayers = 4, growth = 16, ...layer } = options;
    this.numLayers = numLayers;
    this.growth = growth;
    this.layers = this.registerModule("layers", new nn.ModuleList<DenseLayer>());
    for (let i = 0; i < numLayers; i++) this.layers.push(new DenseLayer(inChannels + i * growth, growth, tembDim, layer));
    this.transition = this.registerModule("transition", new nn.Conv2d(inChannels + numLayers * growth, outChannels, 1, layer));
  }

  /** The concatenation [x, y_1, ..., y_L] before the transition: [B, in + L * growth, h, w]. */
  features(x: Tensor, temb: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels) {
      throw new RangeError(`DenseBlock: x must be [B, ${this.inChannels}, h, w], got [${x.shape.join(", ")}]`);
    }
    return T.tidy(() => {
      let all = x;
      for (const layer of this.layers) all = T.cat([all, layer.forward(all, temb)], 1);
      return all;
    });
  }

  forward(x: Tensor, temb: Tensor): Tensor {
    return T.tidy(() => this.transition.forward(this.features(x, temb)));
  }
}

/**
 * Complex convolution on packed maps: input [B, 2 * inC, h, w] holds real parts
 * in the first inC channels and imaginary parts in the rest; the output is
 * packed likewise with outC complex channels. y = W * x + b with complex W, b.
 */
export class ComplexConv2d extends nn.Module {
  readonly weightReal: T.nn.Parameter;
  readonly weightImag: T.nn.Parameter;
  readonly biasReal: T.nn.Parameter;
  readonly biasImag: T.nn.Parameter;
  readonly padding: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize = 3,
    options: LayerOptions = {},
  ) {
    super();
    if (kernelSize % 2 !== 1) throw new RangeError(`ComplexConv2d: kernelSize must be odd, got ${kernelSize}`);
    this.padding = (kernelSize - 1) / 2;
    const shape = [outChannels, inChannels, kernelSize, kernelSize];
    this.weightReal = this.registerParameter("weight_real", nn.emptyParameter(shape, options));
    this.weightImag = this.registerParameter("weight_imag", nn.emptyParameter(shape, options));
    this.biasReal = this.registerParameter("bias_real", nn.emptyParameter([outChannels], options));
    this.biasImag = this.registerParameter("bias_imag", nn.emptyParameter([outChannels], options));
    nn.init.defaultLayerInit_(this.weightReal, this.biasReal, options);
    nn.init.defaultLayerInit_(this.weightImag, this.biasImag, options);
    T.noGrad(() => {
      for (const p of [this.weightReal, this.weightImag, this.biasReal, this.biasImag]) p.mul_(Math.SQRT1_2);
    });
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== 2 * this.inChannels) {
      throw new RangeError(`ComplexConv2d: x must be [B, ${2 * this.inChannels} (real then imaginary), h, w], got [${x.shape.join(", ")}]`);
    }
    return T.tidy(() => {
      const wr = this.weightReal;
      const wi = this.weightImag;
      const weight = T.cat([T.cat([wr, wi.neg()], 1), T.cat([wi, wr], 1)], 0); // [[Wr, -Wi], [Wi, Wr]]
      const bias = T.cat([this.biasReal, this.biasImag], 0);
      return F.conv2d(x, weight, bias, { padding: this.padding });
    });
  }
}

/** modReLU on packed complex maps: ReLU(|z| + b) * z / |z|, b per complex channel. */
export class ModReLU extends nn.Module {
  readonly bias: T.nn.Parameter;
  static readonly EPS = 1e-6;

  constructor(
    readonly channels: number,
    options: LayerOptions = {},
  ) {
    super();
    this.bias = this.registerParameter("bias", nn.init.zeros_(nn.emptyParameter([channels], options)) as T.nn.Parameter);
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== 2 * this.channels) {
      throw new RangeError(`ModReLU: x must be [B, ${2 * this.channels}, h, w], got [${x.shape.join(", ")}]`);
    }
    return T.tidy(() => {
      const [re, im] = x.chunk(2, 1) as [Tensor, Tensor];
      const mag = re.square().add(im.square()).add(ModReLU.EPS).sqrt();
      const scale = F.relu(mag.add(this.bias.reshape(1, this.channels, 1, 1))).div(mag);
      return T.cat([re.mul(scale), im.mul(scale)], 1);
    });
  }
}

/**
 * Complex Convolution Block (E2 bottleneck): x + cconv2(modReLU(cconv1(SiLU(norm(x))) + time bias)),
 * with the C channels read as C/2 complex channels (real half, imaginary half).
 */
export class ComplexConvBlock extends nn.Module {
  readonly norm: T.nn.GroupNorm;
  readonly conv1: ComplexConv2d;
  readonly tembProj: T.nn.Linear;
  readonly act: ModReLU;
  readonly conv2: ComplexConv2d;

  constructor(
    readonly channels: number,
    tembDim: number,
    options: LayerOptions = {},
  ) {
    super();
    if (channels % 2 !== 0) throw new RangeError(`ComplexConvBlock: channels must be even (real and imaginary halves), got ${channels}`);
    const cc = channels / 2;
    this.norm = this.registerModule("norm", groupNorm(channels, options));
    this.conv1 = this.registerModule("conv1", new ComplexConv2d(cc, cc, 3, options));
    this.tembProj = this.registerModule("temb_proj", new nn.Linear(tembDim, channels, options));
    this.act = this.registerModule("act", new ModReLU(cc, options));
    this.conv2 = this.registerModule("conv2", new ComplexConv2d(cc, cc, 3, options));
  }

  forward(x: Tensor, temb: Tensor): Tensor {
    return T.tidy(() => {
      let h = this.conv1.forward(F.silu(this.norm.forward(x)));
      h = h.add(asChannelBias(this.tembProj.forward(F.silu(temb))));
      return x.add(this.conv2.forward(this.act.forward(h)));
    });
  }
}

/** The fixed 3x3 Laplacian kernel. */
export const LAPLACIAN_3X3: readonly number[] = Object.freeze([0, 1, 0, 1, -4, 1, 0, 1, 0]);

/** Edge enhancement (E1): x + proj(L * x), L the Laplacian applied per channel; see the header. */
export class LaplacianEdgeBlock extends nn.Module {
  readonly kernel: Tensor;
  readonly proj: T.nn.Conv2d;

  constructor(
    readonly channels: number,
    options: LayerOptions = {},
  ) {
    super();
    const k = new Float32Array(channels * 9);
    for (let c = 0; c < channels; c++) k.set(LAPLACIAN_3X3, c * 9);
    this.kernel = this.registerBuffer("kernel", T.tensor(k, [channels, 1, 3, 3], { dtype: options.dtype, device: options.device }), false);
    this.proj = this.registerModule("proj", new nn.Conv2d(channels, channels, 1, options));
  }

  /** The Laplacian response L * x per channel (replicate padding), [B, C, h, w]. */
  edges(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.channels) {
      throw new RangeError(`LaplacianEdgeBlock: x must be [B, ${this.channels}, h, w], got [${x.shape.join(", ")}]`);
    }
    return T.tidy(() => F.conv2d(T.pad(x, [1, 1, 1, 1], "replicate"), this.kernel, null, { groups: this.channels }));
  }

  forward(x: Tensor): Tensor {
    return T.tidy(() => x.add(this.proj.forward(this.edges(x))));
  }
}
