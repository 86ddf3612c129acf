// Embedding: a lookup table of vectors (torch.nn.Embedding).
import { noGrad } from "../autograd.js";
import type { Tensor } from "../tensor.js";
import * as F from "./functional.js";
import { normal_ } from "./init.js";
import { Module } from "./module.js";
import { checkCount, emptyParameter, type LayerOptions, type Parameter } from "./parameter.js";

export interface EmbeddingOptions extends LayerOptions {
  /** This row starts as zeros and gets no gradient; negative counts from the end. */
  paddingIdx?: number;
}

/**
 * `weight` [numEmbeddings, embeddingDim], initialised N(0, 1) as PyTorch.
 * forward(indices [...]) -> [..., embeddingDim]. Not supported: maxNorm,
 * scaleGradByFreq, sparse.
 */
export class Embedding extends Module {
  readonly weight: Parameter;
  /** Normalised to a non-negative row, or null. */
  readonly paddingIdx: number | null;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: EmbeddingOptions = {},
  ) {
    super();
    checkCount("Embedding", "numEmbeddings", numEmbeddings);
    checkCount("Embedding", "embeddingDim", embeddingDim);
    const p = options.paddingIdx;
    if (p !== undefined && (!Number.isInteger(p) || p >= numEmbeddings || p < -numEmbeddings)) {
      throw new RangeError(`Embedding: paddingIdx must be an integer in [-${numEmbeddings}, ${numEmbeddings}), got ${p}`);
    }
    this.paddingIdx = p === undefined ? null : p < 0 ? p + numEmbeddings : p;
    this.weight = this.registerParameter("weight", emptyParameter([numEmbeddings, embeddingDim], options));
    this.resetParameters(options);
  }

  /** Re-draws the weights N(0, 1) and zeroes the padding row. */
  resetParameters(options: LayerOptions = {}): void {
    normal_(this.weight, 0, 1, options);
    const idx = this.paddingIdx;
    if (idx !== null) {
      noGrad(() => {
        const row = this.weight.select(0, idx);
        row.zero_();
        row.dispose();
      });
    }
  }

  forward(indices: Tensor): Tensor {
    if (indices.dtype !== "int64" && indices.dtype !== "int32") {
      throw new TypeError(`${this}: indices must be int64 or int32, got ${indices.dtype} [${indices.shape.join(", ")}]`);
    }
    return F.embedding(indices, this.weight, this.paddingIdx ?? -1);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx === null ? "" : `, paddingIdx=${this.paddingIdx}`}`;
  }
}
