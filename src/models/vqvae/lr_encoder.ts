// The LR feature encoder of the LR-conditioned decoder (config lrCondition "cfw"): the 3T condition
// y [B, 3, H, W] (slices k-1, k, k+1 on the HR grid, as the pipeline's condition tiles and the data
// set's `cond`) -> one feature map per decoder resolution, level i at H/2^i with the decoder's
// channels baseChannels * channelMult[i]. The decoder wraps its own features with them (decoder.ts).
//
// Layout (after StableSR's controllable feature wrapping, Wang et al. 2023, which takes these features
// from the LR image's pass through its encoder; here a separate, smaller network, since our encoder's
// input is [x, g, b] and a pass of y through it is not free):
//   conv_in (3 -> c0, 3x3); down.0.block (ResBlock c0) -> feature 0;
//   down.i (i > 0): downsample (3x3 stride 2 on c_{i-1}) and block (ResBlock c_{i-1} -> c_i) -> feature i.
// One residual block per level keeps it cheap: its cost is stated in docs/models.md.
import * as T from "../../torch/index.js";
import { nn, type Tensor } from "../../torch/index.js";
import { Downsample, ResBlock } from "./blocks.js";
import { LR_CHANNELS, type VQVAEConfig } from "./config.js";

class LRLevel extends nn.Module {
  readonly downsample: Downsample | null;
  readonly block: ResBlock;

  constructor(inCh: number, outCh: number, down: boolean, options: nn.LayerOptions) {
    super();
    this.downsample = this.registerModule("downsample", down ? new Downsample(inCh, options) : null);
    this.block = this.registerModule("block", new ResBlock(inCh, outCh, options));
  }

  forward(x: Tensor): Tensor {
    return T.tidy(() => this.block.forward(this.downsample === null ? x : this.downsample.forward(x)));
  }
}

export class LRFeatureEncoder extends nn.Module {
  readonly channels: readonly number[];
  readonly convIn: nn.Conv2d;
  readonly down: nn.ModuleList<LRLevel>;

  constructor(config: VQVAEConfig, options: nn.LayerOptions = {}) {
    super();
    this.channels = config.channelMult.map((m) => config.baseChannels * m);
    const c0 = this.channels[0] as number;
    this.convIn = this.registerModule("conv_in", new nn.Conv2d(LR_CHANNELS, c0, 3, { ...options, padding: 1 }));
    this.down = this.registerModule("down", new nn.ModuleList<LRLevel>());
    let cur = c0;
    this.channels.forEach((ch, i) => {
      this.down.push(new LRLevel(cur, ch, i > 0, options));
      cur = ch;
    });
  }

  /** y [B, 3, H, W] (H, W divisible by 2^(levels - 1)) -> features, level i [B, c_i, H/2^i, W/2^i]. */
  forward(y: Tensor): Tensor[] {
    return T.tidy(() => {
      const out: Tensor[] = [];
      let h = this.convIn.forward(y);
      for (const level of this.down) {
        h = level.forward(h);
        out.push(h);
      }
      return out;
    });
  }
}
