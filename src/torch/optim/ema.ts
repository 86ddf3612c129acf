// Exponential moving average of weights, for evaluating with smoothed weights
// (the torch_ema package's semantics): shadow -= (1 - decay) * (shadow - param).
// With warmup, update n (counting from 1) uses min(decay, (1 + n) / (10 + n)).
import type { Tensor } from "../tensor.js";
import { keep, tidy } from "../scope.js";
import { noGrad } from "../autograd.js";
import { emptyLike } from "../ops/creation.js";
import { copy_ } from "../ops/math.js";
import { clone } from "../ops/shape.js";
import { foreach } from "./optimizer.js";

export interface EMAOptions {
  /** Default 0.9999. */
  decay?: number;
  /** Use min(decay, (1 + n) / (10 + n)) at update n (default false). */
  warmup?: boolean;
}

/** JSON half of an EMA state dict; the tensors are "shadow.<i>". */
export interface EMAStateMeta {
  type: "ExponentialMovingAverage";
  decay: number;
  warmup: boolean;
  num_updates: number;
  num_params: number;
}

export interface EMAStateDict {
  tensors: Record<string, Tensor>;
  meta: EMAStateMeta;
}

const shapeStr = (s: readonly number[]): string => `[${s.join(", ")}]`;

export class ExponentialMovingAverage {
  readonly decay: number;
  readonly warmup: boolean;
  /** Updates so far. */
  numUpdates = 0;
  readonly #params: readonly Tensor[];
  #shadow: Tensor[];
  #stored: Tensor[] | null = null;

  /** Starts the average at the current values of `params` (which update/copyTo/store/restore use by default). */
  constructor(params: readonly Tensor[], options: EMAOptions = {}) {
    for (const k of Object.keys(options)) {
      if (k !== "decay" && k !== "warmup") throw new TypeError(`ExponentialMovingAverage: unknown option '${k}' (known: decay, warmup)`);
    }
    const decay = options.decay ?? 0.9999;
    if (typeof decay !== "number" || !(decay >= 0 && decay <= 1)) throw new RangeError(`ExponentialMovingAverage: decay must be in [0, 1], got ${decay}`);
    if (params.length === 0) throw new RangeError("ExponentialMovingAverage: got an empty parameter list");
    this.decay = decay;
    this.warmup = options.warmup ?? false;
    this.#params = [...params];
    this.#shadow = noGrad(() => params.map((p) => keep(clone(p))));
  }

  /** The averaged tensors (owned by this object; do not dispose). */
  get shadowParams(): readonly Tensor[] {
    return this.#shadow;
  }

  #check(params: readonly Tensor[], what: string): void {
    if (params.length !== this.#shadow.length) {
      throw new RangeError(`ExponentialMovingAverage.${what}: got ${params.length} params, the average has ${this.#shadow.length}`);
    }
    params.forEach((p, i) => {
      const s = (this.#shadow[i] as Tensor).shape;
      if (shapeStr(p.shape) !== shapeStr(s)) {
        throw new RangeError(`ExponentialMovingAverage.${what}: param ${i} has shape ${shapeStr(p.shape)}, the average ${shapeStr(s)}`);
      }
    });
  }

  /** Folds the current parameter values into the average. */
  update(params: readonly Tensor[] = this.#params): void {
    this.#check(params, "update");
    this.numUpdates += 1;
    const n = this.numUpdates;
    const decay = this.warmup ? Math.min(this.decay, (1 + n) / (10 + n)) : this.decay;
    noGrad(() =>
      tidy(() => {
        const diff = foreach.sub(this.#shadow, params);
        foreach.mul_(diff, 1 - decay);
        foreach.sub_(this.#shadow, diff);
      }),
    );
  }

  /** Writes the averaged values into `params` (in place, so optimisers keep their references). */
  copyTo(params: readonly Tensor[] = this.#params): void {
    this.#check(params, "copyTo");
    noGrad(() => params.forEach((p, i) => copy_(p, this.#shadow[i] as Tensor)));
  }

  /** Saves copies of `params`, e.g. before copyTo() for evaluation; restore() puts them back. */
  store(params: readonly Tensor[] = this.#params): void {
    this.#check(params, "store");
    this.#disposeStored();
    this.#stored = noGrad(() => params.map((p) => keep(clone(p))));
  }

  /** Puts back the values saved by store() and frees the copies. */
  restore(params: readonly Tensor[] = this.#params): void {
    const stored = this.#stored;
    if (stored === null) throw new Error("ExponentialMovingAverage.restore: nothing stored; call store() first");
    this.#check(params, "restore");
    noGrad(() => params.forEach((p, i) => copy_(p, stored[i] as Tensor)));
    this.#disposeStored();
  }

  /** Copies of the averaged tensors ("shadow.<i>", owned by the caller) and JSON metadata. */
  stateDict(): EMAStateDict {
    const tensors: Record<string, Tensor> = {};
    noGrad(() => this.#shadow.forEach((s, i) => (tensors[`shadow.${i}`] = clone(s))));
    return {
      tensors,
      meta: { type: "ExponentialMovingAverage", decay: this.decay, warmup: this.warmup, num_updates: this.numUpdates, num_params: this.#shadow.length },
    };
  }

  /**
   * Loads a stateDict() (tensors are copied). The checkpoint's decay and
   * warmup must match this object's; every problem is reported at once.
   */
  loadStateDict(sd: EMAStateDict): void {
    const meta = sd?.meta as Partial<EMAStateMeta> | undefined;
    const tensors = sd?.tensors ?? {};
    const problems: string[] = [];
    const n = this.#shadow.length;
    if (typeof meta !== "object" || meta === null) throw new Error("ExponentialMovingAverage.loadStateDict: meta must be an object");
    if (meta.type !== "ExponentialMovingAverage") problems.push(`checkpoint type is ${String(meta.type)}, expected ExponentialMovingAverage`);
    if (meta.decay !== this.decay) problems.push(`decay is ${String(meta.decay)} in the checkpoint, ${this.decay} here`);
    if (meta.warmup !== this.warmup) problems.push(`warmup is ${String(meta.warmup)} in the checkpoint, ${this.warmup} here`);
    if (!Number.isInteger(meta.num_updates) || (meta.num_updates as number) < 0) problems.push(`num_updates must be an integer >= 0, got ${String(meta.num_updates)}`);
    if (meta.num_params !== n) problems.push(`checkpoint has ${String(meta.num_params)} params, the average has ${n}`);
    for (let i = 0; i < n; i++) {
      const t = tensors[`shadow.${i}`];
      const want = (this.#shadow[i] as Tensor).shape;
      if (t === undefined) problems.push(`missing tensor shadow.${i}`);
      else if (shapeStr(t.shape) !== shapeStr(want)) problems.push(`size mismatch for shadow.${i}: checkpoint ${shapeStr(t.shape)}, average ${shapeStr(want)}`);
    }
    for (const k of Object.keys(tensors)) {
      const m = /^shadow\.(\d+)$/.exec(k);
      if (m === null || Number(m[1]) >= n) problems.push(`unexpected tensor ${k}`);
    }
    if (problems.length > 0) {
      throw new Error(`ExponentialMovingAverage.loadStateDict: ${problems.length === 1 ? "" : `${problems.length} problems:\n  `}${problems.join("\n  ")}`);
    }
    const fresh = noGrad(() =>
      this.#shadow.map((s, i) => {
        const c = keep(emptyLike(s));
        copy_(c, tensors[`shadow.${i}`] as Tensor);
        return c;
      }),
    );
    for (const s of this.#shadow) s.dispose();
    this.#shadow = fresh;
    this.numUpdates = meta.num_updates as number;
  }

  #disposeStored(): void {
    if (this.#stored !== null) for (const t of this.#stored) t.dispose();
    this.#stored = null;
  }

  /** Frees the averaged and stored tensors. */
  dispose(): void {
    for (const s of this.#shadow) s.dispose();
    this.#disposeStored();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
