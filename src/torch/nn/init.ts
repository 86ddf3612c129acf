// Weight initialisation in place (torch.nn.init). Every function runs under
// noGrad, so it may be applied to Parameters, and returns its tensor.
import { noGrad } from "../autograd.js";
import type { Generator } from "../generator.js";
import { Op } from "../op.js";
import * as m from "../ops/math.js";
import type { Tensor } from "../tensor.js";

/**
 * Non-linearities for calculateGain, as PyTorch's strings in camelCase:
 * "leakyRelu" is 'leaky_relu', "convTranspose2d" is 'conv_transpose2d'.
 */
export type Nonlinearity =
  | "linear"
  | "conv1d"
  | "conv2d"
  | "conv3d"
  | "convTranspose1d"
  | "convTranspose2d"
  | "convTranspose3d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leakyRelu"
  | "selu";

/** Which fan the Kaiming initialisers preserve: fan-in keeps the forward variance, fan-out the backward. */
export type FanMode = "fanIn" | "fanOut";

export interface InitOptions {
  /** Draws from this generator instead of the default one. */
  generator?: Generator;
}

/** The recommended gain for a non-linearity (param: the leaky-ReLU negative slope, default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "conv1d":
    case "conv2d":
    case "conv3d":
    case "convTranspose1d":
    case "convTranspose2d":
    case "convTranspose3d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leakyRelu": {
      const slope = param ?? 0.01;
      if (!Number.isFinite(slope)) throw new RangeError(`calculateGain: negative slope ${slope} is not a finite number`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
    default:
      throw new RangeError(`calculateGain: unsupported nonlinearity '${String(nonlinearity)}'`);
  }
}

/**
 * [fanIn, fanOut] of a weight as PyTorch computes them: size(1) and size(0)
 * times the product of the remaining (kernel) dimensions. For a transposed
 * convolution's [in, out, k...] weight these are out*k and in*k, as in PyTorch.
 */
export function calculateFanInAndFanOut(t: Tensor): [number, number] {
  const shape = t.shape;
  if (shape.length < 2) {
    throw new RangeError(`fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions, got [${shape.join(", ")}]`);
  }
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i] as number;
  return [(shape[1] as number) * receptive, (shape[0] as number) * receptive];
}

function fanOf(t: Tensor, mode: FanMode, what: string): number {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  switch (mode) {
    case "fanIn":
      return fanIn;
    case "fanOut":
      return fanOut;
    default:
      throw new RangeError(`${what}: mode must be 'fanIn' or 'fanOut', got '${String(mode)}'`);
  }
}

function checkEmpty(t: Tensor, what: string): boolean {
  if (t.numel === 0) {
    process.emitWarning(`${what}: initializing a zero-element tensor is a no-op`);
    return true;
  }
  return false;
}

/** Fills with draws from U(a, b). */
export function uniform_(t: Tensor, a = 0, b = 1, options: InitOptions = {}): Tensor {
  noGrad(() => m.uniform_(t, a, b, options.generator));
  return t;
}

/** Fills with draws from N(mean, std^2). */
export function normal_(t: Tensor, mean = 0, std = 1, options: InitOptions = {}): Tensor {
  noGrad(() => m.normal_(t, mean, std, options.generator));
  return t;
}

export function constant_(t: Tensor, value: number): Tensor {
  noGrad(() => m.fill_(t, value));
  return t;
}

export const zeros_ = (t: Tensor): Tensor => constant_(t, 0);
export const ones_ = (t: Tensor): Tensor => constant_(t, 1);

export interface KaimingOptions extends InitOptions {
  /** Negative slope of the leaky ReLU that follows (used only with "leakyRelu"); default 0. */
  a?: number;
  /** Default "fanIn". */
  mode?: FanMode;
  /** Default "leakyRelu", as PyTorch. */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, o: KaimingOptions, what: string): number {
  const fan = fanOf(t, o.mode ?? "fanIn", what);
  const gain = calculateGain(o.nonlinearity ?? "leakyRelu", o.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** U(-bound, bound) with bound = gain * sqrt(3 / fan) (He et al. 2015). */
export function kaimingUniform_(t: Tensor, o: KaimingOptions = {}): Tensor {
  if (checkEmpty(t, "kaimingUniform_")) return t;
  const bound = Math.sqrt(3) * kaimingStd(t, o, "kaimingUniform_");
  return uniform_(t, -bound, bound, o);
}

/** N(0, std^2) with std = gain / sqrt(fan) (He et al. 2015). */
export function kaimingNormal_(t: Tensor, o: KaimingOptions = {}): Tensor {
  if (checkEmpty(t, "kaimingNormal_")) return t;
  return normal_(t, 0, kaimingStd(t, o, "kaimingNormal_"), o);
}

function xavierStd(t: Tensor, gain: number): number {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  return gain * Math.sqrt(2 / (fanIn + fanOut));
}

/** U(-a, a) with a = gain * sqrt(6 / (fanIn + fanOut)) (Glorot and Bengio 2010). */
export function xavierUniform_(t: Tensor, gain = 1, options: InitOptions = {}): Tensor {
  const a = Math.sqrt(3) * xavierStd(t, gain);
  return uniform_(t, -a, a, options);
}

/** N(0, std^2) with std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal_(t: Tensor, gain = 1, options: InitOptions = {}): Tensor {
  return normal_(t, 0, xavierStd(t, gain), options);
}

const erfinvIn = new Op("aten::erfinv_");
const normCdf = (x: number): number => (1 + erf(x / Math.SQRT2)) / 2;

/** The error function to about 1e-14: Maclaurin series for |x| < 2.5, erfc's continued fraction beyond. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(ax) by Lentz's continued fraction.
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = d === 0 ? 1e-300 : 1 / d;
    c = ax + an / c;
    if (c === 0) c = 1e-300;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
  return Math.sign(x) * (1 - erfc);
}

export interface TruncNormalOptions extends InitOptions {
  mean?: number;
  std?: number;
  /** Lower cut-off (default -2, in absolute units as PyTorch, not in standard deviations). */
  a?: number;
  /** Upper cut-off (default 2). */
  b?: number;
}

/** N(mean, std^2) truncated to [a, b], by inverse-CDF sampling as PyTorch. */
export function truncNormal_(t: Tensor, o: TruncNormalOptions = {}): Tensor {
  const mean = o.mean ?? 0;
  const std = o.std ?? 1;
  const a = o.a ?? -2;
  const b = o.b ?? 2;
  if (!(a < b)) throw new RangeError(`truncNormal_: a (${a}) must be less than b (${b})`);
  if (!(std > 0)) throw new RangeError(`truncNormal_: std must be positive, got ${std}`);
  const lo = normCdf((a - mean) / std);
  const hi = normCdf((b - mean) / std);
  noGrad(() => {
    m.uniform_(t, 2 * lo - 1, 2 * hi - 1, o.generator);
    erfinvIn.inPlace(t);
    m.mul_(t, std * Math.SQRT2);
    m.add_(t, mean);
    m.clamp_(t, a, b);
  });
  return t;
}

/**
 * PyTorch's default initialisation of Linear and Conv layers: weight from
 * kaiming_uniform(a = sqrt(5)), bias uniform in +-1/sqrt(fan_in).
 */
export function defaultLayerInit_(weight: Tensor, bias: Tensor | null, options: InitOptions = {}): void {
  kaimingUniform_(weight, { a: Math.sqrt(5), generator: options.generator });
  if (bias !== null) {
    const [fanIn] = calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound, options);
  }
}
