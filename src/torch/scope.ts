// Tensor lifetimes: tidy() scopes, keep(), a FinalizationRegistry backstop, memory().
//
// Every tensor made while a tidy() runs is recorded in that scope. When the
// scope's function returns, every recorded tensor is disposed except those in
// its result (which move to the enclosing scope) and those keep()-ed.
import { native } from "./native.js";

/** Marks Tensor instances without importing the class (it imports this module). */
export const TENSOR_BRAND: unique symbol = Symbol("moediff.Tensor");

export interface ScopedTensor {
  readonly [TENSOR_BRAND]: true;
  readonly isDisposed: boolean;
  _kept: boolean;
  dispose(): void;
}

const scopes: ScopedTensor[][] = [];

const debugLeaks = process.env.MOEDIFF_DEBUG_LEAKS === "1";
let leaked = 0;

// The backstop: a tensor that became unreachable without dispose() is freed
// when V8 collects it. Its held value is a box so the id can follow _assign().
interface Held {
  id: number;
  stack?: string;
}
const registry = new FinalizationRegistry<Held>((held) => {
  if (held.id === 0) return;
  leaked += 1;
  if (debugLeaks) {
    process.stderr.write(`moediff: tensor ${held.id} was garbage-collected without dispose(); made at\n${held.stack ?? "?"}\n`);
  }
  native.free(held.id);
});

/** Called by the Tensor constructor. Returns the box that holds the tensor's id. */
export function onTensorCreated(t: ScopedTensor, id: number): Held {
  const held: Held = debugLeaks ? { id, stack: new Error().stack } : { id };
  registry.register(t, held, t);
  const scope = scopes[scopes.length - 1];
  if (scope !== undefined) scope.push(t);
  return held;
}

/** Called by Tensor.dispose(). */
export function onTensorDisposed(t: ScopedTensor, held: Held): void {
  registry.unregister(t);
  held.id = 0;
}

function isTensor(v: unknown): v is ScopedTensor {
  return typeof v === "object" && v !== null && (v as Partial<ScopedTensor>)[TENSOR_BRAND] === true;
}

function collectTensors(value: unknown, out: Set<ScopedTensor>, seen: Set<unknown>): void {
  if (typeof value !== "object" || value === null || seen.has(value)) return;
  if (isTensor(value)) {
    out.add(value);
    return;
  }
  seen.add(value);
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, out, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, out, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out, seen);
  }
}

/**
 * Runs `fn` and disposes every tensor it created, except the tensors in its
 * result (arrays, Maps and plain objects are searched) and keep()-ed ones.
 * `fn` must be synchronous: a tensor's lifetime cannot span an await here.
 */
export function tidy<T>(fn: () => T): T {
  // The outermost scope holds back native memory reports to V8 (see
  // pauseMemoryReports in native/src/handles.h): what a scope makes cannot be
  // collected before it ends, so reporting it only buys useless collections.
  if (scopes.length === 0) native.pauseMemoryReports();
  try {
    return runScope(fn);
  } finally {
    if (scopes.length === 0) native.resumeMemoryReports();
  }
}

function runScope<T>(fn: () => T): T {
  const scope: ScopedTensor[] = [];
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) if (!t._kept) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise || (typeof result === "object" && result !== null && typeof (result as { then?: unknown }).then === "function")) {
    for (const t of scope) if (!t._kept) t.dispose();
    throw new TypeError("tidy: the function returned a Promise; tidy() scopes must be synchronous (use explicit dispose() across awaits)");
  }
  const returned = new Set<ScopedTensor>();
  collectTensors(result, returned, new Set());
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (t._kept || t.isDisposed) continue;
    if (returned.has(t)) {
      if (parent !== undefined) parent.push(t);
    } else {
      t.dispose();
    }
  }
  return result;
}

/** Exempts a tensor from every enclosing tidy(); it lives until disposed. */
export function keep<T extends ScopedTensor>(t: T): T {
  t._kept = true;
  return t;
}

export interface MemoryInfo {
  /** Live tensor handles held by JavaScript. */
  numTensors: number;
  /** Bytes of the distinct CPU storages behind them. */
  numBytes: number;
  /** Tensors freed by the garbage collector because nobody disposed them. */
  numLeaked: number;
}

export function memory(): MemoryInfo {
  const [numTensors, numBytes] = native.memory();
  return { numTensors, numBytes, numLeaked: leaked };
}
