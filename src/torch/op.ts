// Typed access to the generic native op path. An Op names one ATen schema
// ("aten::add.Tensor"), is resolved on first use, and converts JS tensors and
// generators to ids. Wrappers in ops/ give each op its TypeScript shape.
import { Generator } from "./generator.js";
import { native, type NativeArg, type NativeResult } from "./native.js";
import { Tensor } from "./tensor.js";

export type Arg = Tensor | Generator | number | boolean | string | null | undefined | readonly Arg[];

/** Sees every tensor-returning op call after it ran (FLOP counting, flops.ts); null (the default) costs one comparison. */
export type OpObserver = (name: string, args: readonly Arg[], result: Tensor | Tensor[]) => void;
let opObserver: OpObserver | null = null;

/** Installs `observer` (null: none) and returns the previous one. For flops.ts only. */
export function setOpObserver(observer: OpObserver | null): OpObserver | null {
  const previous = opObserver;
  opObserver = observer;
  return previous;
}

function toNative(a: Arg): NativeArg {
  if (a instanceof Tensor) return a.id;
  if (typeof a !== "object" || a === null) return a;
  if (a instanceof Generator) return a.id;
  if (!Array.isArray(a)) {
    throw new TypeError(`op arguments must be tensors, generators, numbers, booleans, strings, null or arrays; got ${Object.prototype.toString.call(a)}`);
  }
  return (a as readonly Arg[]).map(toNative);
}

function convert(args: readonly Arg[]): NativeArg[] {
  const out = new Array<NativeArg>(args.length);
  for (let i = 0; i < args.length; i++) out[i] = toNative(args[i]);
  return out;
}

function asTensor(r: NativeResult, name: string): Tensor {
  if (typeof r !== "number") throw new Error(`${name}: expected a tensor result, got ${r === null ? "None" : typeof r}`);
  return new Tensor(r);
}

export class Op {
  #id = -1;
  constructor(readonly name: string) {}

  get id(): number {
    if (this.#id < 0) this.#id = native.resolveOp(this.name);
    return this.#id;
  }

  /** True when this libtorch has the schema (some ops differ across versions). */
  get exists(): boolean {
    return this.#id >= 0 || native.hasOp(this.name);
  }

  get schema(): string {
    return native.opSchema(this.id);
  }

  /** Calls an op that returns one tensor. */
  tensor(...args: Arg[]): Tensor {
    const t = asTensor(native.call(this.id, ...convert(args)), this.name);
    if (opObserver !== null) opObserver(this.name, args, t);
    return t;
  }

  /** Calls an op that returns several tensors (a tuple or a Tensor[]). */
  tensors(...args: Arg[]): Tensor[] {
    const r = native.call(this.id, ...convert(args));
    if (!Array.isArray(r)) throw new Error(`${this.name}: expected several tensors`);
    const ts = r.map((x) => asTensor(x, this.name));
    if (opObserver !== null) opObserver(this.name, args, ts);
    return ts;
  }

  /** Calls an op that returns a plain value (number, boolean, string). */
  value(...args: Arg[]): NativeResult {
    return native.call(this.id, ...convert(args));
  }

  /** Calls an op that mutates an argument; creates no new handles. */
  inPlace(...args: Arg[]): void {
    native.callInPlace(this.id, ...convert(args));
  }
}
