// Module: the base of every layer and model (torch.nn.Module), with
// explicitly named parameters, buffers and children.
import { noGrad } from "../autograd.js";
import { parseDevice, type Device } from "../device.js";
import { DTYPES, isComplex, isFloatingPoint, type DType } from "../dtype.js";
import { keep } from "../scope.js";
import { Tensor } from "../tensor.js";
import { Parameter } from "./parameter.js";

/** A state dict: names as in PyTorch ("enc.0.weight") to tensors, in PyTorch's key order. */
export type StateDict = Map<string, Tensor>;

export interface LoadStateDictOptions {
  /** Missing and unexpected keys are errors (default true). Size mismatches always are. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

const shapeText = (s: readonly number[]): string => `[${s.join(",")}]`;

function checkName(owner: Module, kind: string, name: string): void {
  if (typeof name !== "string" || name === "") throw new TypeError(`${owner.constructor.name}: ${kind} name must be a non-empty string`);
  if (name.includes(".")) throw new TypeError(`${owner.constructor.name}: ${kind} name '${name}' must not contain "."`);
}

/**
 * The base class of layers and models.
 *
 * Parameters, buffers and children are registered under explicit names, which
 * are the keys of the state dict (never taken from field names):
 * `this.conv = this.registerModule("conv_in", new Conv2d(3, 64, 3))`.
 * Iteration order is registration order, as in PyTorch.
 *
 * A module owns what is registered in it: `dispose()` frees every parameter
 * and buffer of the module and its descendants. Subclasses define their own
 * `forward(...)` (the signature is theirs to choose).
 *
 * Differs from PyTorch: no `__call__` and no hooks; registering a name twice
 * throws (PyTorch's setattr replaces); `to()` takes a dtype or a device, one at
 * a time; `loadStateDict` copies nothing when it reports an error (PyTorch
 * copies the good keys first); `stateDict()` returns a Map.
 */
export abstract class Module {
  /** Training mode (true) or evaluation mode; set with train()/eval(). */
  training = true;
  readonly #parameters = new Map<string, Parameter | null>();
  readonly #buffers = new Map<string, Tensor | null>();
  readonly #nonPersistent = new Set<string>();
  readonly #modules = new Map<string, Module | null>();

  #checkFree(kind: string, name: string): void {
    checkName(this, kind, name);
    if (this.#parameters.has(name) || this.#buffers.has(name) || this.#modules.has(name)) {
      throw new Error(`${this.constructor.name}: cannot register ${kind} '${name}': the name is already registered`);
    }
  }

  /**
   * Registers a parameter (or null, for an absent optional one such as a
   * bias) under `name` and returns it. The module owns it from now on.
   */
  registerParameter<P extends Parameter | null>(name: string, param: P): P {
    this.#checkFree("parameter", name);
    if (param !== null && !(param instanceof Parameter)) {
      throw new TypeError(`${this.constructor.name}: parameter '${name}' must be a Parameter (wrap the tensor: new Parameter(t))`);
    }
    this.#parameters.set(name, param);
    return param;
  }

  /**
   * Registers a buffer: state that is not trained (running statistics). It is
   * keep()-ed and owned by the module. Non-persistent buffers are left out of
   * the state dict.
   */
  registerBuffer<B extends Tensor | null>(name: string, buffer: B, persistent = true): B {
    this.#checkFree("buffer", name);
    if (buffer !== null) {
      if (!(buffer instanceof Tensor)) throw new TypeError(`${this.constructor.name}: buffer '${name}' must be a Tensor or null`);
      if (buffer instanceof Parameter) throw new TypeError(`${this.constructor.name}: buffer '${name}' is a Parameter; use registerParameter`);
      keep(buffer);
    }
    this.#buffers.set(name, buffer);
    if (!persistent) this.#nonPersistent.add(name);
    return buffer;
  }

  /** Registers a child module under `name` (its keys get the prefix "name.") and returns it. */
  registerModule<M extends Module | null>(name: string, module: M): M {
    this.#checkFree("module", name);
    if (module !== null && !(module instanceof Module)) throw new TypeError(`${this.constructor.name}: module '${name}' must be a Module or null`);
    if ((module as Module | null) === this) throw new Error(`${this.constructor.name}: cannot register a module as its own child '${name}'`);
    this.#modules.set(name, module);
    return module;
  }

  // ---- iteration (registration order; prefixes joined with ".") ----

  /** Direct children with their names (null entries skipped). */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    for (const [name, m] of this.#modules) {
      if (m === null || seen.has(m)) continue;
      seen.add(m);
      out.push([name, m]);
    }
    return out;
  }

  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /** This module (named `prefix`, "" by default) and all descendants, pre-order, each once. */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [];
    const visit = (m: Module, p: string, seen: Set<Module>): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([p, m]);
      for (const [name, child] of m.#modules) {
        if (child !== null) visit(child, p === "" ? name : `${p}.${name}`, seen);
      }
    };
    visit(this, prefix, new Set());
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Parameters of this module and (if `recurse`) its descendants, each Parameter once. */
  namedParameters(prefix = "", recurse = true): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    const mods: [string, Module][] = recurse ? this.namedModules(prefix) : [[prefix, this]];
    for (const [p, m] of mods) {
      for (const [name, param] of m.#parameters) {
        if (param === null || seen.has(param)) continue;
        seen.add(param);
        out.push([p === "" ? name : `${p}.${name}`, param]);
      }
    }
    return out;
  }

  parameters(recurse = true): Parameter[] {
    return this.namedParameters("", recurse).map(([, p]) => p);
  }

  /** Buffers (persistent or not) of this module and (if `recurse`) its descendants. */
  namedBuffers(prefix = "", recurse = true): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    const mods: [string, Module][] = recurse ? this.namedModules(prefix) : [[prefix, this]];
    for (const [p, m] of mods) {
      for (const [name, buf] of m.#buffers) {
        if (buf === null || seen.has(buf)) continue;
        seen.add(buf);
        out.push([p === "" ? name : `${p}.${name}`, buf]);
      }
    }
    return out;
  }

  buffers(recurse = true): Tensor[] {
    return this.namedBuffers("", recurse).map(([, b]) => b);
  }

  /** The registered tensors that make up the state dict, by key, in PyTorch's order. */
  #stateEntries(prefix: string, out: [string, Tensor][]): void {
    for (const [name, p] of this.#parameters) if (p !== null) out.push([prefix + name, p]);
    for (const [name, b] of this.#buffers) {
      if (b !== null && !this.#nonPersistent.has(name)) out.push([prefix + name, b]);
    }
    for (const [name, m] of this.#modules) if (m !== null) m.#stateEntries(`${prefix}${name}.`, out);
  }

  /**
   * Parameters and persistent buffers by key ("enc.0.weight", "norm.running_mean"),
   * in PyTorch's state_dict order. Each value is a new handle: a detached view
   * sharing storage with the module's tensor (as PyTorch's state_dict), so
   * writing into it changes the module. The handles are the caller's: call
   * stateDict() inside tidy() or dispose them.
   */
  stateDict(): StateDict {
    const entries: [string, Tensor][] = [];
    this.#stateEntries("", entries);
    const out: StateDict = new Map();
    for (const [key, t] of entries) out.set(key, t.detach());
    return out;
  }

  /**
   * Copies `stateDict` into this module's parameters and persistent buffers,
   * in place under noGrad, so the tensor objects (and optimiser references to
   * them) stay the same. dtypes are converted (as PyTorch's copy_), but not
   * complex into real. Every problem is collected first, and one Error lists
   * them all; nothing is copied if there is any. With `strict: false`, missing
   * and unexpected keys are returned instead of thrown; size mismatches still throw.
   */
  loadStateDict(stateDict: StateDict | Readonly<Record<string, Tensor>>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const given: Map<string, Tensor> = stateDict instanceof Map ? stateDict : new Map(Object.entries(stateDict));
    const entries: [string, Tensor][] = [];
    this.#stateEntries("", entries);
    const expected = new Set(entries.map(([k]) => k));
    const missingKeys: string[] = [];
    const problems: string[] = [];
    const copies: [Tensor, Tensor][] = [];
    for (const [key, dst] of entries) {
      const src = given.get(key);
      if (src === undefined) {
        missingKeys.push(key);
        continue;
      }
      if (!(src instanceof Tensor)) {
        problems.push(`${key} is not a Tensor`);
        continue;
      }
      if (src.isDisposed) {
        problems.push(`${key} is a disposed tensor`);
        continue;
      }
      const a = src.shape;
      const b = dst.shape;
      if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
        problems.push(`size mismatch for ${key}: checkpoint ${shapeText(a)}, model ${shapeText(b)}`);
        continue;
      }
      if (isComplex(src.dtype) && !isComplex(dst.dtype)) {
        problems.push(`dtype mismatch for ${key}: checkpoint ${src.dtype} cannot be copied into model ${dst.dtype}`);
        continue;
      }
      copies.push([dst, src]);
    }
    const unexpectedKeys = [...given.keys()].filter((k) => !expected.has(k));
    const errors: string[] = [];
    if (strict && missingKeys.length > 0) errors.push(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(", ")}.`);
    if (strict && unexpectedKeys.length > 0) errors.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(", ")}.`);
    errors.push(...problems);
    if (errors.length > 0) {
      throw new Error(`Error(s) in loading state_dict for ${this.constructor.name}:\n\t${errors.join("\n\t")}`);
    }
    noGrad(() => {
      for (const [dst, src] of copies) dst.copy_(src);
    });
    return { missingKeys, unexpectedKeys };
  }

  // ---- modes, conversion, gradients ----

  /** Sets training mode on this module and every descendant; returns this. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** train(false). */
  eval(): this {
    return this.train(false);
  }

  /** Sets requiresGrad on every parameter (freezing with false); returns this. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad_(requiresGrad);
    return this;
  }

  /**
   * Moves every parameter and buffer to a device, or converts the
   * floating-point ones to a floating-point dtype (integer and bool buffers
   * such as num_batches_tracked keep theirs, as PyTorch). In place: each
   * tensor object keeps its identity (see Tensor._assign), requiresGrad is
   * kept and gradients are converted too. Returns this.
   */
  to(target: DType | Device): this {
    const isDtype = (DTYPES as readonly string[]).includes(target);
    if (isDtype) {
      if (!isFloatingPoint(target as DType)) {
        throw new TypeError(`${this.constructor.name}.to: only floating-point dtypes are accepted, got ${target}`);
      }
    } else {
      parseDevice(target);
    }
    const convert = (t: Tensor): boolean => {
      if (isDtype) return isFloatingPoint(t.dtype) && t.dtype !== target;
      return t.device !== target;
    };
    noGrad(() => {
      for (const m of this.modules()) {
        for (const p of m.#parameters.values()) {
          if (p === null || !convert(p)) continue;
          const requiresGrad = p.requiresGrad;
          const g = p.grad;
          let newGrad: Tensor | null = null;
          if (g !== null) {
            newGrad = g.to(target);
            g.dispose();
          }
          p._assign(p.to(target));
          p.requiresGrad_(requiresGrad);
          if (newGrad !== null) {
            p.grad = newGrad;
            newGrad.dispose();
          }
        }
        for (const b of m.#buffers.values()) {
          if (b !== null && convert(b)) b._assign(b.to(target));
        }
      }
    });
    return this;
  }

  /** Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Number of parameter elements (each shared Parameter counted once). */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!options.trainableOnly || p.requiresGrad) n += p.numel;
    return n;
  }

  /** Calls fn on every descendant, children first, then on this module (as PyTorch); returns this. */
  apply(fn: (module: Module) => void): this {
    for (const child of this.children()) child.apply(fn);
    fn(this);
    return this;
  }

  /** Frees every parameter and buffer of this module and its descendants. Safe to call twice. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    for (const b of this.buffers()) b.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** The text between the parentheses of toString() (PyTorch's extra_repr). */
  extraRepr(): string {
    return "";
  }

  /** One line, e.g. "Conv2d(3, 64, kernelSize=[3, 3])"; used in error messages. */
  toString(): string {
    return `${this.constructor.name}(${this.extraRepr()})`;
  }
}
