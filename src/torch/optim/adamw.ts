// AdamW (torch.optim.AdamW): Adam with decoupled weight decay, p *= 1 - lr*wd
// before the Adam step (Loshchilov & Hutter). PyTorch 1.13's _multi_tensor_adamw.
import type { Tensor } from "../tensor.js";
import { Optimizer, resolveOptions, type ParamGroup, type ParamsInput, type StateLayout } from "./optimizer.js";
import { ADAM_DEFAULTS, adamLayout, adamUpdate, validateAdam, type AdamOptions } from "./adam.js";

export type AdamWOptions = AdamOptions;

export const ADAMW_DEFAULTS: Readonly<AdamWOptions> = Object.freeze({ ...ADAM_DEFAULTS, weightDecay: 1e-2 });

export class AdamW extends Optimizer<AdamWOptions> {
  /** Defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 1e-2, amsgrad false. */
  constructor(params: ParamsInput<AdamWOptions>, options: Partial<AdamWOptions> = {}) {
    super("AdamW", params, resolveOptions("AdamW", ADAMW_DEFAULTS, options));
  }

  protected validate(h: AdamWOptions, where: string): void {
    validateAdam(this.name, h, where);
  }

  protected stateLayout(h: AdamWOptions): StateLayout {
    return adamLayout(h);
  }

  protected updateGroup(group: ParamGroup<AdamWOptions>, params: Tensor[], grads: Tensor[]): void {
    adamUpdate((p, n) => this.stateOf(p, n), group, params, grads, true);
  }
}
