// The Tensor methods that run ops ("chained ops": x.add(y), x.to("float64"),
// x.sum(), x.matmul(w), x.relu(), ...), as TensorFlow.js adds its chained ops.
//
// tensor.ts holds the core class and imports no op module, because the op
// modules (op.ts, ops/*.ts, nn/functional.ts, generator.ts) import Tensor. This
// file sits above both: it declares the methods on Tensor by declaration merging
// and installs them on Tensor.prototype when it is loaded, as non-enumerable
// properties like the class's own methods. Loading it is a side effect that every
// entry module performs first (index.ts, nn/index.ts, optim/index.ts,
// io/safetensors.ts, flops.ts, gradcheck.ts, autograd.ts). The modules it imports
// (tensor.ts, generator.ts, op.ts, ops/*.ts but fft.ts, nn/functional.ts) must
// never import it: that would be an import cycle. So a caller that imports only
// those, without an entry module, gets Tensors without these methods, and the few
// op functions that chain methods themselves (ops/creation.ts: tensor() when it
// converts the dtype, normal(), uniform(); nn/functional.ts:
// scaledDotProductAttention()) need an entry module loaded first. Methods are
// thin: the work is in ops/ and nn/functional.ts.
import { native } from "./native.js";
import { dtypeCode, isComplex, type DType } from "./dtype.js";
import { parseDevice, type Device } from "./device.js";
import { Op } from "./op.js";
import { Tensor } from "./tensor.js";
import * as m from "./ops/math.js";
import * as r from "./ops/reduce.js";
import * as s from "./ops/shape.js";
import * as la from "./ops/linalg.js";
import * as c from "./ops/creation.js";
import * as F from "./nn/functional.js";

type Operand = Tensor | number;

declare module "./tensor.js" {
  interface Tensor {
    // ---- data ----

    /**
     * A copy of the elements in a typed array: Float32Array for float32/float16/
     * bfloat16 (converted), Float64Array, BigInt64Array for int64, Int32Array,
     * Int16Array, Int8Array, Uint8Array for uint8 and bool, and interleaved
     * (re, im) Float32Array/Float64Array for complex64/complex128.
     */
    data(): Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | BigInt64Array;
    /** The elements as plain numbers (booleans as 0/1), flat, in row-major order. */
    toArray(): number[];
    /** The value of a one-element tensor. */
    item(): number;

    // ---- conversion ----

    /** A tensor of another dtype or on another device (this one if nothing changes, as a new handle). */
    to(target: DType | Device, options?: { copy?: boolean }): Tensor;
    float(): Tensor;
    double(): Tensor;
    long(): Tensor;
    int(): Tensor;
    half(): Tensor;
    bool(): Tensor;
    cpu(): Tensor;
    contiguous(): Tensor;
    clone(): Tensor;
    detach(): Tensor;

    // ---- creation helpers with this tensor's dtype and device ----

    newZeros(shape: readonly number[], dtype?: DType): Tensor;
    newOnes(shape: readonly number[], dtype?: DType): Tensor;
    newFull(shape: readonly number[], value: number, dtype?: DType): Tensor;
    newTensor(data: Parameters<typeof c.tensor>[0], shape?: readonly number[], dtype?: DType): Tensor;

    // ---- arithmetic ----

    add(other: Operand, alpha?: number): Tensor;
    sub(other: Operand, alpha?: number): Tensor;
    /** other - this, for a number other. */
    rsub(other: number): Tensor;
    mul(other: Operand): Tensor;
    div(other: Operand): Tensor;
    pow(exponent: Operand): Tensor;
    remainder(other: Operand): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    log1p(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    abs(): Tensor;
    sign(): Tensor;
    sin(): Tensor;
    cos(): Tensor;
    tanh(): Tensor;
    erf(): Tensor;
    square(): Tensor;
    reciprocal(): Tensor;
    floor(): Tensor;
    round(): Tensor;
    clamp(min?: Operand | null, max?: Operand | null): Tensor;
    lerp(end: Tensor, weight: Operand): Tensor;
    maximum(other: Tensor): Tensor;
    minimum(other: Tensor): Tensor;

    // ---- comparisons and logic ----

    eq(other: Operand): Tensor;
    ne(other: Operand): Tensor;
    lt(other: Operand): Tensor;
    le(other: Operand): Tensor;
    gt(other: Operand): Tensor;
    ge(other: Operand): Tensor;
    logicalNot(): Tensor;
    isnan(): Tensor;
    isfinite(): Tensor;
    /** this where condition holds, else other (torch.where(condition, this, other)). */
    where(condition: Tensor, other: Operand): Tensor;
    maskedFill(mask: Tensor, value: number): Tensor;

    // ---- in place (return this) ----

    add_(other: Operand, alpha?: number): this;
    sub_(other: Operand, alpha?: number): this;
    mul_(other: Operand): this;
    div_(other: Operand): this;
    copy_(src: Tensor): this;
    zero_(): this;
    fill_(value: number): this;
    clamp_(min: number | null, max: number | null): this;

    // ---- reductions ----

    sum(dim?: r.Dims, keepdim?: boolean): Tensor;
    mean(dim?: r.Dims, keepdim?: boolean): Tensor;
    prod(dim?: number, keepdim?: boolean): Tensor;
    /** Largest value overall, or along dim (values only; ops.max gives indices too). */
    amax(dim?: r.Dims, keepdim?: boolean): Tensor;
    amin(dim?: r.Dims, keepdim?: boolean): Tensor;
    argmax(dim?: number, keepdim?: boolean): Tensor;
    argmin(dim?: number, keepdim?: boolean): Tensor;
    var(dim?: r.Dims, options?: r.VarOptions): Tensor;
    std(dim?: r.Dims, options?: r.VarOptions): Tensor;
    cumsum(dim: number): Tensor;
    cumprod(dim: number): Tensor;
    logsumexp(dim: r.Dims, keepdim?: boolean): Tensor;
    norm(ord?: number, dim?: r.Dims, keepdim?: boolean): Tensor;

    // ---- shape ----

    reshape(...shape: number[]): Tensor;
    view(...shape: number[]): Tensor;
    permute(...dims: number[]): Tensor;
    transpose(dim0: number, dim1: number): Tensor;
    /** Transpose of a 2-D tensor. */
    get T(): Tensor;
    squeeze(dim?: number): Tensor;
    unsqueeze(dim: number): Tensor;
    expand(...shape: number[]): Tensor;
    expandAs(other: Tensor): Tensor;
    repeat(...repeats: number[]): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    split(size: number | readonly number[], dim?: number): Tensor[];
    chunk(chunks: number, dim?: number): Tensor[];
    narrow(dim: number, start: number, length: number): Tensor;
    slice(dim: number, start?: number | null, end?: number | null, step?: number): Tensor;
    select(dim: number, index: number): Tensor;
    indexSelect(dim: number, index: Tensor): Tensor;
    gather(dim: number, index: Tensor): Tensor;
    flip(...dims: number[]): Tensor;
    roll(shifts: number | readonly number[], dims: number | readonly number[]): Tensor;
    tril(diagonal?: number): Tensor;
    triu(diagonal?: number): Tensor;

    // ---- products and activations ----

    matmul(other: Tensor): Tensor;
    relu(): Tensor;
    sigmoid(): Tensor;
    softmax(dim: number): Tensor;
    logSoftmax(dim: number): Tensor;
  }
}

const toDtypeOp = new Op("aten::to.dtype");
const toDeviceOp = new Op("aten::to.device");
const itemOp = new Op("aten::item");

// The bodies, one per method declared above (parameter types come from those
// declarations; `satisfies` rejects a name that is not declared or a wrong type).
const methods = {
  // ---- data ----

  data() {
    const dtype = this.dtype;
    if (dtype === "float16" || dtype === "bfloat16") {
      const f = this.to("float32");
      try {
        return new Float32Array(native.toBytes(f.id));
      } finally {
        f.dispose();
      }
    }
    const buf = native.toBytes(this.id);
    switch (dtype) {
      case "float32":
      case "complex64":
        return new Float32Array(buf);
      case "float64":
      case "complex128":
        return new Float64Array(buf);
      case "int64":
        return new BigInt64Array(buf);
      case "int32":
        return new Int32Array(buf);
      case "int16":
        return new Int16Array(buf);
      case "int8":
        return new Int8Array(buf);
      case "uint8":
      case "bool":
        return new Uint8Array(buf);
    }
  },
  toArray() {
    if (isComplex(this.dtype)) throw new TypeError("toArray: complex tensor; use data() or viewAsReal()");
    const d = this.data();
    return d instanceof BigInt64Array ? Array.from(d, Number) : Array.from(d);
  },
  item() {
    if (this.numel !== 1) throw new RangeError(`item: tensor has ${this.numel} elements, expected 1 [${this.shape.join(", ")}]`);
    const v = itemOp.value(this);
    if (typeof v === "boolean") return v ? 1 : 0;
    if (typeof v !== "number") throw new TypeError(`item: tensor of dtype ${this.dtype} has no real value`);
    return v;
  },

  // ---- conversion ----

  to(target, options = {}) {
    if (target === "cpu" || target === "cuda" || target.startsWith("cuda:")) {
      return toDeviceOp.tensor(this, parseDevice(target), dtypeCode(this.dtype), false, options.copy ?? false);
    }
    return toDtypeOp.tensor(this, dtypeCode(target as DType), false, options.copy ?? false);
  },
  float() {
    return this.to("float32");
  },
  double() {
    return this.to("float64");
  },
  long() {
    return this.to("int64");
  },
  int() {
    return this.to("int32");
  },
  half() {
    return this.to("float16");
  },
  bool() {
    return this.to("bool");
  },
  cpu() {
    return this.to("cpu");
  },
  contiguous() {
    return s.contiguous(this);
  },
  clone() {
    return s.clone(this);
  },
  detach() {
    return s.detach(this);
  },

  // ---- creation helpers with this tensor's dtype and device ----
  // (`this: Tensor` because ThisType does not reach a parameter's default value)

  newZeros(this: Tensor, shape, dtype = this.dtype) {
    return c.zeros(shape, { dtype, device: this.device });
  },
  newOnes(this: Tensor, shape, dtype = this.dtype) {
    return c.ones(shape, { dtype, device: this.device });
  },
  newFull(this: Tensor, shape, value, dtype = this.dtype) {
    return c.full(shape, value, { dtype, device: this.device });
  },
  newTensor(this: Tensor, data, shape, dtype = this.dtype) {
    return c.tensor(data, shape, { dtype, device: this.device });
  },

  // ---- arithmetic ----

  add(other, alpha = 1) {
    return m.add(this, other, alpha);
  },
  sub(other, alpha = 1) {
    return m.sub(this, other, alpha);
  },
  rsub(other) {
    return m.rsub(this, other);
  },
  mul(other) {
    return m.mul(this, other);
  },
  div(other) {
    return m.div(this, other);
  },
  pow(exponent) {
    return m.pow(this, exponent);
  },
  remainder(other) {
    return m.remainder(this, other);
  },
  neg() {
    return m.neg(this);
  },
  exp() {
    return m.exp(this);
  },
  log() {
    return m.log(this);
  },
  log1p() {
    return m.log1p(this);
  },
  sqrt() {
    return m.sqrt(this);
  },
  rsqrt() {
    return m.rsqrt(this);
  },
  abs() {
    return m.abs(this);
  },
  sign() {
    return m.sign(this);
  },
  sin() {
    return m.sin(this);
  },
  cos() {
    return m.cos(this);
  },
  tanh() {
    return m.tanh(this);
  },
  erf() {
    return m.erf(this);
  },
  square() {
    return m.square(this);
  },
  reciprocal() {
    return m.reciprocal(this);
  },
  floor() {
    return m.floor(this);
  },
  round() {
    return m.round(this);
  },
  clamp(min, max) {
    return m.clamp(this, min, max);
  },
  lerp(end, weight) {
    return m.lerp(this, end, weight);
  },
  maximum(other) {
    return m.maximum(this, other);
  },
  minimum(other) {
    return m.minimum(this, other);
  },

  // ---- comparisons and logic ----

  eq(other) {
    return m.eq(this, other);
  },
  ne(other) {
    return m.ne(this, other);
  },
  lt(other) {
    return m.lt(this, other);
  },
  le(other) {
    return m.le(this, other);
  },
  gt(other) {
    return m.gt(this, other);
  },
  ge(other) {
    return m.ge(this, other);
  },
  logicalNot() {
    return m.logicalNot(this);
  },
  isnan() {
    return m.isnan(this);
  },
  isfinite() {
    return m.isfinite(this);
  },
  where(condition, other) {
    return m.where(condition, this, other);
  },
  maskedFill(mask, value) {
    return s.maskedFill(this, mask, value);
  },

  // ---- in place (return this) ----

  add_(other, alpha = 1) {
    m.add_(this, other, alpha);
    return this;
  },
  sub_(other, alpha = 1) {
    m.sub_(this, other, alpha);
    return this;
  },
  mul_(other) {
    m.mul_(this, other);
    return this;
  },
  div_(other) {
    m.div_(this, other);
    return this;
  },
  copy_(src) {
    m.copy_(this, src);
    return this;
  },
  zero_() {
    m.zero_(this);
    return this;
  },
  fill_(value) {
    m.fill_(this, value);
    return this;
  },
  clamp_(min, max) {
    m.clamp_(this, min, max);
    return this;
  },

  // ---- reductions ----

  sum(dim, keepdim = false) {
    return r.sum(this, dim, keepdim);
  },
  mean(dim, keepdim = false) {
    return r.mean(this, dim, keepdim);
  },
  prod(dim, keepdim = false) {
    return r.prod(this, dim, keepdim);
  },
  amax(dim, keepdim = false) {
    return r.amax(this, dim, keepdim);
  },
  amin(dim, keepdim = false) {
    return r.amin(this, dim, keepdim);
  },
  argmax(dim, keepdim = false) {
    return r.argmax(this, dim, keepdim);
  },
  argmin(dim, keepdim = false) {
    return r.argmin(this, dim, keepdim);
  },
  var(dim, options) {
    return r.variance(this, dim, options);
  },
  std(dim, options) {
    return r.std(this, dim, options);
  },
  cumsum(dim) {
    return r.cumsum(this, dim);
  },
  cumprod(dim) {
    return r.cumprod(this, dim);
  },
  logsumexp(dim, keepdim = false) {
    return r.logsumexp(this, dim, keepdim);
  },
  norm(ord = 2, dim, keepdim = false) {
    return r.norm(this, ord, dim, keepdim);
  },

  // ---- shape ----

  reshape(...shape) {
    return s.reshape(this, shape);
  },
  view(...shape) {
    return s.view(this, shape);
  },
  permute(...dims) {
    return s.permute(this, dims);
  },
  transpose(dim0, dim1) {
    return s.transpose(this, dim0, dim1);
  },
  get T() {
    if (this.ndim !== 2) throw new RangeError(`T: expects a 2-D tensor, got [${this.shape.join(", ")}]`);
    return s.transpose(this, 0, 1);
  },
  squeeze(dim) {
    return s.squeeze(this, dim);
  },
  unsqueeze(dim) {
    return s.unsqueeze(this, dim);
  },
  expand(...shape) {
    return s.expand(this, shape);
  },
  expandAs(other) {
    return s.expand(this, other.shape);
  },
  repeat(...repeats) {
    return s.repeat(this, repeats);
  },
  flatten(startDim = 0, endDim = -1) {
    return s.flatten(this, startDim, endDim);
  },
  split(size, dim = 0) {
    return s.split(this, size, dim);
  },
  chunk(chunks, dim = 0) {
    return s.chunk(this, chunks, dim);
  },
  narrow(dim, start, length) {
    return s.narrow(this, dim, start, length);
  },
  slice(dim, start, end, step = 1) {
    return s.slice(this, dim, start, end, step);
  },
  select(dim, index) {
    return s.select(this, dim, index);
  },
  indexSelect(dim, index) {
    return s.indexSelect(this, dim, index);
  },
  gather(dim, index) {
    return s.gather(this, dim, index);
  },
  flip(...dims) {
    return s.flip(this, dims);
  },
  roll(shifts, dims) {
    return s.roll(this, shifts, dims);
  },
  tril(diagonal = 0) {
    return s.tril(this, diagonal);
  },
  triu(diagonal = 0) {
    return s.triu(this, diagonal);
  },

  // ---- products and activations ----

  matmul(other) {
    return la.matmul(this, other);
  },
  relu() {
    return F.relu(this);
  },
  sigmoid() {
    return F.sigmoid(this);
  },
  softmax(dim) {
    return F.softmax(this, dim);
  },
  logSoftmax(dim) {
    return F.logSoftmax(this, dim);
  },
} satisfies Partial<Tensor> & ThisType<Tensor>;

// Installed as a class declares its methods: writable, configurable, not enumerable.
for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(methods))) {
  if (Object.hasOwn(Tensor.prototype, name)) throw new Error(`tensor_methods: Tensor.prototype.${name} is already defined`);
  Object.defineProperty(Tensor.prototype, name, { ...descriptor, enumerable: false });
}
