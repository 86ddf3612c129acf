// A model directory's short hash: the first 12 hex digits of the SHA-256 of its files that decide
// what `enhance` computes, concatenated in this order (MODEL_HASH_FILES). It is written into every
// enhanced volume's NIfTI description; recompute it with
//   cat config.json model.safetensors vqvae/config.json vqvae/model.safetensors card.json | sha256sum | cut -c1-12
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MODEL_FILES } from "./files.js";
import { MODEL_CARD_FILE } from "./card.js";

export const MODEL_HASH_FILES: readonly string[] = [...MODEL_FILES, MODEL_CARD_FILE];

/** The U-Net baseline's files (`train-unet`), hashed the same way. */
export const UNET_HASH_FILES: readonly string[] = ["config.json", "model.safetensors", MODEL_CARD_FILE];

/** 12 hex digits identifying the weights, configs and card of the model directory `dir`. */
export function modelHash(dir: string): string {
  return filesHash(dir, MODEL_HASH_FILES);
}

/** The first 12 hex digits of the SHA-256 of `files` of `dir`, concatenated in order. */
export function filesHash(dir: string, files: readonly string[]): string {
  const h = createHash("sha256");
  for (const f of files) h.update(readFileSync(join(dir, f)));
  return h.digest("hex").slice(0, 12);
}
