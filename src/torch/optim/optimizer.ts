// The Optimizer base class (torch.optim.Optimizer): parameter groups,
// per-parameter state, zeroGrad, step, and a PyTorch-shaped state dict split
// into tensors (for safetensors) and JSON metadata.
//
// Subclasses implement updateGroup(), which gets the parameters of one group
// that have a gradient and runs the update with `_foreach_*` ops; step() calls
// it under noGrad inside a tidy(), so everything but kept state is freed.
import { Tensor } from "../tensor.js";
import { keep, tidy } from "../scope.js";
import { noGrad } from "../autograd.js";
import { emptyLike } from "../ops/creation.js";
import { copy_ } from "../ops/math.js";
import { clone } from "../ops/shape.js";
import { Op } from "../op.js";

// ---- foreach ops: one dispatch over a list of tensors (PyTorch's foreach=True) ----

const mulS_ = new Op("aten::_foreach_mul_.Scalar");
const addS_ = new Op("aten::_foreach_add_.Scalar");
const addL_ = new Op("aten::_foreach_add_.List");
const addL = new Op("aten::_foreach_add.List");
const subL_ = new Op("aten::_foreach_sub_.List");
const subL = new Op("aten::_foreach_sub.List");
const divS_ = new Op("aten::_foreach_div_.Scalar");
const addcmulS_ = new Op("aten::_foreach_addcmul_.Scalar");
const addcdivS_ = new Op("aten::_foreach_addcdiv_.Scalar");
const maximumL_ = new Op("aten::_foreach_maximum_.List");
const sqrtOp = new Op("aten::_foreach_sqrt");
const normS = new Op("aten::_foreach_norm.Scalar");

/**
 * Typed `_foreach_*` wrappers used by the optimisers. In-place ones mutate
 * their first list. (Scalar[] overloads are not used: the native binding does
 * not convert Scalar lists, so callers batch tensors that share a scalar.)
 */
export const foreach = {
  /** xs[i] *= s */
  mul_: (xs: readonly Tensor[], s: number): void => mulS_.inPlace(xs, s),
  /** xs[i] += s */
  addScalar_: (xs: readonly Tensor[], s: number): void => addS_.inPlace(xs, s),
  /** xs[i] += alpha * ys[i] */
  add_: (xs: readonly Tensor[], ys: readonly Tensor[], alpha = 1): void => addL_.inPlace(xs, ys, alpha),
  /** xs[i] + alpha * ys[i] */
  add: (xs: readonly Tensor[], ys: readonly Tensor[], alpha = 1): Tensor[] => addL.tensors(xs, ys, alpha),
  /** xs[i] -= alpha * ys[i] */
  sub_: (xs: readonly Tensor[], ys: readonly Tensor[], alpha = 1): void => subL_.inPlace(xs, ys, alpha),
  /** xs[i] - alpha * ys[i] */
  sub: (xs: readonly Tensor[], ys: readonly Tensor[], alpha = 1): Tensor[] => subL.tensors(xs, ys, alpha),
  /** xs[i] /= s */
  div_: (xs: readonly Tensor[], s: number): void => divS_.inPlace(xs, s),
  /** xs[i] += value * as[i] * bs[i] */
  addcmul_: (xs: readonly Tensor[], as: readonly Tensor[], bs: readonly Tensor[], value: number): void => addcmulS_.inPlace(xs, as, bs, value),
  /** xs[i] += value * as[i] / bs[i] */
  addcdiv_: (xs: readonly Tensor[], as: readonly Tensor[], bs: readonly Tensor[], value: number): void => addcdivS_.inPlace(xs, as, bs, value),
  /** xs[i] = max(xs[i], ys[i]) */
  maximum_: (xs: readonly Tensor[], ys: readonly Tensor[]): void => maximumL_.inPlace(xs, ys),
  /** sqrt(xs[i]) */
  sqrt: (xs: readonly Tensor[]): Tensor[] => sqrtOp.tensors(xs),
  /** the ord-norm of each xs[i], as 0-d tensors */
  norm: (xs: readonly Tensor[], ord: number): Tensor[] => normS.tensors(xs, ord),
} as const;

/** A hyperparameter value: lr, betas, amsgrad, ... */
export type HyperValue = number | boolean | readonly number[];

/** The hyperparameters of an optimiser: every optimiser has an lr. */
export type Hyperparameters<H> = { [K in keyof H]: HyperValue } & { lr: number };

/** A resolved parameter group: every hyperparameter plus its parameters. Mutate lr here (schedulers do). */
export type ParamGroup<H> = H & { params: Tensor[] };

/** A parameter group as given to a constructor: hyperparameters not given come from the defaults. */
export type ParamGroupInput<H> = Partial<H> & { params: readonly Tensor[] };

/** What optimiser constructors accept: a flat list of parameters or a list of groups. */
export type ParamsInput<H> = readonly Tensor[] | readonly ParamGroupInput<H>[];

/** Per-parameter state: a step count (used by Adam-like optimisers) and named tensors, kept by the optimiser. */
export interface ParamState {
  step: number;
  readonly tensors: Record<string, Tensor>;
}

/** What state a parameter of a group carries (used to validate loaded state). */
export interface StateLayout {
  readonly tensors: readonly string[];
  readonly hasStep: boolean;
}

/** JSON-serialisable half of an optimiser state dict (PyTorch's layout, snake_case keys). */
export interface OptimizerStateMeta {
  /** The optimiser class, e.g. "AdamW". */
  type: string;
  /** Keyed by parameter index (counting through the groups in order); `step` for optimisers that count steps. */
  state: Record<string, { step?: number }>;
  /** Hyperparameters in PyTorch's names (weight_decay, betas, ...) and the indices of the group's parameters. */
  param_groups: Array<{ params: number[]; [hyperparameter: string]: HyperValue }>;
}

/** An optimiser state dict: tensors named "state.<index>.<name>" (e.g. "state.3.exp_avg") plus metadata. */
export interface OptimizerStateDict {
  tensors: Record<string, Tensor>;
  meta: OptimizerStateMeta;
}

const camelToSnake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const shapeStr = (s: readonly number[]): string => `[${s.join(", ")}]`;

/** Throws `${name}: ${what} must be ${cond}, got ${value}` unless ok. */
export function check(ok: boolean, name: string, what: string, cond: string, value: unknown): void {
  if (!ok) throw new RangeError(`${name}: ${what} must be ${cond}, got ${Array.isArray(value) ? `[${value.join(", ")}]` : String(value)}`);
}

/** Merges user options into frozen defaults, rejecting unknown keys. */
export function resolveOptions<H extends object>(name: string, defaults: Readonly<H>, options: Partial<H>): H {
  for (const k of Object.keys(options)) {
    if (!(k in defaults)) throw new TypeError(`${name}: unknown option '${k}' (known: ${Object.keys(defaults).join(", ")})`);
  }
  const out = { ...defaults } as H;
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

function sameKind(a: unknown, b: HyperValue): boolean {
  if (Array.isArray(b)) return Array.isArray(a) && a.length === b.length && a.every((x) => typeof x === "number");
  return typeof a === typeof b;
}

export abstract class Optimizer<H extends Hyperparameters<H>> {
  readonly paramGroups: ParamGroup<H>[] = [];
  readonly defaults: Readonly<H>;
  protected readonly state = new Map<Tensor, ParamState>();

  protected constructor(
    readonly name: string,
    params: ParamsInput<H>,
    defaults: H,
  ) {
    this.validate(defaults, "");
    this.defaults = Object.freeze({ ...defaults });
    if (params.length === 0) throw new RangeError(`${name}: got an empty parameter list`);
    const groups: readonly ParamGroupInput<H>[] = params.every((p) => p instanceof Tensor)
      ? [{ params: params as readonly Tensor[] } as ParamGroupInput<H>]
      : (params as readonly ParamGroupInput<H>[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /** Checks hyperparameters; throws "AdamW: lr must be >= 0, got -1". `where` is "" or " (param group 1)". */
  protected abstract validate(h: H, where: string): void;

  /** The state every parameter of a group with this hyperparameters carries once stepped. */
  protected abstract stateLayout(h: H): StateLayout;

  /** Updates the parameters of one group that have a gradient (nonempty; grads[i] belongs to params[i]). */
  protected abstract updateGroup(group: ParamGroup<H>, params: Tensor[], grads: Tensor[]): void;

  /** Adds a group (torch's add_param_group); hyperparameters not given come from the defaults. */
  addParamGroup(input: ParamGroupInput<H>): void {
    const where = ` (param group ${this.paramGroups.length})`;
    if (typeof input !== "object" || input === null || !Array.isArray(input.params)) {
      throw new TypeError(`${this.name}: a param group must be an object with a 'params' array${where}`);
    }
    const { params, ...rest } = input;
    const group = { ...resolveOptions(this.name, this.defaults as H, rest as unknown as Partial<H>), params: [...params] } as ParamGroup<H>;
    this.validate(group, where);
    const seen = new Set<Tensor>(this.paramGroups.flatMap((g) => g.params));
    group.params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new TypeError(`${this.name}: param ${i}${where} is not a Tensor`);
      if (p.isDisposed) throw new TypeError(`${this.name}: param ${i}${where} is disposed`);
      if (!p.isLeaf) throw new TypeError(`${this.name}: param ${i}${where} is not a leaf tensor; optimise the tensor you made, not a result computed from it`);
      if (seen.has(p)) throw new TypeError(`${this.name}: param ${i}${where} appears more than once (in this group or another)`);
      seen.add(p);
    });
    this.paramGroups.push(group);
  }

  /** Drops every parameter's gradient (sets it to None, as PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.zeroGrad();
  }

  /** One optimisation step over every parameter with a gradient; parameters without one are skipped. */
  step(): void {
    noGrad(() => {
      this.paramGroups.forEach((group, gi) => {
        this.validate(group, ` (param group ${gi})`);
        tidy(() => {
          const params: Tensor[] = [];
          const grads: Tensor[] = [];
          for (const p of group.params) {
            const g = p.grad;
            if (g === null) continue;
            params.push(p);
            grads.push(g);
          }
          if (params.length > 0) this.updateGroup(group, params, grads);
        });
      });
    });
  }

  /** The state of a parameter, or undefined before its first step. */
  getState(param: Tensor): ParamState | undefined {
    return this.state.get(param);
  }

  /** Stores state for a parameter; the optimiser keeps (and later frees) its tensors. */
  protected setState(param: Tensor, st: ParamState): ParamState {
    for (const t of Object.values(st.tensors)) keep(t);
    this.state.set(param, st);
    return st;
  }

  /** The state of a parameter, made on first use with zero tensors for `names` and step 0. */
  protected stateOf(param: Tensor, names: readonly string[]): ParamState {
    const existing = this.state.get(param);
    if (existing !== undefined) return existing;
    const tensors: Record<string, Tensor> = {};
    for (const n of names) tensors[n] = param.newZeros(param.shape);
    return this.setState(param, { step: 0, tensors });
  }

  /**
   * The state as tensors (copies, owned by the caller: dispose them or make
   * them inside a tidy()) and JSON metadata. Parameters are numbered through
   * the groups in order, as PyTorch's state_dict() does.
   */
  stateDict(): OptimizerStateDict {
    const tensors: Record<string, Tensor> = {};
    const state: OptimizerStateMeta["state"] = {};
    const paramGroups: OptimizerStateMeta["param_groups"] = [];
    let index = 0;
    noGrad(() => {
      for (const group of this.paramGroups) {
        const packed: OptimizerStateMeta["param_groups"][number] = { params: [] };
        for (const [k, v] of Object.entries(group as Record<string, unknown>)) {
          if (k !== "params") packed[camelToSnake(k)] = Array.isArray(v) ? [...(v as number[])] : (v as HyperValue);
        }
        const layout = this.stateLayout(group);
        for (const p of group.params) {
          const st = this.state.get(p);
          if (st !== undefined) {
            state[String(index)] = layout.hasStep ? { step: st.step } : {};
            for (const [n, t] of Object.entries(st.tensors)) tensors[`state.${index}.${n}`] = clone(t);
          }
          packed.params.push(index++);
        }
        paramGroups.push(packed);
      }
    });
    return { tensors, meta: { type: this.name, state, param_groups: paramGroups } };
  }

  /**
   * Loads a state dict from stateDict() (tensors are copied; the caller keeps
   * ownership). As in PyTorch, the checkpoint's hyperparameters replace the
   * current ones. Every problem is collected and reported in one error.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const fail = (problems: string[]): never => {
      throw new Error(`${this.name}.loadStateDict: ${problems.length === 1 ? "" : `${problems.length} problems:\n  `}${problems.join("\n  ")}`);
    };
    const meta = sd?.meta as Partial<OptimizerStateMeta> | undefined;
    if (typeof meta !== "object" || meta === null || !Array.isArray(meta.param_groups) || typeof meta.state !== "object" || meta.state === null) {
      fail(["meta must be an object with 'state' and 'param_groups'"]);
    }
    const m = meta as OptimizerStateMeta;
    const tensorsIn = sd.tensors ?? {};
    if (m.type !== this.name) fail([`checkpoint is for ${String(m.type)}, this optimiser is ${this.name}`]);
    if (m.param_groups.length !== this.paramGroups.length) {
      fail([`checkpoint has ${m.param_groups.length} param groups, optimiser has ${this.paramGroups.length}`]);
    }
    const problems: string[] = [];
    const byIndex = new Map<number, { param: Tensor; group: H }>();
    const newHypers: H[] = [];
    m.param_groups.forEach((saved, gi) => {
      const group = this.paramGroups[gi] as ParamGroup<H>;
      const ids = Array.isArray(saved.params) ? saved.params : [];
      if (ids.length !== group.params.length) {
        problems.push(`param group ${gi} has ${ids.length} params in the checkpoint, ${group.params.length} in the optimiser`);
      }
      const before = problems.length;
      const hyper = { ...(this.defaults as H) };
      const known = new Set(Object.keys(this.defaults).map(camelToSnake));
      for (const k of Object.keys(saved)) {
        if (k !== "params" && !known.has(k)) problems.push(`unexpected hyperparameter '${k}' in param group ${gi}`);
      }
      for (const [k, def] of Object.entries(this.defaults as Record<string, HyperValue>)) {
        const v = (saved as Record<string, unknown>)[camelToSnake(k)];
        if (v === undefined) problems.push(`missing hyperparameter '${camelToSnake(k)}' in param group ${gi}`);
        else if (!sameKind(v, def)) problems.push(`hyperparameter '${camelToSnake(k)}' in param group ${gi} is ${JSON.stringify(v)}, expected a value like ${JSON.stringify(def)}`);
        else (hyper as Record<string, unknown>)[k] = Array.isArray(v) ? [...(v as number[])] : v;
      }
      if (problems.length === before) {
        try {
          this.validate(hyper, ` (param group ${gi})`);
        } catch (e) {
          problems.push(e instanceof Error ? e.message : String(e));
        }
      }
      newHypers.push(hyper);
      ids.forEach((id, j) => {
        const param = group.params[j];
        if (typeof id !== "number" || !Number.isInteger(id) || id < 0) problems.push(`param group ${gi} lists a bad param index ${JSON.stringify(id)}`);
        else if (byIndex.has(id)) problems.push(`param index ${id} appears more than once in the checkpoint`);
        else if (param !== undefined) byIndex.set(id, { param, group: hyper });
      });
    });
    if (problems.length > 0) fail(problems);

    // State: every entry must name a parameter, carry its layout, and match its shape.
    const used = new Set<string>();
    const plan: Array<{ param: Tensor; step: number; tensors: Record<string, Tensor> }> = [];
    for (const [key, entry] of Object.entries(m.state)) {
      const id = Number(key);
      const target = byIndex.get(id);
      if (target === undefined) {
        problems.push(`state for param ${key}, which no param group lists`);
        continue;
      }
      const layout = this.stateLayout(target.group);
      let step = 0;
      if (layout.hasStep) {
        const s = (entry as { step?: unknown } | null)?.step;
        if (typeof s !== "number" || !Number.isInteger(s) || s < 0) problems.push(`state.${key}.step must be an integer >= 0, got ${JSON.stringify(s)}`);
        else step = s;
      }
      const tensors: Record<string, Tensor> = {};
      for (const n of layout.tensors) {
        const name = `state.${key}.${n}`;
        const t = tensorsIn[name];
        used.add(name);
        if (t === undefined) problems.push(`missing tensor ${name}`);
        else if (!(t instanceof Tensor) || t.isDisposed) problems.push(`${name} is not a live Tensor`);
        else if (shapeStr(t.shape) !== shapeStr(target.param.shape)) {
          problems.push(`size mismatch for ${name}: checkpoint ${shapeStr(t.shape)}, param ${shapeStr(target.param.shape)}`);
        } else tensors[n] = t;
      }
      plan.push({ param: target.param, step, tensors });
    }
    for (const name of Object.keys(tensorsIn)) if (!used.has(name)) problems.push(`unexpected tensor ${name}`);
    if (problems.length > 0) fail(problems);

    // Apply: copy into tensors of each parameter's dtype and device, replace the old state.
    const fresh = new Map<Tensor, ParamState>();
    noGrad(() => {
      for (const { param, step, tensors } of plan) {
        const own: Record<string, Tensor> = {};
        for (const [n, t] of Object.entries(tensors)) {
          const c = keep(emptyLike(param));
          copy_(c, t);
          own[n] = c;
        }
        fresh.set(param, { step, tensors: own });
      }
    });
    this.disposeState();
    for (const [p, st] of fresh) this.state.set(p, st);
    this.paramGroups.forEach((g, gi) => Object.assign(g, newHypers[gi]));
  }

  /** Frees every state tensor; the next step starts from fresh state. */
  protected disposeState(): void {
    for (const st of this.state.values()) for (const t of Object.values(st.tensors)) t.dispose();
    this.state.clear();
  }

  /** Frees the optimiser's state tensors (not the parameters). */
  dispose(): void {
    this.disposeState();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
