// The files a trained run directory must hold to enhance (model_dir.ts loads them), checked without
// the engine so that engine-free commands (`view`) can tell whether a model is usable.
import { existsSync } from "node:fs";
import { join } from "node:path";

/** Written by `moediff-sr train` (model.safetensors when training finishes) and `train-vqvae`. */
export const MODEL_FILES = ["config.json", "model.safetensors", join("vqvae", "config.json"), join("vqvae", "model.safetensors")] as const;

/** The MODEL_FILES missing from `dir`. */
export function missingModelFiles(dir: string): string[] {
  return MODEL_FILES.filter((f) => !existsSync(join(dir, f)));
}
