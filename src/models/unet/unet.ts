// The regression U-Net baseline: a 2-D U-Net in pixel space that maps the diffusion model's condition
// (the 3T slices k-1, k, k+1, resampled onto the HR grid with cubic B-splines and normalised as the
// training pairs are) to the HR slice k as
//
//   x_hat = y_k + UNet(y_{k-1}, y_k, y_{k+1})
//
// i.e. a residual on the B-spline image (SPEC section 6). The output convolution starts at zero, so an
// untrained U-Net returns the B-spline slice exactly and training only learns the correction.
//
// Layout (state-dict keys): conv_in (3x3, in -> C0); down.i for level i: blocks.0..n-1 (residual blocks,
// the first from the previous level's channels to Ci) and, except at the last level, downsample
// (3x3 stride 2); mid (one residual block at the lowest resolution); up.i for level i < L-1: upsample
// (nearest x2 + 3x3 conv, C(i+1) -> Ci), then blocks.0..n-1 on [upsampled, skip_i] (2Ci -> Ci first);
// norm_out, SiLU, conv_out (3x3, C0 -> 1, zero-initialised).
import * as T from "../../torch/index.js";
import { nn, type Tensor } from "../../torch/index.js";
import { makeNorm, normAct, UNetDown, UNetResBlock, UNetUp } from "./blocks.js";
import { unetSizeMultiple, validateUNetConfig, type UNetConfig } from "./config.js";

/** One encoder level: residual blocks, then an optional stride-2 downsampling. */
class DownLevel extends nn.Module {
  readonly blocks: nn.ModuleList<UNetResBlock>;
  readonly downsample: UNetDown | null;

  constructor(inChannels: number, channels: number, c: UNetConfig, last: boolean, options: nn.LayerOptions) {
    super();
    this.blocks = this.registerModule("blocks", new nn.ModuleList(Array.from({ length: c.numResBlocks }, (_, j) => new UNetResBlock(j === 0 ? inChannels : channels, channels, c.norm, options))));
    this.downsample = this.registerModule("downsample", last ? null : new UNetDown(channels, channels, options));
  }
}

/** One decoder level: upsampling from the level below, then residual blocks on [upsampled, skip]. */
class UpLevel extends nn.Module {
  readonly upsample: UNetUp;
  readonly blocks: nn.ModuleList<UNetResBlock>;

  constructor(belowChannels: number, channels: number, c: UNetConfig, options: nn.LayerOptions) {
    super();
    this.upsample = this.registerModule("upsample", new UNetUp(belowChannels, channels, options));
    this.blocks = this.registerModule("blocks", new nn.ModuleList(Array.from({ length: c.numResBlocks }, (_, j) => new UNetResBlock(j === 0 ? 2 * channels : channels, channels, c.norm, options))));
  }
}

export class UNet extends nn.Module {
  readonly config: Readonly<UNetConfig>;
  /** H and W of an input must be multiples of this (2^(levels-1)). */
  readonly sizeMultiple: number;
  /** The input channel the residual is added to (the slice k of k-1, k, k+1). */
  readonly centreChannel: number;
  readonly convIn: nn.Conv2d;
  readonly down: nn.ModuleList<DownLevel>;
  readonly mid: UNetResBlock;
  readonly up: nn.ModuleList<UpLevel>;
  readonly normOut: nn.GroupNorm | null;
  readonly convOut: nn.Conv2d;

  constructor(config: UNetConfig, options: nn.LayerOptions = {}) {
    super();
    validateUNetConfig(config);
    this.config = Object.freeze({ ...config, channelMult: [...config.channelMult] });
    this.sizeMultiple = unetSizeMultiple(config);
    this.centreChannel = Math.floor(config.inChannels / 2);
    const ch = config.channelMult.map((m) => m * config.baseChannels);
    const levels = ch.length;
    this.convIn = this.registerModule("conv_in", new nn.Conv2d(config.inChannels, ch[0]!, 3, { ...options, padding: 1 }));
    this.down = this.registerModule("down", new nn.ModuleList(ch.map((c, i) => new DownLevel(i === 0 ? ch[0]! : ch[i - 1]!, c, config, i === levels - 1, options))));
    this.mid = this.registerModule("mid", new UNetResBlock(ch[levels - 1]!, ch[levels - 1]!, config.norm, options));
    this.up = this.registerModule("up", new nn.ModuleList(ch.slice(0, -1).map((c, i) => new UpLevel(ch[i + 1]!, c, config, options))));
    this.normOut = this.registerModule("norm_out", makeNorm(config.norm, ch[0]!, options));
    this.convOut = this.registerModule("conv_out", new nn.Conv2d(ch[0]!, 1, 3, { ...options, padding: 1 }));
    nn.init.zeros_(this.convOut.weight);
    if (this.convOut.bias !== null) nn.init.zeros_(this.convOut.bias);
  }

  #check(who: string, y: Tensor): void {
    const c = this.config.inChannels;
    if (y.ndim !== 4 || y.shape[1] !== c) throw new RangeError(`UNet.${who}: y must be [B, ${c}, H, W] (3T slices k-1, k, k+1), got [${y.shape.join(", ")}]`);
    const [h, w] = [y.shape[2] as number, y.shape[3] as number];
    const m = this.sizeMultiple;
    if (h % m !== 0 || w % m !== 0) {
      throw new RangeError(`UNet.${who}: H and W must be multiples of ${m} (2^(levels-1) for ${this.config.channelMult.length} levels), got ${h}x${w}; pad the slice`);
    }
  }

  /** The predicted correction [B, 1, H, W] to add to the centre slice. */
  residual(y: Tensor): Tensor {
    this.#check("residual", y);
    return T.tidy(() => {
      let h = this.convIn.forward(y);
      const skips: Tensor[] = [];
      for (const level of this.down) {
        for (const b of level.blocks) h = b.forward(h);
        if (level.downsample !== null) {
          skips.push(h);
          h = level.downsample.forward(h);
        }
      }
      h = this.mid.forward(h);
      for (let i = this.up.length - 1; i >= 0; i--) {
        const level = this.up.at(i);
        h = T.cat([level.upsample.forward(h), skips[i]!], 1);
        for (const b of level.blocks) h = b.forward(h);
      }
      return this.convOut.forward(normAct(this.normOut, h));
    });
  }

  /** y [B, inChannels, H, W] -> the HR slice estimate [B, 1, H, W] = centre slice + residual. */
  forward(y: Tensor): Tensor {
    this.#check("forward", y);
    return T.tidy(() => y.narrow(1, this.centreChannel, 1).add(this.residual(y)));
  }

  /** The L1 loss of forward(y) against the HR slice `hr` [B, 1, H, W], with the prediction. */
  loss(y: Tensor, hr: Tensor): { loss: Tensor; prediction: Tensor } {
    this.#check("loss", y);
    const [b, , h, w] = y.shape;
    if (!(hr.ndim === 4 && hr.shape[0] === b && hr.shape[1] === 1 && hr.shape[2] === h && hr.shape[3] === w)) {
      throw new RangeError(`UNet.loss: hr must be [${b}, 1, ${h}, ${w}] to match y [${y.shape.join(", ")}], got [${hr.shape.join(", ")}]`);
    }
    return T.tidy(() => {
      const prediction = this.forward(y);
      return { loss: T.F.l1Loss(prediction, hr), prediction };
    });
  }
}
