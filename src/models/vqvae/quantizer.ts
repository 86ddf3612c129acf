// VectorQuantizerEMA: the codebook of the VQ-VAE (van den Oord et al. 2017,
// appendix A.1), with EMA codebook updates and dead-code restarts.
//
// z [B, D, h, w] -> each of the N = B*h*w vectors z_n is replaced by its
// nearest code e_k (L2); the decoder input is the straight-through
// zq = z + sg(e_k - z) (forward value e_k, gradient passed to z unchanged).
// The loss returned is the commitment loss beta * mean((z - sg(e))^2); the
// codebook itself gets no gradient, it follows EMA statistics (training only,
// under no-grad):
//   N_k <- decay N_k + (1 - decay) n_k                (cluster_size)
//   m_k <- decay m_k + (1 - decay) sum_{n: k(n)=k} z_n  (embed_avg)
//   N~_k = (N_k + eps) / (sum N + K eps) * sum N      (Laplace smoothing)
//   e_k = m_k / N~_k
// Perplexity exp(-sum p_k log p_k) of the batch's code usage p_k = n_k / N.
//
// Design decisions (not in the paper):
// - Codebook init: uniform(-1/K, 1/K) at construction (van den Oord), then, on
//   the first training forward, replaced by K encoder outputs of that batch
//   drawn at random (without replacement when N >= K). The buffer
//   `initialized` records this, so a loaded checkpoint is not re-initialised.
//   cluster_size starts at 1 and embed_avg at the codebook, so e_k = m_k / N_k
//   holds from the start and an unused code keeps its value while its count decays.
// - Dead codes: after each EMA update, every code with cluster_size below
//   deadCodeThreshold is re-initialised to a randomly drawn encoder output of
//   the current batch, with cluster_size 1 and embed_avg = that output. Draws
//   use `generator` (else the default generator), so restarts are
//   deterministic given the seed. With a threshold >= 1 an unused restarted
//   code is re-drawn on every step until it is used (as Jukebox).
import * as T from "../../torch/index.js";
import { nn, type Tensor } from "../../torch/index.js";

const bincountOp = new T.Op("aten::bincount");
const indexAddOp = new T.Op("aten::index_add");

const shapeText = (x: Tensor): string => `[${x.shape.join(", ")}]`;


/** Distances computed at once by nearest(): 256K floats (1 MB, cache-sized; 1<<16 to 1<<22 measured, this was fastest). */
const NEAREST_BLOCK_ELEMENTS = 1 << 18;
export interface VectorQuantizerOptions extends nn.LayerOptions {
  /** EMA decay (default 0.99). */
  decay?: number;
  /** beta of the commitment loss (default 0.25). */
  commitmentBeta?: number;
  /** Laplace smoothing of the cluster sizes (default 1e-5). */
  eps?: number;
  /** Restart codes whose EMA cluster size falls below this (default 0: never). */
  deadCodeThreshold?: number;
  /** Initialise the codebook from the first training batch (default true). */
  dataInit?: boolean;
}

export interface QuantizeResult {
  /** Straight-through quantised latent [B, D, h, w]: values of the codes, gradient to z. */
  zq: Tensor;
  /** Index of the nearest code per position [B, h, w] (int64). */
  indices: Tensor;
  /** beta * mean((z - sg(e))^2), a 0-d tensor. */
  commitmentLoss: Tensor;
  /** exp of the entropy of this batch's code usage, a 0-d tensor (no gradient). */
  perplexity: Tensor;
}

export class VectorQuantizerEMA extends nn.Module {
  readonly decay: number;
  readonly commitmentBeta: number;
  readonly eps: number;
  readonly deadCodeThreshold: number;
  readonly dataInit: boolean;
  /** The codebook [K, D] (a buffer: updated by EMA, not by the optimiser). */
  readonly embedding: Tensor;
  /** EMA of the per-batch number of vectors assigned to each code [K]. */
  readonly clusterSize: Tensor;
  /** EMA of the per-batch sum of vectors assigned to each code [K, D]. */
  readonly embedAvg: Tensor;
  /** 0-d bool: the codebook has been initialised from data (or loaded). */
  readonly initialized: Tensor;
  /** Random source of the data init and the restarts (undefined: the default generator). */
  generator: T.Generator | undefined;
  /** Codes restarted since construction, and in the last training forward. */
  numRestarts = 0;
  lastRestarts = 0;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: VectorQuantizerOptions = {},
  ) {
    super();
    if (!Number.isInteger(numEmbeddings) || numEmbeddings < 2) {
      throw new RangeError(`VectorQuantizerEMA: numEmbeddings must be an integer >= 2, got ${numEmbeddings}`);
    }
    if (!Number.isInteger(embeddingDim) || embeddingDim < 1) {
      throw new RangeError(`VectorQuantizerEMA: embeddingDim must be a positive integer, got ${embeddingDim}`);
    }
    this.decay = options.decay ?? 0.99;
    this.commitmentBeta = options.commitmentBeta ?? 0.25;
    this.eps = options.eps ?? 1e-5;
    this.deadCodeThreshold = options.deadCodeThreshold ?? 0;
    this.dataInit = options.dataInit ?? true;
    if (!(this.decay > 0 && this.decay < 1)) throw new RangeError(`VectorQuantizerEMA: decay must be in (0, 1), got ${this.decay}`);
    if (!(this.commitmentBeta >= 0)) throw new RangeError(`VectorQuantizerEMA: commitmentBeta must be >= 0, got ${this.commitmentBeta}`);
    if (!(this.eps > 0)) throw new RangeError(`VectorQuantizerEMA: eps must be > 0, got ${this.eps}`);
    if (!(this.deadCodeThreshold >= 0)) {
      throw new RangeError(`VectorQuantizerEMA: deadCodeThreshold must be >= 0, got ${this.deadCodeThreshold}`);
    }
    this.generator = options.generator;
    const o = { dtype: options.dtype, device: options.device };
    const bound = 1 / numEmbeddings;
    this.embedding = this.registerBuffer(
      "embedding",
      T.uniform(-bound, bound, [numEmbeddings, embeddingDim], { ...o, generator: options.generator }),
    );
    this.clusterSize = this.registerBuffer("cluster_size", T.ones([numEmbeddings], o));
    this.embedAvg = this.registerBuffer("embed_avg", this.embedding.clone());
    this.initialized = this.registerBuffer("initialized", T.full([], !this.dataInit, { device: options.device }));
  }

  /** Indices [N] of the nearest code (L2) to each row of flat [N, D]. No gradient. */
  nearest(flat: Tensor): Tensor {
    if (flat.ndim !== 2 || flat.shape[1] !== this.embeddingDim) {
      throw new RangeError(`VectorQuantizerEMA.nearest: flat must be [N, ${this.embeddingDim}], got ${shapeText(flat)}`);
    }
    return T.noGrad(() =>
      T.tidy(() => {
        const e = this.embedding;
        // argmin over codes of ||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2; ||z||^2 is the same for every code
        // of a row, so it is left out: ||e||^2 - 2 z.e, one matrix product and one addition per block.
        const eSq = e.square().sum(1).unsqueeze(0);
        const eT2 = e.T.mul(-2);
        // In blocks of rows: the [rows, codes] distance matrix of a whole batch of tiles is hundreds of MB
        // (4 tiles of 128 x 96 latents x 1024 codes: 200 MB) and each pass over it went to memory.
        const n = flat.shape[0] as number;
        const rows = Math.max(1, Math.floor(NEAREST_BLOCK_ELEMENTS / this.numEmbeddings));
        const parts: Tensor[] = [];
        for (let s = 0; s < n; s += rows) parts.push(flat.narrow(0, s, Math.min(rows, n - s)).matmul(eT2).add(eSq).argmin(1));
        return parts.length === 1 ? (parts[0] as Tensor) : T.cat(parts, 0);
      }),
    );
  }

  /** Codes for indices of any shape [...] -> [..., D] rows of the codebook; [B, h, w] -> [B, D, h, w]. */
  embed(indices: Tensor): Tensor {
    return T.tidy(() => {
      const rows = T.F.embedding(indices, this.embedding);
      return indices.ndim === 3 ? rows.permute(0, 3, 1, 2).contiguous() : rows;
    });
  }

  /** z [B, D, h, w] -> straight-through zq, indices, commitment loss, perplexity (see header). */
  forward(z: Tensor): QuantizeResult {
    if (z.ndim !== 4 || z.shape[1] !== this.embeddingDim) {
      throw new RangeError(`VectorQuantizerEMA.forward: z must be [B, ${this.embeddingDim}, h, w], got ${shapeText(z)}`);
    }
    const [b, d, h, w] = z.shape as [number, number, number, number];
    return T.tidy(() => {
      const flat = z.detach().permute(0, 2, 3, 1).reshape(b * h * w, d);
      if (this.training && this.dataInit && this.initialized.item() === 0) this.#initFromData(flat);
      const idx = this.nearest(flat);
      const counts = bincountOp.tensor(idx, null, this.numEmbeddings).to(flat.dtype);
      const e = T.F.embedding(idx, this.embedding).reshape(b, h, w, d).permute(0, 3, 1, 2);
      const commitmentLoss = T.F.mseLoss(z, e).mul(this.commitmentBeta);
      const zq = z.add(e.sub(z).detach());
      const perplexity = T.noGrad(() => {
        const p = counts.div(b * h * w);
        return p.mul(p.add(1e-10).log()).sum().neg().exp();
      });
      if (this.training) this.#emaUpdate(flat, idx, counts);
      return { zq, indices: idx.reshape(b, h, w), commitmentLoss, perplexity };
    });
  }

  /** K rows of flat as the codebook, cluster sizes 1. */
  #initFromData(flat: Tensor): void {
    const n = flat.shape[0] as number;
    const k = this.numEmbeddings;
    T.noGrad(() =>
      T.tidy(() => {
        const pick =
          n >= k
            ? T.randperm(n, { generator: this.generator, device: flat.device }).narrow(0, 0, k)
            : T.randint(0, n, [k], { generator: this.generator, device: flat.device });
        const rows = flat.indexSelect(0, pick);
        this.embedding.copy_(rows);
        this.embedAvg.copy_(rows);
        this.clusterSize.fill_(1);
        this.initialized.fill_(1);
      }),
    );
  }

  /** The EMA codebook update and dead-code restarts, in place. */
  #emaUpdate(flat: Tensor, idx: Tensor, counts: Tensor): void {
    const k = this.numEmbeddings;
    T.noGrad(() =>
      T.tidy(() => {
        const sums = indexAddOp.tensor(T.zerosLike(this.embedAvg), 0, idx, flat, 1);
        this.clusterSize.mul_(this.decay).add_(counts, 1 - this.decay);
        this.embedAvg.mul_(this.decay).add_(sums, 1 - this.decay);
        const n = this.clusterSize.sum();
        const smoothed = this.clusterSize.add(this.eps).div(n.add(k * this.eps)).mul(n);
        this.embedding.copy_(this.embedAvg.div(smoothed.unsqueeze(1)));
        this.lastRestarts = 0;
        if (this.deadCodeThreshold > 0) this.#restartDeadCodes(flat);
      }),
    );
  }

  #restartDeadCodes(flat: Tensor): void {
    const dead = this.clusterSize.lt(this.deadCodeThreshold);
    const numDead = dead.sum().item();
    if (numDead === 0) return;
    const n = flat.shape[0] as number;
    const pick = T.randint(0, n, [this.numEmbeddings], { generator: this.generator, device: flat.device });
    const candidates = flat.indexSelect(0, pick);
    const deadRows = dead.unsqueeze(1);
    this.embedding.copy_(candidates.where(deadRows, this.embedding));
    this.embedAvg.copy_(candidates.where(deadRows, this.embedAvg));
    this.clusterSize.copy_(this.clusterSize.maskedFill(dead, 1));
    this.lastRestarts = numDead;
    this.numRestarts += numDead;
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}, decay=${this.decay}, commitmentBeta=${this.commitmentBeta}`;
  }
}
