// The VQ-VAE decoder D: quantised latent [B, embedDim, h, w] -> image
// [B, outChannels, h*f, w*f].
//
// Mirrors the encoder (state-dict keys as LDM's Decoder): conv_in from embedDim;
// mid.block_1, mid.attn_1 (if attention), mid.block_2; up.{i}.block.{j} with
// numResBlocks + 1 ResBlocks per level (LDM's choice: the extra block gives the
// decoder a little more capacity than the encoder) and up.{i}.upsample on all
// but the first level; norm_out, SiLU, conv_out. `up` is indexed by level as in
// the encoder (up.0 is the full-resolution level) and run from the last level
// down. The output is linear (no tanh): slices are intensity-normalised, not
// clipped to [-1, 1].
import * as T from "../../torch/index.js";
import { nn, type Tensor } from "../../torch/index.js";
import { normalize, ResBlock, Upsample } from "./blocks.js";
import type { VQVAEConfig } from "./config.js";
import { MidBlock } from "./encoder.js";

class DecoderLevel extends nn.Module {
  readonly block: nn.ModuleList<ResBlock>;
  readonly upsample: Upsample | null;

  constructor(inCh: number, outCh: number, numBlocks: number, up: boolean, options: nn.LayerOptions) {
    super();
    this.block = this.registerModule("block", new nn.ModuleList<ResBlock>());
    for (let j = 0; j < numBlocks; j++) this.block.push(new ResBlock(j === 0 ? inCh : outCh, outCh, options));
    this.upsample = this.registerModule("upsample", up ? new Upsample(outCh, options) : null);
  }

  forward(x: Tensor): Tensor {
    return T.tidy(() => {
      let h = x;
      for (const b of this.block) h = b.forward(h);
      return this.upsample === null ? h : this.upsample.forward(h);
    });
  }
}

export class Decoder extends nn.Module {
  readonly embedDim: number;
  readonly outChannels: number;
  readonly upsampleFactor: number;
  readonly convIn: nn.Conv2d;
  readonly mid: MidBlock;
  readonly up: nn.ModuleList<DecoderLevel>;
  readonly normOut: nn.GroupNorm;
  readonly convOut: nn.Conv2d;

  constructor(config: VQVAEConfig, options: nn.LayerOptions = {}) {
    super();
    const { baseChannels: ch, channelMult, numResBlocks } = config;
    const levels = channelMult.length;
    this.embedDim = config.embedDim;
    this.outChannels = config.outChannels;
    this.upsampleFactor = 2 ** (levels - 1);
    const lowest = ch * (channelMult[levels - 1] as number);
    this.convIn = this.registerModule("conv_in", new nn.Conv2d(config.embedDim, lowest, 3, { ...options, padding: 1 }));
    this.mid = this.registerModule("mid", new MidBlock(lowest, config.attention, options));
    // Build from the lowest level up, then register in level order (up.0 first) as LDM does.
    const built: DecoderLevel[] = new Array<DecoderLevel>(levels);
    let cur = lowest;
    for (let i = levels - 1; i >= 0; i--) {
      const out = ch * (channelMult[i] as number);
      built[i] = new DecoderLevel(cur, out, numResBlocks + 1, i > 0, options);
      cur = out;
    }
    this.up = this.registerModule("up", new nn.ModuleList<DecoderLevel>(built));
    this.normOut = this.registerModule("norm_out", normalize(cur, options));
    this.convOut = this.registerModule("conv_out", new nn.Conv2d(cur, config.outChannels, 3, { ...options, padding: 1 }));
  }

  /** zq [B, embedDim, h, w] -> [B, outChannels, h*f, w*f]. */
  forward(zq: Tensor): Tensor {
    if (zq.ndim !== 4 || zq.shape[1] !== this.embedDim) {
      throw new RangeError(`Decoder.forward: zq must be [B, ${this.embedDim}, h, w], got [${zq.shape.join(", ")}]`);
    }
    return T.tidy(() => {
      let h = this.convIn.forward(zq);
      h = this.mid.forward(h);
      for (let i = this.up.length - 1; i >= 0; i--) h = this.up.at(i).forward(h);
      return this.convOut.forward(T.F.silu(this.normOut.forward(h)));
    });
  }
}
