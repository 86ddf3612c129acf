// The joint training objective (paper Eq. 18): L_total = L_E + w * L_gating,
// with L_E from Eq. 13 (expert_loss.ts), L_gating from Eq. 16 (gating_loss.ts)
// and w from Eq. 17 (uncertainty_weight.ts).
//
// On a training step the gating loss value is folded into the uncertainty EMA
// first, and the updated w is used; outside training w is read unchanged.
// `gating: null` (e.g. the uniform-gating warm-up, when no gating loss is
// computed) gives L_total = L_E and leaves the EMA alone. A plain number in
// place of the UncertaintyWeight fixes w (ablations). Every term is also
// returned as a number for logging (reading them costs one device sync each).
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import type { ExpertLossResult } from "./expert_loss.js";
import type { GatingLossResult } from "./gating_loss.js";
import { UncertaintyWeight } from "./uncertainty_weight.js";

export interface TotalLossInput {
  expert: ExpertLossResult;
  gating: GatingLossResult | null;
  /** The EMA weighting of Eq. 17, or a fixed w. */
  weighting: UncertaintyWeight | number;
  /** Update the EMA (training steps only). */
  training: boolean;
}

export interface TotalLossTerms {
  total: number;
  /** L_E (Eq. 13). */
  expert: number;
  /** L_gating (Eq. 16); 0 without a gating loss. */
  gating: number;
  gatingSupervised: number;
  gatingDiversity: number;
  /** w (Eq. 17) used in this step. */
  w: number;
  /** The EMA variance behind w (NaN for a fixed w). */
  gatingVariance: number;
  /** Batch mean of the MAD temperature T (Eq. 14); NaN without a gating loss. */
  temperature: number;
  /** Batch means per expert of L_Ei, L_diffusion(i), L_task(i), and the mean gating weights. */
  perExpert: number[];
  diffusion: number[];
  task: number[];
  gateMean: number[];
}

export interface TotalLossResult {
  /** L_total (Eq. 18), a scalar to call backward() on. */
  total: Tensor;
  terms: TotalLossTerms;
}

/** Eq. 18. */
export function totalLoss(input: TotalLossInput): TotalLossResult {
  const { expert, gating, weighting, training } = input;
  if (typeof weighting === "number" && !(Number.isFinite(weighting) && weighting >= 0)) {
    throw new RangeError(`totalLoss: a fixed weight w must be a finite number >= 0, got ${weighting}`);
  }
  return T.tidy(() => {
    const lE = expert.loss.item();
    let w: number;
    let total: Tensor;
    const terms: TotalLossTerms = {
      total: 0,
      expert: lE,
      gating: 0,
      gatingSupervised: 0,
      gatingDiversity: 0,
      w: 0,
      gatingVariance: Number.NaN,
      temperature: Number.NaN,
      perExpert: expert.perExpert.toArray(),
      diffusion: expert.diffusion.toArray(),
      task: expert.task.toArray(),
      gateMean: expert.weights.mean(0).toArray(),
    };
    if (gating === null) {
      w = typeof weighting === "number" ? weighting : weighting.weight;
      total = expert.loss.clone();
    } else {
      const lG = gating.loss.item();
      if (typeof weighting === "number") w = weighting;
      else w = training ? weighting.update(lG) : weighting.weight;
      total = expert.loss.add(gating.loss.mul(w)); // Eq. 18
      terms.gating = lG;
      terms.gatingSupervised = gating.supervised.item();
      terms.gatingDiversity = gating.diversity.item();
      terms.temperature = gating.temperature.mean().item();
    }
    terms.w = w;
    if (weighting instanceof UncertaintyWeight) terms.gatingVariance = weighting.variance;
    terms.total = total.item();
    return { total, terms };
  });
}
