// Shared test inputs for the expert tests: a tiny config and random ExpertInputs.
import * as T from "../../../src/torch/index.js";
import { resolveExpertConfig, type ExpertConfig, type ExpertInput } from "../../../src/models/experts/index.js";

/** A tiny expert: base width 8, d = 16, two heads. */
export const TINY: ExpertConfig = resolveExpertConfig({ latentChannels: 4, condChannels: 4, baseChannels: 8, tokenDim: 16, timeEmbedDim: 16, numHeads: 2 });

/** Random inputs for `config`; t in [0, 1000). The caller disposes them (disposeInput). */
export function randomInput(config: ExpertConfig, batch: number, h: number, w: number, numTokens = 3, dtype: T.DType = "float32"): ExpertInput {
  return {
    zt: T.randn([batch, config.latentChannels, h, w], { dtype }),
    t: T.randint(0, 1000, [batch]),
    cond: T.randn([batch, config.condChannels, h, w], { dtype }),
    tokens: T.randn([batch, numTokens, config.tokenDim], { dtype }),
    gate: T.rand([batch, 1, h, w], { dtype }),
  };
}

export function disposeInput(input: ExpertInput): void {
  for (const t of [input.zt, input.t, input.cond, input.tokens, input.gate]) t.dispose();
}
