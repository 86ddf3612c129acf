// Elementwise arithmetic, math functions, comparisons, where, clamp; with
// broadcasting and PyTorch's type promotion (libtorch does both).
import { Op } from "../op.js";
import type { Tensor } from "../tensor.js";
import type { Generator } from "../generator.js";

type Operand = Tensor | number;

function unary(name: string): (x: Tensor) => Tensor {
  const op = new Op(name);
  return (x) => op.tensor(x);
}

/** Binary op with Tensor and Scalar overloads (`aten::mul.Tensor`, `aten::mul.Scalar`). */
function binary(name: string, tensorOverload = "Tensor", scalarOverload = "Scalar"): (a: Tensor, b: Operand) => Tensor {
  const t = new Op(`${name}.${tensorOverload}`);
  const s = new Op(`${name}.${scalarOverload}`);
  return (a, b) => (typeof b === "number" ? s.tensor(a, b) : t.tensor(a, b));
}

function binaryInPlace(name: string): (a: Tensor, b: Operand) => void {
  const t = new Op(`${name}.Tensor`);
  const s = new Op(`${name}.Scalar`);
  return (a, b) => (typeof b === "number" ? s.inPlace(a, b) : t.inPlace(a, b));
}

const addT = new Op("aten::add.Tensor");
const addS = new Op("aten::add.Scalar");
const subT = new Op("aten::sub.Tensor");
const subS = new Op("aten::sub.Scalar");
const rsubS = new Op("aten::rsub.Scalar");

/** a + alpha * b */
export function add(a: Tensor, b: Operand, alpha = 1): Tensor {
  return typeof b === "number" ? addS.tensor(a, b, alpha) : addT.tensor(a, b, alpha);
}

/** a - alpha * b */
export function sub(a: Tensor, b: Operand, alpha = 1): Tensor {
  return typeof b === "number" ? subS.tensor(a, b, alpha) : subT.tensor(a, b, alpha);
}

/** b - a, for a number b (torch.rsub). */
export function rsub(a: Tensor, b: number): Tensor {
  return rsubS.tensor(a, b);
}

export const mul = binary("aten::mul");
export const div = binary("aten::div");
export const remainder = binary("aten::remainder");
export const pow = binary("aten::pow", "Tensor_Tensor", "Tensor_Scalar");
export const eq = binary("aten::eq");
export const ne = binary("aten::ne");
export const lt = binary("aten::lt");
export const le = binary("aten::le");
export const gt = binary("aten::gt");
export const ge = binary("aten::ge");

const maximumOp = new Op("aten::maximum");
const minimumOp = new Op("aten::minimum");
const atan2Op = new Op("aten::atan2");
export const maximum = (a: Tensor, b: Tensor): Tensor => maximumOp.tensor(a, b);
export const minimum = (a: Tensor, b: Tensor): Tensor => minimumOp.tensor(a, b);
export const atan2 = (a: Tensor, b: Tensor): Tensor => atan2Op.tensor(a, b);

export const neg = unary("aten::neg");
export const exp = unary("aten::exp");
export const expm1 = unary("aten::expm1");
export const log = unary("aten::log");
export const log1p = unary("aten::log1p");
export const log2 = unary("aten::log2");
export const log10 = unary("aten::log10");
export const sqrt = unary("aten::sqrt");
export const rsqrt = unary("aten::rsqrt");
export const abs = unary("aten::abs");
export const sign = unary("aten::sign");
export const sin = unary("aten::sin");
export const cos = unary("aten::cos");
export const tan = unary("aten::tan");
export const tanh = unary("aten::tanh");
export const erf = unary("aten::erf");
export const sigmoid = unary("aten::sigmoid");
export const reciprocal = unary("aten::reciprocal");
export const square = unary("aten::square");
export const floor = unary("aten::floor");
export const ceil = unary("aten::ceil");
export const round = unary("aten::round");
export const trunc = unary("aten::trunc");
export const isnan = unary("aten::isnan");
export const isfinite = unary("aten::isfinite");
export const isinf = unary("aten::isinf");
export const logicalNot = unary("aten::logical_not");

const logicalAndOp = new Op("aten::logical_and");
const logicalOrOp = new Op("aten::logical_or");
export const logicalAnd = (a: Tensor, b: Tensor): Tensor => logicalAndOp.tensor(a, b);
export const logicalOr = (a: Tensor, b: Tensor): Tensor => logicalOrOp.tensor(a, b);

const whereSelf = new Op("aten::where.self");
const whereScalarOther = new Op("aten::where.ScalarOther");
const whereScalarSelf = new Op("aten::where.ScalarSelf");
const whereScalar = new Op("aten::where.Scalar");

/** Elementwise `condition ? a : b`. */
export function where(condition: Tensor, a: Operand, b: Operand): Tensor {
  if (typeof a === "number") {
    return typeof b === "number" ? whereScalar.tensor(condition, a, b) : whereScalarSelf.tensor(condition, a, b);
  }
  return typeof b === "number" ? whereScalarOther.tensor(condition, a, b) : whereSelf.tensor(condition, a, b);
}

const clampS = new Op("aten::clamp");
const clampT = new Op("aten::clamp.Tensor");
const clampInPlace = new Op("aten::clamp_");

/** Limits values to [min, max]; either bound may be omitted (null/undefined). */
export function clamp(x: Tensor, min?: Operand | null, max?: Operand | null): Tensor {
  if (min == null && max == null) throw new TypeError("clamp: give at least one of min and max");
  if ((min == null || typeof min === "number") && (max == null || typeof max === "number")) {
    return clampS.tensor(x, min ?? null, max ?? null);
  }
  if (typeof min === "number" || typeof max === "number") {
    throw new TypeError("clamp: min and max must both be numbers or both be tensors");
  }
  return clampT.tensor(x, min ?? null, max ?? null);
}

const lerpS = new Op("aten::lerp.Scalar");
const lerpT = new Op("aten::lerp.Tensor");
/** a + weight * (b - a) */
export function lerp(a: Tensor, b: Tensor, weight: Operand): Tensor {
  return typeof weight === "number" ? lerpS.tensor(a, b, weight) : lerpT.tensor(a, b, weight);
}

// In-place versions: they mutate their first argument (used by optimisers and init).
const addInT = new Op("aten::add_.Tensor");
const addInS = new Op("aten::add_.Scalar");
export function add_(a: Tensor, b: Operand, alpha = 1): void {
  if (typeof b === "number") addInS.inPlace(a, b, alpha);
  else addInT.inPlace(a, b, alpha);
}
const subInT = new Op("aten::sub_.Tensor");
const subInS = new Op("aten::sub_.Scalar");
export function sub_(a: Tensor, b: Operand, alpha = 1): void {
  if (typeof b === "number") subInS.inPlace(a, b, alpha);
  else subInT.inPlace(a, b, alpha);
}
export const mul_ = binaryInPlace("aten::mul_");
export const div_ = binaryInPlace("aten::div_");

const copyIn = new Op("aten::copy_");
const zeroIn = new Op("aten::zero_");
const fillInS = new Op("aten::fill_.Scalar");
const addcmulIn = new Op("aten::addcmul_");
const addcdivIn = new Op("aten::addcdiv_");
const lerpInS = new Op("aten::lerp_.Scalar");
const uniformIn = new Op("aten::uniform_");
const normalIn = new Op("aten::normal_");
const sqrtIn = new Op("aten::sqrt_");

export const copy_ = (dst: Tensor, src: Tensor): void => copyIn.inPlace(dst, src);
export const zero_ = (t: Tensor): void => zeroIn.inPlace(t);
export const fill_ = (t: Tensor, value: number): void => fillInS.inPlace(t, value);
export const clamp_ = (t: Tensor, min: number | null, max: number | null): void => clampInPlace.inPlace(t, min, max);
/** t += value * a * b */
export const addcmul_ = (t: Tensor, a: Tensor, b: Tensor, value = 1): void => addcmulIn.inPlace(t, a, b, value);
/** t += value * a / b */
export const addcdiv_ = (t: Tensor, a: Tensor, b: Tensor, value = 1): void => addcdivIn.inPlace(t, a, b, value);
export const lerp_ = (t: Tensor, end: Tensor, weight: number): void => lerpInS.inPlace(t, end, weight);
export const sqrt_ = (t: Tensor): void => sqrtIn.inPlace(t);
export const uniform_ = (t: Tensor, low = 0, high = 1, generator?: Generator): void =>
  uniformIn.inPlace(t, low, high, generator ?? null);
export const normal_ = (t: Tensor, mean = 0, std = 1, generator?: Generator): void =>
  normalIn.inPlace(t, mean, std, generator ?? null);
