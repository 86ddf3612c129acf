// Expert 2 (paper II.C.2, sulcal and gyral cortex / high frequencies): a UNet
// with DenseBlocks (4 layers, growth 16) and a complex-valued convolution
// bottleneck that models magnitude and phase.
//
//   conv_in 3x3                                              (h,   c0)  = s0
//   Downsample 4x4/2 -> DenseBlock(c1 -> c1)                 (h/2, c1)  = s1
//   Downsample 4x4/2 -> DenseBlock(c2 -> c2)                 (h/4, c2)
//   bottleneck: ComplexConvBlock -> CrossAttention(z_c)
//   Upsample 4x4/2 -> cat s1 -> DenseBlock(2 c1 -> c1)       (h/2, c1)
//   Upsample 4x4/2 -> cat s0 -> DenseBlock(2 c0 -> c0)       (h,   c0)
//   GroupNorm -> SiLU -> conv_out 1x1                        (h,   C)
//
// Input: concat(z_t, cond, gate); the timestep bias enters every dense layer and
// the complex block (see blocks.ts). The output conv is not zero-initialised.
import * as T from "../../torch/index.js";
import { ComplexConvBlock, CrossAttention, DenseBlock, Downsample, Upsample } from "./blocks.js";
import { Expert, levelChannels, type ExpertConfig, type ExpertInput } from "./config.js";

/** Paper II.C.2: "a DenseBlock with four layers ... growth rate of 16 channels per layer". */
export const E2_DENSE = Object.freeze({ numLayers: 4, growth: 16 });

export class Expert2 extends Expert {
  readonly name = "E2";
  readonly down1: Downsample;
  readonly encDense1: DenseBlock;
  readonly down2: Downsample;
  readonly encDense2: DenseBlock;
  readonly midComplex: ComplexConvBlock;
  readonly midAttn: CrossAttention;
  readonly up1: Upsample;
  readonly decDense1: DenseBlock;
  readonly up2: Upsample;
  readonly decDense0: DenseBlock;

  constructor(config: ExpertConfig, options: T.nn.LayerOptions = {}) {
    super({ ...config }, options);
    const [c0, c1, c2] = levelChannels(config.baseChannels);
    const e = config.timeEmbedDim;
    const dense = { ...options, ...E2_DENSE };
    this.down1 = this.registerModule("down1", new Downsample(c0, c1, options));
    this.encDense1 = this.registerModule("enc_dense1", new DenseBlock(c1, c1, e, dense));
    this.down2 = this.registerModule("down2", new Downsample(c1, c2, options));
    this.encDense2 = this.registerModule("enc_dense2", new DenseBlock(c2, c2, e, dense));
    this.midComplex = this.registerModule("mid_complex", new ComplexConvBlock(c2, e, options));
    this.midAttn = this.registerModule("mid_attn", new CrossAttention(c2, config.tokenDim, config.numHeads, options));
    this.up1 = this.registerModule("up1", new Upsample(c2, c1, options));
    this.decDense1 = this.registerModule("dec_dense1", new DenseBlock(2 * c1, c1, e, dense));
    this.up2 = this.registerModule("up2", new Upsample(c1, c0, options));
    this.decDense0 = this.registerModule("dec_dense0", new DenseBlock(2 * c0, c0, e, dense));
    this.registerHead(options);
  }

  forward(input: ExpertInput): T.Tensor {
    return T.tidy(() => {
      const { temb, x: s0 } = this.stem(input);
      const s1 = this.encDense1.forward(this.down1.forward(s0), temb);
      let h = this.encDense2.forward(this.down2.forward(s1), temb);
      h = this.midComplex.forward(h, temb);
      h = this.midAttn.forward(h, input.tokens);
      h = this.decDense1.forward(T.cat([this.up1.forward(h), s1], 1), temb);
      h = this.decDense0.forward(T.cat([this.up2.forward(h), s0], 1), temb);
      return this.head(h);
    });
  }
}
