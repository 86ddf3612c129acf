// Shape and indexing: views, joins, splits, gathers, flips, padding.
import { DisposedTensorError } from "../errors.js";
import { Op } from "../op.js";
import type { Tensor } from "../tensor.js";

const reshapeOp = new Op("aten::reshape");
const viewOp = new Op("aten::view");
const permuteOp = new Op("aten::permute");
const transposeOp = new Op("aten::transpose.int");
const squeezeAll = new Op("aten::squeeze");
const squeezeDim = new Op("aten::squeeze.dim");
const unsqueezeOp = new Op("aten::unsqueeze");
const expandOp = new Op("aten::expand");
const repeatOp = new Op("aten::repeat");
const flattenOp = new Op("aten::flatten.using_ints");
const catOp = new Op("aten::cat");
const stackOp = new Op("aten::stack");
const splitSize = new Op("aten::split.Tensor");
const splitSizes = new Op("aten::split_with_sizes");
const chunkOp = new Op("aten::chunk");
const narrowOp = new Op("aten::narrow");
const sliceOp = new Op("aten::slice.Tensor");
const selectOp = new Op("aten::select.int");
const indexSelectOp = new Op("aten::index_select");
const indexOp = new Op("aten::index.Tensor");
const gatherOp = new Op("aten::gather");
const scatterSrc = new Op("aten::scatter.src");
const scatterValue = new Op("aten::scatter.value");
const scatterAddOp = new Op("aten::scatter_add");
const flipOp = new Op("aten::flip");
const rollOp = new Op("aten::roll");
const padOp = new Op("aten::pad");
const contiguousOp = new Op("aten::contiguous");
const cloneOp = new Op("aten::clone");
const detachOp = new Op("aten::detach");
const maskedFillS = new Op("aten::masked_fill.Scalar");
const movedimOp = new Op("aten::movedim.intlist");
const sortOp = new Op("aten::sort");
const topkOp = new Op("aten::topk");
const nonzeroOp = new Op("aten::nonzero");
const trilOp = new Op("aten::tril");
const triuOp = new Op("aten::triu");

export const reshape = (x: Tensor, shape: readonly number[]): Tensor => reshapeOp.tensor(x, shape);
/** A view with a new shape; throws if the memory layout does not allow one (use reshape). */
export const view = (x: Tensor, shape: readonly number[]): Tensor => viewOp.tensor(x, shape);
export const permute = (x: Tensor, dims: readonly number[]): Tensor => permuteOp.tensor(x, dims);
export const transpose = (x: Tensor, dim0: number, dim1: number): Tensor => transposeOp.tensor(x, dim0, dim1);
export const squeeze = (x: Tensor, dim?: number): Tensor => (dim === undefined ? squeezeAll.tensor(x) : squeezeDim.tensor(x, dim));
export const unsqueeze = (x: Tensor, dim: number): Tensor => unsqueezeOp.tensor(x, dim);
/** Broadcasts size-1 dimensions to `shape` without copying; -1 keeps a size. */
export const expand = (x: Tensor, shape: readonly number[]): Tensor => expandOp.tensor(x, shape);
/** Tiles the tensor `repeats[i]` times along dimension i (copies). */
export const repeat = (x: Tensor, repeats: readonly number[]): Tensor => repeatOp.tensor(x, repeats);
export const flatten = (x: Tensor, startDim = 0, endDim = -1): Tensor => flattenOp.tensor(x, startDim, endDim);
export const movedim = (x: Tensor, source: readonly number[], destination: readonly number[]): Tensor =>
  movedimOp.tensor(x, source, destination);

function nonEmpty(tensors: readonly Tensor[], what: string): readonly Tensor[] {
  if (tensors.length === 0) throw new RangeError(`${what}: expects a non-empty list of tensors`);
  return tensors;
}

/**
 * Calls an op on a list of tensors. The native layer names the shapes of
 * Tensor arguments only, not of Tensor[] elements, so add them to errors.
 */
function onList(op: Op, tensors: readonly Tensor[], dim: number): Tensor {
  try {
    return op.tensor(tensors, dim);
  } catch (e) {
    if (e instanceof Error && !(e instanceof DisposedTensorError)) {
      e.message += ` [tensors=${tensors.map((t) => (t.isDisposed ? "disposed" : `[${t.shape.join(", ")}]`)).join(", ")}]`;
    }
    throw e;
  }
}
export const cat = (tensors: readonly Tensor[], dim = 0): Tensor => onList(catOp, nonEmpty(tensors, "cat"), dim);
export const stack = (tensors: readonly Tensor[], dim = 0): Tensor => onList(stackOp, nonEmpty(tensors, "stack"), dim);

/** Splits into pieces of `size` (the last may be smaller) or of the listed sizes. */
export function split(x: Tensor, size: number | readonly number[], dim = 0): Tensor[] {
  return typeof size === "number" ? splitSize.tensors(x, size, dim) : splitSizes.tensors(x, size, dim);
}
export const chunk = (x: Tensor, chunks: number, dim = 0): Tensor[] => chunkOp.tensors(x, chunks, dim);
export const narrow = (x: Tensor, dim: number, start: number, length: number): Tensor => narrowOp.tensor(x, dim, start, length);
/** x[start:end:step] along `dim` (a view); bounds may be negative or omitted. */
export const slice = (x: Tensor, dim: number, start?: number | null, end?: number | null, step = 1): Tensor =>
  sliceOp.tensor(x, dim, start ?? null, end ?? null, step);
/** x[..., index, ...] along `dim`: that dimension is removed. */
export const select = (x: Tensor, dim: number, index: number): Tensor => selectOp.tensor(x, dim, index);
export const indexSelect = (x: Tensor, dim: number, index: Tensor): Tensor => indexSelectOp.tensor(x, dim, index);
/** Advanced indexing x[i0, i1, ...] with index tensors; null skips a dimension. */
export const index = (x: Tensor, indices: readonly (Tensor | null)[]): Tensor => indexOp.tensor(x, indices);
export const gather = (x: Tensor, dim: number, index: Tensor): Tensor => gatherOp.tensor(x, dim, index);

/** Out-of-place scatter: a copy of x with x[index] along dim set from src (a tensor or a number). */
export function scatter(x: Tensor, dim: number, index: Tensor, src: Tensor | number): Tensor {
  return typeof src === "number" ? scatterValue.tensor(x, dim, index, src) : scatterSrc.tensor(x, dim, index, src);
}
export const scatterAdd = (x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor => scatterAddOp.tensor(x, dim, index, src);
export const maskedFill = (x: Tensor, mask: Tensor, value: number): Tensor => maskedFillS.tensor(x, mask, value);

export const flip = (x: Tensor, dims: readonly number[]): Tensor => flipOp.tensor(x, dims);
export const roll = (x: Tensor, shifts: number | readonly number[], dims: number | readonly number[]): Tensor =>
  rollOp.tensor(x, typeof shifts === "number" ? [shifts] : shifts, typeof dims === "number" ? [dims] : dims);

export type PadMode = "constant" | "reflect" | "replicate" | "circular";

/**
 * Pads the last dimensions, as torch.nn.functional.pad: `pad` lists
 * (before, after) pairs starting from the last dimension.
 */
export function pad(x: Tensor, padding: readonly number[], mode: PadMode = "constant", value = 0): Tensor {
  if (padding.length % 2 !== 0) throw new RangeError(`pad: padding must have an even length, got [${padding.join(", ")}]`);
  return padOp.tensor(x, padding, mode, mode === "constant" ? value : null);
}

export const contiguous = (x: Tensor): Tensor => contiguousOp.tensor(x);
export const clone = (x: Tensor): Tensor => cloneOp.tensor(x);
/** Shares storage, cut from the autograd graph. */
export const detach = (x: Tensor): Tensor => detachOp.tensor(x);

export function sort(x: Tensor, dim = -1, descending = false): { values: Tensor; indices: Tensor } {
  const [values, indices] = sortOp.tensors(x, dim, descending) as [Tensor, Tensor];
  return { values, indices };
}
export function topk(x: Tensor, k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
  const [values, indices] = topkOp.tensors(x, k, dim, largest, sorted) as [Tensor, Tensor];
  return { values, indices };
}
/** Indices of the non-zero elements, one row each: [count, ndim] int64. */
export const nonzero = (x: Tensor): Tensor => nonzeroOp.tensor(x);
export const tril = (x: Tensor, diagonal = 0): Tensor => trilOp.tensor(x, diagonal);
export const triu = (x: Tensor, diagonal = 0): Tensor => triuOp.tensor(x, diagonal);
