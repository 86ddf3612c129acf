// The feature networks ("backbones") of LPIPS (Zhang et al. 2018): VGG-16 and AlexNet `features`
// in torchvision's layout, returning the ReLU outputs at LPIPS's five layers:
//   vgg:  relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (64, 128, 256, 512, 512 channels)
//   alex: relu1 .. relu5 after the convs at features.0, 3, 6, 8, 10 (64, 192, 384, 256, 256)
// AlexNet (torchvision): conv 11x11 stride 4 pad 2, ReLU, maxpool 3/2, conv 5x5 pad 2, ReLU,
// maxpool 3/2, then three conv 3x3 pad 1 + ReLU (the last maxpool is past relu5 and unused).
//
// Design decisions:
// - Weights come from a torchvision state dict (features.N.weight/bias, with or without the
//   "features." and DataParallel "module." prefixes; classifier.* is ignored, anything else is
//   refused). The channel widths are read from the weight shapes: a standard-width VGG-16 is
//   built by wrapping src/models/perceptual/vgg16.ts (Vgg16Features); any other widths (the tiny
//   test networks, or a slimmed custom backbone) use the same layer layout in ConvStackBackbone.
//   AlexNet always uses ConvStackBackbone.
// - Every problem with a file (missing keys, unexpected keys, shapes that do not chain) is
//   collected and reported at once, naming the file and the keys expected.
import * as T from "../torch/index.js";
import { loadTensorFile } from "../torch/io/pth/pth.js";
import { Vgg16Features, type Vgg16Layer } from "../models/perceptual/vgg16.js";

export type LpipsNet = "vgg" | "alex";
export const LPIPS_NETS: readonly LpipsNet[] = Object.freeze(["vgg", "alex"]);

/** The channels at the five LPIPS layers of the standard networks. */
export const LPIPS_CHANNELS: Readonly<Record<LpipsNet, readonly number[]>> = Object.freeze({
  vgg: Object.freeze([64, 128, 256, 512, 512]),
  alex: Object.freeze([64, 192, 384, 256, 256]),
});

const NET_LABEL: Record<LpipsNet, string> = { vgg: "VGG-16", alex: "AlexNet" };

/** One conv of a torchvision `features` Sequential, with the max-pool that precedes it, if any. */
interface ConvSpec {
  index: number;
  kernel: number;
  stride: number;
  padding: number;
  poolBefore: { kernel: number; stride: number } | null;
  /** Its ReLU output is an LPIPS layer. */
  tap: boolean;
}

const VGG_SPECS: readonly ConvSpec[] = (() => {
  // torchvision cfg "D": 13 convs (3x3, pad 1) in blocks of 2, 2, 3, 3, 3 with 2x2 max-pools between.
  const blocks = [2, 2, 3, 3, 3];
  const out: ConvSpec[] = [];
  let index = 0;
  blocks.forEach((n, b) => {
    for (let i = 0; i < n; i++) {
      out.push({ index, kernel: 3, stride: 1, padding: 1, poolBefore: b > 0 && i === 0 ? { kernel: 2, stride: 2 } : null, tap: i === n - 1 });
      index += 2;
    }
    index += 1; // the pool
  });
  return out;
})();

const ALEX_SPECS: readonly ConvSpec[] = [
  { index: 0, kernel: 11, stride: 4, padding: 2, poolBefore: null, tap: true },
  { index: 3, kernel: 5, stride: 1, padding: 2, poolBefore: { kernel: 3, stride: 2 }, tap: true },
  { index: 6, kernel: 3, stride: 1, padding: 1, poolBefore: { kernel: 3, stride: 2 }, tap: true },
  { index: 8, kernel: 3, stride: 1, padding: 1, poolBefore: null, tap: true },
  { index: 10, kernel: 3, stride: 1, padding: 1, poolBefore: null, tap: true },
];

const SPECS: Record<LpipsNet, readonly ConvSpec[]> = { vgg: VGG_SPECS, alex: ALEX_SPECS };

/** Output width of each conv of the standard networks. */
const STANDARD_WIDTHS: Record<LpipsNet, readonly number[]> = {
  vgg: [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512],
  alex: [64, 192, 384, 256, 256],
};

const VGG_LPIPS_LAYERS: readonly Vgg16Layer[] = ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"];

/** The torchvision state-dict keys a backbone needs, in state-dict order. */
export function lpipsBackboneKeys(net: LpipsNet): string[] {
  return SPECS[net].flatMap((s) => [`features.${s.index}.weight`, `features.${s.index}.bias`]);
}

function stripModule(key: string): string {
  return key.startsWith("module.") ? key.slice("module.".length) : key;
}

/** "features.N.weight|bias" for a conv parameter of `net` given with or without prefixes, else null. */
export function canonicalBackboneKey(net: LpipsNet, key: string): string | null {
  const m = /^(?:features\.)?(\d+)\.(weight|bias)$/.exec(stripModule(key));
  if (m === null || !SPECS[net].some((s) => s.index === Number(m[1]))) return null;
  return `features.${m[1]}.${m[2]}`;
}

/** The smallest square input for which every conv and pool up to the last tap has an output. */
function minInputSize(specs: readonly ConvSpec[]): number {
  for (let size = 1; size <= 1 << 16; size++) {
    let h = size;
    let ok = true;
    for (const s of specs) {
      if (s.poolBefore !== null) {
        if (h < s.poolBefore.kernel) ok = false;
        h = Math.floor((h - s.poolBefore.kernel) / s.poolBefore.stride) + 1;
      }
      if (h + 2 * s.padding < s.kernel) ok = false;
      h = Math.floor((h + 2 * s.padding - s.kernel) / s.stride) + 1;
      if (!ok || h < 1) break;
    }
    if (ok && h >= 1) return size;
  }
  throw new Error("lpips: no input size fits the backbone");
}

/** A feature network that returns the five LPIPS layers. */
export abstract class LpipsBackbone extends T.nn.Module {
  abstract readonly net: LpipsNet;
  /** Channels of the five returned layers. */
  abstract readonly channels: readonly number[];
  /** The smallest input height and width. */
  abstract readonly minInputSize: number;
  /** x [B, 3, H, W] (already through LPIPS's scaling layer) -> five ReLU outputs [B, C_l, H_l, W_l]. */
  abstract forward(x: T.Tensor): T.Tensor[];
}

/** Holds the convs under torchvision's indices ("0", "3", ...). */
class FeatureStack extends T.nn.Module {
  readonly convs: { spec: ConvSpec; conv: T.nn.Conv2d }[] = [];
  constructor(specs: readonly ConvSpec[], widths: readonly number[], o: T.nn.LayerOptions) {
    super();
    let inChannels = 3;
    specs.forEach((spec, i) => {
      const out = widths[i] as number;
      const conv = this.registerModule(String(spec.index), new T.nn.Conv2d(inChannels, out, spec.kernel, { ...o, stride: spec.stride, padding: spec.padding }));
      this.convs.push({ spec, conv });
      inChannels = out;
    });
  }
}

/** A torchvision-layout VGG-16 or AlexNet `features` of any widths (children "features.N"). */
export class ConvStackBackbone extends LpipsBackbone {
  readonly net: LpipsNet;
  readonly channels: readonly number[];
  readonly minInputSize: number;
  readonly features: FeatureStack;

  constructor(net: LpipsNet, widths: readonly number[], o: { dtype?: T.DType; device?: T.Device } = {}) {
    super();
    const specs = SPECS[net];
    if (widths.length !== specs.length || widths.some((w) => !Number.isInteger(w) || w < 1)) {
      throw new RangeError(`ConvStackBackbone: ${net} needs ${specs.length} positive integer widths, got [${widths.join(", ")}]`);
    }
    this.net = net;
    this.channels = Object.freeze(specs.flatMap((s, i) => (s.tap ? [widths[i] as number] : [])));
    this.minInputSize = minInputSize(specs);
    // The weights are overwritten by loading; a private generator leaves the default stream alone.
    const generator = new T.Generator({ seed: 0, device: o.device });
    try {
      this.features = this.registerModule("features", new FeatureStack(specs, widths, { dtype: o.dtype, device: o.device, generator }));
    } finally {
      generator.dispose();
    }
    this.requiresGrad_(false);
    this.eval();
  }

  forward(x: T.Tensor): T.Tensor[] {
    return T.tidy(() => {
      const out: T.Tensor[] = [];
      let h = x;
      for (const { spec, conv } of this.features.convs) {
        if (spec.poolBefore !== null) h = T.F.maxPool2d(h, spec.poolBefore.kernel, { stride: spec.poolBefore.stride });
        h = T.F.relu(conv.forward(h));
        if (spec.tap) out.push(h);
      }
      return out;
    });
  }
}

/** The standard-width VGG-16: src/models/perceptual/vgg16.ts's Vgg16Features at the five LPIPS layers. */
export class Vgg16Backbone extends LpipsBackbone {
  readonly net = "vgg" as const;
  readonly channels = LPIPS_CHANNELS.vgg;
  readonly minInputSize: number;
  readonly vgg16: Vgg16Features;

  constructor(o: { dtype?: T.DType; device?: T.Device } = {}) {
    super();
    this.vgg16 = this.registerModule("vgg16", new Vgg16Features({ layers: VGG_LPIPS_LAYERS, dtype: o.dtype, device: o.device }));
    this.minInputSize = this.vgg16.minInputSize;
  }

  forward(x: T.Tensor): T.Tensor[] {
    return this.vgg16.forward(x);
  }
}

function listKeys(keys: readonly string[], max = 12): string {
  return keys.length > max ? `${keys.slice(0, max).join(", ")}, ... (${keys.length} in all)` : keys.join(", ");
}

/**
 * Checks a torchvision state dict for `net` and reads the conv widths from its shapes.
 * `shapes` maps the file's keys to shapes (only conv keys are needed); `fileKeys` lists every key.
 * Returns the widths and, by canonical key, the file key holding it; throws one Error listing every problem.
 */
export function inspectBackboneStateDict(
  net: LpipsNet,
  shapes: ReadonlyMap<string, readonly number[]>,
  source: string,
  fileKeys: readonly string[] = [...shapes.keys()],
): { widths: number[]; fileKeyOf: Map<string, string> } {
  const specs = SPECS[net];
  const label = NET_LABEL[net];
  const problems: string[] = [];
  const fileKeyOf = new Map<string, string>();
  const unexpected: string[] = [];
  for (const key of fileKeys) {
    if (stripModule(key).startsWith("classifier.")) continue;
    const canonical = canonicalBackboneKey(net, key);
    if (canonical === null) {
      unexpected.push(key);
      continue;
    }
    const prev = fileKeyOf.get(canonical);
    if (prev !== undefined) problems.push(`${canonical} is given twice (${prev} and ${key})`);
    else fileKeyOf.set(canonical, key);
  }
  if (unexpected.length > 0) problems.push(`keys that are not ${label} features or classifier parameters: ${listKeys(unexpected)}`);
  if (fileKeys.some((k) => /^lin\d\.model\.1\.weight$/.test(k))) {
    problems.push("this looks like an LPIPS linear-layer file (lin0.model.1.weight, ...); give it as the linear-layer file, and the torchvision backbone as the backbone");
  }
  const other: LpipsNet = net === "vgg" ? "alex" : "vgg";
  const otherKeys = new Set(fileKeys.map((k) => canonicalBackboneKey(other, k)));
  if (lpipsBackboneKeys(other).every((k) => otherKeys.has(k)) && !lpipsBackboneKeys(net).every((k) => fileKeyOf.has(k))) {
    problems.push(`the keys look like a torchvision ${NET_LABEL[other]}: choose the '${other}' network`);
  }
  const missing = lpipsBackboneKeys(net).filter((k) => !fileKeyOf.has(k));
  if (missing.length > 0) problems.push(`missing key(s) ${listKeys(missing)}`);
  const widths: number[] = [];
  let inChannels = 3;
  let inFrom = "the RGB input";
  for (const s of specs) {
    const wKey = `features.${s.index}.weight`;
    const bKey = `features.${s.index}.bias`;
    const w = fileKeyOf.has(wKey) ? shapes.get(fileKeyOf.get(wKey) as string) : undefined;
    const b = fileKeyOf.has(bKey) ? shapes.get(fileKeyOf.get(bKey) as string) : undefined;
    if (w === undefined) break; // reported as missing (or not loaded); later shapes cannot be checked
    const out = w[0] as number;
    if (w.length !== 4 || !(out >= 1) || w[1] !== inChannels || w[2] !== s.kernel || w[3] !== s.kernel) {
      problems.push(`${wKey} has shape [${w.join(", ")}]; expected [out, ${inChannels}, ${s.kernel}, ${s.kernel}] (in-channels from ${inFrom})`);
      break;
    }
    if (b !== undefined && (b.length !== 1 || b[0] !== out)) problems.push(`${bKey} has shape [${b.join(", ")}]; expected [${out}]`);
    widths.push(out);
    inChannels = out;
    inFrom = wKey;
  }
  if (problems.length > 0) {
    throw new Error(
      `${source}: cannot load the LPIPS ${label} backbone:\n\t${problems.join("\n\t")}\n` +
        `\texpected a torchvision ${label} state dict with keys ${lpipsBackboneKeys(net).join(", ")} (classifier.* keys are ignored)`,
    );
  }
  return { widths, fileKeyOf };
}

export interface BackboneOptions {
  dtype?: T.DType;
  device?: T.Device;
}

/**
 * Builds the backbone for `net` from a torchvision state dict (`tensors` holds at least the conv
 * keys; `fileKeys` every key of the source, for the checks). The tensors stay the caller's.
 */
export function backboneFromStateDict(
  net: LpipsNet,
  tensors: ReadonlyMap<string, T.Tensor>,
  source: string,
  o: BackboneOptions = {},
  fileKeys: readonly string[] = [...tensors.keys()],
): LpipsBackbone {
  const shapes = new Map<string, readonly number[]>();
  for (const [k, t] of tensors) shapes.set(k, t.shape);
  const { widths, fileKeyOf } = inspectBackboneStateDict(net, shapes, source, fileKeys);
  const standard = widths.every((w, i) => w === STANDARD_WIDTHS[net][i]);
  if (net === "vgg" && standard) {
    const model = new Vgg16Backbone(o);
    try {
      model.vgg16.loadTorchvisionStateDict(tensors, source, fileKeys);
      return model;
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  const model = new ConvStackBackbone(net, widths, o);
  try {
    const sd: T.nn.StateDict = new Map();
    for (const [canonical, fileKey] of fileKeyOf) sd.set(canonical, tensors.get(fileKey) as T.Tensor);
    model.loadStateDict(sd);
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Loads a torchvision VGG-16 or AlexNet weight file (.pth zip archive or .safetensors, by content). */
export function backboneFromFile(net: LpipsNet, path: string, o: BackboneOptions = {}): LpipsBackbone {
  const fileKeys: string[] = [];
  // Only the conv parameters are read (torchvision's classifier is most of the file).
  const tensors = loadTensorFile(path, {
    device: o.device,
    only: (k) => {
      fileKeys.push(k);
      return canonicalBackboneKey(net, k) !== null;
    },
  });
  try {
    return backboneFromStateDict(net, tensors, path, o, fileKeys);
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
