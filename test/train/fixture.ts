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
  // The paper formulation with a latent target, global gating, whole slices, the as-written task losses
  // and the former sampling defaults unless a test asks otherwise: the cpu-small preset as it was before
  // resshift became its default (most tests here are about that path; the resshift tests say so).
  const m = (overrides.model as { formulation?: string; gating?: object } | undefined) ?? {};
  const paper = m.formulation !== "resshift";
  return resolveMoEDiffConfig("cpu-small", {
    model: {
      ...(paper ? { formulation: "paper", target: "latent" } : {}),
      // The paper path keeps the absolute positions it was made with (golden sums in moe_sampler.test.ts).
      condition: { dim: 32, patchSizes: [64, 32, 16], depth: 2, numHeads: 2, windowSize: 4, mlpRatio: 2, globalDepth: 1, absolutePosition: paper },
      expert: { baseChannels: 8, timeEmbedDim: 32, numHeads: 2 },
      ...m,
      gating: { hidden: 32, ...(paper ? { mode: "global", temperature: 1 } : {}), ...(m.gating ?? {}) },
    },
    training: { steps, batchSize: 2, lr: 2e-3, warmupSteps: 2, logEvery: 1, checkpointEvery: 1000, uniformGatingFraction: 0.25, emaDecay: 0.9, cropSize: 0, ...((overrides.training as object | undefined) ?? {}) },
    losses: { ...(paper ? { fourier: "complex", stft: "complex", routingBalance: 0 } : {}), ...((overrides.losses as object | undefined) ?? {}) },
    sampling: { ...(paper ? { steps: 25, start: 1, snapToCodebook: true } : {}), ...((overrides.sampling as object | undefined) ?? {}) },
  });
}
