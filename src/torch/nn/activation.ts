// Activations as modules, for Sequential (torch.nn.ReLU, ...). Each forward
// returns a new tensor; there is no `inplace` option.
import type { Tensor } from "../tensor.js";
import * as F from "./functional.js";
import { Module } from "./module.js";

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}

/** x * sigmoid(x), also called swish. */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return F.silu(x);
  }
}

export class GELU extends Module {
  /** "none" for the exact erf form (default), "tanh" for the approximation. */
  constructor(readonly approximate: "none" | "tanh" = "none") {
    super();
    if (approximate !== "none" && approximate !== "tanh") {
      throw new RangeError(`GELU: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
    }
  }
  forward(x: Tensor): Tensor {
    return F.gelu(x, this.approximate);
  }
  override extraRepr(): string {
    return this.approximate === "none" ? "" : `approximate='${this.approximate}'`;
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }
  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return F.sigmoid(x);
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return F.tanh(x);
  }
}

/** Returns its input as a new handle on the same tensor (PyTorch returns the same object). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x.view(...x.shape);
  }
}
