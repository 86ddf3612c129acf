// Dropout (torch.nn.Dropout).
import type { Tensor } from "../tensor.js";
import * as F from "./functional.js";
import { Module } from "./module.js";

/**
 * In training mode zeroes each element with probability p and scales the
 * rest by 1/(1-p); in eval mode returns the input unchanged. Differs from
 * PyTorch: eval mode returns a new handle aliasing the input (dispose it as
 * usual), and there is no `inplace` option.
 */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
  }

  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }

  override extraRepr(): string {
    return `p=${this.p}`;
  }
}
