// The three expert denoisers of MoEDiff-SR (paper section II.C) and a factory.
// Each predicts epsilon [B, C, h, w] from z_t, t, the condition latent, the
// condition tokens z_c and its gating weight map (see config.ts for the contract).
import type * as T from "../../torch/index.js";
import type { Expert, ExpertConfig } from "./config.js";
import { Expert1 } from "./e1.js";
import { Expert2 } from "./e2.js";
import { Expert3 } from "./e3.js";

export {
  CHANNEL_MULT,
  checkExpertConfig,
  checkExpertInput,
  Expert,
  EXPERT_CPU_SMALL,
  EXPERT_PAPER,
  levelChannels,
  resolveExpertConfig,
  type ExpertConfig,
  type ExpertInput,
} from "./config.js";
export * from "./blocks.js";
export { Expert1 } from "./e1.js";
export { Expert2, E2_DENSE } from "./e2.js";
export { Expert3 } from "./e3.js";

export type ExpertKind = 1 | 2 | 3;

/** Expert i of the paper (1: smooth WM, 2: cortex, 3: grey-white junction). */
export function createExpert(kind: ExpertKind, config: ExpertConfig, options: T.nn.LayerOptions = {}): Expert {
  switch (kind) {
    case 1:
      return new Expert1(config, options);
    case 2:
      return new Expert2(config, options);
    case 3:
      return new Expert3(config, options);
    default:
      throw new RangeError(`createExpert: kind must be 1, 2 or 3, got ${String(kind)}`);
  }
}
