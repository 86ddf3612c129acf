// The gating network G of the paper (section II-B, Eq. 2-4): from the condition
// tokens z_c [B, N, d] to routing probabilities over the K experts.
//
//   z~ = MLP(z_c)                          shared Linear-GELU-Linear, per token
//   cos[i, n] = cos(q_i, z~_n)             one learnable query q_i per expert
//   Att_n(i) = softmax_n(cos[i, n])        Eq. 2 (over tokens, no temperature)
//   Score_i = sum_n Att_n(i) cos[i, n]     Eq. 3
//   G_i = softmax(Score)_i * softmax(-gamma c)_i, renormalised     Eq. 4
//
// Design decisions where the paper is vague:
// - The MLP is a plain projection (z~ = MLP(z_c), no residual), as the paper
//   "projects each token through a shared lightweight MLP".
// - Eq. 2 has no temperature, and none is used: cosines lie in [-1, 1], so
//   Att is close to uniform over tokens and Score_i is an attention-weighted
//   mean cosine in [-1, 1]. The score factor of Eq. 4 then separates two
//   experts by at most e^2 (about 7.4); an optional `temperature` tau (default 1, the
//   paper) divides the logits of the expert softmax of Eq. 4 (Score / tau, or
//   the token's cosine / tau in spatial mode) for users who want sharper routing.
// - Eq. 4 as written is a product of two softmaxes, which does not sum to 1;
//   we renormalise over experts. (This equals softmax(Score - gamma c).)
// - c is the exponential moving average (decay 0.99) of the soft usage: the
//   batch mean of the returned weights (spatial: also over positions),
//   initialised to 1/K, kept in the persistent buffer "usage". It is updated
//   under no-grad inside forward() when the module is in training mode (after
//   the weights are computed, so `usage` in the output is the c they used),
//   unless forward is told `updateUsage: false`; updateUsage() does the same
//   update by hand and does nothing in eval mode. With `uniform: true`
//   (warm-up) the uniform weights are what the experts used and are what
//   enters the EMA.
// - Queries are drawn from N(0, 1/d) so that |q_i| is about 1.
// - Spatial mode (our extension, the token-level reading of the abstract):
//   each token n of the finest grid (the grid with most tokens: 16x16 at
//   256x256) routes on its own: p_n(i) = normalise_i(softmax_i(cos[i, n] / tau)
//   * softmax(-gamma c)_i), i.e. Eq. 4 with Score_i replaced by the token's own
//   cosine (a token attending only to itself). Maps are [B, K, gh, gw];
//   `weights` is their spatial mean. upsampleGateMaps() takes them to the
//   latent grid.
import * as T from "../torch/index.js";

type Tensor = T.Tensor;
const shapeText = (x: Tensor): string => `[${x.shape.join(", ")}]`;

export type GatingMode = "global" | "spatial";

/** The paper's values: K = 3 experts, gamma = 0.1 and EMA decay 0.99 (text after Eq. 4). */
export const PAPER_GATING: Readonly<Pick<GatingConfig, "numExperts" | "gamma" | "usageDecay">> = Object.freeze({
  numExperts: 3,
  gamma: 0.1, // Eq. 4
  usageDecay: 0.99, // Eq. 4 (EMA of c_i)
});

export interface GatingConfig {
  dim: number;
  numExperts: number;
  /** Strength of the frequency-aware softmax (paper: 0.1). */
  gamma: number;
  /** EMA decay of the usage c (paper: 0.99). */
  usageDecay: number;
  mode: GatingMode;
  /** Hidden width of the shared MLP. */
  hidden: number;
  /** Divides the logits of the expert softmax of Eq. 4 (default 1, as the paper). */
  temperature?: number;
}

export interface GatingOutput {
  /** Routing probabilities G [B, K] (spatial: mean of the maps), >= 0, sum 1. */
  weights: Tensor;
  /** Score_i of Eq. 3 [B, K], over all tokens. */
  scores: Tensor;
  /** cos(q_i, z~_n) [B, K, N]. */
  cos: Tensor;
  /** Spatial mode: per-position probabilities [B, K, gh, gw] of the finest grid. */
  maps?: Tensor;
  /** The usage c [K] that entered Eq. 4 for these weights (a copy). */
  usage: Tensor;
}

export interface GatingForwardOptions {
  grids: [number, number][];
  /** Return fixed uniform weights (warm-up); scores are still computed. */
  uniform?: boolean;
  /** Update the usage EMA when training (default true). */
  updateUsage?: boolean;
}

/** Keys: mlp.0.*, mlp.2.* (Linear-GELU-Linear), queries [K, d], usage [K]. */
export class GatingNetwork extends T.nn.Module {
  readonly config: Readonly<GatingConfig>;
  readonly mlp: T.nn.Sequential;
  readonly queries: T.nn.Parameter;
  readonly usage: Tensor;
  readonly eps = 1e-8;

  constructor(c: GatingConfig, o: T.nn.LayerOptions = {}) {
    super();
    const bad = (what: string): never => {
      throw new RangeError(`GatingNetwork: ${what}`);
    };
    if (!Number.isInteger(c.dim) || c.dim < 1) bad(`dim must be a positive integer, got ${c.dim}`);
    if (!Number.isInteger(c.numExperts) || c.numExperts < 1) bad(`numExperts must be a positive integer, got ${c.numExperts}`);
    if (!Number.isInteger(c.hidden) || c.hidden < 1) bad(`hidden must be a positive integer, got ${c.hidden}`);
    if (!(c.gamma >= 0)) bad(`gamma must be >= 0, got ${c.gamma}`);
    if (!(c.usageDecay >= 0 && c.usageDecay < 1)) bad(`usageDecay must be in [0, 1), got ${c.usageDecay}`);
    if (c.mode !== "global" && c.mode !== "spatial") bad(`mode must be 'global' or 'spatial', got '${String(c.mode)}'`);
    const tau = c.temperature ?? 1;
    if (!(tau > 0)) bad(`temperature must be positive, got ${tau}`);
    this.config = Object.freeze({ ...c, temperature: tau });
    this.mlp = this.registerModule(
      "mlp",
      new T.nn.Sequential(new T.nn.Linear(c.dim, c.hidden, o), new T.nn.GELU(), new T.nn.Linear(c.hidden, c.dim, o)),
    );
    this.queries = this.registerParameter("queries", T.nn.emptyParameter([c.numExperts, c.dim], o));
    T.nn.init.normal_(this.queries, 0, 1 / Math.sqrt(c.dim), { generator: o.generator });
    this.usage = this.registerBuffer("usage", T.full([c.numExperts], 1 / c.numExperts, { dtype: o.dtype, device: o.device }));
  }

  get numExperts(): number {
    return this.config.numExperts;
  }

  /** Index of the finest grid (most tokens; the last on ties) and its token offset. */
  static finestGrid(grids: readonly (readonly [number, number])[]): { index: number; offset: number } {
    let index = 0;
    grids.forEach(([gh, gw], s) => {
      const [bh, bw] = grids[index] as readonly [number, number];
      if (gh * gw >= bh * bw) index = s;
    });
    let offset = 0;
    for (let s = 0; s < index; s++) offset += (grids[s] as readonly [number, number])[0] * (grids[s] as readonly [number, number])[1];
    return { index, offset };
  }

  /** z_c [B, N, d] (N = sum of gh*gw over grids) -> routing probabilities. */
  forward(zc: Tensor, o: GatingForwardOptions): GatingOutput {
    const { dim, numExperts: k, gamma, mode } = this.config;
    const tau = this.config.temperature ?? 1;
    const grids = o.grids;
    if (!Array.isArray(grids) || grids.length === 0) throw new RangeError("GatingNetwork.forward: grids must be a non-empty list of [gh, gw]");
    const n = grids.reduce((a, [gh, gw]) => a + gh * gw, 0);
    if (zc.ndim !== 3 || zc.shape[1] !== n || zc.shape[2] !== dim) {
      throw new RangeError(
        `GatingNetwork.forward: zc must be [B, ${n}, ${dim}] for grids ${JSON.stringify(grids)}, got ${shapeText(zc)}`,
      );
    }
    const b = zc.size(0);
    const out = T.tidy(() => {
      const zt = this.mlp.forward(zc); // z~ [B, N, d]
      const zn = zt.div(zt.norm(2, -1, true).clamp(this.eps));
      const qn = this.queries.div(this.queries.norm(2, -1, true).clamp(this.eps));
      const cos = qn.matmul(zn.transpose(1, 2)); // [B, K, N]
      const att = cos.softmax(-1); // Eq. 2
      const scores = att.mul(cos).sum(-1); // Eq. 3 [B, K]
      const usage = this.usage.clone();
      const freq = usage.mul(-gamma).softmax(0); // softmax(-gamma c) [K]
      const res: GatingOutput = { weights: scores, scores, cos, usage };
      if (mode === "global") {
        const p = scores.div(tau).softmax(-1).mul(freq); // Eq. 4, then renormalised
        res.weights = o.uniform ? zc.newFull([b, k], 1 / k) : p.div(p.sum(-1, true));
      } else {
        const { index, offset } = GatingNetwork.finestGrid(grids);
        const [gh, gw] = grids[index] as [number, number];
        const tokenCos = cos.narrow(2, offset, gh * gw); // [B, K, gh*gw]
        const p = tokenCos.div(tau).softmax(1).mul(freq.view(1, k, 1));
        const maps = o.uniform ? zc.newFull([b, k, gh, gw], 1 / k) : p.div(p.sum(1, true)).view(b, k, gh, gw);
        res.maps = maps;
        res.weights = maps.mean([2, 3]);
      }
      return res;
    });
    if (this.training && o.updateUsage !== false) this.updateUsage(out.maps ?? out.weights);
    return out;
  }

  /**
   * c <- decay * c + (1 - decay) * mean usage of `weights` ([B, K] or
   * [B, K, h, w]: mean over all but K), under no-grad. Does nothing in eval mode.
   */
  updateUsage(weights: Tensor): void {
    const k = this.config.numExperts;
    if (weights.ndim < 2 || weights.shape[1] !== k) {
      throw new RangeError(`GatingNetwork.updateUsage: weights must be [B, ${k}] or [B, ${k}, h, w], got ${shapeText(weights)}`);
    }
    if (!this.training) return;
    const decay = this.config.usageDecay;
    T.tidy(() =>
      T.noGrad(() => {
        const dims = Array.from({ length: weights.ndim }, (_, i) => i).filter((i) => i !== 1);
        const u = weights.detach().mean(dims).to(this.usage.dtype);
        this.usage.mul_(decay).add_(u, 1 - decay);
      }),
    );
  }

  override extraRepr(): string {
    const c = this.config;
    return `dim=${c.dim}, experts=${c.numExperts}, mode=${c.mode}, gamma=${c.gamma}, usageDecay=${c.usageDecay}`;
  }
}

/**
 * Bilinear upsampling (align_corners false) of gate maps [B, K, gh, gw] to
 * [B, K, h, w]. Each output is a convex combination of inputs with the same
 * weights for every expert, so non-negativity and the sum to one over K are
 * kept; a final division by the sum removes rounding drift.
 */
export function upsampleGateMaps(maps: Tensor, size: readonly [number, number]): Tensor {
  if (maps.ndim !== 4) throw new RangeError(`upsampleGateMaps: maps must be [B, K, gh, gw], got ${shapeText(maps)}`);
  const [h, w] = size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) {
    throw new RangeError(`upsampleGateMaps: size must be two positive integers, got [${size.join(", ")}]`);
  }
  return T.tidy(() => {
    const up = T.F.interpolate(maps, { size: [h, w], mode: "bilinear", alignCorners: false });
    return up.div(up.sum(1, true));
  });
}
