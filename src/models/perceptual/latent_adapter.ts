// How the VGG-16 feature extractor Φ of Eq. 10 is "applied directly in latent
// space" (the paper's words, with no further detail): a fixed, non-learned map
// from a latent z [B, C, h, w] to the input VGG-16 expects, [B, 3, h, w]
// ImageNet-normalised. Both z0 and z0_hat go through the same map, so Eq. 10
// compares them in VGG feature space; gradients flow through it to z0_hat.
//
// Design decisions (the paper is silent):
// 1. Channels C -> 3 by a fixed mixing matrix M [3, C]:
//    C = 1: repeat the channel (grey image);  C = 2: [a, b, (a + b) / 2];
//    C >= 3: the means of three contiguous channel groups, group g covering
//    channels [floor(g C / 3), floor((g + 1) C / 3)) (C = 3 is the identity;
//    C = 4 gives [z0], [z1], [(z2 + z3) / 2]; C = 512 gives groups of 170, 171, 171).
//    Averaging keeps every channel's contribution and the value scale; no channel
//    is privileged or dropped.
// 2. Values: the latents of our VQ-VAE are scaled (SPEC: scale factor 0.2) to be
//    of order 1, not images in [0, 1]. A fixed affine map sends [-r, r] to [0, 1]:
//    x = 0.5 + m / (2 r), with r = latentRange (default 2, i.e. +-2 standard
//    deviations of a unit-variance latent span VGG's input range). No clamping:
//    values outside [-r, r] stay differentiable and VGG handles them linearly.
// 3. Then torchvision's ImageNet normalisation (x - mean_k) / std_k with
//    mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), as for the images the
//    weights were trained on.
// 4. No resizing: VGG sees the latent grid as it is (h x w, e.g. 32 x 32 or 64 x 64).
//
// All three steps are one 1x1 convolution: weight M[k][c] / (2 r std_k), bias
// (0.5 - mean_k) / std_k, built on the fly in z's dtype and device.
import * as T from "../../torch/index.js";

export const IMAGENET_MEAN: readonly number[] = Object.freeze([0.485, 0.456, 0.406]);
export const IMAGENET_STD: readonly number[] = Object.freeze([0.229, 0.224, 0.225]);
/** Latent values in [-DEFAULT_LATENT_RANGE, DEFAULT_LATENT_RANGE] map to VGG's [0, 1]. */
export const DEFAULT_LATENT_RANGE = 2;

/** The channel ranges [start, end) averaged into VGG's three input channels, for C >= 3. */
export function channelGroups(channels: number): [number, number][] {
  checkChannels(channels);
  if (channels < 3) throw new RangeError(`channelGroups: needs at least 3 channels, got ${channels} (1 and 2 channels are repeated/mixed, not grouped)`);
  const b = [0, 1, 2, 3].map((g) => Math.floor((g * channels) / 3));
  return [0, 1, 2].map((g) => [b[g] as number, b[g + 1] as number]);
}

/** The fixed mixing matrix M [3][C] from latent channels to VGG's three input channels. */
export function latentToRgbMatrix(channels: number): number[][] {
  checkChannels(channels);
  if (channels === 1) return [[1], [1], [1]];
  if (channels === 2) return [[1, 0], [0, 1], [0.5, 0.5]];
  return channelGroups(channels).map(([start, end]) => {
    const row = new Array<number>(channels).fill(0);
    for (let c = start; c < end; c++) row[c] = 1 / (end - start);
    return row;
  });
}

export interface LatentAdapterOptions {
  /** Latent values in [-latentRange, latentRange] map to [0, 1] before ImageNet normalisation. Default 2. */
  latentRange?: number;
}

export function checkLatentRange(r: number): number {
  if (!(typeof r === "number" && Number.isFinite(r) && r > 0)) throw new RangeError(`latentRange must be a positive finite number, got ${String(r)}`);
  return r;
}

function checkChannels(channels: number): void {
  if (!Number.isInteger(channels) || channels < 1) throw new RangeError(`latent adapter: the latent must have at least one channel, got ${channels}`);
}

/**
 * Maps latents z [B, C, h, w] to VGG-16 input [B, 3, h, w] (channel mixing,
 * [-r, r] -> [0, 1], ImageNet normalisation). Differentiable in z.
 */
export function latentToVggInput(z: T.Tensor, options: LatentAdapterOptions = {}): T.Tensor {
  if (z.ndim !== 4) throw new RangeError(`latentToVggInput: z must be [B, C, h, w], got [${z.shape.join(", ")}]`);
  if (!T.isFloatingPoint(z.dtype)) throw new TypeError(`latentToVggInput: z must be floating point, got ${z.dtype}`);
  const r = checkLatentRange(options.latentRange ?? DEFAULT_LATENT_RANGE);
  const c = z.shape[1] as number;
  const m = latentToRgbMatrix(c);
  const w = new Float64Array(3 * c);
  const b = new Float64Array(3);
  for (let k = 0; k < 3; k++) {
    const std = IMAGENET_STD[k] as number;
    for (let j = 0; j < c; j++) w[k * c + j] = ((m[k] as number[])[j] as number) / (2 * r * std);
    b[k] = (0.5 - (IMAGENET_MEAN[k] as number)) / std;
  }
  return T.tidy(() => {
    const o = { dtype: z.dtype, device: z.device };
    return T.F.conv2d(z, T.tensor(w, [3, c, 1, 1], o), T.tensor(b, [3], o));
  });
}
