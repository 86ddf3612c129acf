// Parameter: a leaf tensor that a Module registers, trains and saves.
import type { Device } from "../device.js";
import type { DType } from "../dtype.js";
import type { Generator } from "../generator.js";
import { Op } from "../op.js";
import { empty } from "../ops/creation.js";
import { keep } from "../scope.js";
import { Tensor } from "../tensor.js";

const detachOp = new Op("aten::detach");

/** A new native handle aliasing `data`'s storage, cut from the autograd graph. */
function detachedHandle(data: Tensor): number {
  const id = detachOp.value(data);
  if (typeof id !== "number") throw new Error("Parameter: aten::detach did not return a tensor");
  return id;
}

/**
 * A leaf tensor with `requiresGrad` true by default (torch.nn.Parameter).
 *
 * `new Parameter(data)` makes a new handle that shares `data`'s storage (as
 * PyTorch's `nn.Parameter(t)` does) and is detached from any graph. `data`
 * stays the caller's: dispose it, or let its tidy() scope do so; the storage
 * lives on through the Parameter. `Parameter.take(data)` does the same and
 * disposes `data`'s handle at once, for `Parameter.take(T.empty([...]))`.
 *
 * Differs from PyTorch: a Parameter is keep()-ed on creation, so no tidy()
 * scope disposes it; it lives until `dispose()` (Module.dispose() frees every
 * registered parameter).
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    super(detachedHandle(data));
    keep(this);
    if (requiresGrad) this.requiresGrad_(true);
  }

  /** A Parameter over `data`'s storage; `data`'s own handle is disposed. */
  static take(data: Tensor, requiresGrad = true): Parameter {
    try {
      return new Parameter(data, requiresGrad);
    } finally {
      data.dispose();
    }
  }

  override toString(): string {
    if (this.isDisposed) return "Parameter(disposed)";
    return `Parameter(shape=[${this.shape.join(", ")}], dtype=${this.dtype}, device=${this.device}, requiresGrad=${this.requiresGrad})`;
  }
}

/** Options every layer takes: where its parameters live and what seeds their initialisation. */
export interface LayerOptions {
  /** Floating-point dtype of the parameters (default: the default dtype). */
  dtype?: DType;
  device?: Device;
  /** Draws the initial values from this generator instead of the default one. */
  generator?: Generator;
}

/** An uninitialised Parameter of the given shape, for a layer to fill with an init function. */
export function emptyParameter(shape: readonly number[], o: LayerOptions = {}, requiresGrad = true): Parameter {
  return Parameter.take(empty(shape, { dtype: o.dtype, device: o.device }), requiresGrad);
}

/** Throws unless n is a non-negative integer (a layer's feature or channel count). */
export function checkCount(layer: string, what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${layer}: ${what} must be a non-negative integer, got ${n}`);
}
