// SGD with momentum, dampening, Nesterov momentum and L2 weight decay
// (torch.optim.SGD; the update is PyTorch 1.13's _multi_tensor_sgd).
import type { Tensor } from "../tensor.js";
import { clone } from "../ops/shape.js";
import { add_, mul_ } from "../ops/math.js";
import { check, foreach, Optimizer, resolveOptions, type ParamGroup, type ParamsInput, type StateLayout } from "./optimizer.js";

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

const SGD_DEFAULTS: Readonly<Omit<SGDOptions, "lr">> = Object.freeze({
  momentum: 0,
  dampening: 0,
  weightDecay: 0,
  nesterov: false,
});

export class SGD extends Optimizer<SGDOptions> {
  /** lr is required (as in PyTorch); momentum, dampening and weightDecay default to 0, nesterov to false. */
  constructor(params: ParamsInput<SGDOptions>, options: Partial<SGDOptions> & { lr: number }) {
    if (typeof options !== "object" || options === null || options.lr === undefined) throw new TypeError("SGD: options.lr is required");
    super("SGD", params, resolveOptions("SGD", { ...SGD_DEFAULTS, lr: options.lr }, options));
  }

  protected validate(h: SGDOptions, where: string): void {
    const n = this.name;
    check(typeof h.lr === "number" && h.lr >= 0, n, `lr${where}`, ">= 0", h.lr);
    check(typeof h.momentum === "number" && h.momentum >= 0, n, `momentum${where}`, ">= 0", h.momentum);
    check(typeof h.dampening === "number", n, `dampening${where}`, "a number", h.dampening);
    check(typeof h.weightDecay === "number" && h.weightDecay >= 0, n, `weightDecay${where}`, ">= 0", h.weightDecay);
    check(typeof h.nesterov === "boolean", n, `nesterov${where}`, "a boolean", h.nesterov);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new RangeError(`${n}: nesterov requires momentum > 0 and dampening = 0, got momentum ${h.momentum}, dampening ${h.dampening}${where}`);
    }
  }

  protected stateLayout(h: SGDOptions): StateLayout {
    return { tensors: h.momentum !== 0 ? ["momentum_buffer"] : [], hasStep: false };
  }

  protected updateGroup(group: ParamGroup<SGDOptions>, params: Tensor[], grads: Tensor[]): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = group;
    // 1. g += wd * p (a new list: the .grad tensors are not changed)
    let d = weightDecay !== 0 ? foreach.add(grads, params, weightDecay) : grads;
    if (momentum !== 0) {
      // 2. b = g on the first step, then b = momentum*b + (1-dampening)*g
      const bufs: Tensor[] = [];
      const existing = params.map((p) => this.getState(p)?.tensors.momentum_buffer);
      if (existing.every((b) => b !== undefined)) {
        bufs.push(...(existing as Tensor[]));
        foreach.mul_(bufs, momentum);
        foreach.add_(bufs, d, 1 - dampening);
      } else {
        params.forEach((p, i) => {
          const g = d[i] as Tensor;
          let b = existing[i];
          if (b === undefined) {
            b = clone(g);
            this.setState(p, { step: 0, tensors: { momentum_buffer: b } });
          } else {
            mul_(b, momentum);
            add_(b, g, 1 - dampening);
          }
          bufs.push(b);
        });
      }
      // 3. Nesterov: g + momentum*b; otherwise b
      d = nesterov ? foreach.add(d, bufs, momentum) : bufs;
    }
    // 4. p -= lr * d
    foreach.add_(params, d, -lr);
  }
}
