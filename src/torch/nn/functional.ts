// torch.nn.functional: stateless layers, activations and losses.
import { Op } from "../op.js";
import type { Tensor } from "../tensor.js";
import { matmul } from "../ops/linalg.js";
import { cat } from "../ops/shape.js";
import { tidy } from "../scope.js";

type IntOrList = number | readonly number[];

export interface ConvOptions {
  stride?: IntOrList;
  /** A size per side, or "same" / "valid" (stride 1 only for "same", as PyTorch). */
  padding?: IntOrList | "same" | "valid";
  dilation?: IntOrList;
  groups?: number;
}

function convFn(nd: 1 | 2 | 3): (input: Tensor, weight: Tensor, bias?: Tensor | null, o?: ConvOptions) => Tensor {
  const byInt = new Op(`aten::conv${nd}d`);
  const byStr = new Op(`aten::conv${nd}d.padding`);
  return (input, weight, bias, o = {}) => {
    const padding = o.padding ?? 0;
    const op = typeof padding === "string" ? byStr : byInt;
    return op.tensor(input, weight, bias ?? null, o.stride ?? 1, padding, o.dilation ?? 1, o.groups ?? 1);
  };
}

export const conv1d = convFn(1);
/** 2-D convolution of [N, C, H, W] by weight [out, C/groups, kH, kW]. */
export const conv2d = convFn(2);
export const conv3d = convFn(3);

export interface ConvTransposeOptions {
  stride?: IntOrList;
  padding?: IntOrList;
  outputPadding?: IntOrList;
  groups?: number;
  dilation?: IntOrList;
}

function convTransposeFn(nd: 2 | 3): (input: Tensor, weight: Tensor, bias?: Tensor | null, o?: ConvTransposeOptions) => Tensor {
  const op = new Op(`aten::conv_transpose${nd}d.input`);
  return (input, weight, bias, o = {}) =>
    op.tensor(input, weight, bias ?? null, o.stride ?? 1, o.padding ?? 0, o.outputPadding ?? 0, o.groups ?? 1, o.dilation ?? 1);
}

/** Transposed convolution; weight is [in, out/groups, kH, kW]. */
export const convTranspose2d = convTransposeFn(2);
export const convTranspose3d = convTransposeFn(3);

const linearOp = new Op("aten::linear");
/** x @ weight^T + bias */
export const linear = (x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor => linearOp.tensor(x, weight, bias ?? null);

const embeddingOp = new Op("aten::embedding");
export const embedding = (indices: Tensor, weight: Tensor, paddingIdx = -1): Tensor => embeddingOp.tensor(weight, indices, paddingIdx);

export interface PoolOptions {
  /** Defaults to the kernel size. */
  stride?: IntOrList;
  padding?: IntOrList;
  ceilMode?: boolean;
}

const avgPool2dOp = new Op("aten::avg_pool2d");
const avgPool3dOp = new Op("aten::avg_pool3d");
const maxPool2dOp = new Op("aten::max_pool2d");
const maxPool3dOp = new Op("aten::max_pool3d");
const adaptiveAvg2dOp = new Op("aten::adaptive_avg_pool2d");
const adaptiveAvg3dOp = new Op("aten::adaptive_avg_pool3d");

export const avgPool2d = (x: Tensor, kernel: IntOrList, o: PoolOptions & { countIncludePad?: boolean } = {}): Tensor =>
  avgPool2dOp.tensor(x, kernel, o.stride ?? [], o.padding ?? 0, o.ceilMode ?? false, o.countIncludePad ?? true);
export const avgPool3d = (x: Tensor, kernel: IntOrList, o: PoolOptions & { countIncludePad?: boolean } = {}): Tensor =>
  avgPool3dOp.tensor(x, kernel, o.stride ?? [], o.padding ?? 0, o.ceilMode ?? false, o.countIncludePad ?? true);
export const maxPool2d = (x: Tensor, kernel: IntOrList, o: PoolOptions & { dilation?: IntOrList } = {}): Tensor =>
  maxPool2dOp.tensor(x, kernel, o.stride ?? [], o.padding ?? 0, o.dilation ?? 1, o.ceilMode ?? false);
export const maxPool3d = (x: Tensor, kernel: IntOrList, o: PoolOptions & { dilation?: IntOrList } = {}): Tensor =>
  maxPool3dOp.tensor(x, kernel, o.stride ?? [], o.padding ?? 0, o.dilation ?? 1, o.ceilMode ?? false);
export const adaptiveAvgPool2d = (x: Tensor, outputSize: IntOrList): Tensor => adaptiveAvg2dOp.tensor(x, outputSize);
export const adaptiveAvgPool3d = (x: Tensor, outputSize: IntOrList): Tensor => adaptiveAvg3dOp.tensor(x, outputSize);

export type InterpolateMode = "nearest" | "linear" | "bilinear" | "bicubic" | "trilinear";

export interface InterpolateOptions {
  /** Output spatial size; give this or scaleFactor. */
  size?: IntOrList;
  scaleFactor?: number | readonly number[];
  mode?: InterpolateMode;
  /** For the linear modes and bicubic; PyTorch's default is false. */
  alignCorners?: boolean;
}

const upsampleOps: Record<string, Op> = {
  "nearest-1": new Op("aten::upsample_nearest1d.vec"),
  "nearest-2": new Op("aten::upsample_nearest2d.vec"),
  "nearest-3": new Op("aten::upsample_nearest3d.vec"),
  "linear-1": new Op("aten::upsample_linear1d.vec"),
  "bilinear-2": new Op("aten::upsample_bilinear2d.vec"),
  "bicubic-2": new Op("aten::upsample_bicubic2d.vec"),
  "trilinear-3": new Op("aten::upsample_trilinear3d.vec"),
};

/** Resizes [N, C, *spatial] (1 to 3 spatial dims), as torch.nn.functional.interpolate. */
export function interpolate(x: Tensor, o: InterpolateOptions): Tensor {
  const mode = o.mode ?? "nearest";
  const spatial = x.ndim - 2;
  const op = upsampleOps[`${mode}-${spatial}`];
  if (op === undefined) {
    throw new RangeError(`interpolate: mode '${mode}' does not apply to a ${x.ndim}-D input [${x.shape.join(", ")}]`);
  }
  if ((o.size === undefined) === (o.scaleFactor === undefined)) {
    throw new TypeError("interpolate: give exactly one of size and scaleFactor");
  }
  const expand = (v: IntOrList | number | readonly number[]): readonly number[] => {
    const list = typeof v === "number" ? new Array<number>(spatial).fill(v) : v;
    if (list.length !== spatial) throw new RangeError(`interpolate: expected ${spatial} sizes or factors, got [${list.join(", ")}]`);
    return list;
  };
  const size = o.size === undefined ? null : expand(o.size);
  const scale = o.scaleFactor === undefined ? null : expand(o.scaleFactor);
  if (mode === "nearest") {
    if (o.alignCorners !== undefined) throw new TypeError("interpolate: alignCorners applies only to the linear and cubic modes");
    return op.tensor(x, size, scale);
  }
  return op.tensor(x, size, o.alignCorners ?? false, scale);
}

const gridSamplerOp = new Op("aten::grid_sampler");
const affineGridOp = new Op("aten::affine_grid_generator");

export interface GridSampleOptions {
  mode?: "bilinear" | "nearest" | "bicubic";
  paddingMode?: "zeros" | "border" | "reflection";
  alignCorners?: boolean;
}

/**
 * Samples input [N, C, (D,) H, W] at grid [N, (D,) H, W, 2|3] locations in [-1, 1]
 * (x first, as PyTorch). 'bicubic' is 2-D only.
 */
export function gridSample(input: Tensor, grid: Tensor, o: GridSampleOptions = {}): Tensor {
  const mode = { bilinear: 0, nearest: 1, bicubic: 2 }[o.mode ?? "bilinear"];
  const padding = { zeros: 0, border: 1, reflection: 2 }[o.paddingMode ?? "zeros"];
  if (mode === undefined || padding === undefined) throw new RangeError(`gridSample: unknown mode or padding mode`);
  return gridSamplerOp.tensor(input, grid, mode, padding, o.alignCorners ?? false);
}

/** Sampling grid for gridSample from affine matrices theta [N, 2, 3] or [N, 3, 4]. */
export const affineGrid = (theta: Tensor, size: readonly number[], alignCorners = false): Tensor =>
  affineGridOp.tensor(theta, size, alignCorners);

const groupNormOp = new Op("aten::group_norm");
const layerNormOp = new Op("aten::layer_norm");
const batchNormOp = new Op("aten::batch_norm");
const instanceNormOp = new Op("aten::instance_norm");

export const groupNorm = (x: Tensor, numGroups: number, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor =>
  groupNormOp.tensor(x, numGroups, weight ?? null, bias ?? null, eps);
export const layerNorm = (x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor =>
  layerNormOp.tensor(x, normalizedShape, weight ?? null, bias ?? null, eps);

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** Batch norm; in training mode running statistics (if given) are updated in place. */
export const batchNorm = (x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, o: BatchNormOptions = {}): Tensor =>
  batchNormOp.tensor(x, o.weight ?? null, o.bias ?? null, runningMean, runningVar, o.training ?? false, o.momentum ?? 0.1, o.eps ?? 1e-5, true);

export interface InstanceNormOptions extends BatchNormOptions {
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  useInputStats?: boolean;
}
export const instanceNorm = (x: Tensor, o: InstanceNormOptions = {}): Tensor =>
  instanceNormOp.tensor(
    x,
    o.weight ?? null,
    o.bias ?? null,
    o.runningMean ?? null,
    o.runningVar ?? null,
    o.useInputStats ?? true,
    o.momentum ?? 0.1,
    o.eps ?? 1e-5,
    true,
  );

const reluOp = new Op("aten::relu");
const leakyReluOp = new Op("aten::leaky_relu");
const siluOp = new Op("aten::silu");
const geluOp = new Op("aten::gelu");
const sigmoidOp = new Op("aten::sigmoid");
const tanhOp = new Op("aten::tanh");
const softplusOp = new Op("aten::softplus");
const eluOp = new Op("aten::elu");
const softmaxOp = new Op("aten::softmax.int");
const logSoftmaxOp = new Op("aten::log_softmax.int");
const dropoutOp = new Op("aten::dropout");
const cosineSimilarityOp = new Op("aten::cosine_similarity");
const pixelShuffleOp = new Op("aten::pixel_shuffle");
const pixelUnshuffleOp = new Op("aten::pixel_unshuffle");

export const relu = (x: Tensor): Tensor => reluOp.tensor(x);
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor => leakyReluOp.tensor(x, negativeSlope);
export const silu = (x: Tensor): Tensor => siluOp.tensor(x);
export const gelu = (x: Tensor, approximate: "none" | "tanh" = "none"): Tensor => geluOp.tensor(x, approximate);
export const sigmoid = (x: Tensor): Tensor => sigmoidOp.tensor(x);
export const tanh = (x: Tensor): Tensor => tanhOp.tensor(x);
export const softplus = (x: Tensor, beta = 1, threshold = 20): Tensor => softplusOp.tensor(x, beta, threshold);
export const elu = (x: Tensor, alpha = 1): Tensor => eluOp.tensor(x, alpha);
export const softmax = (x: Tensor, dim: number): Tensor => softmaxOp.tensor(x, dim);
export const logSoftmax = (x: Tensor, dim: number): Tensor => logSoftmaxOp.tensor(x, dim);
/** Zeroes elements with probability p and scales the rest by 1/(1-p), in training only. */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return dropoutOp.tensor(x, p, training);
}
/** Cosine of the angle between x1 and x2 along `dim` (broadcasting). */
export const cosineSimilarity = (x1: Tensor, x2: Tensor, dim = 1, eps = 1e-8): Tensor => cosineSimilarityOp.tensor(x1, x2, dim, eps);
export const pixelShuffle = (x: Tensor, upscale: number): Tensor => pixelShuffleOp.tensor(x, upscale);
export const pixelUnshuffle = (x: Tensor, downscale: number): Tensor => pixelUnshuffleOp.tensor(x, downscale);

export interface AttentionOptions {
  /** Boolean mask (true = attend) or an additive float mask, broadcastable to [..., Lq, Lk]. */
  mask?: Tensor | null;
  /** Defaults to 1/sqrt(head dim). */
  scale?: number;
  isCausal?: boolean;
}

/** Score-matrix elements scaledDotProductAttention computes at once (4M floats, 16 MB). */
const ATTENTION_BLOCK_ELEMENTS = 1 << 22;

/** softmax(q k^T * scale + mask) v over the last two dimensions: q [..., Lq, E], k [..., Lk, E], v [..., Lk, Ev]. */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions = {}): Tensor {
  const e = q.shape[q.ndim - 1] ?? 1;
  const scale = o.scale ?? 1 / Math.sqrt(e);
  const lq = q.shape[q.ndim - 2] ?? 0;
  const lk = k.shape[k.ndim - 2] ?? 0;
  const lead = q.shape.slice(0, -2).reduce((a, b) => a * b, 1);
  if (!o.isCausal && o.mask === undefined && lead * lq * lk > ATTENTION_BLOCK_ELEMENTS && lq > 1) {
    // Rows of queries at a time: each row's softmax is its own, so the result is the same, without
    // materialising the whole [.., Lq, Lk] score matrix (E3's non-local block: 4 x 3072 x 3072 floats,
    // 151 MB, three times over per call).
    const rows = Math.max(1, Math.floor(ATTENTION_BLOCK_ELEMENTS / (lead * lk)));
    // The scale goes on q ([.., Lq, E]) rather than on each block of scores ([.., rows, Lk]).
    return tidy(() => {
      const qs = q.mul(scale);
      const kt = k.transpose(-2, -1);
      const parts: Tensor[] = [];
      for (let s = 0; s < lq; s += rows) parts.push(matmul(softmax(matmul(qs.narrow(q.ndim - 2, s, Math.min(rows, lq - s)), kt), -1), v));
      return cat(parts, q.ndim - 2);
    });
  }
  return tidy(() => {
    let scores = matmul(q, k.transpose(-2, -1)).mul(scale);
    if (o.isCausal) {
      const lq = q.shape[q.ndim - 2] ?? 0;
      const lk = k.shape[k.ndim - 2] ?? 0;
      const causal = scores.newOnes([lq, lk], "bool").tril();
      scores = scores.maskedFill(causal.logicalNot(), -Infinity);
    }
    if (o.mask) {
      scores = o.mask.dtype === "bool" ? scores.maskedFill(o.mask.logicalNot(), -Infinity) : scores.add(o.mask);
    }
    return matmul(softmax(scores, -1), v);
  });
}

export type Reduction = "none" | "mean" | "sum";
const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };
function reductionCode(r: Reduction): number {
  const code = REDUCTION[r];
  if (code === undefined) throw new RangeError(`unknown reduction '${r}'; expected none, mean or sum`);
  return code;
}

const mseLossOp = new Op("aten::mse_loss");
const l1LossOp = new Op("aten::l1_loss");
const smoothL1LossOp = new Op("aten::smooth_l1_loss");
const crossEntropyOp = new Op("aten::cross_entropy_loss");
const bceLogitsOp = new Op("aten::binary_cross_entropy_with_logits");

export const mseLoss = (input: Tensor, target: Tensor, reduction: Reduction = "mean"): Tensor =>
  mseLossOp.tensor(input, target, reductionCode(reduction));
export const l1Loss = (input: Tensor, target: Tensor, reduction: Reduction = "mean"): Tensor =>
  l1LossOp.tensor(input, target, reductionCode(reduction));
export const smoothL1Loss = (input: Tensor, target: Tensor, reduction: Reduction = "mean", beta = 1): Tensor =>
  smoothL1LossOp.tensor(input, target, reductionCode(reduction), beta);

export interface CrossEntropyOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
  labelSmoothing?: number;
}
/** Cross-entropy of logits [N, C, ...] against class indices [N, ...] or class probabilities [N, C, ...]. */
export const crossEntropy = (logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor =>
  crossEntropyOp.tensor(logits, target, o.weight ?? null, reductionCode(o.reduction ?? "mean"), o.ignoreIndex ?? -100, o.labelSmoothing ?? 0);
export const binaryCrossEntropyWithLogits = (logits: Tensor, target: Tensor, reduction: Reduction = "mean"): Tensor =>
  bceLogitsOp.tensor(logits, target, null, null, reductionCode(reduction));
