// FLOP counting from the ops a function actually runs. countFlops(fn) installs an
// observer on the generic op path (op.ts) for the duration of fn and, for every op
// that is a product (convolutions, linear layers, matrix products, einsum,
// attention), computes its multiply-accumulates from the real shapes of its
// arguments and result. Nothing is estimated by hand: a layer that is not run is
// not counted, and a layer that runs twice is counted twice.
//
// Conventions (what "FLOPs" means here):
// - MACs are multiply-accumulates of the products listed in MAC_RULES; FLOPs =
//   2 x MACs. Bias additions, norms, activations, softmax, elementwise ops,
//   pooling, interpolation and FFTs are not counted as MACs; the elements their
//   outputs hold are summed in `otherElements` for information (views and
//   reshapes, which write no data, are left out of it).
// - A product with a complex result counts 4 real MACs per complex MAC.
// - einsum with two or more operands counts the product of the sizes of all
//   distinct indices (a naive contraction); with one operand it is a
//   permutation or a sum, counted under otherElements.
// - Only ops called from TypeScript are seen: ATen's own decomposition of a
//   composite op (aten::matmul into aten::bmm, for example) is not counted again.
// - Ops called through Op.inPlace / Op.value are not observed.
// Counting reads the shapes of arguments and results (a few native calls per op),
// so it is for accounting runs, not for timing. With no counter active the op path
// pays one null comparison.
import "./tensor_methods.js"; // Tensor's op-backed methods, for a caller that imports this module without index.ts
import { isComplex } from "./dtype.js";
import { setOpObserver, type Arg, type OpObserver } from "./op.js";
import { Tensor } from "./tensor.js";

export interface OpCount {
  calls: number;
  macs: number;
}

export interface FlopReport {
  /** Multiply-accumulates of every counted product. */
  macs: number;
  /** 2 x macs. */
  flops: number;
  /** Calls and MACs per counted op, keyed by name without the overload ("aten::conv2d"). */
  byOp: Record<string, OpCount>;
  /** Output elements of every op not counted as MACs (views and reshapes excluded), for information. */
  otherElements: number;
}

type Shape = readonly number[];

const prod = (xs: Iterable<number>): number => {
  let p = 1;
  for (const x of xs) p *= x;
  return p;
};
const last = (s: Shape): number => s[s.length - 1] ?? 1;

function tensorArg(op: string, args: readonly Arg[], i: number): Tensor {
  const a = args[i];
  if (!(a instanceof Tensor)) throw new TypeError(`countFlops: ${op}: argument ${i} is not a tensor`);
  return a;
}

/** MACs of one call from its arguments and (first) result. */
type MacRule = (op: string, args: readonly Arg[], out: Tensor) => number;

/** Output elements x Cin/groups x prod(kernel): weight is [Cout, Cin/groups, ...kernel]. */
const conv: MacRule = (op, args, out) => out.numel * prod(tensorArg(op, args, 1).shape.slice(1));

/** Input elements x Cout/groups x prod(kernel): weight is [Cin, Cout/groups, ...kernel]. */
const convTranspose: MacRule = (op, args) => tensorArg(op, args, 0).numel * prod(tensorArg(op, args, 1).shape.slice(1));

/** aten::convolution / aten::_convolution: argument 6 says whether it is transposed. */
const convolution: MacRule = (op, args, out) => (args[6] === true ? convTranspose(op, args, out) : conv(op, args, out));

/** Output elements x the contracted size, read from the last dimension of operand `i`. */
const productOver =
  (i: number): MacRule =>
  (op, args, out) =>
    out.numel * last(tensorArg(op, args, i).shape);

/** addbmm sums B products [n, m] x [m, p] into one [n, p]. */
const addbmm: MacRule = (op, args, out) => {
  const b1 = tensorArg(op, args, 1).shape;
  return out.numel * (b1[0] ?? 1) * (b1[2] ?? 1);
};

/** outer products: one multiply per output element. */
const outer: MacRule = (_op, _args, out) => out.numel;

/** tensordot(a, b, dims_a, dims_b): output elements x the product of a's contracted sizes. */
const tensordot: MacRule = (op, args, out) => {
  const a = tensorArg(op, args, 0).shape;
  const dims = args[2];
  if (!Array.isArray(dims)) throw new TypeError(`countFlops: ${op}: dims_self must be a list`);
  return out.numel * prod((dims as readonly number[]).map((d) => a[d < 0 ? d + a.length : d] ?? 1));
};

/** bilinear: weight [out, in1, in2]; in1 x in2 MACs per output element. */
const bilinear: MacRule = (op, args, out) => {
  const w = tensorArg(op, args, 2).shape;
  return out.numel * (w[1] ?? 1) * (w[2] ?? 1);
};

/** Attention q [..., L, E], k [..., S, E], v [..., S, Ev] -> [..., L, Ev]: L S E for q k^T plus L S Ev for the weights times v. */
const attention: MacRule = (op, args, out) => {
  const e = last(tensorArg(op, args, 0).shape);
  const k = tensorArg(op, args, 1).shape;
  const s = k[k.length - 2] ?? 1;
  const ev = last(out.shape);
  return (out.numel / ev) * s * (e + ev);
};

/** The sizes of an einsum's subscripts: letters (broadcast across operands) and the broadcast ellipsis. */
export function einsumIndexSizes(equation: string, shapes: readonly Shape[]): { letters: Map<string, number>; ellipsis: number[] } {
  const lhs = (equation.split("->")[0] ?? "").replace(/\s+/g, "");
  const terms = lhs.split(",");
  if (terms.length !== shapes.length) {
    throw new RangeError(`einsum '${equation}': ${terms.length} operand subscripts for ${shapes.length} operands`);
  }
  const letters = new Map<string, number>();
  let ellipsis: number[] = [];
  terms.forEach((term, i) => {
    const shape = shapes[i] as Shape;
    const parts = term.split("...");
    if (parts.length > 2) throw new RangeError(`einsum '${equation}': more than one ellipsis in '${term}'`);
    const before = parts[0] ?? "";
    const after = parts[1] ?? "";
    const nEll = parts.length === 2 ? shape.length - before.length - after.length : 0;
    if (nEll < 0 || (parts.length === 1 && term.length !== shape.length)) {
      throw new RangeError(`einsum '${equation}': subscripts '${term}' do not fit operand ${i} of shape [${shape.join(", ")}]`);
    }
    const put = (c: string, d: number): void => {
      letters.set(c, Math.max(letters.get(c) ?? 1, shape[d] ?? 1));
    };
    [...before].forEach((c, d) => put(c, d));
    [...after].forEach((c, d) => put(c, before.length + nEll + d));
    const ell = shape.slice(before.length, before.length + nEll);
    const n = Math.max(ell.length, ellipsis.length);
    const a = [...new Array<number>(n - ellipsis.length).fill(1), ...ellipsis];
    const b = [...new Array<number>(n - ell.length).fill(1), ...ell];
    ellipsis = a.map((x, j) => Math.max(x, b[j] ?? 1));
  });
  return { letters, ellipsis };
}

/** einsum with >= 2 operands: the product of the sizes of all distinct indices; null (not a product) with one. */
function einsum(op: string, args: readonly Arg[]): number | null {
  const eq = args[0];
  const operands = args[1];
  if (typeof eq !== "string" || !Array.isArray(operands)) throw new TypeError(`countFlops: ${op}: expected (equation, tensors)`);
  if (operands.length < 2) return null;
  const shapes = (operands as readonly Arg[]).map((t, i) => {
    if (!(t instanceof Tensor)) throw new TypeError(`countFlops: ${op}: operand ${i} is not a tensor`);
    return t.shape;
  });
  const { letters, ellipsis } = einsumIndexSizes(eq, shapes);
  return prod(letters.values()) * prod(ellipsis);
}

/** The products, by op name without the overload. */
const MAC_RULES: ReadonlyMap<string, MacRule> = new Map<string, MacRule>([
  ["aten::conv1d", conv],
  ["aten::conv2d", conv],
  ["aten::conv3d", conv],
  ["aten::_convolution_mode", conv],
  ["aten::convolution", convolution],
  ["aten::_convolution", convolution],
  ["aten::conv_transpose1d", convTranspose],
  ["aten::conv_transpose2d", convTranspose],
  ["aten::conv_transpose3d", convTranspose],
  ["aten::linear", productOver(0)],
  ["aten::matmul", productOver(0)],
  ["aten::mm", productOver(0)],
  ["aten::bmm", productOver(0)],
  ["aten::mv", productOver(0)],
  ["aten::dot", productOver(0)],
  ["aten::vdot", productOver(0)],
  ["aten::addmm", productOver(1)],
  ["aten::baddbmm", productOver(1)],
  ["aten::addmv", productOver(1)],
  ["aten::addbmm", addbmm],
  ["aten::outer", outer],
  ["aten::ger", outer],
  ["aten::addr", outer],
  ["aten::tensordot", tensordot],
  ["aten::bilinear", bilinear],
  ["aten::scaled_dot_product_attention", attention],
  ["aten::_scaled_dot_product_attention", attention],
  ["aten::_scaled_dot_product_attention_math", attention],
]);

/** Ops that only reinterpret their input (no data written): left out of otherElements. */
const VIEWS: ReadonlySet<string> = new Set(
  [
    "alias", "as_strided", "chunk", "detach", "expand", "expand_as", "flatten", "movedim", "narrow", "permute", "reshape",
    "select", "slice", "split", "split_with_sizes", "squeeze", "t", "transpose", "unbind", "unflatten", "unsqueeze", "view", "view_as",
  ].map((n) => `aten::${n}`),
);

/** The op name without its overload: "aten::conv2d.padding" -> "aten::conv2d". */
export function baseOpName(name: string): string {
  const dot = name.indexOf(".", name.indexOf("::") + 2);
  return dot < 0 ? name : name.slice(0, dot);
}

/** True when countFlops counts MACs for this op (either name form). */
export function countsMacs(name: string): boolean {
  return MAC_RULES.has(baseOpName(name)) || baseOpName(name) === "aten::einsum";
}

function macsOf(base: string, args: readonly Arg[], out: Tensor): number | null {
  const rule = MAC_RULES.get(base);
  const macs = rule !== undefined ? rule(base, args, out) : base === "aten::einsum" ? einsum(base, args) : null;
  if (macs === null) return null;
  return isComplex(out.dtype) ? 4 * macs : macs;
}

/**
 * Runs fn once and counts the MACs of the products it computes. Counters nest: an
 * inner count is also added to every enclosing one. The previous observer is
 * restored when fn returns or throws. fn must be synchronous.
 */
export function countFlops<R>(fn: () => R): { result: R; report: FlopReport } {
  const byOp: Record<string, OpCount> = {};
  let macs = 0;
  let otherElements = 0;
  let previous: OpObserver | null = null;
  const observer: OpObserver = (name, args, result) => {
    const base = baseOpName(name);
    const outs = Array.isArray(result) ? result : [result];
    const first = outs[0];
    const m = first === undefined ? null : macsOf(base, args, first);
    if (m === null) {
      if (!VIEWS.has(base)) for (const t of outs) otherElements += t.numel;
    } else {
      const entry = (byOp[base] ??= { calls: 0, macs: 0 });
      entry.calls += 1;
      entry.macs += m;
      macs += m;
    }
    previous?.(name, args, result);
  };
  previous = setOpObserver(observer);
  let result: R;
  try {
    result = fn();
  } finally {
    setOpObserver(previous);
  }
  if (typeof (result as { then?: unknown } | null)?.then === "function") {
    throw new TypeError("countFlops: fn returned a promise; counting works on synchronous code only (ops after an await are not seen)");
  }
  return { result, report: { macs, flops: 2 * macs, byOp, otherElements } };
}
