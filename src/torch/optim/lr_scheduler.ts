// Learning-rate schedules: LambdaLR (torch.optim.lr_scheduler.LambdaLR) and
// factories for the schedules diffusers/transformers name get_*_schedule*.
//
// As in PyTorch, construction applies the factor for step 0, and each step()
// (called after optimizer.step()) advances one step: lr = baseLr * lambda(step).

/** What a scheduler drives: any optimiser whose groups carry an lr. */
export interface LrOptimizer {
  readonly paramGroups: readonly { lr: number }[];
}

/** The factor applied to a group's base lr at a step (0 at construction). */
export type LrLambda = (step: number) => number;

/** JSON state of a scheduler (PyTorch's LambdaLR state_dict keys, without the lambdas). */
export interface LRSchedulerState {
  last_epoch: number;
  base_lrs: number[];
  _last_lr: number[];
  _step_count: number;
}

export class LambdaLR {
  readonly baseLrs: number[];
  /** Steps taken; 0 after construction (PyTorch's last_epoch). */
  lastEpoch = -1;
  #stepCount = 0;
  #lastLr: number[] = [];
  readonly #lambdas: readonly LrLambda[];

  constructor(
    readonly optimizer: LrOptimizer,
    lrLambda: LrLambda | readonly LrLambda[],
  ) {
    const n = optimizer.paramGroups.length;
    if (Array.isArray(lrLambda)) {
      if (lrLambda.length !== n) throw new RangeError(`LambdaLR: got ${lrLambda.length} lr lambdas for ${n} param groups`);
      this.#lambdas = [...(lrLambda as readonly LrLambda[])];
    } else if (typeof lrLambda === "function") {
      this.#lambdas = new Array<LrLambda>(n).fill(lrLambda as LrLambda);
    } else {
      throw new TypeError("LambdaLR: lrLambda must be a function or one function per param group");
    }
    if (this.#lambdas.some((f) => typeof f !== "function")) throw new TypeError("LambdaLR: every lr lambda must be a function");
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.step();
  }

  /** Advances one step and sets each group's lr. */
  step(): void {
    this.#stepCount += 1;
    this.lastEpoch += 1;
    this.#apply();
  }

  /** The lrs set by the last step(), one per param group. */
  getLastLr(): number[] {
    return [...this.#lastLr];
  }

  #apply(): void {
    const lrs = this.baseLrs.map((base, i) => {
      const f = (this.#lambdas[i] as LrLambda)(this.lastEpoch);
      if (typeof f !== "number" || !Number.isFinite(f)) {
        throw new RangeError(`LambdaLR: the lr lambda of param group ${i} returned ${String(f)} at step ${this.lastEpoch}`);
      }
      return base * f;
    });
    this.#setLrs(lrs);
  }

  #setLrs(lrs: readonly number[]): void {
    lrs.forEach((lr, i) => {
      const g = this.optimizer.paramGroups[i];
      if (g !== undefined) g.lr = lr;
    });
    this.#lastLr = [...lrs];
  }

  stateDict(): LRSchedulerState {
    return { last_epoch: this.lastEpoch, base_lrs: [...this.baseLrs], _last_lr: [...this.#lastLr], _step_count: this.#stepCount };
  }

  /** Restores a stateDict() and sets the optimiser's lrs to the saved last lrs. */
  loadStateDict(state: LRSchedulerState): void {
    const n = this.optimizer.paramGroups.length;
    const problems: string[] = [];
    const isNums = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isFinite(x));
    if (typeof state !== "object" || state === null) throw new TypeError("LambdaLR.loadStateDict: state must be an object");
    if (!Number.isInteger(state.last_epoch) || state.last_epoch < 0) problems.push(`last_epoch must be an integer >= 0, got ${String(state.last_epoch)}`);
    if (!Number.isInteger(state._step_count) || state._step_count < 0) problems.push(`_step_count must be an integer >= 0, got ${String(state._step_count)}`);
    for (const k of ["base_lrs", "_last_lr"] as const) {
      const v: unknown = state[k];
      if (!isNums(v)) problems.push(`${k} must be an array of finite numbers`);
      else if (v.length !== n) problems.push(`${k} has ${v.length} entries, the optimiser has ${n} param groups`);
    }
    if (problems.length > 0) throw new Error(`LambdaLR.loadStateDict: ${problems.join("; ")}`);
    this.lastEpoch = state.last_epoch;
    this.#stepCount = state._step_count;
    this.baseLrs.splice(0, this.baseLrs.length, ...state.base_lrs);
    this.#setLrs(state._last_lr);
  }
}

function checkSteps(name: string, v: number | undefined, what: string, min: number): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw new RangeError(`${name}: ${what} must be an integer >= ${min}, got ${v}`);
}

/** Factor 1 at every step. */
export const constantLambda = (): LrLambda => () => 1;

/**
 * Linear warm-up from 0: step/warmupSteps until warmupSteps, then 1; with
 * totalSteps, then linear decay to 0 at totalSteps (diffusers'
 * get_constant_schedule_with_warmup / get_linear_schedule_with_warmup).
 */
export function linearWarmupLambda(o: { warmupSteps: number; totalSteps?: number }): LrLambda {
  const { warmupSteps, totalSteps } = o;
  checkSteps("linearWarmup", warmupSteps, "warmupSteps", 0);
  checkSteps("linearWarmup", totalSteps, "totalSteps", warmupSteps);
  return (s) => {
    if (s < warmupSteps) return s / Math.max(1, warmupSteps);
    if (totalSteps === undefined) return 1;
    return Math.max(0, (totalSteps - s) / Math.max(1, totalSteps - warmupSteps));
  };
}

/**
 * Optional linear warm-up from 0, then half a cosine from 1 down to
 * minLr/baseLr at totalSteps, staying there afterwards.
 */
export function cosineLambda(o: { totalSteps: number; warmupSteps?: number; minLr?: number; baseLr: number }): LrLambda {
  const warmupSteps = o.warmupSteps ?? 0;
  const minLr = o.minLr ?? 0;
  checkSteps("cosine", warmupSteps, "warmupSteps", 0);
  checkSteps("cosine", o.totalSteps, "totalSteps", Math.max(1, warmupSteps));
  if (!(minLr >= 0)) throw new RangeError(`cosine: minLr must be >= 0, got ${minLr}`);
  if (o.baseLr > 0 && minLr > o.baseLr) throw new RangeError(`cosine: minLr (${minLr}) must be <= the base lr (${o.baseLr})`);
  const ratio = o.baseLr > 0 ? minLr / o.baseLr : 0;
  return (s) => {
    if (s < warmupSteps) return s / Math.max(1, warmupSteps);
    const progress = Math.min(1, (s - warmupSteps) / Math.max(1, o.totalSteps - warmupSteps));
    return ratio + (1 - ratio) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}

/** lr stays at each group's lr. */
export function constantSchedule(optimizer: LrOptimizer): LambdaLR {
  return new LambdaLR(optimizer, constantLambda());
}

/** Linear warm-up (lr 0 at step 0), then constant or, with totalSteps, linear decay to 0. */
export function linearWarmupSchedule(optimizer: LrOptimizer, o: { warmupSteps: number; totalSteps?: number }): LambdaLR {
  return new LambdaLR(optimizer, linearWarmupLambda(o));
}

/** Cosine annealing to minLr (absolute, default 0) at totalSteps, with optional linear warm-up. */
export function cosineSchedule(optimizer: LrOptimizer, o: { totalSteps: number; warmupSteps?: number; minLr?: number }): LambdaLR {
  return new LambdaLR(
    optimizer,
    optimizer.paramGroups.map((g) => cosineLambda({ ...o, baseLr: g.lr })),
  );
}
