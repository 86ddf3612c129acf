// A tiny prepared data set (a phantom, 64x64 slices) and tiny model configs for trainer tests.
import { join } from "node:path";
import { prepareDataset } from "../../src/data/prepare.js";
import { resolveMoEDiffConfig, type MoEDiffConfig } from "../../src/models/moediff/config.js";
import { resolveVqvaeRunConfig, type VqvaeRunConfig } from "../../src/models/vqvae/run_config.js";
import { phantom, writeVolume } from "../data/phantom.js";

export async function tinyDataset(dir: string): Promise<string> {
  const hr = writeVolume(join(dir, "sub-a.nii.gz"), phantom([56, 60, 24]));
  const r = await prepareDataset({ source: { kind: "simulate", hr: [hr] }, output: join(dir, "data"), height: 64, width: 64, seed: 2 });
  return r.output;
}

export function tinyVqvaeConfig(steps: number): VqvaeRunConfig {
  return resolveVqvaeRunConfig("cpu-small", {
    model: { baseChannels: 8, channelMult: [1, 2, 4], embedDim: 4, codebookSize: 64 },
    training: { steps, batchSize: 4, lr: 2e-3, warmupSteps: 2, logEvery: 1, checkpointEvery: 1000, cropSize: 32 },
  });
}

export function tinyMoEConfig(steps: number, overrides: Record<string, unknown> = {}): MoEDiffConfig {
  return resolveMoEDiffConfig("cpu-small", {
    model: {
      condition: { dim: 32, patchSizes: [64, 32, 16], depth: 2, numHeads: 2, windowSize: 4, mlpRatio: 2, globalDepth: 1 },
      gating: { hidden: 32 },
      expert: { baseChannels: 8, timeEmbedDim: 32, numHeads: 2 },
      ...((overrides.model as object | undefined) ?? {}),
    },
    training: { steps, batchSize: 2, lr: 2e-3, warmupSteps: 2, logEvery: 1, checkpointEvery: 1000, uniformGatingFraction: 0.25, emaDecay: 0.9, ...((overrides.training as object | undefined) ?? {}) },
    ...(overrides.losses === undefined ? {} : { losses: overrides.losses }),
    ...(overrides.sampling === undefined ? {} : { sampling: overrides.sampling }),
  });
}
