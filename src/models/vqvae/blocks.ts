// Building blocks of the VQ-VAE encoder and decoder (LDM-style): ResBlock,
// Downsample, Upsample, AttnBlock, and the GroupNorm group-count rule.
//
// Design decisions (the paper only says "VQ-VAE architecture"):
// - GroupNorm uses 32 groups when the channel count allows at least two
//   channels per group; for small models it uses the largest divisor of C that
//   is <= 32 and <= C/2 (16 channels -> 8 groups), so the CPU preset still
//   normalises over groups rather than single channels.
// - Downsample is a 3x3 stride-2 convolution with padding 1 (H -> H/2 for even
//   H); LDM pads asymmetrically instead, which gives the same output size.
// - Upsample is nearest-neighbour x2 followed by a 3x3 convolution.
// - AttnBlock is single-head self-attention over all positions with 1x1
//   convolutions for q, k, v and the output projection, residual.
import * as T from "../../torch/index.js";
import { nn, type Tensor } from "../../torch/index.js";

const shapeText = (x: Tensor): string => `[${x.shape.join(", ")}]`;

/** The number of GroupNorm groups for `channels` channels (see header). */
export function normGroups(channels: number): number {
  const cap = Math.max(1, Math.min(32, Math.floor(channels / 2)));
  for (let g = cap; g >= 1; g--) if (channels % g === 0) return g;
  return 1;
}

/** GroupNorm with the group rule above and eps 1e-6 (as LDM). */
export function normalize(channels: number, options: nn.LayerOptions = {}): nn.GroupNorm {
  return new nn.GroupNorm(normGroups(channels), channels, { ...options, eps: 1e-6 });
}

function check4d(who: string, x: Tensor, channels: number): void {
  if (x.ndim !== 4 || x.shape[1] !== channels) {
    throw new RangeError(`${who}: x must be [B, ${channels}, H, W], got ${shapeText(x)}`);
  }
}

/** x + conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))), with a 1x1 skip when the channel count changes. */
export class ResBlock extends nn.Module {
  readonly norm1: nn.GroupNorm;
  readonly conv1: nn.Conv2d;
  readonly norm2: nn.GroupNorm;
  readonly conv2: nn.Conv2d;
  readonly ninShortcut: nn.Conv2d | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    options: nn.LayerOptions = {},
  ) {
    super();
    this.norm1 = this.registerModule("norm1", normalize(inChannels, options));
    this.conv1 = this.registerModule("conv1", new nn.Conv2d(inChannels, outChannels, 3, { ...options, padding: 1 }));
    this.norm2 = this.registerModule("norm2", normalize(outChannels, options));
    this.conv2 = this.registerModule("conv2", new nn.Conv2d(outChannels, outChannels, 3, { ...options, padding: 1 }));
    this.ninShortcut = this.registerModule(
      "nin_shortcut",
      inChannels === outChannels ? null : new nn.Conv2d(inChannels, outChannels, 1, options),
    );
  }

  forward(x: Tensor): Tensor {
    check4d(`ResBlock(${this.inChannels}, ${this.outChannels}).forward`, x, this.inChannels);
    return T.tidy(() => {
      const h = this.conv1.forward(T.F.silu(this.norm1.forward(x)));
      const out = this.conv2.forward(T.F.silu(this.norm2.forward(h)));
      const skip = this.ninShortcut === null ? x : this.ninShortcut.forward(x);
      return skip.add(out);
    });
  }

  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}`;
  }
}

/** Halves H and W with a 3x3 stride-2 convolution. */
export class Downsample extends nn.Module {
  readonly conv: nn.Conv2d;

  constructor(
    readonly channels: number,
    options: nn.LayerOptions = {},
  ) {
    super();
    this.conv = this.registerModule("conv", new nn.Conv2d(channels, channels, 3, { ...options, stride: 2, padding: 1 }));
  }

  forward(x: Tensor): Tensor {
    check4d(`Downsample(${this.channels}).forward`, x, this.channels);
    const h = x.shape[2] as number;
    const w = x.shape[3] as number;
    if (h % 2 !== 0 || w % 2 !== 0) {
      throw new RangeError(`Downsample(${this.channels}).forward: H and W must be even, got ${shapeText(x)}`);
    }
    return this.conv.forward(x);
  }
}

/** Doubles H and W by nearest-neighbour upsampling followed by a 3x3 convolution. */
export class Upsample extends nn.Module {
  readonly conv: nn.Conv2d;

  constructor(
    readonly channels: number,
    options: nn.LayerOptions = {},
  ) {
    super();
    this.conv = this.registerModule("conv", new nn.Conv2d(channels, channels, 3, { ...options, padding: 1 }));
  }

  forward(x: Tensor): Tensor {
    check4d(`Upsample(${this.channels}).forward`, x, this.channels);
    return T.tidy(() => this.conv.forward(T.F.interpolate(x, { scaleFactor: 2, mode: "nearest" })));
  }
}

/** Single-head spatial self-attention with a residual connection. */
export class AttnBlock extends nn.Module {
  readonly norm: nn.GroupNorm;
  readonly q: nn.Conv2d;
  readonly k: nn.Conv2d;
  readonly v: nn.Conv2d;
  readonly projOut: nn.Conv2d;

  constructor(
    readonly channels: number,
    options: nn.LayerOptions = {},
  ) {
    super();
    this.norm = this.registerModule("norm", normalize(channels, options));
    this.q = this.registerModule("q", new nn.Conv2d(channels, channels, 1, options));
    this.k = this.registerModule("k", new nn.Conv2d(channels, channels, 1, options));
    this.v = this.registerModule("v", new nn.Conv2d(channels, channels, 1, options));
    this.projOut = this.registerModule("proj_out", new nn.Conv2d(channels, channels, 1, options));
  }

  forward(x: Tensor): Tensor {
    check4d(`AttnBlock(${this.channels}).forward`, x, this.channels);
    const [b, c, h, w] = x.shape as [number, number, number, number];
    return T.tidy(() => {
      const hn = this.norm.forward(x);
      // [B, C, H, W] -> [B, HW, C]
      const tokens = (t: Tensor): Tensor => t.reshape(b, c, h * w).transpose(1, 2);
      const q = tokens(this.q.forward(hn));
      const k = tokens(this.k.forward(hn));
      const v = tokens(this.v.forward(hn));
      const attended = T.F.scaledDotProductAttention(q, k, v, { scale: 1 / Math.sqrt(c) });
      const back = attended.transpose(1, 2).reshape(b, c, h, w);
      return x.add(this.projOut.forward(back));
    });
  }

  override extraRepr(): string {
    return `${this.channels}`;
  }
}
