// Autograd: grad-mode scopes and torch.autograd.grad.
import "./tensor_methods.js"; // Tensor's op-backed methods, for a caller that imports this module without index.ts
import { native } from "./native.js";
import { Tensor } from "./tensor.js";

/** Runs fn with gradient recording off (torch.no_grad). Restores the previous mode, even on throw. */
export function noGrad<T>(fn: () => T): T {
  const previous = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}

/** Runs fn with gradient recording on (torch.enable_grad). */
export function enableGrad<T>(fn: () => T): T {
  const previous = native.setGradEnabled(true);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}

/**
 * Runs fn under libtorch's inference mode (torch.inference_mode): no autograd graph and none of its
 * bookkeeping (version counters, view tracking), so forward passes are cheaper than under noGrad.
 * Tensors made inside are inference tensors: they cannot take part in a later backward pass. fn must
 * be synchronous (the mode is per thread and would not survive an await).
 */
export function inferenceMode<T>(fn: () => T): T {
  if (fn.constructor.name === "AsyncFunction") throw new TypeError("inferenceMode: fn must be synchronous (the mode would end at its first await)");
  const depth = native.inferenceModeEnter();
  try {
    return fn();
  } finally {
    native.inferenceModeExit(depth);
  }
}

export function isInferenceMode(): boolean {
  return native.isInferenceMode();
}

export function isGradEnabled(): boolean {
  return native.gradEnabled();
}

export interface GradOptions {
  gradOutputs?: (Tensor | null)[];
  retainGraph?: boolean;
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on, instead of throwing. */
  allowUnused?: boolean;
}

/** Gradients of outputs with respect to inputs, without touching .grad (torch.autograd.grad). */
export function grad(outputs: Tensor | Tensor[], inputs: Tensor | Tensor[], o: GradOptions = {}): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  const create = o.createGraph ?? false;
  const ids = native.grad(
    outs.map((t) => t.id),
    ins.map((t) => t.id),
    o.gradOutputs ? o.gradOutputs.map((g) => (g === null ? null : g.id)) : null,
    o.retainGraph ?? create,
    create,
    o.allowUnused ?? false,
  );
  return ids.map((id) => (id === null ? null : new Tensor(id)));
}
