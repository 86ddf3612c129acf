// The VQ-VAE autoencoder of MoEDiff-SR: encoder E1 ([x, g, b] -> z), EMA vector
// quantiser, decoder D (zq -> x), and the scaled-latent helpers the diffusion
// model uses (paper Sec. II and III: z0 = E1([x, g, b]), x_hat = D(z0_hat),
// latent scale factor 0.2).
//
// Design decisions:
// - encodeLatent returns scaleFactor * zq (the quantised latent); decodeLatent
//   divides by scaleFactor and decodes without re-quantising by default (the
//   diffusion output is continuous; pass {quantize: true} to snap it to the
//   codebook first, as LDM's VQ first stage does).
// - The quantiser follows the module mode: in training mode encode() updates
//   the codebook. Freeze the autoencoder with eval() while the MoE trains.
// - loss(): reconstruction is L1 by default (LDM's pixel loss; MSE on request),
//   total = recon + commitment. No perceptual or adversarial term.
// - An LR-conditioned model (config lrCondition "cfw", decoder.ts) decodes with the 3T condition:
//   every decoding call (decode, decodeIndices, decodeLatent, forward, loss) takes { lr }, the condition
//   y [B, 3, H, W] of the same slices, and throws without it. A plain model ignores lr, so callers that
//   have the condition (the pipeline, the ceiling) pass it whatever the model; `lrConditioned` says
//   whether it is used.
import * as T from "../../torch/index.js";
import { nn, type Tensor } from "../../torch/index.js";
import { validateVQVAEConfig, type VQVAEConfig } from "./config.js";
import { Decoder } from "./decoder.js";
import { Encoder } from "./encoder.js";
import { VectorQuantizerEMA } from "./quantizer.js";

export interface EncodeResult {
  /** Pre-quantisation encoder output [B, embedDim, h, w]. */
  z: Tensor;
  /** Straight-through quantised latent [B, embedDim, h, w]. */
  zq: Tensor;
  /** Code indices [B, h, w] (int64). */
  indices: Tensor;
  commitmentLoss: Tensor;
  perplexity: Tensor;
}

export interface ForwardResult {
  /** Reconstruction [B, outChannels, H, W]. */
  recon: Tensor;
  commitmentLoss: Tensor;
  perplexity: Tensor;
  indices: Tensor;
}

export interface LossResult {
  /** reconLoss + commitmentLoss. */
  total: Tensor;
  /** The reconstruction [B, outChannels, H, W]. */
  recon: Tensor;
  reconLoss: Tensor;
  commitmentLoss: Tensor;
  perplexity: Tensor;
}

export type ReconLossKind = "l1" | "mse";

/** What decoding takes besides the latent. */
export interface DecodeOptions {
  /** The 3T condition y [B, 3, H, W] of the decoded slices: required by an LR-conditioned model, ignored by a plain one. */
  lr?: Tensor;
  /** The feature-wrapping weight w of an LR-conditioned decoder (1 as trained; 0 ignores y). */
  cfwWeight?: number;
}

export class VQVAE extends nn.Module {
  readonly config: Readonly<VQVAEConfig>;
  readonly downsampleFactor: number;
  readonly scaleFactor: number;
  readonly encoder: Encoder;
  readonly quantize: VectorQuantizerEMA;
  readonly decoder: Decoder;

  constructor(config: VQVAEConfig, options: nn.LayerOptions = {}) {
    super();
    validateVQVAEConfig(config);
    this.config = Object.freeze({ ...config, channelMult: [...config.channelMult] });
    this.downsampleFactor = 2 ** (config.channelMult.length - 1);
    this.scaleFactor = config.scaleFactor;
    this.encoder = this.registerModule("encoder", new Encoder(config, options));
    this.quantize = this.registerModule(
      "quantize",
      new VectorQuantizerEMA(config.codebookSize, config.embedDim, {
        ...options,
        decay: config.decay,
        commitmentBeta: config.commitmentBeta,
        deadCodeThreshold: config.deadCodeThreshold,
      }),
    );
    this.decoder = this.registerModule("decoder", new Decoder(config, options));
  }

  /** x [B, inChannels, H, W] -> z, straight-through zq, indices, commitment loss, perplexity. */
  encode(x: Tensor): EncodeResult {
    return T.tidy(() => {
      const z = this.encoder.forward(x);
      const q = this.quantize.forward(z);
      return { z, ...q };
    });
  }

  /** Whether the decoder reads the 3T condition (config lrCondition "cfw"). */
  get lrConditioned(): boolean {
    return this.config.lrCondition !== "none";
  }

  /** zq [B, embedDim, h, w] (with { lr } [B, 3, h*f, w*f] when LR-conditioned) -> [B, outChannels, h*f, w*f]. */
  decode(zq: Tensor, options: DecodeOptions = {}): Tensor {
    if (!this.lrConditioned) return this.decoder.forward(zq);
    const zqOk = zq.ndim === 4 && zq.shape[1] === this.config.embedDim; // a malformed zq: the decoder says so
    if (options.lr === undefined && zqOk) {
      const shape = `[${zq.shape[0]}, 3, ${(zq.shape[2] as number) * this.downsampleFactor}, ${(zq.shape[3] as number) * this.downsampleFactor}]`;
      throw new RangeError(
        `VQVAE.decode: this VQ-VAE's decoder is conditioned on the 3T image (lrCondition "${this.config.lrCondition}"): pass { lr }, the condition ${shape} (slices k-1, k, k+1 on the HR grid) of the decoded slices`,
      );
    }
    return this.decoder.forward(zq, options.lr ?? null, options.cfwWeight ?? 1);
  }

  /** Code indices [B, h, w] -> reconstruction. */
  decodeIndices(indices: Tensor, options: DecodeOptions = {}): Tensor {
    return T.tidy(() => this.decode(this.quantize.embed(indices), options));
  }

  forward(x: Tensor, options: DecodeOptions = {}): ForwardResult {
    return T.tidy(() => {
      const { zq, indices, commitmentLoss, perplexity } = this.encode(x);
      return { recon: this.decode(zq, options), commitmentLoss, perplexity, indices };
    });
  }

  /** The diffusion latent z0 = scaleFactor * zq. */
  encodeLatent(x: Tensor): Tensor {
    return T.tidy(() => this.encode(x).zq.mul(this.scaleFactor));
  }

  /** Decodes a diffusion latent: decode(z / scaleFactor), optionally snapped to the nearest codes first. */
  decodeLatent(z: Tensor, options: DecodeOptions & { quantize?: boolean } = {}): Tensor {
    if (z.ndim !== 4 || z.shape[1] !== this.config.embedDim) {
      throw new RangeError(`VQVAE.decodeLatent: z must be [B, ${this.config.embedDim}, h, w], got [${z.shape.join(", ")}]`);
    }
    return T.tidy(() => {
      const unscaled = z.div(this.scaleFactor);
      if (!options.quantize) return this.decode(unscaled, options);
      const [b, d, h, w] = unscaled.shape as [number, number, number, number];
      const idx = this.quantize.nearest(unscaled.detach().permute(0, 2, 3, 1).reshape(b * h * w, d));
      return this.decodeIndices(idx.reshape(b, h, w), options);
    });
  }

  /** Training loss: reconstruction of `target` [B, outChannels, H, W] from x (and lr), plus the commitment loss. */
  loss(x: Tensor, target: Tensor, options: { recon?: ReconLossKind; lr?: Tensor } = {}): LossResult {
    const kind = options.recon ?? "l1";
    if (kind !== "l1" && kind !== "mse") throw new RangeError(`VQVAE.loss: recon must be 'l1' or 'mse', got '${String(kind)}'`);
    const [b, , h, w] = x.shape;
    const c = this.config.outChannels;
    const targetOk = target.ndim === 4 && target.shape[0] === b && target.shape[1] === c && target.shape[2] === h && target.shape[3] === w;
    // A malformed x is reported by the encoder; here only the target is checked against it.
    if (x.ndim === 4 && !targetOk) {
      throw new RangeError(
        `VQVAE.loss: target must be [${b}, ${c}, ${h}, ${w}] to match x [${x.shape.join(", ")}], got [${target.shape.join(", ")}]`,
      );
    }
    return T.tidy(() => {
      const { recon, commitmentLoss, perplexity } = this.forward(x, options.lr === undefined ? {} : { lr: options.lr });
      const reconLoss = kind === "l1" ? T.F.l1Loss(recon, target) : T.F.mseLoss(recon, target);
      return { total: reconLoss.add(commitmentLoss), recon, reconLoss, commitmentLoss, perplexity };
    });
  }
}

/** Number of parameter elements of a module (Module.numParameters(); the codebook is a buffer, not counted). */
export function countParameters(m: nn.Module): number {
  return m.numParameters();
}
