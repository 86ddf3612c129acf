// The routing-information term of the resshift formulation (SPEC 4 "Decided in turn 2"; issue 19):
// the negative mutual information between a token and the expert it is sent to,
//
//   L_route = mean_n H(p_n) - H(mean_n p_n)        H(p) = -sum_i p_i log p_i
//
// over every token n of the batch (spatial gating: each position of each sample; global gating: each
// sample). Minimising it makes each token's routing confident (first term) while the experts share the
// tokens evenly (second term): the gate must separate tokens by what they show, and cannot give every
// token the same weights. Not in the paper: its Eq. 4 usage penalty (gamma = 0.1 on an EMA) only
// nudges the global shares, and with it the trained default's gates collapsed onto one expert with a
// spatially constant map (E1 0.16, E2 0.72, E3 0.12 everywhere; docs/method.md).
// Range: [-log K, log K]; -log K when every token goes to one expert with certainty and the experts get
// equal shares.
// Token weights (optional, >= 0) make both means weighted: the trainer gives each token the fraction of
// its pixels inside the head (foregroundWeights), so the experts share the anatomy evenly rather than
// one expert taking the empty background (measured: unweighted, after 800 steps E1 held 0.6% of every
// brain token and the background).
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";

/**
 * Per-token probabilities [B, K] or [B, K, gh, gw] (sum 1 over K) -> the scalar L_route, with gradient.
 * `weights` [B] or [B, gh, gw]: each token's weight (default 1); all zero gives 0.
 */
export function routingBalanceLoss(probs: Tensor, weights?: Tensor, eps = 1e-8): Tensor {
  if (probs.ndim !== 2 && probs.ndim !== 4) {
    throw new RangeError(`routingBalanceLoss: probs must be [B, K] or [B, K, gh, gw], got [${probs.shape.join(", ")}]`);
  }
  const want = [probs.size(0), ...probs.shape.slice(2)];
  if (weights !== undefined && weights.shape.join(",") !== want.join(",")) {
    throw new RangeError(`routingBalanceLoss: weights must be [${want.join(", ")}] (one per token), got [${weights.shape.join(", ")}]`);
  }
  return T.tidy(() => {
    const k = probs.size(1);
    const tokens = probs.ndim === 4 ? probs.permute(0, 2, 3, 1).reshape(-1, k) : probs; // [N, K]
    const w = weights === undefined ? T.onesLike(tokens.select(1, 0)) : weights.detach().reshape(-1); // [N]
    const total = w.sum().clamp(eps, null);
    const entropy = (p: Tensor): Tensor => p.mul(p.clamp(eps, null).log()).sum(-1).neg();
    const perToken = entropy(tokens).mul(w).sum().div(total);
    const shares = entropy(tokens.mul(w.unsqueeze(1)).sum(0).div(total));
    return perToken.sub(shares);
  });
}

/**
 * Each token's share of foreground pixels: the condition slices y [B, S, H, W] (normalised intensities)
 * averaged over S, above `threshold`, average-pooled to the token grid [gh, gw] -> [B, gh, gw].
 */
export function foregroundWeights(y: Tensor, grid: readonly [number, number], threshold = 0.1): Tensor {
  return T.tidy(() => T.F.adaptiveAvgPool2d(y.detach().mean(1, true).gt(threshold).to(y.dtype), [grid[0], grid[1]]).squeeze(1));
}
