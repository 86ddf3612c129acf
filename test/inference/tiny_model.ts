// A tiny trained-looking model directory (random weights) for inference tests: config.json,
// model.safetensors, vqvae/{config.json, model.safetensors}, card.json — the layout `train` writes.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { MoEDiffSR } from "../../src/models/moediff/moediff.js";
import { resolveVQVAEConfig, VQVAE } from "../../src/models/vqvae/index.js";
import { writeModelCard, type ModelCard } from "../../src/model_dir/card.js";
import { testCard } from "../model_dir/card_fixture.js";
import { tinyMoEConfig, tinyVqvaeConfig } from "../train/fixture.js";

function save(path: string, m: T.nn.Module): void {
  const sd = m.stateDict();
  try {
    T.io.saveFile(path, sd);
  } finally {
    for (const t of sd.values()) t.dispose();
  }
}

/** Writes the run directory `run` (64x64 slices along z, 1 mm); returns it. */
export function writeTinyModelDir(run: string, o: { seed?: number; card?: Partial<ModelCard>; moe?: Record<string, unknown> } = {}): string {
  mkdirSync(join(run, "vqvae"), { recursive: true });
  T.manualSeed(o.seed ?? 5);
  const vqCfg = tinyVqvaeConfig(1);
  const vqvae = new VQVAE(resolveVQVAEConfig(vqCfg.model));
  const cfg = tinyMoEConfig(1, o.moe ?? {});
  const model = new MoEDiffSR(cfg.model, vqvae.config.embedDim);
  try {
    writeFileSync(join(run, "vqvae", "config.json"), JSON.stringify(vqCfg));
    save(join(run, "vqvae", "model.safetensors"), vqvae);
    writeFileSync(join(run, "config.json"), JSON.stringify(cfg));
    save(join(run, "model.safetensors"), model);
  } finally {
    model.dispose();
    vqvae.dispose();
  }
  writeModelCard(run, testCard(o.card));
  return run;
}
