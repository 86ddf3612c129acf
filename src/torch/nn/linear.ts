// Linear: y = x W^T + b (torch.nn.Linear).
import type { Tensor } from "../tensor.js";
import * as F from "./functional.js";
import { defaultLayerInit_ } from "./init.js";
import { Module } from "./module.js";
import { checkCount, emptyParameter, type LayerOptions, type Parameter } from "./parameter.js";

export interface LinearOptions extends LayerOptions {
  /** Default true. */
  bias?: boolean;
}

/**
 * A fully connected layer: `weight` [out, in], `bias` [out] (or null).
 * Initialised as PyTorch: kaiming-uniform with a = sqrt(5) (bound 1/sqrt(in)),
 * bias U(-1/sqrt(in), 1/sqrt(in)).
 */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    checkCount("Linear", "inFeatures", inFeatures);
    checkCount("Linear", "outFeatures", outFeatures);
    this.weight = this.registerParameter("weight", emptyParameter([outFeatures, inFeatures], options));
    this.bias = this.registerParameter("bias", options.bias === false ? null : emptyParameter([outFeatures], options));
    this.resetParameters(options);
  }

  /** Re-draws the weights as the constructor does. */
  resetParameters(options: LayerOptions = {}): void {
    defaultLayerInit_(this.weight, this.bias, options);
  }

  /** x [..., in] -> [..., out]. */
  forward(x: Tensor): Tensor {
    if (x.ndim === 0 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new RangeError(`${this}: expected input with last dimension ${this.inFeatures}, got [${x.shape.join(", ")}]`);
    }
    return F.linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `${this.inFeatures}, ${this.outFeatures}${this.bias === null ? ", bias=false" : ""}`;
  }
}
