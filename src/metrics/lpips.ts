// LPIPS, the learned perceptual image patch similarity of Zhang et al. 2018 ("The Unreasonable
// Effectiveness of Deep Features as a Perceptual Metric"), version 0.1:
//   x in [-1, 1] -> scaling layer (x - shift) / scale, shift [-.030, -.088, -.188],
//   scale [.458, .448, .450] -> backbone features f_l at 5 layers (lpips_backbones.ts) ->
//   unit-normalised across channels, f / (||f||_2 + 1e-10) -> squared difference ->
//   "lin" layer l: a 1x1 conv to one channel without bias, learned with non-negative weights ->
//   spatial mean -> sum over the 5 layers.
// The lin layers are read from the lpips package's v0.1 weight file (keys lin0.model.1.weight ..
// lin4.model.1.weight, shape [1, C_l, 1, 1]); the backbone from a torchvision state dict.
//
// Design decisions:
// - The lin layers are registered as "lin<l>.model.1" (Dropout at "model.0", inert in eval mode),
//   as in the lpips package, so its file loads key for key.
// - Negative or non-finite lin weights are refused: v0.1 weights are clamped to >= 0 in training,
//   and a negative one would let the "distance" go below 0 (a sign of a wrong file).
// - x0 and x1 go through the backbone as one batch of 2B.
// - The result is float in the model's dtype (default float32); dtype and device are options.
import * as T from "../torch/index.js";
import { loadTensorFile, TorchFileError } from "../torch/io/pth/pth.js";
import { backboneFromFile, backboneFromStateDict, LPIPS_CHANNELS, LPIPS_NETS, type LpipsBackbone, type LpipsNet } from "./lpips_backbones.js";

export { LPIPS_CHANNELS, LPIPS_NETS, type LpipsNet } from "./lpips_backbones.js";

/** The scaling layer's constants (lpips v0.1). */
export const LPIPS_SHIFT: readonly number[] = Object.freeze([-0.03, -0.088, -0.188]);
export const LPIPS_SCALE: readonly number[] = Object.freeze([0.458, 0.448, 0.45]);
/** Added to the channel norm before dividing (lpips' normalize_tensor). */
export const LPIPS_EPS = 1e-10;

export interface LpipsOptions {
  /** Backbone: "vgg" (default) or "alex". */
  net?: LpipsNet;
  dtype?: T.DType;
  device?: T.Device;
}

/** Says which file a reader error is about ("LPIPS backbone weights: <path>: ..."). */
function withRole<R>(role: string, fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    if (e instanceof TorchFileError) throw new Error(`${role}: ${e.message}`, { cause: e });
    throw e;
  }
}

function checkNet(net: unknown): LpipsNet {
  if (!(LPIPS_NETS as readonly unknown[]).includes(net)) throw new RangeError(`LPIPS: net must be 'vgg' or 'alex', got '${String(net)}'`);
  return net as LpipsNet;
}

/** The lpips package's NetLinLayer: Dropout then a bias-free 1x1 conv to one channel. */
class NetLinLayer extends T.nn.Module {
  readonly model: T.nn.Sequential;
  readonly conv: T.nn.Conv2d;
  constructor(channels: number, o: T.nn.LayerOptions) {
    super();
    this.conv = new T.nn.Conv2d(channels, 1, 1, { ...o, bias: false });
    this.model = this.registerModule("model", new T.nn.Sequential(new T.nn.Dropout(), this.conv));
  }
  forward(x: T.Tensor): T.Tensor {
    return this.model.forward(x);
  }
}

/** The lin-layer keys for a backbone with `layers` LPIPS layers. */
export function lpipsLinearKeys(layers = 5): string[] {
  return Array.from({ length: layers }, (_, l) => `lin${l}.model.1.weight`);
}

export class Lpips extends T.nn.Module {
  readonly net: LpipsBackbone;
  readonly lins: NetLinLayer[] = [];
  readonly shift: T.Tensor;
  readonly scale: T.Tensor;

  /** Wraps a loaded backbone (the module takes ownership); the lin layers still need loading. */
  constructor(backbone: LpipsBackbone, o: { dtype?: T.DType; device?: T.Device } = {}) {
    super();
    this.net = this.registerModule("net", backbone);
    const generator = new T.Generator({ seed: 0, device: o.device });
    try {
      backbone.channels.forEach((c, l) => this.lins.push(this.registerModule(`lin${l}`, new NetLinLayer(c, { dtype: o.dtype, device: o.device, generator }))));
    } finally {
      generator.dispose();
    }
    const opts = { dtype: o.dtype, device: o.device };
    this.shift = this.registerBuffer("shift", T.tensor([...LPIPS_SHIFT], [1, 3, 1, 1], opts), false);
    this.scale = this.registerBuffer("scale", T.tensor([...LPIPS_SCALE], [1, 3, 1, 1], opts), false);
    this.requiresGrad_(false);
    this.eval();
  }

  get netName(): LpipsNet {
    return this.net.net;
  }

  /**
   * Copies the lin-layer weights from the lpips package's v0.1 state dict (`source` names it in
   * errors; `fileKeys` lists every key when `tensors` holds only some). Every problem is reported at once.
   */
  loadLinearStateDict(tensors: ReadonlyMap<string, T.Tensor>, source: string, fileKeys: readonly string[] = [...tensors.keys()]): void {
    const expected = lpipsLinearKeys(this.lins.length);
    const problems: string[] = [];
    const unexpected = fileKeys.filter((k) => !expected.includes(k));
    if (unexpected.length > 0) {
      const shown = unexpected.length > 12 ? `${unexpected.slice(0, 12).join(", ")}, ... (${unexpected.length} in all)` : unexpected.join(", ");
      problems.push(`unexpected key(s) ${shown}`);
      if (unexpected.some((k) => /(^|\.)(features\.)?\d+\.weight$/.test(k))) problems.push("this looks like a backbone (torchvision) file; give it as the backbone, and the lpips lin-layer file as the linear-layer file");
    }
    const missing = expected.filter((k) => !fileKeys.includes(k));
    if (missing.length > 0) problems.push(`missing key(s) ${missing.join(", ")}`);
    const other: LpipsNet = this.netName === "vgg" ? "alex" : "vgg";
    if (expected.every((k, l) => tensors.get(k)?.shape[1] === LPIPS_CHANNELS[other][l]) && LPIPS_CHANNELS[other].some((c, l) => c !== this.net.channels[l])) {
      problems.push(`the shapes are those of the '${other}' lin layers: give the lin file for '${this.netName}', or choose the '${other}' network with its backbone`);
    }
    expected.forEach((key, l) => {
      const t = tensors.get(key);
      if (t === undefined) return;
      const c = this.net.channels[l] as number;
      const s = t.shape;
      if (s.length !== 4 || s[0] !== 1 || s[1] !== c || s[2] !== 1 || s[3] !== 1) {
        problems.push(`${key} has shape [${s.join(", ")}]; the ${this.netName} backbone's layer ${l + 1} has ${c} channels, so expected [1, ${c}, 1, 1]`);
        return;
      }
      const values = T.tidy(() => t.double().toArray());
      const lo = Math.min(...values);
      if (!values.every(Number.isFinite)) problems.push(`${key} has non-finite values`);
      else if (lo < 0) problems.push(`${key} has negative weights (min ${lo}); LPIPS v0.1 lin weights are non-negative: is this the lpips package's file?`);
    });
    if (problems.length > 0) {
      throw new Error(
        `${source}: cannot load the LPIPS linear layers:\n\t${problems.join("\n\t")}\n` +
          `\texpected the lpips package's v0.1 weights for '${this.netName}' with keys ${expected.join(", ")} (shapes ${this.net.channels.map((c) => `[1, ${c}, 1, 1]`).join(", ")})`,
      );
    }
    // Only the lin keys are given: the backbone's are "missing" here by design.
    this.loadStateDict(new Map(expected.map((k) => [k, tensors.get(k) as T.Tensor])), { strict: false });
  }

  /** Builds LPIPS from a torchvision backbone state dict and an lpips v0.1 lin state dict (tensors stay the caller's). */
  static fromStateDicts(
    backbone: ReadonlyMap<string, T.Tensor>,
    linear: ReadonlyMap<string, T.Tensor>,
    o: LpipsOptions & { backboneSource?: string; linearSource?: string } = {},
  ): Lpips {
    const net = checkNet(o.net ?? "vgg");
    const model = new Lpips(backboneFromStateDict(net, backbone, o.backboneSource ?? "backbone state dict", o), o);
    try {
      model.loadLinearStateDict(linear, o.linearSource ?? "linear state dict");
      return model;
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /** Builds LPIPS from weight files: the torchvision backbone and the lpips v0.1 lin layers (.pth or .safetensors each). */
  static fromFiles(backbonePath: string, linearPath: string, o: LpipsOptions = {}): Lpips {
    const net = checkNet(o.net ?? "vgg");
    // Read the small lin file first, so its errors come before the backbone's large read.
    const linear = withRole("LPIPS linear-layer weights", () => loadTensorFile(linearPath, { device: o.device }));
    try {
      const model = new Lpips(withRole("LPIPS backbone weights", () => backboneFromFile(net, backbonePath, o)), o);
      try {
        model.loadLinearStateDict(linear, linearPath);
        return model;
      } catch (e) {
        model.dispose();
        throw e;
      }
    } finally {
      for (const t of linear.values()) t.dispose();
    }
  }

  private check(x0: T.Tensor, x1: T.Tensor): void {
    const s0 = x0.shape;
    const s1 = x1.shape;
    if (x0.ndim !== 4 || s0[1] !== 3) throw new RangeError(`Lpips.forward: x0 must be [B, 3, H, W], got [${s0.join(", ")}]`);
    if (s1.length !== 4 || s1.some((d, i) => d !== s0[i])) throw new RangeError(`Lpips.forward: x0 and x1 shapes differ: [${s0.join(", ")}] vs [${s1.join(", ")}]`);
    const m = this.net.minInputSize;
    if ((s0[2] as number) < m || (s0[3] as number) < m) {
      throw new RangeError(`Lpips.forward: images are ${s0[2]}x${s0[3]}, but the ${this.netName} backbone needs at least ${m}x${m}`);
    }
    const w = this.shift;
    for (const [name, x] of [["x0", x0], ["x1", x1]] as const) {
      if (x.dtype !== w.dtype || x.device !== w.device) {
        throw new TypeError(`Lpips.forward: ${name} is ${x.dtype} on ${x.device} but the model is ${w.dtype} on ${w.device}; build it with the images' dtype and device`);
      }
    }
  }

  /** Per-layer distances [B, 5] of images x0, x1 [B, 3, H, W] with values in [-1, 1]. */
  forwardLayers(x0: T.Tensor, x1: T.Tensor): T.Tensor {
    this.check(x0, x1);
    const b = x0.shape[0] as number;
    return T.tidy(() => {
      const x = T.cat([x0, x1], 0).sub(this.shift).div(this.scale);
      const feats = this.net.forward(x);
      const layers = feats.map((f, l) => {
        const n = f.div(f.square().sum(1, true).sqrt().add(LPIPS_EPS));
        const d = n.narrow(0, 0, b).sub(n.narrow(0, b, b)).square();
        return (this.lins[l] as NetLinLayer).forward(d).mean([2, 3]); // [B, 1]
      });
      return T.cat(layers, 1);
    });
  }

  /** LPIPS distances [B] of images x0, x1 [B, 3, H, W] with values in [-1, 1]. */
  forward(x0: T.Tensor, x1: T.Tensor): T.Tensor {
    return T.tidy(() => this.forwardLayers(x0, x1).sum(1));
  }
}
