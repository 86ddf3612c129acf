// The perceptual feature extractor Φ of Eq. 10, as the trainer and the E1 task
// loss use it:
//   L_task(1) = ||z0 - z0_hat_1||^2 + ||Φ(z0) - Φ(z0_hat_1)||^2      (Eq. 10)
// Φ is "the VGG-based perceptual feature extractor applied directly in latent
// space". With a user-supplied torchvision VGG-16 weight file, Φ is VGG-16
// `features` (default relu1_2, relu2_2, relu3_3) applied to the latent through
// the fixed adapter of latent_adapter.ts. Without one, Φ is the fixed Gabor
// filter bank of filter_bank.ts — never a silent no-op — and `name` says so, for
// the trainer to print and log.
//
// Both extractors are frozen (no trainable parameters, eval mode), and
// differentiable with respect to their input, which is all Eq. 10 needs.
import { existsSync, statSync } from "node:fs";
import * as T from "../../torch/index.js";
import { GaborFilterBank, FILTER_BANK_DEFAULTS } from "./filter_bank.js";
import { checkLatentRange, DEFAULT_LATENT_RANGE, latentToVggInput } from "./latent_adapter.js";
import { DEFAULT_VGG16_LAYERS, resolveVggLayers, Vgg16Features, type Vgg16Layer } from "./vgg16.js";

export { DEFAULT_VGG16_LAYERS, VGG16_LAYERS, Vgg16Features, type Vgg16Layer } from "./vgg16.js";
export { GaborFilterBank, gaborKernels, type FilterBankOptions } from "./filter_bank.js";
export { latentToVggInput, latentToRgbMatrix, channelGroups, IMAGENET_MEAN, IMAGENET_STD, DEFAULT_LATENT_RANGE } from "./latent_adapter.js";

export type FeatureExtractor = {
  /** Short, for logs: "vgg16 (/path/file.pth)" or "filter-bank (no VGG-16 weights given)". */
  name: string;
  /** One paragraph saying exactly what Φ computes. */
  description: string;
  /** Names of the maps features() returns, in order (e.g. ["relu1_2", "relu2_2", "relu3_3"]). */
  featureNames: readonly string[];
  /** Φ(z): z [B, C, h, w] latents -> feature maps; differentiable in z. */
  features(z: T.Tensor): T.Tensor[];
  /** Frees the extractor's tensors. */
  dispose(): void;
};

export interface PerceptualExtractorOptions {
  /** A torchvision VGG-16 state dict (.pth from torch.save, or .safetensors). Omit for the filter bank. */
  vggWeights?: string;
  /** VGG-16 layers to compare (default relu1_2, relu2_2, relu3_3); only with vggWeights. */
  layers?: readonly Vgg16Layer[];
  /** Latent values in [-latentRange, latentRange] map to VGG's [0, 1] (default 2); only with vggWeights. */
  latentRange?: number;
  /** dtype of the extractor's weights: the latents' dtype (default: the default dtype). */
  dtype?: T.DType;
  device?: T.Device;
}

const OPTION_KEYS = new Set(["vggWeights", "layers", "latentRange", "dtype", "device"]);

function checkLatent(z: T.Tensor, who: string): void {
  if (z.ndim !== 4) throw new RangeError(`${who}.features: z must be [B, C, h, w] latents, got [${z.shape.join(", ")}]`);
}

/** Makes Φ: VGG-16 from `vggWeights` if given, else the documented filter bank. */
export function createPerceptualExtractor(options: PerceptualExtractorOptions = {}): FeatureExtractor {
  const unknown = Object.keys(options).filter((k) => !OPTION_KEYS.has(k));
  if (unknown.length > 0) throw new TypeError(`createPerceptualExtractor: unknown option(s) ${unknown.join(", ")}; expected ${[...OPTION_KEYS].join(", ")}`);
  const dtype = options.dtype ?? T.getDefaultDType();
  const device = options.device ?? T.getDefaultDevice();
  if (!T.isFloatingPoint(dtype)) throw new TypeError(`createPerceptualExtractor: dtype must be floating point, got ${dtype}`);
  const path = options.vggWeights;

  if (path === undefined) {
    if (options.layers !== undefined || options.latentRange !== undefined) {
      throw new TypeError(
        "createPerceptualExtractor: layers and latentRange apply to VGG-16 only, but no vggWeights file was given; give the torchvision VGG-16 weight file or drop those options",
      );
    }
    const bank = new GaborFilterBank({ dtype, device });
    const d = FILTER_BANK_DEFAULTS;
    const featureNames = Array.from({ length: bank.scales }, (_, s) => `gabor_scale${s}`);
    return {
      name: "filter-bank (no VGG-16 weights given)",
      description:
        `Φ = fixed Gabor filter bank (no VGG-16 weight file given): per latent channel, quadrature-pair energy at ${bank.orientations} orientations ` +
        `and ${bank.scales} scales (2x2 average pooling between scales; wavelength ${d.wavelength} px, sigma ${d.sigma} px), deterministic and not learned. ` +
        "Give a torchvision VGG-16 weight file (vggWeights) to use the paper's VGG-16 features instead.",
      featureNames,
      features(z) {
        checkLatent(z, "filter-bank");
        return bank.forward(z);
      },
      dispose() {
        bank.dispose();
      },
    };
  }

  if (typeof path !== "string" || path === "") throw new TypeError("createPerceptualExtractor: vggWeights must be a path to a VGG-16 weight file (omit it for the filter bank)");
  if (!existsSync(path)) throw new Error(`VGG-16 weight file ${path} does not exist; give the path of a torchvision vgg16 state dict (e.g. vgg16-397923af.pth)`);
  if (!statSync(path).isFile()) throw new Error(`VGG-16 weight file ${path} is not a file`);
  const layers = resolveVggLayers(options.layers ?? DEFAULT_VGG16_LAYERS);
  const latentRange = checkLatentRange(options.latentRange ?? DEFAULT_LATENT_RANGE);
  const vgg = Vgg16Features.fromFile(path, { layers, dtype, device });
  return {
    name: `vgg16 (${path})`,
    description:
      `Φ = VGG-16 features ${layers.join(", ")} (torchvision layout, frozen, eval mode) with weights from ${path}, applied directly to the latent: ` +
      `C latent channels mixed to 3 (C=1 repeated; C=2 [a, b, mean]; C>=3 means of three contiguous channel groups), values [-${latentRange}, ${latentRange}] ` +
      "mapped to [0, 1], then ImageNet mean/std normalisation; no resizing.",
    featureNames: layers,
    features(z) {
      checkLatent(z, "vgg16");
      return T.tidy(() => vgg.forward(latentToVggInput(z, { latentRange })));
    },
    dispose() {
      vgg.dispose();
    },
  };
}
