// Adam (torch.optim.Adam): weight decay is an L2 penalty added to the gradient.
// The update is PyTorch 1.13's _multi_tensor_adam (foreach=True, not capturable).
import type { Tensor } from "../tensor.js";
import { check, foreach, Optimizer, resolveOptions, type ParamGroup, type ParamsInput, type ParamState, type StateLayout } from "./optimizer.js";

export interface AdamOptions {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}

export const ADAM_DEFAULTS: Readonly<AdamOptions> = Object.freeze({
  lr: 1e-3,
  betas: Object.freeze([0.9, 0.999] as const),
  eps: 1e-8,
  weightDecay: 0,
  amsgrad: false,
});

/** Hyperparameter checks shared by Adam and AdamW. */
export function validateAdam(name: string, h: AdamOptions, where: string): void {
  check(typeof h.lr === "number" && h.lr >= 0, name, `lr${where}`, ">= 0", h.lr);
  check(typeof h.eps === "number" && h.eps >= 0, name, `eps${where}`, ">= 0", h.eps);
  const betas = h.betas as readonly unknown[];
  check(Array.isArray(betas) && betas.length === 2, name, `betas${where}`, "two numbers", betas);
  betas.forEach((b, i) => check(typeof b === "number" && b >= 0 && b < 1, name, `betas[${i}]${where}`, "in [0, 1)", b));
  check(typeof h.weightDecay === "number" && h.weightDecay >= 0, name, `weightDecay${where}`, ">= 0", h.weightDecay);
  check(typeof h.amsgrad === "boolean", name, `amsgrad${where}`, "a boolean", h.amsgrad);
}

export const adamLayout = (h: AdamOptions): StateLayout => ({
  tensors: h.amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"],
  hasStep: true,
});

/** Indices of `steps` grouped by value, in first-seen order. */
function byStep(steps: readonly number[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  steps.forEach((s, i) => {
    const list = out.get(s);
    if (list === undefined) out.set(s, [i]);
    else list.push(i);
  });
  return out;
}

const pick = (xs: readonly Tensor[], idx: readonly number[]): Tensor[] => (idx.length === xs.length ? [...xs] : idx.map((i) => xs[i] as Tensor));

/**
 * The Adam/AdamW update for one group (PyTorch 1.13 _multi_tensor_adam(w)).
 * `decoupled`: AdamW's p *= 1 - lr*wd; otherwise Adam's g += wd*p.
 * Called inside Optimizer.step()'s noGrad + tidy.
 */
export function adamUpdate(
  stateOf: (p: Tensor, names: readonly string[]) => ParamState,
  group: AdamOptions,
  params: Tensor[],
  gradsIn: Tensor[],
  decoupled: boolean,
): void {
  const { lr, eps, weightDecay, amsgrad } = group;
  const [beta1, beta2] = group.betas;
  const names = adamLayout(group).tensors;
  const states = params.map((p) => stateOf(p, names));
  const get = (n: string): Tensor[] =>
    states.map((s) => {
      const t = s.tensors[n];
      if (t === undefined) throw new Error(`adam: state has no '${n}' (was amsgrad changed after the first step?)`);
      return t;
    });
  const expAvgs = get("exp_avg");
  const expAvgSqs = get("exp_avg_sq");
  for (const s of states) s.step += 1;

  let grads = gradsIn;
  if (weightDecay !== 0) {
    if (decoupled) foreach.mul_(params, 1 - lr * weightDecay);
    else grads = foreach.add(grads, params, weightDecay);
  }

  // 1. Moments: m = beta1*m + (1-beta1)*g; v = beta2*v + (1-beta2)*g*g
  foreach.mul_(expAvgs, beta1);
  foreach.add_(expAvgs, grads, 1 - beta1);
  foreach.mul_(expAvgSqs, beta2);
  foreach.addcmul_(expAvgSqs, grads, grads, 1 - beta2);

  // 2. denom = sqrt(v or max v) / sqrt(1 - beta2^t) + eps
  let second = expAvgSqs;
  if (amsgrad) {
    second = get("max_exp_avg_sq");
    foreach.maximum_(second, expAvgSqs);
  }
  const denom = foreach.sqrt(second);

  // 3. p -= lr / (1 - beta1^t) * m / denom; bias corrections per step count
  //    (parameters skipped on some steps count fewer steps).
  for (const [step, idx] of byStep(states.map((s) => s.step))) {
    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2 = 1 - beta2 ** step;
    const stepSize = (lr / biasCorrection1) * -1;
    const d = pick(denom, idx);
    foreach.div_(d, Math.sqrt(biasCorrection2));
    foreach.addScalar_(d, eps);
    foreach.addcdiv_(pick(params, idx), pick(expAvgs, idx), d, stepSize);
  }
}

/** Adam with L2 weight decay (added to the gradient), as torch.optim.Adam. */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super("Adam", params, resolveOptions("Adam", ADAM_DEFAULTS, options));
  }

  protected validate(h: AdamOptions, where: string): void {
    validateAdam(this.name, h, where);
  }

  protected stateLayout(h: AdamOptions): StateLayout {
    return adamLayout(h);
  }

  protected updateGroup(group: ParamGroup<AdamOptions>, params: Tensor[], grads: Tensor[]): void {
    adamUpdate((p, n) => this.stateOf(p, n), group, params, grads, false);
  }
}
