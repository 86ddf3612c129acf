// Reductions over all elements or along dimensions, with keepdim.
import { Op } from "../op.js";
import type { Tensor } from "../tensor.js";

export type Dims = number | readonly number[];

export interface ValuesIndices {
  values: Tensor;
  indices: Tensor;
}

const dimsOf = (dim: Dims | undefined): readonly number[] | null =>
  dim === undefined ? null : typeof dim === "number" ? [dim] : dim;

const sumOp = new Op("aten::sum.dim_IntList");
const meanOp = new Op("aten::mean.dim");
const prodAll = new Op("aten::prod");
const prodDim = new Op("aten::prod.dim_int");
const amaxOp = new Op("aten::amax");
const aminOp = new Op("aten::amin");
const maxAll = new Op("aten::max");
const minAll = new Op("aten::min");
const maxDim = new Op("aten::max.dim");
const minDim = new Op("aten::min.dim");
const argmaxOp = new Op("aten::argmax");
const argminOp = new Op("aten::argmin");
const varOp = new Op("aten::var.correction");
const stdOp = new Op("aten::std.correction");
const medianAll = new Op("aten::median");
const medianDim = new Op("aten::median.dim");
const quantileS = new Op("aten::quantile.scalar");
const quantileT = new Op("aten::quantile");
const cumsumOp = new Op("aten::cumsum");
const cumprodOp = new Op("aten::cumprod");
const logsumexpOp = new Op("aten::logsumexp");
const normOp = new Op("aten::linalg_vector_norm");
const allOp = new Op("aten::all");
const anyOp = new Op("aten::any");
const allDim = new Op("aten::all.dim");
const anyDim = new Op("aten::any.dim");

export const sum = (x: Tensor, dim?: Dims, keepdim = false): Tensor => sumOp.tensor(x, dimsOf(dim), keepdim);
export const mean = (x: Tensor, dim?: Dims, keepdim = false): Tensor => meanOp.tensor(x, dimsOf(dim), keepdim);

export function prod(x: Tensor, dim?: number, keepdim = false): Tensor {
  return dim === undefined ? prodAll.tensor(x) : prodDim.tensor(x, dim, keepdim);
}

/** Largest value over all elements, or over `dim` (values only; see maxDim for indices). */
export function amax(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  // aten::amax reduces every dimension for dim=[] and honours keepdim.
  return dim === undefined && !keepdim ? maxAll.tensor(x) : amaxOp.tensor(x, dimsOf(dim) ?? [], keepdim);
}
export function amin(x: Tensor, dim?: Dims, keepdim = false): Tensor {
  return dim === undefined && !keepdim ? minAll.tensor(x) : aminOp.tensor(x, dimsOf(dim) ?? [], keepdim);
}

/** Largest values along `dim` and where they are (torch.max(x, dim)). */
export function max(x: Tensor, dim: number, keepdim = false): ValuesIndices {
  const [values, indices] = maxDim.tensors(x, dim, keepdim) as [Tensor, Tensor];
  return { values, indices };
}
export function min(x: Tensor, dim: number, keepdim = false): ValuesIndices {
  const [values, indices] = minDim.tensors(x, dim, keepdim) as [Tensor, Tensor];
  return { values, indices };
}

export const argmax = (x: Tensor, dim?: number, keepdim = false): Tensor => argmaxOp.tensor(x, dim ?? null, keepdim);
export const argmin = (x: Tensor, dim?: number, keepdim = false): Tensor => argminOp.tensor(x, dim ?? null, keepdim);

export interface VarOptions {
  /** Bessel's correction: 1 (default) for the sample variance, 0 for the population variance. */
  correction?: number;
  keepdim?: boolean;
}

export const variance = (x: Tensor, dim?: Dims, o: VarOptions = {}): Tensor =>
  varOp.tensor(x, dimsOf(dim), o.correction ?? 1, o.keepdim ?? false);
export const std = (x: Tensor, dim?: Dims, o: VarOptions = {}): Tensor =>
  stdOp.tensor(x, dimsOf(dim), o.correction ?? 1, o.keepdim ?? false);

/** Median over all elements (the lower of the two middle values, as PyTorch). */
export const medianAllOf = (x: Tensor): Tensor => medianAll.tensor(x);
export function median(x: Tensor, dim: number, keepdim = false): ValuesIndices {
  const [values, indices] = medianDim.tensors(x, dim, keepdim) as [Tensor, Tensor];
  return { values, indices };
}

export type QuantileInterpolation = "linear" | "lower" | "higher" | "midpoint" | "nearest";

export function quantile(
  x: Tensor,
  q: number | Tensor,
  dim?: number,
  keepdim = false,
  interpolation: QuantileInterpolation = "linear",
): Tensor {
  return typeof q === "number"
    ? quantileS.tensor(x, q, dim ?? null, keepdim, interpolation)
    : quantileT.tensor(x, q, dim ?? null, keepdim, interpolation);
}

export const cumsum = (x: Tensor, dim: number): Tensor => cumsumOp.tensor(x, dim);
export const cumprod = (x: Tensor, dim: number): Tensor => cumprodOp.tensor(x, dim);
export const logsumexp = (x: Tensor, dim: Dims, keepdim = false): Tensor => logsumexpOp.tensor(x, dimsOf(dim), keepdim);

/** Vector p-norm over all elements or `dim` (torch.linalg.vector_norm). */
export const norm = (x: Tensor, ord = 2, dim?: Dims, keepdim = false): Tensor => normOp.tensor(x, ord, dimsOf(dim), keepdim);

export function all(x: Tensor, dim?: number, keepdim = false): Tensor {
  return dim === undefined ? allOp.tensor(x) : allDim.tensor(x, dim, keepdim);
}
export function any(x: Tensor, dim?: number, keepdim = false): Tensor {
  return dim === undefined ? anyOp.tensor(x) : anyDim.tensor(x, dim, keepdim);
}
