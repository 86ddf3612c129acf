// Containers: Sequential and ModuleList, whose children are named "0", "1", ...
import { tidy } from "../scope.js";
import type { Tensor } from "../tensor.js";
import { Module } from "./module.js";

/** A module with a one-tensor-in, one-tensor-out forward, as Sequential chains. */
export type UnaryModule = Module & { forward(x: Tensor): Tensor };

function indexOf(owner: string, i: number, length: number): number {
  const k = i < 0 ? i + length : i;
  if (!Number.isInteger(i) || k < 0 || k >= length) throw new RangeError(`${owner}: index ${i} is out of range for ${length} modules`);
  return k;
}

/** Holds modules under "0", "1", ... without a forward of its own (torch.nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly #items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  /** Appends a module as child "length"; returns this (PyTorch's append). */
  push(module: M): this {
    this.registerModule(String(this.#items.length), module);
    this.#items.push(module);
    return this;
  }

  extend(modules: Iterable<M>): this {
    for (const m of modules) this.push(m);
    return this;
  }

  get length(): number {
    return this.#items.length;
  }

  /** The i-th module; negative counts from the end. */
  at(i: number): M {
    return this.#items[indexOf(this.constructor.name, i, this.#items.length)] as M;
  }

  [Symbol.iterator](): IterableIterator<M> {
    return this.#items[Symbol.iterator]();
  }
}

/**
 * Runs its children in order, each on the previous one's output. Children are
 * registered as "0", "1", ... so keys read "enc.0.weight". The intermediate
 * outputs are disposed; only the last is returned.
 *
 * The element type M is not inferred from the arguments (so mixed layers
 * type-check as UnaryModule); name it to get precise types from at():
 * `new Sequential<Linear>(a, b).at(0).weight`.
 */
export class Sequential<M extends UnaryModule = UnaryModule> extends ModuleList<M> {
  constructor(...modules: NoInfer<M>[]) {
    super(modules);
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      let y = x;
      for (const m of this) y = m.forward(y);
      return y;
    });
  }
}
