// The Tensor: one JS object owning one native tensor handle.
//
// Views (reshape, slice, transpose, ...) get handles of their own; libtorch's
// refcount keeps shared storage alive until the last handle is freed.
//
// This file holds the core of the class: the handle and its lifetime, metadata,
// raw bytes and autograd state, none of which calls an op. The methods that run
// ops (x.add(y), x.to("float64"), x.data(), x.item(), x.matmul(w), ...) live in
// tensor_methods.ts, which declares them on Tensor and installs them on its
// prototype; this file imports no op module, so the op modules can import Tensor
// without an import cycle. index.ts (and every other entry module) loads
// tensor_methods.ts, so every Tensor handed out has them.
import { native } from "./native.js";
import { dtypeFromCode, type DType } from "./dtype.js";
import { parseDevice, type Device } from "./device.js";
import { DisposedTensorError } from "./errors.js";
import { onTensorCreated, onTensorDisposed, TENSOR_BRAND, type ScopedTensor } from "./scope.js";

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

  // ---- data (the typed-array views data(), toArray() and item() are in tensor_methods.ts) ----

  /** The raw little-endian bytes of the elements in this dtype (contiguous, on CPU). */
  bytes(): Uint8Array {
    return new Uint8Array(native.toBytes(this.id));
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
}

Object.defineProperty(Tensor.prototype, TENSOR_BRAND, { value: true });
