// The Tensor: one JS object owning one native tensor handle.
//
// Views (reshape, slice, transpose, ...) get handles of their own; libtorch's
// refcount keeps shared storage alive until the last handle is freed. Methods
// are thin: the work is in ops/ and nn/functional.ts.
import { native } from "./native.js";
import { dtypeCode, dtypeFromCode, isComplex, type DType } from "./dtype.js";
import { parseDevice, type Device } from "./device.js";
import { DisposedTensorError } from "./errors.js";
import { onTensorCreated, onTensorDisposed, TENSOR_BRAND, type ScopedTensor } from "./scope.js";
import * as m from "./ops/math.js";
import * as r from "./ops/reduce.js";
import * as s from "./ops/shape.js";
import * as la from "./ops/linalg.js";
import * as c from "./ops/creation.js";
import * as F from "./nn/functional.js";
import { Op } from "./op.js";

type Operand = Tensor | number;

const toDtypeOp = new Op("aten::to.dtype");
const toDeviceOp = new Op("aten::to.device");
const itemOp = new Op("aten::item");

export class Tensor implements ScopedTensor {
  declare readonly [TENSOR_BRAND]: true;
  #held: { id: number };
  #shape: readonly number[] | undefined;
  #dtype: DType | undefined;
  /** Set by keep(): no tidy() scope disposes this tensor. */
  _kept = false;

  /** Wraps a native handle id; the new Tensor owns it. Not for everyday use: see tensor(), zeros(), ... */
  constructor(id: number) {
    this.#held = onTensorCreated(this, id);
  }

  /** The native handle id. Throws if the tensor was disposed. */
  get id(): number {
    const id = this.#held.id;
    if (id === 0) throw new DisposedTensorError();
    return id;
  }

  get isDisposed(): boolean {
    return this.#held.id === 0;
  }

  /** Frees the native tensor now. Safe to call twice. */
  dispose(): void {
    const id = this.#held.id;
    if (id === 0) return;
    onTensorDisposed(this, this.#held);
    native.free(id);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * Makes this object own `other`'s handle (freeing its own), and disposes
   * `other`'s wrapper. Identity is kept, so holders of this object (optimisers)
   * see the new data. Used by Module.to().
   */
  _assign(other: Tensor): void {
    const newId = other.id;
    // Detach `other` from its handle without freeing it.
    onTensorDisposed(other, other.#held);
    const oldId = this.id;
    this.#held.id = newId;
    this.#shape = undefined;
    this.#dtype = undefined;
    native.free(oldId);
  }

  // ---- metadata ----

  get shape(): readonly number[] {
    if (this.#shape === undefined) this.#shape = Object.freeze(native.shape(this.id));
    return this.#shape;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  /** Size of one dimension (negative counts from the end). */
  size(dim: number): number {
    const n = this.ndim;
    const d = dim < 0 ? dim + n : dim;
    const v = this.shape[d];
    if (v === undefined) throw new RangeError(`size: dimension ${dim} out of range for a ${n}-D tensor`);
    return v;
  }

  get dtype(): DType {
    if (this.#dtype === undefined) this.#dtype = dtypeFromCode(native.scalarType(this.id));
    return this.#dtype;
  }

  get device(): Device {
    return parseDevice(native.device(this.id));
  }

  get strides(): number[] {
    return native.strides(this.id);
  }

  isContiguous(): boolean {
    return native.isContiguous(this.id);
  }

  toString(): string {
    if (this.isDisposed) return "Tensor(disposed)";
    return `Tensor(shape=[${this.shape.join(", ")}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---- data ----

  /**
   * A copy of the elements in a typed array: Float32Array for float32/float16/
   * bfloat16 (converted), Float64Array, BigInt64Array for int64, Int32Array,
   * Int16Array, Int8Array, Uint8Array for uint8 and bool, and interleaved
   * (re, im) Float32Array/Float64Array for complex64/complex128.
   */
  data(): Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | BigInt64Array {
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
  }

  /** The elements as plain numbers (booleans as 0/1), flat, in row-major order. */
  toArray(): number[] {
    if (isComplex(this.dtype)) throw new TypeError("toArray: complex tensor; use data() or viewAsReal()");
    const d = this.data();
    return d instanceof BigInt64Array ? Array.from(d, Number) : Array.from(d);
  }

  /** The raw little-endian bytes of the elements in this dtype (contiguous, on CPU). */
  bytes(): Uint8Array {
    return new Uint8Array(native.toBytes(this.id));
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.numel !== 1) throw new RangeError(`item: tensor has ${this.numel} elements, expected 1 [${this.shape.join(", ")}]`);
    const v = itemOp.value(this);
    if (typeof v === "boolean") return v ? 1 : 0;
    if (typeof v !== "number") throw new TypeError(`item: tensor of dtype ${this.dtype} has no real value`);
    return v;
  }

  // ---- conversion ----

  /** A tensor of another dtype or on another device (this one if nothing changes, as a new handle). */
  to(target: DType | Device, options: { copy?: boolean } = {}): Tensor {
    if (target === "cpu" || target === "cuda" || target.startsWith("cuda:")) {
      return toDeviceOp.tensor(this, parseDevice(target), dtypeCode(this.dtype), false, options.copy ?? false);
    }
    return toDtypeOp.tensor(this, dtypeCode(target as DType), false, options.copy ?? false);
  }
  float(): Tensor {
    return this.to("float32");
  }
  double(): Tensor {
    return this.to("float64");
  }
  long(): Tensor {
    return this.to("int64");
  }
  int(): Tensor {
    return this.to("int32");
  }
  half(): Tensor {
    return this.to("float16");
  }
  bool(): Tensor {
    return this.to("bool");
  }
  cpu(): Tensor {
    return this.to("cpu");
  }
  contiguous(): Tensor {
    return s.contiguous(this);
  }
  clone(): Tensor {
    return s.clone(this);
  }
  detach(): Tensor {
    return s.detach(this);
  }

  // ---- autograd ----

  get requiresGrad(): boolean {
    return native.requiresGrad(this.id);
  }
  set requiresGrad(value: boolean) {
    native.setRequiresGrad(this.id, value);
  }
  requiresGrad_(value = true): this {
    native.setRequiresGrad(this.id, value);
    return this;
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.id);
  }
  /**
   * The accumulated gradient, or null. Each read returns a new handle (tracked
   * by the current tidy() like any tensor); it shares storage with the gradient.
   */
  get grad(): Tensor | null {
    const g = native.getGrad(this.id);
    return g === null ? null : new Tensor(g);
  }
  set grad(value: Tensor | null) {
    native.setGrad(this.id, value === null ? null : value.id);
  }
  /** Drops the gradient (sets it to None, as PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    native.setGrad(this.id, null);
  }
  retainGrad(): this {
    native.retainGrad(this.id);
    return this;
  }
  /** Backpropagates from this tensor (a scalar unless `gradient` is given). */
  backward(gradient?: Tensor, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    const create = options.createGraph ?? false;
    native.backward([this.id], gradient ? [gradient.id] : null, options.retainGraph ?? create, create);
  }

  // ---- creation helpers with this tensor's dtype and device ----

  newZeros(shape: readonly number[], dtype: DType = this.dtype): Tensor {
    return c.zeros(shape, { dtype, device: this.device });
  }
  newOnes(shape: readonly number[], dtype: DType = this.dtype): Tensor {
    return c.ones(shape, { dtype, device: this.device });
  }
  newFull(shape: readonly number[], value: number, dtype: DType = this.dtype): Tensor {
    return c.full(shape, value, { dtype, device: this.device });
  }
  newTensor(data: Parameters<typeof c.tensor>[0], shape?: readonly number[], dtype: DType = this.dtype): Tensor {
    return c.tensor(data, shape, { dtype, device: this.device });
  }

  // ---- arithmetic ----

  add(other: Operand, alpha = 1): Tensor {
    return m.add(this, other, alpha);
  }
  sub(other: Operand, alpha = 1): Tensor {
    return m.sub(this, other, alpha);
  }
  /** other - this, for a number other. */
  rsub(other: number): Tensor {
    return m.rsub(this, other);
  }
  mul(other: Operand): Tensor {
    return m.mul(this, other);
  }
  div(other: Operand): Tensor {
    return m.div(this, other);
  }
  pow(exponent: Operand): Tensor {
    return m.pow(this, exponent);
  }
  remainder(other: Operand): Tensor {
    return m.remainder(this, other);
  }
  neg(): Tensor {
    return m.neg(this);
  }
  exp(): Tensor {
    return m.exp(this);
  }
  log(): Tensor {
    return m.log(this);
  }
  log1p(): Tensor {
    return m.log1p(this);
  }
  sqrt(): Tensor {
    return m.sqrt(this);
  }
  rsqrt(): Tensor {
    return m.rsqrt(this);
  }
  abs(): Tensor {
    return m.abs(this);
  }
  sign(): Tensor {
    return m.sign(this);
  }
  sin(): Tensor {
    return m.sin(this);
  }
  cos(): Tensor {
    return m.cos(this);
  }
  tanh(): Tensor {
    return m.tanh(this);
  }
  erf(): Tensor {
    return m.erf(this);
  }
  square(): Tensor {
    return m.square(this);
  }
  reciprocal(): Tensor {
    return m.reciprocal(this);
  }
  floor(): Tensor {
    return m.floor(this);
  }
  round(): Tensor {
    return m.round(this);
  }
  clamp(min?: Operand | null, max?: Operand | null): Tensor {
    return m.clamp(this, min, max);
  }
  lerp(end: Tensor, weight: Operand): Tensor {
    return m.lerp(this, end, weight);
  }
  maximum(other: Tensor): Tensor {
    return m.maximum(this, other);
  }
  minimum(other: Tensor): Tensor {
    return m.minimum(this, other);
  }

  // ---- comparisons and logic ----

  eq(other: Operand): Tensor {
    return m.eq(this, other);
  }
  ne(other: Operand): Tensor {
    return m.ne(this, other);
  }
  lt(other: Operand): Tensor {
    return m.lt(this, other);
  }
  le(other: Operand): Tensor {
    return m.le(this, other);
  }
  gt(other: Operand): Tensor {
    return m.gt(this, other);
  }
  ge(other: Operand): Tensor {
    return m.ge(this, other);
  }
  logicalNot(): Tensor {
    return m.logicalNot(this);
  }
  isnan(): Tensor {
    return m.isnan(this);
  }
  isfinite(): Tensor {
    return m.isfinite(this);
  }
  /** this where condition holds, else other (torch.where(condition, this, other)). */
  where(condition: Tensor, other: Operand): Tensor {
    return m.where(condition, this, other);
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return s.maskedFill(this, mask, value);
  }

  // ---- in place (return this) ----

  add_(other: Operand, alpha = 1): this {
    m.add_(this, other, alpha);
    return this;
  }
  sub_(other: Operand, alpha = 1): this {
    m.sub_(this, other, alpha);
    return this;
  }
  mul_(other: Operand): this {
    m.mul_(this, other);
    return this;
  }
  div_(other: Operand): this {
    m.div_(this, other);
    return this;
  }
  copy_(src: Tensor): this {
    m.copy_(this, src);
    return this;
  }
  zero_(): this {
    m.zero_(this);
    return this;
  }
  fill_(value: number): this {
    m.fill_(this, value);
    return this;
  }
  clamp_(min: number | null, max: number | null): this {
    m.clamp_(this, min, max);
    return this;
  }

  // ---- reductions ----

  sum(dim?: r.Dims, keepdim = false): Tensor {
    return r.sum(this, dim, keepdim);
  }
  mean(dim?: r.Dims, keepdim = false): Tensor {
    return r.mean(this, dim, keepdim);
  }
  prod(dim?: number, keepdim = false): Tensor {
    return r.prod(this, dim, keepdim);
  }
  /** Largest value overall, or along dim (values only; ops.max gives indices too). */
  amax(dim?: r.Dims, keepdim = false): Tensor {
    return r.amax(this, dim, keepdim);
  }
  amin(dim?: r.Dims, keepdim = false): Tensor {
    return r.amin(this, dim, keepdim);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return r.argmax(this, dim, keepdim);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return r.argmin(this, dim, keepdim);
  }
  var(dim?: r.Dims, options?: r.VarOptions): Tensor {
    return r.variance(this, dim, options);
  }
  std(dim?: r.Dims, options?: r.VarOptions): Tensor {
    return r.std(this, dim, options);
  }
  cumsum(dim: number): Tensor {
    return r.cumsum(this, dim);
  }
  cumprod(dim: number): Tensor {
    return r.cumprod(this, dim);
  }
  logsumexp(dim: r.Dims, keepdim = false): Tensor {
    return r.logsumexp(this, dim, keepdim);
  }
  norm(ord = 2, dim?: r.Dims, keepdim = false): Tensor {
    return r.norm(this, ord, dim, keepdim);
  }

  // ---- shape ----

  reshape(...shape: number[]): Tensor {
    return s.reshape(this, shape);
  }
  view(...shape: number[]): Tensor {
    return s.view(this, shape);
  }
  permute(...dims: number[]): Tensor {
    return s.permute(this, dims);
  }
  transpose(dim0: number, dim1: number): Tensor {
    return s.transpose(this, dim0, dim1);
  }
  /** Transpose of a 2-D tensor. */
  get T(): Tensor {
    if (this.ndim !== 2) throw new RangeError(`T: expects a 2-D tensor, got [${this.shape.join(", ")}]`);
    return s.transpose(this, 0, 1);
  }
  squeeze(dim?: number): Tensor {
    return s.squeeze(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return s.unsqueeze(this, dim);
  }
  expand(...shape: number[]): Tensor {
    return s.expand(this, shape);
  }
  expandAs(other: Tensor): Tensor {
    return s.expand(this, other.shape);
  }
  repeat(...repeats: number[]): Tensor {
    return s.repeat(this, repeats);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return s.flatten(this, startDim, endDim);
  }
  split(size: number | readonly number[], dim = 0): Tensor[] {
    return s.split(this, size, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return s.chunk(this, chunks, dim);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return s.narrow(this, dim, start, length);
  }
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return s.slice(this, dim, start, end, step);
  }
  select(dim: number, index: number): Tensor {
    return s.select(this, dim, index);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return s.indexSelect(this, dim, index);
  }
  gather(dim: number, index: Tensor): Tensor {
    return s.gather(this, dim, index);
  }
  flip(...dims: number[]): Tensor {
    return s.flip(this, dims);
  }
  roll(shifts: number | readonly number[], dims: number | readonly number[]): Tensor {
    return s.roll(this, shifts, dims);
  }
  tril(diagonal = 0): Tensor {
    return s.tril(this, diagonal);
  }
  triu(diagonal = 0): Tensor {
    return s.triu(this, diagonal);
  }

  // ---- products and activations ----

  matmul(other: Tensor): Tensor {
    return la.matmul(this, other);
  }
  relu(): Tensor {
    return F.relu(this);
  }
  sigmoid(): Tensor {
    return F.sigmoid(this);
  }
  softmax(dim: number): Tensor {
    return F.softmax(this, dim);
  }
  logSoftmax(dim: number): Tensor {
    return F.logSoftmax(this, dim);
  }
}

Object.defineProperty(Tensor.prototype, TENSOR_BRAND, { value: true });
