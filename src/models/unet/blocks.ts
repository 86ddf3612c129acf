// Building blocks of the regression U-Net: a pre-activation residual block (GroupNorm, SiLU, 3x3
// convolution, twice), a stride-2 convolution down and a nearest-neighbour x2 + 3x3 convolution up.
// They are the U-Net's own (not the VQ-VAE's, which may change with that model): the state-dict keys
// below are the U-Net file format.
//
// GroupNorm uses 32 groups when the channel count allows at least two channels per group, else the
// largest divisor of C that is <= C/2 (32 channels -> 16 groups), eps 1e-5 (PyTorch's default).
import * as T from "../../torch/index.js";
import { nn, type Tensor } from "../../torch/index.js";

const shapeText = (x: Tensor): string => `[${x.shape.join(", ")}]`;

/** The number of GroupNorm groups for `channels` channels. */
export function groupsFor(channels: number): number {
  const cap = Math.max(1, Math.min(32, Math.floor(channels / 2)));
  for (let g = cap; g >= 1; g--) if (channels % g === 0) return g;
  return 1;
}

/** GroupNorm for `channels`, or null (no normalisation) when norm is "none". */
export function makeNorm(norm: "group" | "none", channels: number, options: nn.LayerOptions): nn.GroupNorm | null {
  return norm === "group" ? new nn.GroupNorm(groupsFor(channels), channels, options) : null;
}

/** SiLU(norm(x)); the norm is skipped when null. */
export function normAct(norm: nn.GroupNorm | null, x: Tensor): Tensor {
  return T.F.silu(norm === null ? x : norm.forward(x));
}

function check4d(who: string, x: Tensor, channels: number): void {
  if (x.ndim !== 4 || x.shape[1] !== channels) throw new RangeError(`${who}: x must be [B, ${channels}, H, W], got ${shapeText(x)}`);
}

/** skip(x) + conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))), with a 1x1 skip when the channel count changes. */
export class UNetResBlock extends nn.Module {
  readonly norm1: nn.GroupNorm | null;
  readonly conv1: nn.Conv2d;
  readonly norm2: nn.GroupNorm | null;
  readonly conv2: nn.Conv2d;
  readonly skip: nn.Conv2d | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    norm: "group" | "none",
    options: nn.LayerOptions = {},
  ) {
    super();
    this.norm1 = this.registerModule("norm1", makeNorm(norm, inChannels, options));
    this.conv1 = this.registerModule("conv1", new nn.Conv2d(inChannels, outChannels, 3, { ...options, padding: 1 }));
    this.norm2 = this.registerModule("norm2", makeNorm(norm, outChannels, options));
    this.conv2 = this.registerModule("conv2", new nn.Conv2d(outChannels, outChannels, 3, { ...options, padding: 1 }));
    this.skip = this.registerModule("skip", inChannels === outChannels ? null : new nn.Conv2d(inChannels, outChannels, 1, options));
  }

  forward(x: Tensor): Tensor {
    check4d(`UNetResBlock(${this.inChannels}, ${this.outChannels}).forward`, x, this.inChannels);
    return T.tidy(() => {
      const h = this.conv1.forward(normAct(this.norm1, x));
      const out = this.conv2.forward(normAct(this.norm2, h));
      return (this.skip === null ? x : this.skip.forward(x)).add(out);
    });
  }

  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}`;
  }
}

/** Halves H and W with a 3x3 stride-2 convolution, channels in -> out. */
export class UNetDown extends nn.Module {
  readonly conv: nn.Conv2d;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    options: nn.LayerOptions = {},
  ) {
    super();
    this.conv = this.registerModule("conv", new nn.Conv2d(inChannels, outChannels, 3, { ...options, stride: 2, padding: 1 }));
  }

  forward(x: Tensor): Tensor {
    check4d(`UNetDown(${this.inChannels}, ${this.outChannels}).forward`, x, this.inChannels);
    return this.conv.forward(x);
  }
}

/** Doubles H and W: nearest-neighbour x2, then a 3x3 convolution, channels in -> out. */
export class UNetUp extends nn.Module {
  readonly conv: nn.Conv2d;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    options: nn.LayerOptions = {},
  ) {
    super();
    this.conv = this.registerModule("conv", new nn.Conv2d(inChannels, outChannels, 3, { ...options, padding: 1 }));
  }

  forward(x: Tensor): Tensor {
    check4d(`UNetUp(${this.inChannels}, ${this.outChannels}).forward`, x, this.inChannels);
    return T.tidy(() => this.conv.forward(T.F.interpolate(x, { scaleFactor: 2, mode: "nearest" })));
  }
}
