// Convolutions: Conv1d/2d/3d and ConvTranspose2d/3d (torch.nn.ConvNd).
import { pad } from "../ops/shape.js";
import type { Tensor } from "../tensor.js";
import * as F from "./functional.js";
import { defaultLayerInit_ } from "./init.js";
import { Module } from "./module.js";
import { checkCount, emptyParameter, type LayerOptions, type Parameter } from "./parameter.js";

type IntOrTuple = number | readonly number[];

/** How a convolution pads its input: "zeros" is done by the convolution, the others by pad() first. */
export type PaddingMode = "zeros" | "reflect" | "replicate" | "circular";

export interface ConvOptions extends LayerOptions {
  stride?: IntOrTuple;
  /** Per side; "same" (stride 1 only) or "valid" (none) as PyTorch. Default 0. */
  padding?: IntOrTuple | "same" | "valid";
  dilation?: IntOrTuple;
  groups?: number;
  /** Default true. */
  bias?: boolean;
  /** Default "zeros". */
  paddingMode?: PaddingMode;
}

export interface ConvTransposeOptions extends LayerOptions {
  stride?: IntOrTuple;
  /** dilation * (kernel - 1) - padding zeros are added to both sides of the input. */
  padding?: IntOrTuple;
  /** Extra size added to one side of the output; each must be less than stride or dilation. */
  outputPadding?: IntOrTuple;
  dilation?: IntOrTuple;
  groups?: number;
  bias?: boolean;
}

const PADDING_MODES: readonly PaddingMode[] = ["zeros", "reflect", "replicate", "circular"];

function tuple(layer: string, what: string, v: IntOrTuple, nd: number, min: number): readonly number[] {
  const list = typeof v === "number" ? new Array<number>(nd).fill(v) : [...v];
  if (list.length !== nd || list.some((x) => !Number.isInteger(x) || x < min)) {
    throw new RangeError(`${layer}: ${what} must be an integer >= ${min} or ${nd} of them, got ${JSON.stringify(v)}`);
  }
  return Object.freeze(list);
}

/** Parses a convolution's padding; "same" needs stride 1 (as PyTorch). */
function convPadding(name: string, o: ConvOptions, nd: number): readonly number[] | "same" | "valid" {
  const p = o.padding ?? 0;
  if (p === "valid") return p;
  if (p === "same") {
    const stride = tuple(name, "stride", o.stride ?? 1, nd, 1);
    if (stride.some((s) => s !== 1)) {
      throw new RangeError(`${name}: padding 'same' is not supported for strided convolutions (stride [${stride.join(", ")}])`);
    }
    return p;
  }
  if (typeof p === "string") throw new RangeError(`${name}: padding must be numbers, 'same' or 'valid', got '${p}'`);
  return tuple(name, "padding", p, nd, 0);
}

/**
 * The shared part of the convolution layers. `weight` is [out, in/groups, ...kernel]
 * for a convolution and [in, out/groups, ...kernel] for a transposed one; `bias`
 * is [out] or null. Initialised as PyTorch: kaiming-uniform with a = sqrt(5), bias
 * U(-1/sqrt(fanIn), 1/sqrt(fanIn)) with fanIn computed from the weight's shape.
 */
export abstract class ConvNd extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly kernelSize: readonly number[];
  readonly stride: readonly number[];
  readonly dilation: readonly number[];
  readonly groups: number;

  protected constructor(
    readonly nd: 1 | 2 | 3,
    readonly transposed: boolean,
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: IntOrTuple,
    o: { stride?: IntOrTuple; dilation?: IntOrTuple; groups?: number; bias?: boolean } & LayerOptions,
  ) {
    super();
    const name = this.constructor.name;
    checkCount(name, "inChannels", inChannels);
    checkCount(name, "outChannels", outChannels);
    this.kernelSize = tuple(name, "kernelSize", kernelSize, nd, 1);
    this.stride = tuple(name, "stride", o.stride ?? 1, nd, 1);
    this.dilation = tuple(name, "dilation", o.dilation ?? 1, nd, 1);
    const groups = o.groups ?? 1;
    if (!Number.isInteger(groups) || groups < 1) throw new RangeError(`${name}: groups must be a positive integer, got ${groups}`);
    if (inChannels % groups !== 0) throw new RangeError(`${name}: inChannels (${inChannels}) must be divisible by groups (${groups})`);
    if (outChannels % groups !== 0) throw new RangeError(`${name}: outChannels (${outChannels}) must be divisible by groups (${groups})`);
    this.groups = groups;
    const shape = transposed
      ? [inChannels, outChannels / groups, ...this.kernelSize]
      : [outChannels, inChannels / groups, ...this.kernelSize];
    this.weight = this.registerParameter("weight", emptyParameter(shape, o));
    this.bias = this.registerParameter("bias", o.bias === false ? null : emptyParameter([outChannels], o));
    this.resetParameters(o);
  }

  /** Re-draws the weights as the constructor does. */
  resetParameters(options: LayerOptions = {}): void {
    defaultLayerInit_(this.weight, this.bias, options);
  }

  /** Checks for [N, C, ...spatial] or unbatched [C, ...spatial] input with inChannels channels. */
  protected checkInput(x: Tensor): void {
    const label = `${this.constructor.name}(${this.inChannels}, ${this.outChannels})`;
    const nd = this.nd;
    if (x.ndim !== nd + 2 && x.ndim !== nd + 1) {
      throw new RangeError(`${label}: expected a ${nd + 2}-D [N, C, ...] or ${nd + 1}-D input, got [${x.shape.join(", ")}]`);
    }
    const c = x.shape[x.ndim - nd - 1];
    if (c !== this.inChannels) {
      throw new RangeError(`${label}: expected input with ${this.inChannels} channels, got [${x.shape.join(", ")}]`);
    }
  }

  protected baseRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize.join(", ")}], stride=[${this.stride.join(", ")}]`;
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=[${this.dilation.join(", ")}]`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === null) s += ", bias=false";
    return s;
  }
}

/** A convolution over 1, 2 or 3 spatial dimensions. */
export abstract class Conv extends ConvNd {
  readonly padding: readonly number[] | "same" | "valid";
  readonly paddingMode: PaddingMode;

  protected constructor(nd: 1 | 2 | 3, inChannels: number, outChannels: number, kernelSize: IntOrTuple, o: ConvOptions) {
    // Validate before super() creates the parameters, so a throw leaks nothing.
    const name = new.target.name;
    const padding = convPadding(name, o, nd);
    const mode = o.paddingMode ?? "zeros";
    if (!PADDING_MODES.includes(mode)) throw new RangeError(`${name}: paddingMode must be one of ${PADDING_MODES.join(", ")}, got '${mode}'`);
    super(nd, false, inChannels, outChannels, kernelSize, o);
    this.padding = padding;
    this.paddingMode = mode;
  }

  /** (before, after) amounts per spatial dimension, last dimension first, for pad(). */
  #explicitPadding(): number[] {
    const out: number[] = [];
    for (let i = this.nd - 1; i >= 0; i--) {
      if (this.padding === "valid") {
        out.push(0, 0);
      } else if (this.padding === "same") {
        const total = (this.dilation[i] as number) * ((this.kernelSize[i] as number) - 1);
        const left = Math.floor(total / 2);
        out.push(left, total - left);
      } else {
        const p = this.padding[i] as number;
        out.push(p, p);
      }
    }
    return out;
  }

  /** x [N, inChannels, ...spatial] (or unbatched) -> [N, outChannels, ...spatial']. */
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const o = { stride: this.stride, dilation: this.dilation, groups: this.groups };
    const conv = this.nd === 1 ? F.conv1d : this.nd === 2 ? F.conv2d : F.conv3d;
    if (this.paddingMode === "zeros") return conv(x, this.weight, this.bias, { ...o, padding: this.padding });
    const padded = pad(x, this.#explicitPadding(), this.paddingMode);
    try {
      return conv(padded, this.weight, this.bias, { ...o, padding: 0 });
    } finally {
      padded.dispose();
    }
  }

  override extraRepr(): string {
    let s = this.baseRepr();
    const p = this.padding;
    if (typeof p === "string" || p.some((v) => v !== 0)) s += `, padding=${typeof p === "string" ? `'${p}'` : `[${p.join(", ")}]`}`;
    if (this.paddingMode !== "zeros") s += `, paddingMode='${this.paddingMode}'`;
    return s;
  }
}

export class Conv1d extends Conv {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options: ConvOptions = {}) {
    super(1, inChannels, outChannels, kernelSize, options);
  }
}

/** 2-D convolution of [N, C, H, W]; weight [out, in/groups, kH, kW]. */
export class Conv2d extends Conv {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options: ConvOptions = {}) {
    super(2, inChannels, outChannels, kernelSize, options);
  }
}

/** 3-D convolution of [N, C, D, H, W]; weight [out, in/groups, kD, kH, kW]. */
export class Conv3d extends Conv {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options: ConvOptions = {}) {
    super(3, inChannels, outChannels, kernelSize, options);
  }
}

/** A transposed convolution over 2 or 3 spatial dimensions. */
export abstract class ConvTranspose extends ConvNd {
  readonly padding: readonly number[];
  readonly outputPadding: readonly number[];

  protected constructor(nd: 2 | 3, inChannels: number, outChannels: number, kernelSize: IntOrTuple, o: ConvTransposeOptions) {
    // Validate before super() creates the parameters, so a throw leaks nothing.
    const name = new.target.name;
    const padding = tuple(name, "padding", o.padding ?? 0, nd, 0);
    const outputPadding = tuple(name, "outputPadding", o.outputPadding ?? 0, nd, 0);
    const stride = tuple(name, "stride", o.stride ?? 1, nd, 1);
    const dilation = tuple(name, "dilation", o.dilation ?? 1, nd, 1);
    if (outputPadding.some((op, i) => op >= (stride[i] as number) && op >= (dilation[i] as number))) {
      throw new RangeError(
        `${name}: outputPadding [${outputPadding.join(", ")}] must be smaller than stride [${stride.join(", ")}] or dilation [${dilation.join(", ")}]`,
      );
    }
    super(nd, true, inChannels, outChannels, kernelSize, o);
    this.padding = padding;
    this.outputPadding = outputPadding;
  }

  /** x [N, inChannels, ...spatial] (or unbatched) -> [N, outChannels, ...spatial']. */
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    const convTranspose = this.nd === 2 ? F.convTranspose2d : F.convTranspose3d;
    return convTranspose(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      outputPadding: this.outputPadding,
      groups: this.groups,
      dilation: this.dilation,
    });
  }

  override extraRepr(): string {
    let s = this.baseRepr();
    if (this.padding.some((v) => v !== 0)) s += `, padding=[${this.padding.join(", ")}]`;
    if (this.outputPadding.some((v) => v !== 0)) s += `, outputPadding=[${this.outputPadding.join(", ")}]`;
    return s;
  }
}

/** Transposed 2-D convolution; weight [in, out/groups, kH, kW] (fanIn for the bias bound is out/groups*kH*kW, as PyTorch). */
export class ConvTranspose2d extends ConvTranspose {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options: ConvTransposeOptions = {}) {
    super(2, inChannels, outChannels, kernelSize, options);
  }
}

export class ConvTranspose3d extends ConvTranspose {
  constructor(inChannels: number, outChannels: number, kernelSize: IntOrTuple, options: ConvTransposeOptions = {}) {
    super(3, inChannels, outChannels, kernelSize, options);
  }
}
