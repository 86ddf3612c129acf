// Normalisation layers: GroupNorm, LayerNorm, BatchNorm1d/2d/3d.
import { noGrad } from "../autograd.js";
import { ones, zeros } from "../ops/creation.js";
import type { Tensor } from "../tensor.js";
import * as F from "./functional.js";
import { ones_, zeros_ } from "./init.js";
import { Module } from "./module.js";
import { checkCount, emptyParameter, type LayerOptions, type Parameter } from "./parameter.js";

const shapeText = (x: Tensor): string => `[${x.shape.join(", ")}]`;

export interface GroupNormOptions extends LayerOptions {
  eps?: number;
  /** Learn a per-channel scale (`weight`, ones) and shift (`bias`, zeros); default true. */
  affine?: boolean;
}

/** Normalises [N, C, ...] over groups of C/numGroups channels and all spatial positions. */
export class GroupNorm extends Module {
  readonly eps: number;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    options: GroupNormOptions = {},
  ) {
    super();
    checkCount("GroupNorm", "numGroups", numGroups);
    checkCount("GroupNorm", "numChannels", numChannels);
    if (numGroups === 0 || numChannels % numGroups !== 0) {
      throw new RangeError(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    }
    this.eps = options.eps ?? 1e-5;
    const affine = options.affine ?? true;
    this.weight = this.registerParameter("weight", affine ? ones_(emptyParameter([numChannels], options)) : null);
    this.bias = this.registerParameter("bias", affine ? zeros_(emptyParameter([numChannels], options)) : null);
  }

  forward(x: Tensor): Tensor {
    if (x.ndim < 2 || x.shape[1] !== this.numChannels) {
      throw new RangeError(`${this}: expected input [N, ${this.numChannels}, ...], got ${shapeText(x)}`);
    }
    return F.groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}${this.weight === null ? ", affine=false" : ""}`;
  }
}

export interface LayerNormOptions extends LayerOptions {
  eps?: number;
  /** Learn `weight` (ones) and `bias` (zeros) of normalizedShape; default true. */
  elementwiseAffine?: boolean;
}

/** Normalises over the trailing dimensions given by normalizedShape. */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
    shape.forEach((d) => checkCount("LayerNorm", "normalizedShape entries", d));
    this.normalizedShape = Object.freeze(shape);
    this.eps = options.eps ?? 1e-5;
    const affine = options.elementwiseAffine ?? true;
    this.weight = this.registerParameter("weight", affine ? ones_(emptyParameter(shape, options)) : null);
    this.bias = this.registerParameter("bias", affine ? zeros_(emptyParameter(shape, options)) : null);
  }

  forward(x: Tensor): Tensor {
    const n = this.normalizedShape.length;
    const tail = x.shape.slice(x.ndim - n);
    if (x.ndim < n || tail.some((d, i) => d !== this.normalizedShape[i])) {
      throw new RangeError(`${this}: expected input [..., ${this.normalizedShape.join(", ")}], got ${shapeText(x)}`);
    }
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `[${this.normalizedShape.join(", ")}], eps=${this.eps}${this.weight === null ? ", elementwiseAffine=false" : ""}`;
  }
}

export interface BatchNormOptions extends LayerOptions {
  eps?: number;
  /** Weight of the new batch in the running averages; null for a cumulative average. Default 0.1. */
  momentum?: number | null;
  /** Learn `weight` (ones) and `bias` (zeros); default true. */
  affine?: boolean;
  /** Keep running_mean/running_var/num_batches_tracked buffers; default true. */
  trackRunningStats?: boolean;
}

/**
 * Batch normalisation over all but the channel dimension. In training mode it
 * uses the batch statistics and updates the running averages (and
 * num_batches_tracked); in eval mode it uses the running statistics, unless
 * trackRunningStats is false.
 */
export abstract class BatchNormNd extends Module {
  readonly eps: number;
  readonly momentum: number | null;
  readonly trackRunningStats: boolean;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;

  protected constructor(
    readonly numFeatures: number,
    options: BatchNormOptions,
  ) {
    super();
    checkCount(this.constructor.name, "numFeatures", numFeatures);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    const affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    this.weight = this.registerParameter("weight", affine ? ones_(emptyParameter([numFeatures], options)) : null);
    this.bias = this.registerParameter("bias", affine ? zeros_(emptyParameter([numFeatures], options)) : null);
    const track = this.trackRunningStats;
    const o = { dtype: options.dtype, device: options.device };
    this.runningMean = this.registerBuffer("running_mean", track ? zeros([numFeatures], o) : null);
    this.runningVar = this.registerBuffer("running_var", track ? ones([numFeatures], o) : null);
    this.numBatchesTracked = this.registerBuffer(
      "num_batches_tracked",
      track ? zeros([], { dtype: "int64", device: options.device }) : null,
    );
  }

  /** The input ranks this layer accepts. */
  protected abstract readonly ranks: readonly number[];

  forward(x: Tensor): Tensor {
    if (!this.ranks.includes(x.ndim) || x.shape[1] !== this.numFeatures) {
      const want = this.ranks.map((r) => `${r}-D`).join(" or ");
      throw new RangeError(`${this}: expected ${want} input with ${this.numFeatures} channels in dimension 1, got ${shapeText(x)}`);
    }
    let factor = this.momentum ?? 0;
    if (this.training && this.numBatchesTracked !== null) {
      const n = this.numBatchesTracked;
      noGrad(() => n.add_(1));
      if (this.momentum === null) factor = 1 / n.item();
    }
    const useBatchStats = this.training || this.runningMean === null;
    if (useBatchStats && x.numel / (x.shape[1] ?? 1) <= 1) {
      throw new RangeError(`${this}: expected more than 1 value per channel when training, got input ${shapeText(x)}`);
    }
    const track = !this.training || this.trackRunningStats;
    return F.batchNorm(x, track ? this.runningMean : null, track ? this.runningVar : null, {
      weight: this.weight,
      bias: this.bias,
      training: useBatchStats,
      momentum: factor,
      eps: this.eps,
    });
  }

  override extraRepr(): string {
    let s = `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}`;
    if (this.weight === null) s += ", affine=false";
    if (!this.trackRunningStats) s += ", trackRunningStats=false";
    return s;
  }
}

/** BatchNorm over [N, C] or [N, C, L]. */
export class BatchNorm1d extends BatchNormNd {
  protected readonly ranks = [2, 3];
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, options);
  }
}

/** BatchNorm over [N, C, H, W]. */
export class BatchNorm2d extends BatchNormNd {
  protected readonly ranks = [4];
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, options);
  }
}

/** BatchNorm over [N, C, D, H, W]. */
export class BatchNorm3d extends BatchNormNd {
  protected readonly ranks = [5];
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, options);
  }
}
