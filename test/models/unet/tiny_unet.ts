// A tiny U-Net directory as `train-unet` writes it (config.json, model.safetensors, card.json: 64x64
// slices along z, 1 mm) for inference tests. With `perturb`, the zero-initialised output convolution
// gets small random weights so the U-Net is not the identity.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../../src/torch/index.js";
import { UNet, resolveUNetRunConfig } from "../../../src/models/unet/index.js";
import { writeModelCard, type ModelCard } from "../../../src/model_dir/card.js";
import { testCard } from "../../model_dir/card_fixture.js";

export function writeTinyUNetDir(dir: string, o: { perturb?: boolean; seed?: number; card?: Partial<ModelCard> } = {}): string {
  mkdirSync(dir, { recursive: true });
  T.manualSeed(o.seed ?? 7);
  const config = resolveUNetRunConfig("cpu-small", { model: { baseChannels: 8, channelMult: [1, 2, 4] }, training: { steps: 1, warmupSteps: 0, cropSize: 32 } });
  const model = new UNet(config.model);
  try {
    if (o.perturb === true) T.nn.init.normal_(model.convOut.weight, 0, 0.05);
    writeFileSync(join(dir, "config.json"), JSON.stringify(config));
    T.tidy(() => T.io.saveFile(join(dir, "model.safetensors"), model.stateDict()));
  } finally {
    model.dispose();
  }
  writeModelCard(dir, testCard(o.card));
  return dir;
}
