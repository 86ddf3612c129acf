// Loading a trained MoEDiff-SR run directory for inference:
//   RUN/config.json          the MoEDiff-SR config (preset + overrides, as train wrote it)
//   RUN/model.safetensors    the weights (the EMA weights at the end of training)
//   RUN/vqvae/               the frozen autoencoder it was trained with (config.json, model.safetensors)
//   RUN/card.json            the model card (src/model_dir/card.ts)
// Everything is checked before any weight is used: a weight file that does not fit its config is
// refused with the list of mismatching keys, never half-loaded; weights holding NaN or Inf are refused
// naming the file and the tensor.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import * as T from "../torch/index.js";
import { MoEDiffSR } from "../models/moediff/moediff.js";
import { resolveStoredMoEDiffConfig, type MoEDiffConfig } from "../models/moediff/config.js";
import type { VQVAE } from "../models/vqvae/index.js";
import { readModelCard, type ModelCard } from "./card.js";
import { missingModelFiles } from "./files.js";
import { loadVqvaeDir } from "./vqvae_dir.js";
import { readJsonFile } from "../util/json_file.js";
import { assertFiniteWeights } from "./finite_weights.js";

export class ModelDirError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelDirError";
  }
}

export interface LoadedModel {
  readonly dir: string;
  readonly model: MoEDiffSR;
  readonly vqvae: VQVAE;
  readonly config: MoEDiffConfig;
  readonly card: ModelCard;
  /** Frees the weights of both networks. */
  dispose(): void;
}

/** What to do about a damaged file of the model directory `dir`. */
const REPAIR = (dir: string): string => `copy ${dir} again from where it came from (\`moediff-sr train\` writes it)`;

function readConfig(dir: string): MoEDiffConfig {
  const path = join(dir, "config.json");
  const raw = readJsonFile(path, { what: "the model config", fix: REPAIR(dir), error: ModelDirError }) as { preset?: unknown } | null;
  if (typeof raw !== "object" || raw === null || typeof raw.preset !== "string") throw new ModelDirError(`${path} names no preset; it is not a MoEDiff-SR run config`);
  try {
    return resolveStoredMoEDiffConfig(raw as { preset: string });
  } catch (e) {
    throw new ModelDirError(`${path} is not a valid MoEDiff-SR config: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Loads RUN for inference: both networks frozen, in eval mode, on `device`. */
export function loadModelDir(dir: string, o: { device?: T.Device } = {}): LoadedModel {
  const device = o.device ?? T.getDefaultDevice();
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelDirError(`model directory ${dir} does not exist`);
  const missing = missingModelFiles(dir);
  if (missing.length > 0) {
    throw new ModelDirError(
      `${dir} is not a trained MoEDiff-SR model directory: missing ${missing.join(", ")} ` +
        `(a run of \`moediff-sr train\` writes them; model.safetensors appears when training finishes)`,
    );
  }
  const config = readConfig(dir);
  const card = readModelCard(dir);
  const { model: vqvae } = loadVqvaeDir(join(dir, "vqvae"), device, REPAIR(dir));
  let model: MoEDiffSR | null = null;
  try {
    model = new MoEDiffSR(config.model, vqvae.config.embedDim, 3, { device });
    const wPath = join(dir, "model.safetensors");
    let weights: Map<string, T.Tensor>;
    try {
      weights = T.io.loadFile(wPath, { device }).tensors;
    } catch (e) {
      throw new ModelDirError(`${wPath} could not be read: ${e instanceof Error ? e.message : String(e)}`);
    }
    try {
      assertFiniteWeights(weights, wPath, REPAIR(dir), ModelDirError);
      model.loadStateDict(weights);
    } catch (e) {
      if (e instanceof ModelDirError) throw e;
      throw new ModelDirError(
        `${wPath} does not match ${join(dir, "config.json")} (was it copied from another run?):\n${e instanceof Error ? e.message : String(e)}`,
      );
    } finally {
      for (const t of weights.values()) t.dispose();
    }
    model.eval();
    for (const p of model.parameters()) p.requiresGrad_(false);
  } catch (e) {
    model?.dispose();
    vqvae.dispose();
    throw e;
  }
  const m = model;
  return {
    dir,
    model: m,
    vqvae,
    config,
    card,
    dispose() {
      m.dispose();
      vqvae.dispose();
    },
  };
}
