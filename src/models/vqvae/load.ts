// Loading a trained VQ-VAE directory (config.json + model.safetensors, as `train-vqvae` writes it),
// frozen and in eval mode, for training the mixture of experts and for inference alike.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../torch/index.js";
import { resolveVQVAEConfig } from "./config.js";
import { VQVAE } from "./vqvae.js";
import { upgradeVqvaeRunConfig, type VqvaeRunConfig } from "./run_config.js";

/** Loads a trained VQ-VAE directory (config.json + model.safetensors), frozen and in eval mode. */
export function loadVqvae(dir: string, device: T.Device = T.getDefaultDevice()): { model: VQVAE; config: VqvaeRunConfig } {
  const cfgPath = join(dir, "config.json");
  const wPath = join(dir, "model.safetensors");
  if (!existsSync(cfgPath) || !existsSync(wPath)) {
    throw new Error(`${dir} is not a trained VQ-VAE directory (it needs config.json and model.safetensors; train one with \`moediff-sr train-vqvae DATA -o ${dir}\`)`);
  }
  // A directory from before the LR-conditioned decoder has no model.lrCondition: a plain decoder.
  const config = upgradeVqvaeRunConfig(JSON.parse(readFileSync(cfgPath, "utf8")) as VqvaeRunConfig);
  const model = new VQVAE(resolveVQVAEConfig(config.model), { device });
  const weights = T.io.loadFile(wPath, { device }).tensors;
  try {
    model.loadStateDict(weights);
  } finally {
    for (const t of weights.values()) t.dispose();
  }
  model.eval();
  for (const p of model.parameters()) p.requiresGrad_(false);
  return { model, config };
}
