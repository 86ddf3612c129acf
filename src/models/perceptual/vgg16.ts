// VGG-16 `features` (Simonyan & Zisserman, configuration D) in torchvision's
// layout, as the frozen perceptual feature extractor Φ of Eq. 10.
//
// torchvision's vgg16().features is a Sequential: conv3x3(pad 1) + ReLU pairs,
// with 2x2 max-pooling (stride 2) between blocks. Its state-dict keys are
// features.<index>.weight/bias at conv indices 0, 2, 5, 7, 10, 12, 14, 17, 19,
// 21, 24, 26, 28; ReLUs sit right after each conv and pools at 4, 9, 16, 23, 30.
// We register the convs under the same names, so a torchvision state dict loads
// key for key. Layers are named relu<block>_<n> as in the perceptual-loss
// literature (relu3_3 = index 15).
//
// Design decisions:
// - Only the stack up to the deepest requested layer is built and loaded.
//   Default layers relu1_2, relu2_2, relu3_3: latents are small (32x32 or 64x64),
//   and relu3_3 already sees them at 1/4 resolution (8x8 or 16x16) with a 40-pixel
//   receptive field; block 4 would work on 4x4 maps (2x2 at block 5) that carry
//   little spatial structure and cost most of the parameters (relu3_3: 1.7 M
//   parameters; all 13 convs: 14.7 M).
// - Frozen: parameters have requiresGrad false and the module is in eval mode;
//   gradients still flow to the input, which is all Eq. 10 needs.
// - The input is expected already ImageNet-normalised (see latent_adapter.ts).
// - Loading accepts keys with or without the "features." prefix (and with a
//   DataParallel "module." prefix), ignores classifier.* and the features of
//   layers deeper than requested, and refuses anything else (a VGG-19 or
//   VGG-16-BN file has other indices) by listing the offending keys.
import * as T from "../../torch/index.js";
import { loadTensorFile } from "../../torch/io/pth/pth.js";

export const VGG16_LAYERS = [
  "relu1_1",
  "relu1_2",
  "relu2_1",
  "relu2_2",
  "relu3_1",
  "relu3_2",
  "relu3_3",
  "relu4_1",
  "relu4_2",
  "relu4_3",
  "relu5_1",
  "relu5_2",
  "relu5_3",
] as const;
export type Vgg16Layer = (typeof VGG16_LAYERS)[number];
export const DEFAULT_VGG16_LAYERS: readonly Vgg16Layer[] = Object.freeze(["relu1_2", "relu2_2", "relu3_3"]);

interface ConvSpec {
  /** Index in torchvision's features Sequential. */
  index: number;
  inChannels: number;
  outChannels: number;
  /** A 2x2 max-pool comes right before this conv. */
  poolBefore: boolean;
  relu: Vgg16Layer;
}

// torchvision cfg "D": [64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M]
const CONVS: readonly ConvSpec[] = (() => {
  const cfg: (number | "M")[] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"];
  const out: ConvSpec[] = [];
  let index = 0;
  let inChannels = 3;
  let poolBefore = false;
  for (const v of cfg) {
    if (v === "M") {
      index += 1;
      poolBefore = true;
      continue;
    }
    out.push({ index, inChannels, outChannels: v, poolBefore, relu: VGG16_LAYERS[out.length] as Vgg16Layer });
    index += 2;
    inChannels = v;
    poolBefore = false;
  }
  return out;
})();
const CONV_INDICES: ReadonlySet<number> = new Set(CONVS.map((c) => c.index));

/** Checks layer names and returns them unique, in network order. */
export function resolveVggLayers(layers: readonly string[]): Vgg16Layer[] {
  if (!Array.isArray(layers) || layers.length === 0) throw new RangeError(`VGG-16 layers: give at least one of ${VGG16_LAYERS.join(", ")}`);
  const bad = layers.filter((l) => !(VGG16_LAYERS as readonly string[]).includes(l));
  if (bad.length > 0) throw new RangeError(`VGG-16 layers: unknown layer(s) ${bad.map((b) => `'${b}'`).join(", ")}; expected some of ${VGG16_LAYERS.join(", ")}`);
  return VGG16_LAYERS.filter((l) => layers.includes(l));
}

/** Holds the convs under torchvision's indices ("0", "2", "5", ...); ReLU and pooling have no parameters. */
class VggFeatureStack extends T.nn.Module {
  readonly convs: { spec: ConvSpec; conv: T.nn.Conv2d }[] = [];
  constructor(specs: readonly ConvSpec[], o: T.nn.LayerOptions) {
    super();
    for (const spec of specs) {
      const conv = this.registerModule(String(spec.index), new T.nn.Conv2d(spec.inChannels, spec.outChannels, 3, { ...o, padding: 1 }));
      this.convs.push({ spec, conv });
    }
  }
}

export interface Vgg16FeaturesOptions {
  /** Layers whose activations forward() returns (default relu1_2, relu2_2, relu3_3). */
  layers?: readonly Vgg16Layer[];
  dtype?: T.DType;
  device?: T.Device;
}

/** The frozen VGG-16 feature stack up to the deepest requested layer. */
export class Vgg16Features extends T.nn.Module {
  readonly layers: readonly Vgg16Layer[];
  readonly features: VggFeatureStack;
  /** The smallest input height/width: 2^(number of pools before the deepest layer). */
  readonly minInputSize: number;

  constructor(options: Vgg16FeaturesOptions = {}) {
    super();
    this.layers = Object.freeze(resolveVggLayers(options.layers ?? DEFAULT_VGG16_LAYERS));
    const deepest = VGG16_LAYERS.indexOf(this.layers[this.layers.length - 1] as Vgg16Layer);
    const specs = CONVS.slice(0, deepest + 1);
    this.minInputSize = 2 ** specs.filter((s) => s.poolBefore).length;
    // The weights are overwritten by loading; a private generator keeps the
    // default random stream untouched by their throwaway initialisation.
    const generator = new T.Generator({ seed: 0, device: options.device });
    try {
      this.features = this.registerModule("features", new VggFeatureStack(specs, { dtype: options.dtype, device: options.device, generator }));
    } finally {
      generator.dispose();
    }
    this.requiresGrad_(false);
    this.eval();
  }

  /** torchvision state-dict keys this module loads ("features.0.weight", ...). */
  stateKeys(): string[] {
    return this.features.convs.flatMap(({ spec }) => [`features.${spec.index}.weight`, `features.${spec.index}.bias`]);
  }

  /** x [B, 3, H, W] (ImageNet-normalised) -> the activations at `layers`, in network order. */
  forward(x: T.Tensor): T.Tensor[] {
    if (x.ndim !== 4 || x.shape[1] !== 3) throw new RangeError(`Vgg16Features.forward: x must be [B, 3, H, W], got [${x.shape.join(", ")}]`);
    const [h, w] = [x.shape[2] as number, x.shape[3] as number];
    if (h < this.minInputSize || w < this.minInputSize) {
      throw new RangeError(
        `Vgg16Features.forward: input ${h}x${w} is too small for layer ${this.layers[this.layers.length - 1]} (needs at least ${this.minInputSize}x${this.minInputSize}); use shallower layers or larger latents`,
      );
    }
    const p = this.features.convs[0]?.conv.weight;
    if (p !== undefined && (x.dtype !== p.dtype || x.device !== p.device)) {
      throw new TypeError(`Vgg16Features.forward: x is ${x.dtype} on ${x.device} but the weights are ${p.dtype} on ${p.device}; create the extractor with the latents' dtype and device`);
    }
    const wanted = new Set<string>(this.layers);
    return T.tidy(() => {
      const out: T.Tensor[] = [];
      let hidden = x;
      for (const { spec, conv } of this.features.convs) {
        if (spec.poolBefore) hidden = T.F.maxPool2d(hidden, 2, { stride: 2 });
        hidden = T.F.relu(conv.forward(hidden));
        if (wanted.has(spec.relu)) out.push(hidden);
      }
      return out;
    });
  }

  /**
   * Copies weights from a torchvision VGG-16 state dict (`source` names it in
   * errors). `fileKeys` lists every key of the file when `tensors` holds only
   * the ones that were read. Every problem is collected and reported at once.
   */
  loadTorchvisionStateDict(tensors: ReadonlyMap<string, T.Tensor>, source: string, fileKeys: readonly string[] = [...tensors.keys()]): void {
    const { selected, unexpected, duplicates } = selectVggKeys(fileKeys, new Set(this.stateKeys()));
    const problems: string[] = [];
    if (duplicates.length > 0) problems.push(`key(s) given both with and without a prefix: ${duplicates.join(", ")}`);
    if (unexpected.length > 0) {
      const shown = unexpected.length > 12 ? `${unexpected.slice(0, 12).join(", ")}, ... (${unexpected.length} in all)` : unexpected.join(", ");
      problems.push(`keys that are not VGG-16 features or classifier parameters (a VGG-19 or VGG-16-BN file has other layer indices): ${shown}`);
    }
    const sd: T.nn.StateDict = new Map();
    for (const [fileKey, key] of selected) {
      const t = tensors.get(fileKey);
      if (t === undefined) problems.push(`${fileKey} was not loaded`);
      else sd.set(key, t);
    }
    const have = new Set(selected.values());
    const missing = this.stateKeys().filter((k) => !have.has(k));
    if (missing.length > 0) {
      const found = new Set(fileKeys.map(canonicalVggKey).flatMap((k) => (k === null ? [] : [Number(k.split(".")[1])])));
      const present = CONVS.filter((c) => found.has(c.index));
      const deepest = present[present.length - 1];
      problems.push(
        `missing key(s) ${missing.join(", ")} (needed for layers up to ${this.layers[this.layers.length - 1]}); ` +
          (deepest === undefined ? "the file holds no VGG-16 features at all" : `the file holds VGG-16 features up to ${deepest.relu} only`),
      );
    }
    // Missing keys are reported above; this adds size mismatches (and copies when there are none).
    try {
      this.loadStateDict(sd, { strict: false });
    } catch (e) {
      problems.push(e instanceof Error ? e.message : String(e));
    }
    if (problems.length > 0) {
      throw new Error(`${source}: cannot load VGG-16 weights:\n\t${problems.join("\n\t")}`);
    }
  }

  /** Builds the extractor and loads a torchvision VGG-16 weight file (.pth or .safetensors, picked by content). */
  static fromFile(path: string, options: Vgg16FeaturesOptions = {}): Vgg16Features {
    const model = new Vgg16Features(options);
    try {
      const wanted = new Set(model.stateKeys());
      const fileKeys: string[] = [];
      // Read only what is needed (the classifier is ~90% of torchvision's file), but see every key.
      const tensors = loadTensorFile(path, {
        only: (k) => {
          fileKeys.push(k);
          const canonical = canonicalVggKey(k);
          return canonical !== null && wanted.has(canonical);
        },
      });
      try {
        model.loadTorchvisionStateDict(tensors, path, fileKeys);
      } finally {
        for (const t of tensors.values()) t.dispose();
      }
      return model;
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
}

function stripModulePrefix(key: string): string {
  return key.startsWith("module.") ? key.slice("module.".length) : key;
}

function isClassifierKey(key: string): boolean {
  return stripModulePrefix(key).startsWith("classifier.");
}

/** "features.N.weight" for a VGG-16 conv parameter key given with or without the features./module. prefixes, else null. */
export function canonicalVggKey(key: string): string | null {
  const m = /^(?:features\.)?(\d+)\.(weight|bias)$/.exec(stripModulePrefix(key));
  if (m === null || !CONV_INDICES.has(Number(m[1]))) return null;
  return `features.${m[1]}.${m[2]}`;
}

function selectVggKeys(
  keys: readonly string[],
  wanted: ReadonlySet<string>,
): { selected: Map<string, string>; unexpected: string[]; duplicates: string[] } {
  const selected = new Map<string, string>();
  const seen = new Map<string, string>();
  const unexpected: string[] = [];
  const duplicates: string[] = [];
  for (const key of keys) {
    if (isClassifierKey(key)) continue;
    const canonical = canonicalVggKey(key);
    if (canonical === null) {
      unexpected.push(key);
      continue;
    }
    if (!wanted.has(canonical)) continue; // deeper than requested
    const prev = seen.get(canonical);
    if (prev !== undefined) {
      duplicates.push(`${prev} / ${key}`);
      continue;
    }
    seen.set(canonical, key);
    selected.set(key, canonical);
  }
  return { selected, unexpected, duplicates };
}
