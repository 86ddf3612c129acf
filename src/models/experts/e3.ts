// Expert 3 (paper II.C.3, grey-white matter junction): a UNet whose encoder
// and decoder levels pair a conv block with squeeze-excitation channel
// attention, and whose decoder adds a non-local attention block for long-range
// spatial correlations.
//
//   conv_in 3x3                                              (h,   c0)  = s0
//   Downsample 4x4/2 -> ConvBlock -> ChannelAttention        (h/2, c1)  = s1
//   Downsample 4x4/2 -> ConvBlock -> ChannelAttention        (h/4, c2)
//   bottleneck: ConvBlock 3x3 -> ResBlock -> CrossAttention(z_c)
//   Upsample 4x4/2 -> cat s1 -> ConvBlock -> ChannelAttention -> NonLocalBlock  (h/2, c1)
//   Upsample 4x4/2 -> cat s0 -> ConvBlock -> ChannelAttention                  (h,   c0)
//   GroupNorm -> SiLU -> conv_out 1x1                        (h,   C)
//
// The non-local block sits at the middle-resolution decoder level (h/2 x w/2):
// the paper does not say where; there it sees the whole slice at a quarter of
// the full-resolution attention cost. Input: concat(z_t, cond, gate); the
// timestep bias enters every ConvBlock and the ResBlock (see blocks.ts). The
// output conv is not zero-initialised.
import * as T from "../../torch/index.js";
import { ChannelAttention, ConvBlock, CrossAttention, Downsample, NonLocalBlock, ResBlock, Upsample } from "./blocks.js";
import { Expert, levelChannels, type ExpertConfig, type ExpertInput } from "./config.js";

export class Expert3 extends Expert {
  readonly name = "E3";
  readonly down1: Downsample;
  readonly encConv1: ConvBlock;
  readonly encCa1: ChannelAttention;
  readonly down2: Downsample;
  readonly encConv2: ConvBlock;
  readonly encCa2: ChannelAttention;
  readonly midConv: ConvBlock;
  readonly midRes: ResBlock;
  readonly midAttn: CrossAttention;
  readonly up1: Upsample;
  readonly decConv1: ConvBlock;
  readonly decCa1: ChannelAttention;
  readonly decNonLocal: NonLocalBlock;
  readonly up2: Upsample;
  readonly decConv0: ConvBlock;
  readonly decCa0: ChannelAttention;

  constructor(config: ExpertConfig, options: T.nn.LayerOptions = {}) {
    super({ ...config }, options);
    const [c0, c1, c2] = levelChannels(config.baseChannels);
    const e = config.timeEmbedDim;
    this.down1 = this.registerModule("down1", new Downsample(c0, c1, options));
    this.encConv1 = this.registerModule("enc_conv1", new ConvBlock(c1, c1, e, options));
    this.encCa1 = this.registerModule("enc_ca1", new ChannelAttention(c1, 4, options));
    this.down2 = this.registerModule("down2", new Downsample(c1, c2, options));
    this.encConv2 = this.registerModule("enc_conv2", new ConvBlock(c2, c2, e, options));
    this.encCa2 = this.registerModule("enc_ca2", new ChannelAttention(c2, 4, options));
    this.midConv = this.registerModule("mid_conv", new ConvBlock(c2, c2, e, options));
    this.midRes = this.registerModule("mid_res", new ResBlock(c2, c2, e, options));
    this.midAttn = this.registerModule("mid_attn", new CrossAttention(c2, config.tokenDim, config.numHeads, options));
    this.up1 = this.registerModule("up1", new Upsample(c2, c1, options));
    this.decConv1 = this.registerModule("dec_conv1", new ConvBlock(2 * c1, c1, e, options));
    this.decCa1 = this.registerModule("dec_ca1", new ChannelAttention(c1, 4, options));
    this.decNonLocal = this.registerModule("dec_nonlocal", new NonLocalBlock(c1, options));
    this.up2 = this.registerModule("up2", new Upsample(c1, c0, options));
    this.decConv0 = this.registerModule("dec_conv0", new ConvBlock(2 * c0, c0, e, options));
    this.decCa0 = this.registerModule("dec_ca0", new ChannelAttention(c0, 4, options));
    this.registerHead(options);
  }

  forward(input: ExpertInput): T.Tensor {
    return T.tidy(() => {
      const { temb, x: s0 } = this.stem(input);
      const s1 = this.encCa1.forward(this.encConv1.forward(this.down1.forward(s0), temb));
      let h = this.encCa2.forward(this.encConv2.forward(this.down2.forward(s1), temb));
      h = this.midConv.forward(h, temb);
      h = this.midRes.forward(h, temb);
      h = this.midAttn.forward(h, input.tokens);
      h = this.decCa1.forward(this.decConv1.forward(T.cat([this.up1.forward(h), s1], 1), temb));
      h = this.decNonLocal.forward(h);
      h = this.decCa0.forward(this.decConv0.forward(T.cat([this.up2.forward(h), s0], 1), temb));
      return this.head(h);
    });
  }
}
