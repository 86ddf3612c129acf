// Loading the frozen autoencoder of a model directory (RUN/vqvae/) or of `train --vqvae DIR`, with
// errors that name the file and say what to do. src/models/vqvae/load.ts does the loading; its
// config.json is read here first so that a damaged file is reported as such, not as a bare
// JSON.parse message. Weights holding NaN or Inf are refused, naming the file and the tensor.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type * as T from "../torch/index.js";
import { loadVqvae } from "../models/vqvae/load.js";
import type { VQVAE } from "../models/vqvae/index.js";
import type { VqvaeRunConfig } from "../models/vqvae/run_config.js";
import { readJsonFile } from "../util/json_file.js";
import { assertFiniteModule } from "./finite_weights.js";

export class VqvaeDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VqvaeDirError";
  }
}

/** Loads the trained VQ-VAE in `dir` (config.json + model.safetensors), frozen and in eval mode. */
export function loadVqvaeDir(dir: string, device: T.Device, fix = `copy ${dir} again from the training run, or train one with \`moediff-sr train-vqvae DATA -o DIR\``): { model: VQVAE; config: VqvaeRunConfig } {
  const path = join(dir, "config.json");
  if (!existsSync(path)) return loadVqvae(dir, device); // which says what a VQ-VAE directory holds (it throws)
  const raw = readJsonFile(path, { what: "the autoencoder (VQ-VAE) config", fix, error: VqvaeDirError });
  const model = (raw as { model?: unknown } | null)?.model;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || typeof model !== "object" || model === null) {
    throw new VqvaeDirError(`the autoencoder (VQ-VAE) config ${path} has no "model" section; it is not a config written by \`moediff-sr train-vqvae\`; ${fix}`);
  }
  let loaded: { model: VQVAE; config: VqvaeRunConfig };
  try {
    loaded = loadVqvae(dir, device);
  } catch (e) {
    throw new VqvaeDirError(`the autoencoder (VQ-VAE) in ${dir} could not be loaded: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    assertFiniteModule(loaded.model, join(dir, "model.safetensors"), fix, VqvaeDirError);
  } catch (e) {
    loaded.model.dispose();
    throw e;
  }
  return loaded;
}
