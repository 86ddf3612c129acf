// What asynchronous sampling (Table III "asyn") does the same way in both formulations
// (moe_sampler.ts, shift_sampler.ts): every expert that runs for some sample takes its own chain, the
// others contribute zeros, and the chains' final latents are aggregated by Eq. 9 with the gating
// weights renormalised over the experts that ran.
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import type { MoEDiffSR } from "../models/moediff/moediff.js";
import { aggregateZ0 } from "../diffusion/aggregate.js";
import type { MoEConditioning, MoESampleResult } from "./moe_types.js";

/**
 * `chainOf(i)` runs expert i's chain and returns its final latent on the diffusion target (the caller
 * owns nothing of it afterwards); it is called only for experts with runs[i]. `mask` [B, K] marks the
 * (sample, expert) pairs that ran.
 */
export function runAsyncChains(
  model: MoEDiffSR,
  c: MoEConditioning,
  shape: number[],
  mask: Tensor,
  runs: readonly boolean[],
  evaluations: number[],
  keepExperts: boolean,
  chainOf: (i: number) => Tensor,
): MoESampleResult {
  const finals: Tensor[] = [];
  try {
    model.experts.forEach((_, i) => {
      if (!runs[i]) {
        finals.push(T.zeros(shape, { dtype: c.condLatent.dtype, device: c.condLatent.device }));
        return;
      }
      const x = chainOf(i);
      finals.push(T.tidy(() => model.fromTarget(x, c.condLatent)));
      x.dispose();
    });
    const weights = T.tidy(() => {
      const m = c.gates.ndim === 4 ? mask.unsqueeze(-1).unsqueeze(-1) : mask;
      const w = c.gates.mul(m);
      return w.div(w.sum(1, true).clamp(1e-12, Infinity));
    });
    const z0 = aggregateZ0(finals, weights); // Eq. 9 over the experts that ran
    if (keepExperts) return { z0, experts: finals, weights, evaluations };
    finals.forEach((f) => f.dispose());
    return { z0, weights, evaluations };
  } catch (e) {
    finals.forEach((f) => f.dispose());
    throw e;
  }
}
