// The VQ-VAE autoencoder (E1 and D of MoEDiff-SR): public surface.
export { type VQVAEConfig, type LrCondition, LR_CONDITIONS, LR_CHANNELS, VQVAE_PAPER, VQVAE_CPU_SMALL, resolveVQVAEConfig, validateVQVAEConfig } from "./config.js";
export { ResBlock, Downsample, Upsample, AttnBlock, normGroups, normalize } from "./blocks.js";
export { Encoder, MidBlock } from "./encoder.js";
export { Decoder } from "./decoder.js";
export { LRFeatureEncoder } from "./lr_encoder.js";
export { VectorQuantizerEMA, type VectorQuantizerOptions, type QuantizeResult } from "./quantizer.js";
export { VQVAE, countParameters, type EncodeResult, type ForwardResult, type LossResult, type ReconLossKind, type DecodeOptions } from "./vqvae.js";
export { type VqvaeRunConfig, type VqvaeTrainingConfig, VQVAE_RUN_PRESETS, resolveVqvaeRunConfig, upgradeVqvaeRunConfig } from "./run_config.js";
export { loadVqvae } from "./load.js";
