// The supervised gating loss per token (Eq. 14-16 read at the token level, SPEC 4 "Decided in
// turn 2"): each token of the gating grid gets its own target G* from the experts' estimates over
// the latent pixels it covers, and its own cross-entropy.
//
// For token n (a gh x gw grid over the latent [h, w]; a token covers the pixels that adaptive average
// pooling to [gh, gw] averages):
//   c_i(n) = <x0_hat(i), x0>_n / (|x0_hat(i)|_n |x0|_n)       cosine over the token's pixels and channels
//   T(n)   = max(1.4826 MAD_i(c_i(n)), floor)                  (Eq. 14)
//   G*_i(n) = softmax_i(c_i(n) / T(n))                         (Eq. 15)
//   L_sup  = mean_n -1/K sum_i G*_i(n) log p_i(n)              (Eq. 16, first term, per token)
// with p the gating network's own per-token probabilities [B, K, gh, gw]. The estimates must come from
// ONE noise level and ONE noise draw (the caller's duty): comparing estimates made at different noise
// levels only rewards the expert that drew the cleanest input.
// The diversity term of Eq. 16 stays per sample (gating_loss.ts's diversityTerm).
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import { checkSameShape, fmt } from "./common.js";
import { diversityTerm, MAD_SCALE, medianLastDim } from "./gating_loss.js";
import type { GatingLossResult } from "./gating_loss.js";

export interface TokenGatingLossInput {
  /** The experts' clean estimates, K of [B, C, h, w], all at one noise level. */
  x0Hats: readonly Tensor[];
  /** The true clean target [B, C, h, w]. */
  x0: Tensor;
  /** The gating network's own per-token probabilities [B, K, gh, gw]. */
  probs: Tensor;
}

export interface TokenGatingLossOptions {
  temperatureFloor?: number;
  diversity?: boolean;
  diversityFloor?: number;
  gateEps?: number;
}

/** Per-token cosines [B, K, gh, gw] of each estimate with x0 over the pixels of each token. */
export function tokenCosines(x0Hats: readonly Tensor[], x0: Tensor, grid: readonly [number, number], eps = 1e-8): Tensor {
  return T.tidy(() => {
    const pool = (x: Tensor): Tensor => T.F.adaptiveAvgPool2d(x, [grid[0], grid[1]]);
    const ref = x0.detach();
    const nRef = pool(ref.square().sum(1, true)); // [B, 1, gh, gw]
    const cos = x0Hats.map((xh) => {
      const e = xh.detach();
      const dot = pool(e.mul(ref).sum(1, true));
      const nE = pool(e.square().sum(1, true));
      return dot.div(nE.mul(nRef).sqrt().clamp(eps, null));
    });
    return T.cat(cos, 1);
  });
}

/** Eq. 14-16 per token. Returns the GatingLossResult fields with per-token means where they were per sample. */
export function tokenGatingLoss(input: TokenGatingLossInput, o: TokenGatingLossOptions = {}): GatingLossResult {
  const { x0Hats, x0, probs } = input;
  const k = x0Hats.length;
  if (k < 1) throw new RangeError("tokenGatingLoss: x0Hats is empty; give one estimate per expert");
  x0Hats.forEach((z, i) => checkSameShape("tokenGatingLoss", z, x0, `x0Hats[${i}]`, "x0"));
  if (probs.ndim !== 4 || probs.size(0) !== x0.size(0) || probs.size(1) !== k) {
    throw new RangeError(`tokenGatingLoss: probs must be [B, K, gh, gw] = [${x0.size(0)}, ${k}, gh, gw], got ${fmt(probs.shape)}`);
  }
  const floor = o.temperatureFloor ?? 1e-3;
  const gateEps = o.gateEps ?? 1e-8;
  const useDiversity = (o.diversity ?? true) && k >= 2;
  const grid: [number, number] = [probs.size(2), probs.size(3)];
  return T.tidy(() => {
    const cos = tokenCosines(x0Hats, x0, grid); // [B, K, gh, gw]
    const c = cos.permute(0, 2, 3, 1); // [B, gh, gw, K]
    const med = medianLastDim(c).unsqueeze(-1);
    const temperature = medianLastDim(c.sub(med).abs()).mul(MAD_SCALE).clamp(floor, null); // Eq. 14, [B, gh, gw]
    const targets = cos.div(temperature.unsqueeze(1)).softmax(1); // Eq. 15, [B, K, gh, gw]
    const supervised = targets.mul(probs.clamp(gateEps, null).log()).sum(1).div(-k).mean(); // Eq. 16, first term
    const div = useDiversity ? diversityTerm(x0Hats, { floor: o.diversityFloor ?? 0 }) : null;
    const diversity = div?.loss ?? T.zeros([], { dtype: supervised.dtype, device: supervised.device });
    return {
      loss: supervised.add(diversity),
      supervised,
      diversity,
      cosines: cos.mean([2, 3]),
      temperature: temperature.mean([1, 2]),
      targets: targets.detach().mean([2, 3]),
      maxPairCosines: div?.maxPairCosines ?? T.zeros([x0.size(0), k], { dtype: cos.dtype, device: cos.device }),
    };
  });
}
