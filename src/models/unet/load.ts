// Loading a trained U-Net directory (as `moediff-sr train-unet` writes it): config.json (a
// UNetRunConfig, `kind: "unet"`) and model.safetensors, the network frozen and in eval mode. The model
// card (card.json) is read by the inference side (src/inference/unet_enhance.ts), which needs it.
// Everything is checked before a weight is used; a MoEDiff-SR run or a VQ-VAE directory given here is
// named as such.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../torch/index.js";
import { resolveUNetRunConfig, UNET_KIND, type UNetRunConfig } from "./config.js";
import { UNet } from "./unet.js";

export class UNetDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UNetDirError";
  }
}

/** What a directory's config.json says it holds: "unet", "moediff" (a `train` run), "vqvae", or null. */
export function runKindOf(dir: string): "unet" | "moediff" | "vqvae" | null {
  const path = join(dir, "config.json");
  if (!existsSync(path)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return null;
  }
  if (raw === null || typeof raw !== "object") return null;
  const r = raw as Record<string, unknown>;
  if (r.kind === UNET_KIND) return "unet";
  if (typeof r.preset === "string" && "sampling" in r) return "moediff";
  if (typeof r.preset === "string" && "inputs" in r && typeof r.model === "object" && r.model !== null && "codebookSize" in r.model) return "vqvae";
  return null;
}

/** Reads and validates DIR/config.json as a U-Net run config. */
export function readUNetRunConfig(dir: string): UNetRunConfig {
  const path = join(dir, "config.json");
  const kind = runKindOf(dir);
  if (kind === "moediff") throw new UNetDirError(`${dir} is a MoEDiff-SR run (from \`moediff-sr train\`), not a U-Net; enhance with it using \`moediff-sr enhance --model ${dir}\``);
  if (kind === "vqvae") throw new UNetDirError(`${dir} is a VQ-VAE (from \`moediff-sr train-vqvae\`), not a U-Net; train one with \`moediff-sr train-unet DATA -o DIR\``);
  let raw: { kind?: unknown; preset?: unknown };
  try {
    raw = JSON.parse(readFileSync(path, "utf8")) as { kind?: unknown; preset?: unknown };
  } catch (e) {
    throw new UNetDirError(`${path} could not be read as JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (raw === null || typeof raw !== "object" || raw.kind !== UNET_KIND || typeof raw.preset !== "string") {
    throw new UNetDirError(`${path} is not a U-Net config (it needs "kind": "${UNET_KIND}" and a preset; \`moediff-sr train-unet\` writes one)`);
  }
  try {
    return resolveUNetRunConfig(raw.preset, raw);
  } catch (e) {
    throw new UNetDirError(`${path} is not a valid U-Net config: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Loads DIR's U-Net for inference: frozen, eval mode, on `device`. */
export function loadUNet(dir: string, device: T.Device = T.getDefaultDevice()): { model: UNet; config: UNetRunConfig } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UNetDirError(`U-Net directory ${dir} does not exist (train one with \`moediff-sr train-unet DATA -o ${dir}\`)`);
  const missing = ["config.json", "model.safetensors"].filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    const training = existsSync(join(dir, "checkpoint", "state.json")) ? " (it has a checkpoint: training has not finished; finish it with `moediff-sr train-unet DATA -o DIR --resume`)" : "";
    throw new UNetDirError(`${dir} is not a trained U-Net directory: missing ${missing.join(", ")}${training}`);
  }
  const config = readUNetRunConfig(dir);
  const model = new UNet(config.model, { device });
  try {
    const wPath = join(dir, "model.safetensors");
    let weights: Map<string, T.Tensor>;
    try {
      weights = T.io.loadFile(wPath, { device }).tensors;
    } catch (e) {
      throw new UNetDirError(`${wPath} could not be read: ${e instanceof Error ? e.message : String(e)}`);
    }
    try {
      model.loadStateDict(weights);
    } catch (e) {
      throw new UNetDirError(`${wPath} does not match ${join(dir, "config.json")} (was it copied from another run?):\n${e instanceof Error ? e.message : String(e)}`);
    } finally {
      for (const t of weights.values()) t.dispose();
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.eval();
  for (const p of model.parameters()) p.requiresGrad_(false);
  return { model, config };
}
