// Making tensors: from data, constants, ranges, identity, random draws.
import { native } from "../native.js";
import { dtypeCode, dtypeOfTypedArray, getDefaultDType, type DType, type TypedArray } from "../dtype.js";
import { getDefaultDevice, parseDevice } from "../device.js";
import { Op } from "../op.js";
import { Tensor } from "../tensor.js";
import { checkShape, resolveOptions, type RandomOptions, type TensorOptions } from "./options.js";

export type NestedArray = number | boolean | NestedArray[];

function finish(t: Tensor, o: TensorOptions | undefined): Tensor {
  if (o?.requiresGrad) t.requiresGrad_(true);
  return t;
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0] as NestedArray;
  }
  return shape;
}

function flatten(data: NestedArray, shape: readonly number[], depth: number, out: (number | boolean)[]): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new RangeError("tensor: ragged nested array");
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) throw new RangeError("tensor: ragged nested array");
  for (const d of data) flatten(d, shape, depth + 1, out);
}

/**
 * A tensor from values: a typed array (its dtype is kept unless options.dtype
 * says otherwise), or nested JS arrays of numbers/booleans (float32 by default).
 * `shape` defaults to the typed array's length or the nesting of the arrays.
 */
export function tensor(data: TypedArray | NestedArray, shape?: readonly number[], options?: TensorOptions): Tensor {
  let values: TypedArray;
  let inferred: number[];
  if (ArrayBuffer.isView(data)) {
    values = data;
    inferred = [data.length];
  } else {
    inferred = inferShape(data);
    const flat: (number | boolean)[] = [];
    flatten(data, inferred, 0, flat);
    if (flat.length > 0 && typeof flat[0] === "boolean") {
      values = Uint8Array.from(flat, (v) => (v ? 1 : 0));
      return fromTypedArray(values, shape ?? inferred, options?.dtype ?? "bool", options);
    }
    values = Float64Array.from(flat as number[]);
    return fromTypedArray(values, shape ?? inferred, options?.dtype ?? getDefaultDType(), options);
  }
  return fromTypedArray(values, shape ?? inferred, options?.dtype ?? dtypeOfTypedArray(values), options);
}

function fromTypedArray(values: TypedArray, shape: readonly number[], dtype: DType, options?: TensorOptions): Tensor {
  checkShape(shape, "tensor");
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel !== values.length) {
    throw new RangeError(`tensor: shape [${shape.join(", ")}] holds ${numel} elements, data has ${values.length}`);
  }
  const device = parseDevice(options?.device ?? getDefaultDevice());
  const natural = dtypeOfTypedArray(values);
  let t: Tensor;
  // Bytes go straight into a bool tensor only when each is 0 or 1 (anything else
  // would be an invalid bool); otherwise libtorch converts (non-zero -> true).
  if (natural === dtype || (dtype === "bool" && natural === "uint8" && (values as Uint8Array).every((v) => v <= 1))) {
    t = new Tensor(native.fromBytes(values, shape, dtypeCode(dtype), device));
  } else {
    const raw = new Tensor(native.fromBytes(values, shape, dtypeCode(natural), device));
    t = raw.to(dtype);
    raw.dispose();
  }
  return finish(t, options);
}

/** A tensor from raw little-endian bytes in the given dtype (as stored in safetensors). */
export function fromBytes(bytes: Uint8Array, shape: readonly number[], dtype: DType, options?: TensorOptions): Tensor {
  checkShape(shape, "fromBytes");
  const device = parseDevice(options?.device ?? getDefaultDevice());
  return finish(new Tensor(native.fromBytes(bytes, shape, dtypeCode(dtype), device)), options);
}

const emptyOp = new Op("aten::empty.memory_format");
const zerosOp = new Op("aten::zeros");
const onesOp = new Op("aten::ones");
const fullOp = new Op("aten::full");
const arangeOp = new Op("aten::arange.start_step");
const linspaceOp = new Op("aten::linspace");
const eyeOp = new Op("aten::eye.m");

export function empty(shape: readonly number[], options?: TensorOptions): Tensor {
  const [dt, dev] = resolveOptions(options);
  return finish(emptyOp.tensor(checkShape(shape, "empty"), dt, null, dev), options);
}

export function zeros(shape: readonly number[], options?: TensorOptions): Tensor {
  const [dt, dev] = resolveOptions(options);
  return finish(zerosOp.tensor(checkShape(shape, "zeros"), dt, null, dev), options);
}

export function ones(shape: readonly number[], options?: TensorOptions): Tensor {
  const [dt, dev] = resolveOptions(options);
  return finish(onesOp.tensor(checkShape(shape, "ones"), dt, null, dev), options);
}

export function full(shape: readonly number[], value: number | boolean, options?: TensorOptions): Tensor {
  const [dt, dev] = resolveOptions(options, typeof value === "boolean" ? "bool" : getDefaultDType());
  return finish(fullOp.tensor(checkShape(shape, "full"), value, dt, null, dev), options);
}

function likeOptions(t: Tensor, o?: TensorOptions): TensorOptions {
  return { dtype: o?.dtype ?? t.dtype, device: o?.device ?? t.device, requiresGrad: o?.requiresGrad ?? false };
}

export const zerosLike = (t: Tensor, o?: TensorOptions): Tensor => zeros(t.shape, likeOptions(t, o));
export const onesLike = (t: Tensor, o?: TensorOptions): Tensor => ones(t.shape, likeOptions(t, o));
export const fullLike = (t: Tensor, value: number, o?: TensorOptions): Tensor => full(t.shape, value, likeOptions(t, o));
export const emptyLike = (t: Tensor, o?: TensorOptions): Tensor => empty(t.shape, likeOptions(t, o));

/** arange(end) or arange(start, end, step): values in [start, end). Float unless dtype says otherwise. */
export function arange(start: number, end?: number, step = 1, options?: TensorOptions): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new RangeError("arange: step must be non-zero");
  const [dt, dev] = resolveOptions(options);
  return finish(arangeOp.tensor(start, end, step, dt, null, dev), options);
}

export function linspace(start: number, end: number, steps: number, options?: TensorOptions): Tensor {
  const [dt, dev] = resolveOptions(options);
  return finish(linspaceOp.tensor(start, end, steps, dt, null, dev), options);
}

export function eye(n: number, m = n, options?: TensorOptions): Tensor {
  const [dt, dev] = resolveOptions(options);
  return finish(eyeOp.tensor(n, m, dt, null, dev), options);
}

const randnOp = new Op("aten::randn.generator");
const randOp = new Op("aten::rand.generator");
const randintOp = new Op("aten::randint.low_generator");
const randpermOp = new Op("aten::randperm.generator");
const multinomialOp = new Op("aten::multinomial");

/** Standard normal draws. Seeded by options.generator, else the default generator. */
export function randn(shape: readonly number[], options?: RandomOptions): Tensor {
  const [dt, dev] = resolveOptions(options);
  return finish(randnOp.tensor(checkShape(shape, "randn"), options?.generator ?? null, dt, null, dev), options);
}

/** Uniform draws in [0, 1). */
export function rand(shape: readonly number[], options?: RandomOptions): Tensor {
  const [dt, dev] = resolveOptions(options);
  return finish(randOp.tensor(checkShape(shape, "rand"), options?.generator ?? null, dt, null, dev), options);
}

/** Normal draws with the given mean and standard deviation. */
export function normal(mean: number, std: number, shape: readonly number[], options?: RandomOptions): Tensor {
  const z = randn(shape, { ...options, requiresGrad: false });
  const out = z.mul(std).add_(mean);
  z.dispose();
  return finish(out, options);
}

/** Uniform draws in [low, high). */
export function uniform(low: number, high: number, shape: readonly number[], options?: RandomOptions): Tensor {
  const u = rand(shape, { ...options, requiresGrad: false });
  const out = u.mul(high - low).add_(low);
  u.dispose();
  return finish(out, options);
}

/** Integers in [low, high); int64 unless options.dtype says otherwise. */
export function randint(low: number, high: number, shape: readonly number[], options?: RandomOptions): Tensor {
  if (!(high > low)) throw new RangeError(`randint: high (${high}) must be greater than low (${low})`);
  const [dt, dev] = resolveOptions(options, "int64");
  return randintOp.tensor(low, high, checkShape(shape, "randint"), options?.generator ?? null, dt, null, dev);
}

export function randperm(n: number, options?: RandomOptions): Tensor {
  const [dt, dev] = resolveOptions(options, "int64");
  return randpermOp.tensor(n, options?.generator ?? null, dt, null, dev);
}

/** Indices drawn from each row of `probs` (non-negative weights). */
export function multinomial(probs: Tensor, numSamples: number, replacement = false, options?: { generator?: RandomOptions["generator"] }): Tensor {
  return multinomialOp.tensor(probs, numSamples, replacement, options?.generator ?? null);
}

export const randnLike = (t: Tensor, o?: RandomOptions): Tensor => randn(t.shape, { ...likeOptions(t, o), generator: o?.generator });
export const randLike = (t: Tensor, o?: RandomOptions): Tensor => rand(t.shape, { ...likeOptions(t, o), generator: o?.generator });
