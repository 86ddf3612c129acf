// The VQ-VAE encoder E1: [x, g, b] slices [B, inChannels, H, W] -> pre-quantisation
// latent z [B, embedDim, H/f, W/f] with f = 2^(len(channelMult) - 1).
//
// Layout (state-dict keys as LDM's Encoder): conv_in; down.{i}.block.{j}
// (numResBlocks ResBlocks at level i) and down.{i}.downsample (all but the last
// level); mid.block_1, mid.attn_1 (if attention), mid.block_2; norm_out, SiLU,
// conv_out straight to embedDim channels (no separate 1x1 quant_conv).
import * as T from "../../torch/index.js";
import { nn, type Tensor } from "../../torch/index.js";
import { AttnBlock, Downsample, normalize, ResBlock } from "./blocks.js";
import type { VQVAEConfig } from "./config.js";

/** One resolution level of the encoder. */
class EncoderLevel extends nn.Module {
  readonly block: nn.ModuleList<ResBlock>;
  readonly downsample: Downsample | null;

  constructor(inCh: number, outCh: number, numResBlocks: number, down: boolean, options: nn.LayerOptions) {
    super();
    this.block = this.registerModule("block", new nn.ModuleList<ResBlock>());
    for (let j = 0; j < numResBlocks; j++) this.block.push(new ResBlock(j === 0 ? inCh : outCh, outCh, options));
    this.downsample = this.registerModule("downsample", down ? new Downsample(outCh, options) : null);
  }

  forward(x: Tensor): Tensor {
    return T.tidy(() => {
      let h = x;
      for (const b of this.block) h = b.forward(h);
      return this.downsample === null ? h : this.downsample.forward(h);
    });
  }
}

/** ResBlock, optional AttnBlock, ResBlock at the lowest resolution. */
export class MidBlock extends nn.Module {
  readonly block1: ResBlock;
  readonly attn1: AttnBlock | null;
  readonly block2: ResBlock;

  constructor(channels: number, attention: boolean, options: nn.LayerOptions) {
    super();
    this.block1 = this.registerModule("block_1", new ResBlock(channels, channels, options));
    this.attn1 = this.registerModule("attn_1", attention ? new AttnBlock(channels, options) : null);
    this.block2 = this.registerModule("block_2", new ResBlock(channels, channels, options));
  }

  forward(x: Tensor): Tensor {
    return T.tidy(() => {
      let h = this.block1.forward(x);
      if (this.attn1 !== null) h = this.attn1.forward(h);
      return this.block2.forward(h);
    });
  }
}

export class Encoder extends nn.Module {
  readonly inChannels: number;
  readonly embedDim: number;
  readonly downsampleFactor: number;
  readonly convIn: nn.Conv2d;
  readonly down: nn.ModuleList<EncoderLevel>;
  readonly mid: MidBlock;
  readonly normOut: nn.GroupNorm;
  readonly convOut: nn.Conv2d;

  constructor(config: VQVAEConfig, options: nn.LayerOptions = {}) {
    super();
    const { baseChannels: ch, channelMult, numResBlocks } = config;
    this.inChannels = config.inChannels;
    this.embedDim = config.embedDim;
    this.downsampleFactor = 2 ** (channelMult.length - 1);
    this.convIn = this.registerModule("conv_in", new nn.Conv2d(config.inChannels, ch, 3, { ...options, padding: 1 }));
    this.down = this.registerModule("down", new nn.ModuleList<EncoderLevel>());
    let cur = ch;
    channelMult.forEach((m, i) => {
      const out = ch * m;
      this.down.push(new EncoderLevel(cur, out, numResBlocks, i < channelMult.length - 1, options));
      cur = out;
    });
    this.mid = this.registerModule("mid", new MidBlock(cur, config.attention, options));
    this.normOut = this.registerModule("norm_out", normalize(cur, options));
    this.convOut = this.registerModule("conv_out", new nn.Conv2d(cur, config.embedDim, 3, { ...options, padding: 1 }));
  }

  /** x [B, inChannels, H, W] (H, W divisible by downsampleFactor) -> z [B, embedDim, H/f, W/f]. */
  forward(x: Tensor): Tensor {
    const f = this.downsampleFactor;
    if (x.ndim !== 4 || x.shape[1] !== this.inChannels) {
      throw new RangeError(
        `Encoder.forward: x must be [B, ${this.inChannels}, H, W] (channels [x, g, b]), got [${x.shape.join(", ")}]`,
      );
    }
    const h = x.shape[2] as number;
    const w = x.shape[3] as number;
    if (h % f !== 0 || w % f !== 0 || h === 0 || w === 0) {
      throw new RangeError(
        `Encoder.forward: H and W must be positive multiples of the downsampling factor ${f}, got [${x.shape.join(", ")}]; pad or crop the slices`,
      );
    }
    return T.tidy(() => {
      let hdn = this.convIn.forward(x);
      for (const level of this.down) hdn = level.forward(hdn);
      hdn = this.mid.forward(hdn);
      return this.convOut.forward(T.F.silu(this.normOut.forward(hdn)));
    });
  }
}
