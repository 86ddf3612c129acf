// Expert 1 (paper II.C.1, centrum semiovale / smooth white matter): a UNet
// with a Laplacian edge-enhancement block, residual blocks and a dilated
// bottleneck for a large receptive field.
//
//   conv_in 3x3 -> ResBlock -> LaplacianEdgeBlock            (h,   c0)  = s0
//   Downsample 4x4/2 -> ResBlock                             (h/2, c1)  = s1
//   Downsample 4x4/2 -> ResBlock                             (h/4, c2)
//   bottleneck: ConvBlock 3x3 dilation 2 -> ResBlock -> CrossAttention(z_c)
//   Upsample 4x4/2 -> cat s1 -> ResBlock                     (h/2, c1)
//   Upsample 4x4/2 -> cat s0 -> ResBlock                     (h,   c0)
//   GroupNorm -> SiLU -> conv_out 1x1                        (h,   C)
//
// Input: concat(z_t, cond, gate); the timestep bias enters every ResBlock and
// the dilated ConvBlock (see blocks.ts). The output conv is not zero-initialised.
import * as T from "../../torch/index.js";
import { ConvBlock, CrossAttention, Downsample, LaplacianEdgeBlock, ResBlock, Upsample } from "./blocks.js";
import { Expert, levelChannels, type ExpertConfig, type ExpertInput } from "./config.js";

export class Expert1 extends Expert {
  readonly name = "E1";
  readonly encRes0: ResBlock;
  readonly edge: LaplacianEdgeBlock;
  readonly down1: Downsample;
  readonly encRes1: ResBlock;
  readonly down2: Downsample;
  readonly encRes2: ResBlock;
  readonly midDilated: ConvBlock;
  readonly midRes: ResBlock;
  readonly midAttn: CrossAttention;
  readonly up1: Upsample;
  readonly decRes1: ResBlock;
  readonly up2: Upsample;
  readonly decRes0: ResBlock;

  constructor(config: ExpertConfig, options: T.nn.LayerOptions = {}) {
    super({ ...config }, options);
    const [c0, c1, c2] = levelChannels(config.baseChannels);
    const e = config.timeEmbedDim;
    this.encRes0 = this.registerModule("enc_res0", new ResBlock(c0, c0, e, options));
    this.edge = this.registerModule("edge", new LaplacianEdgeBlock(c0, options));
    this.down1 = this.registerModule("down1", new Downsample(c0, c1, options));
    this.encRes1 = this.registerModule("enc_res1", new ResBlock(c1, c1, e, options));
    this.down2 = this.registerModule("down2", new Downsample(c1, c2, options));
    this.encRes2 = this.registerModule("enc_res2", new ResBlock(c2, c2, e, options));
    this.midDilated = this.registerModule("mid_dilated", new ConvBlock(c2, c2, e, { ...options, dilation: 2 }));
    this.midRes = this.registerModule("mid_res", new ResBlock(c2, c2, e, options));
    this.midAttn = this.registerModule("mid_attn", new CrossAttention(c2, config.tokenDim, config.numHeads, options));
    this.up1 = this.registerModule("up1", new Upsample(c2, c1, options));
    this.decRes1 = this.registerModule("dec_res1", new ResBlock(2 * c1, c1, e, options));
    this.up2 = this.registerModule("up2", new Upsample(c1, c0, options));
    this.decRes0 = this.registerModule("dec_res0", new ResBlock(2 * c0, c0, e, options));
    this.registerHead(options);
  }

  forward(input: ExpertInput): T.Tensor {
    return T.tidy(() => {
      const { temb, x } = this.stem(input);
      const s0 = this.edge.forward(this.encRes0.forward(x, temb));
      const s1 = this.encRes1.forward(this.down1.forward(s0), temb);
      let h = this.encRes2.forward(this.down2.forward(s1), temb);
      h = this.midDilated.forward(h, temb);
      h = this.midRes.forward(h, temb);
      h = this.midAttn.forward(h, input.tokens);
      h = this.decRes1.forward(T.cat([this.up1.forward(h), s1], 1), temb);
      h = this.decRes0.forward(T.cat([this.up2.forward(h), s0], 1), temb);
      return this.head(h);
    });
  }
}
