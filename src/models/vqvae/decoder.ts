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
//
// LR conditioning (config lrCondition "cfw"): StableSR's controllable feature wrapping. A small LR
// feature encoder (lr_encoder.ts, key lr_encoder) turns the 3T condition y into features at every
// decoder resolution; after the residual blocks of level i (before its upsampling) the decoder's
// features f become f + w * fuse_i([f, f_lr,i]), fuse_i a 3x3 convolution (key up.{i}.fuse) started at
// zero, so training starts from the plain decoder; w is 1 in training and a decode option after it
// (StableSR's fidelity/quality knob). Fusing after the blocks rather than before keeps the
// full-resolution convolution on c0 channels, not c1 (1.2 rather than 3.6 GFLOP at 256 x 256 for
// cpu-small); the half-resolution features still pass through the upsampling and the full-resolution
// blocks. With lrCondition "none" the decoder has no such keys and is exactly the paper's D(zq).
import * as T from "../../torch/index.js";
import { nn, type Tensor } from "../../torch/index.js";
import { normalize, ResBlock, Upsample } from "./blocks.js";
import { LR_CHANNELS, type VQVAEConfig } from "./config.js";
import { MidBlock } from "./encoder.js";
import { LRFeatureEncoder } from "./lr_encoder.js";

class DecoderLevel extends nn.Module {
  readonly block: nn.ModuleList<ResBlock>;
  readonly fuse: nn.Conv2d | null;
  readonly upsample: Upsample | null;

  constructor(inCh: number, outCh: number, numBlocks: number, up: boolean, fuse: boolean, options: nn.LayerOptions) {
    super();
    this.block = this.registerModule("block", new nn.ModuleList<ResBlock>());
    for (let j = 0; j < numBlocks; j++) this.block.push(new ResBlock(j === 0 ? inCh : outCh, outCh, options));
    this.fuse = this.registerModule("fuse", fuse ? new nn.Conv2d(2 * outCh, outCh, 3, { ...options, padding: 1 }) : null);
    if (this.fuse !== null) {
      nn.init.constant_(this.fuse.weight, 0);
      if (this.fuse.bias !== null) nn.init.constant_(this.fuse.bias, 0);
    }
    this.upsample = this.registerModule("upsample", up ? new Upsample(outCh, options) : null);
  }

  /** The level's blocks, the feature wrapping f + w * fuse([f, lrFeature]) when given, the upsampling. */
  forward(x: Tensor, lrFeature: Tensor | null = null, weight = 1): Tensor {
    return T.tidy(() => {
      let h = x;
      for (const b of this.block) h = b.forward(h);
      if (this.fuse !== null && lrFeature !== null) h = h.add(this.fuse.forward(T.cat([h, lrFeature], 1)).mul(weight));
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
  /** The LR feature encoder (lrCondition "cfw"), or null. */
  readonly lrEncoder: LRFeatureEncoder | null;
  /** lrCondition "cfw-residual": the output is the condition's centre slice plus what the network returns. */
  readonly residual: boolean;

  constructor(config: VQVAEConfig, options: nn.LayerOptions = {}) {
    super();
    const { baseChannels: ch, channelMult, numResBlocks } = config;
    const levels = channelMult.length;
    this.embedDim = config.embedDim;
    this.outChannels = config.outChannels;
    const cfw = config.lrCondition !== "none";
    this.residual = config.lrCondition === "cfw-residual";
    this.upsampleFactor = 2 ** (levels - 1);
    const lowest = ch * (channelMult[levels - 1] as number);
    this.convIn = this.registerModule("conv_in", new nn.Conv2d(config.embedDim, lowest, 3, { ...options, padding: 1 }));
    this.mid = this.registerModule("mid", new MidBlock(lowest, config.attention, options));
    // Build from the lowest level up, then register in level order (up.0 first) as LDM does.
    const built: DecoderLevel[] = new Array<DecoderLevel>(levels);
    let cur = lowest;
    for (let i = levels - 1; i >= 0; i--) {
      const out = ch * (channelMult[i] as number);
      built[i] = new DecoderLevel(cur, out, numResBlocks + 1, i > 0, cfw, options);
      cur = out;
    }
    this.up = this.registerModule("up", new nn.ModuleList<DecoderLevel>(built));
    this.normOut = this.registerModule("norm_out", normalize(cur, options));
    this.convOut = this.registerModule("conv_out", new nn.Conv2d(cur, config.outChannels, 3, { ...options, padding: 1 }));
    this.lrEncoder = this.registerModule("lr_encoder", cfw ? new LRFeatureEncoder(config, options) : null);
  }

  /**
   * zq [B, embedDim, h, w] -> [B, outChannels, h*f, w*f]. An LR-conditioned decoder needs `lr`, the
   * condition y [B, 3, h*f, w*f] of the same slices, and wraps its features with weight `cfwWeight`
   * (default 1, as trained); a plain decoder takes neither.
   */
  forward(zq: Tensor, lr: Tensor | null = null, cfwWeight = 1): Tensor {
    if (zq.ndim !== 4 || zq.shape[1] !== this.embedDim) {
      throw new RangeError(`Decoder.forward: zq must be [B, ${this.embedDim}, h, w], got [${zq.shape.join(", ")}]`);
    }
    const [b, , h, w] = zq.shape as [number, number, number, number];
    const f = this.upsampleFactor;
    if (this.lrEncoder === null) {
      if (lr !== null) throw new RangeError("Decoder.forward: this decoder is not LR-conditioned (lrCondition \"none\"); call it without lr");
    } else {
      if (lr === null) {
        throw new RangeError(`Decoder.forward: this decoder is LR-conditioned (lrCondition "${this.residual ? "cfw-residual" : "cfw"}"): pass lr, the 3T condition [${b}, ${LR_CHANNELS}, ${h * f}, ${w * f}] of the same slices`);
      }
      if (lr.ndim !== 4 || lr.shape[0] !== b || lr.shape[1] !== LR_CHANNELS || lr.shape[2] !== h * f || lr.shape[3] !== w * f) {
        throw new RangeError(`Decoder.forward: lr must be [${b}, ${LR_CHANNELS}, ${h * f}, ${w * f}] (the 3T condition of the ${b} slice(s) zq encodes, on the output grid), got [${lr.shape.join(", ")}]`);
      }
      if (!Number.isFinite(cfwWeight)) throw new RangeError(`Decoder.forward: cfwWeight must be a finite number, got ${cfwWeight}`);
    }
    return T.tidy(() => {
      const lrFeatures = this.lrEncoder === null || lr === null ? null : this.lrEncoder.forward(lr.to(zq.dtype));
      let hdn = this.convIn.forward(zq);
      hdn = this.mid.forward(hdn);
      for (let i = this.up.length - 1; i >= 0; i--) hdn = this.up.at(i).forward(hdn, lrFeatures?.[i] ?? null, cfwWeight);
      const out = this.convOut.forward(T.F.silu(this.normOut.forward(hdn)));
      return this.residual && lr !== null ? out.add(lr.narrow(1, 1, 1).to(out.dtype)) : out;
    });
  }
}
