// The supervised gating loss with expert diversity (paper Eq. 14-16).
//
// c_i = cos(z0_hat(i), z0) per sample (latents flattened);
// T = 1.4826 * MAD(c_1..c_K)                                   (Eq. 14)
// G*_i = softmax_i(c_i / T)                                    (Eq. 15)
// L_gating = -1/K sum_i G*_i log G_i
//            + log(1 + 1/K sum_i max_{j != i} cos(z0_hat(i), z0_hat(j)))   (Eq. 16)
//
// Decisions where the paper is vague:
// - Everything is per sample (the cosines, the MAD over the K experts' cosines,
//   T, G*, both terms), then averaged over the batch.
// - The median of an even number of values is the mean of the two middle ones
//   (the statistical median, not PyTorch's lower median). MAD = median(|c - median(c)|).
// - T has a floor (default 1e-3, `temperatureFloor`): when the experts' cosines
//   agree (MAD = 0, e.g. identical experts at initialisation) T would be 0.
// - G* is a target: computed from detached cosines, no gradient flows through it.
//   The supervised term trains the gating network; the diversity term trains the
//   experts (gradient through z0_hat(i)).
// - The 1/K of the supervised term is kept as written (a cross-entropy divided by K).
// - G enters the log clamped at `gateEps` (default 1e-8). With spatial gating the
//   per-sample G is the spatial mean of the maps, as in Eq. 13.
// - Each expert's most-similar-pair cosine is floored at `diversityFloor` (default 0)
//   before the mean: as written, log(1 + x) rewards anti-correlated experts without
//   bound (-> -infinity as x -> -1), and in training that reward, multiplied by the
//   Eq. 17 weight, came to dominate the objective (the total went negative). With the
//   floor, only similarity is penalised, which is the term's stated purpose.
//   `diversityFloor: -1` is Eq. 16 as written; the log's argument is then clamped at
//   `gateEps`.
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import { checkSameShape, fmt } from "./common.js";
import { perSampleGates } from "./expert_loss.js";

/** Scale making the MAD a consistent estimator of a normal standard deviation (Eq. 14). */
export const MAD_SCALE = 1.4826; // Eq. 14

export interface GatingLossInput {
  /** The experts' clean-latent estimates, K of [B, C, h, w]. */
  z0Hats: readonly Tensor[];
  /** The ground-truth latent [B, C, h, w]. */
  z0: Tensor;
  /** Gating probabilities G: [B, K], or spatial maps [B, K, h, w]. */
  gates: Tensor;
}

export interface GatingLossOptions {
  /** Smallest temperature T (default 1e-3). */
  temperatureFloor?: number;
  /** Include the expert-diversity term (default true). */
  diversity?: boolean;
  /** Floor of each max-pair cosine in the diversity term (default 0; -1 = as written). */
  diversityFloor?: number;
  /** Clamp for G inside the log (default 1e-8). */
  gateEps?: number;
  /** Smallest norm when normalising latents for cosines (default 1e-8). */
  cosineEps?: number;
}

export interface GatingLossResult {
  /** L_gating (Eq. 16), a scalar. */
  loss: Tensor;
  /** The supervised term, a scalar. */
  supervised: Tensor;
  /** The diversity term, a scalar (0 when disabled). */
  diversity: Tensor;
  /** cos(z0_hat(i), z0): [B, K], detached. */
  cosines: Tensor;
  /** T per sample (Eq. 14): [B], detached. */
  temperature: Tensor;
  /** G* (Eq. 15): [B, K], detached. */
  targets: Tensor;
  /** max_{j != i} cos(z0_hat(i), z0_hat(j)): [B, K], detached (zeros when diversity is off). */
  maxPairCosines: Tensor;
}

/** Median along the last dimension; the mean of the two middle values for an even count. */
export function medianLastDim(x: Tensor): Tensor {
  const n = x.size(-1);
  return T.tidy(() => {
    const sorted = T.sort(x, -1).values;
    if (n % 2 === 1) return sorted.select(-1, (n - 1) / 2);
    return sorted.select(-1, n / 2 - 1).add(sorted.select(-1, n / 2)).div(2);
  });
}

/** T = max(1.4826 * MAD(c), floor) per row of c [B, K] (Eq. 14) -> [B]. */
export function madTemperature(cosines: Tensor, floor = 1e-3): Tensor {
  if (cosines.ndim !== 2) throw new RangeError(`madTemperature: cosines must be [B, K], got ${fmt(cosines.shape)}`);
  if (!(floor > 0)) throw new RangeError(`madTemperature: floor must be > 0, got ${floor}`);
  return T.tidy(() => {
    const c = cosines.detach();
    const med = medianLastDim(c).unsqueeze(1);
    const mad = medianLastDim(c.sub(med).abs());
    return mad.mul(MAD_SCALE).clamp(floor, null); // Eq. 14
  });
}

/** Unit vectors of the flattened latents: K of [B, ...] -> [B, K, N]. */
function unitRows(zs: readonly Tensor[], eps: number): Tensor {
  const flat = T.stack(zs.map((z) => z.flatten(1)), 1);
  return flat.div(flat.norm(2, -1, true).clamp(eps, null));
}

/** Eq. 16's second term from unit rows [B, K, N]: log(1 + mean_i max_{j != i} cos), each max floored. */
function diversityOfUnitRows(u: Tensor, floor: number, eps: number): { diversity: Tensor; maxPair: Tensor } {
  const k = u.size(1);
  const pair = T.matmul(u, u.transpose(1, 2)); // [B, K, K]
  const diag = T.eye(k, k, { dtype: "bool", device: pair.device });
  const maxPair = pair.maskedFill(diag, -Infinity).amax(2); // [B, K]
  const diversity = maxPair.clamp(floor, null).mean(1).add(1).clamp(eps, null).log().mean(); // Eq. 16, second term
  return { diversity, maxPair };
}

/**
 * Eq. 16's diversity term alone, for K >= 2 estimates [B, ...] (gradient flows into them): the mean
 * over the batch of log(1 + 1/K sum_i max_{j != i} cos(z0_hat(i), z0_hat(j))), each max floored at
 * `floor` (see the header). Returns the term and the max-pair cosines [B, K] (detached).
 */
export function diversityTerm(z0Hats: readonly Tensor[], o: { floor?: number; eps?: number } = {}): { loss: Tensor; maxPairCosines: Tensor } {
  if (z0Hats.length < 2) throw new RangeError(`diversityTerm: needs at least 2 estimates, got ${z0Hats.length}`);
  return T.tidy(() => {
    const { diversity, maxPair } = diversityOfUnitRows(unitRows(z0Hats, o.eps ?? 1e-8), o.floor ?? 0, 1e-8);
    return { loss: diversity, maxPairCosines: maxPair.detach() };
  });
}

/** Eq. 14-16. */
export function gatingLoss(input: GatingLossInput, o: GatingLossOptions = {}): GatingLossResult {
  const { z0Hats, z0, gates } = input;
  const k = z0Hats.length;
  if (k === 0) throw new RangeError("gatingLoss: z0Hats is empty; give one estimate per expert");
  if (z0.ndim < 2) throw new RangeError(`gatingLoss: z0 must be [B, C, h, w], got ${fmt(z0.shape)}`);
  z0Hats.forEach((z, i) => checkSameShape("gatingLoss", z, z0, `z0Hats[${i}]`, "z0"));
  const useDiversity = o.diversity ?? true;
  const diversityFloor = o.diversityFloor ?? 0;
  if (!(diversityFloor >= -1 && diversityFloor <= 1)) throw new RangeError(`gatingLoss: diversityFloor must be in [-1, 1], got ${diversityFloor}`);
  if (useDiversity && k < 2) throw new RangeError(`gatingLoss: the diversity term needs at least 2 experts, got ${k}; pass diversity: false`);
  const floor = o.temperatureFloor ?? 1e-3;
  const gateEps = o.gateEps ?? 1e-8;
  const cosEps = o.cosineEps ?? 1e-8;
  const batch = z0.size(0);
  return T.tidy(() => {
    const g = perSampleGates(gates, batch, k, "gatingLoss");
    const u = unitRows(z0Hats, cosEps); // [B, K, N]
    const v = unitRows([z0.detach()], cosEps); // [B, 1, N]
    const cos = T.matmul(u.detach(), v.transpose(1, 2)).squeeze(2); // [B, K]
    const temperature = madTemperature(cos, floor); // Eq. 14
    const targets = cos.div(temperature.unsqueeze(1)).softmax(1); // Eq. 15
    const supervised = targets.mul(g.clamp(gateEps, null).log()).sum(1).div(-k).mean(); // Eq. 16, first term
    let diversity: Tensor;
    let maxPair: Tensor;
    if (useDiversity) {
      ({ diversity, maxPair } = diversityOfUnitRows(u, diversityFloor, gateEps));
    } else {
      diversity = T.zeros([], { dtype: supervised.dtype, device: supervised.device });
      maxPair = T.zerosLike(cos);
    }
    return {
      loss: supervised.add(diversity),
      supervised,
      diversity,
      cosines: cos,
      temperature,
      targets: targets.detach(),
      maxPairCosines: maxPair.detach(),
    };
  });
}
