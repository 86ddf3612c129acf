// What the summary says about the model: the facts of its card (training data, slice size, voxel
// size), of its config (preset, experts, schedules, gating, training recipe) and of its VQ-VAE, and
// the parameter counts of the loaded networks. Read from a loaded model directory; nothing is guessed.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LoadedModel } from "../model_dir/load.js";

export interface ModelFacts {
  readonly dir: string;
  readonly preset: string;
  readonly experts: readonly number[];
  readonly timesteps: readonly number[];
  readonly schedule: string;
  readonly gating: string;
  readonly target: string;
  readonly parameters: { readonly moe: number; readonly vqvae: number };
  readonly training: { readonly steps: number; readonly batchSize: number; readonly lr: number };
  readonly vqvae: { readonly codebookSize: number; readonly embedDim: number; readonly trainingSteps: number | null };
  readonly sampling: { readonly steps: number; readonly start: number; readonly snapToCodebook: boolean };
  readonly data: {
    readonly path: string;
    readonly counts: Readonly<Record<string, number>>;
    readonly slice: string;
    readonly axis: string;
    readonly voxelSize: readonly number[];
  };
}

function countParameters(params: readonly { numel: number }[]): number {
  return params.reduce((a, p) => a + p.numel, 0);
}

/** The VQ-VAE's training steps from RUN/vqvae/config.json, or null when the file does not say. */
function vqvaeTrainingSteps(dir: string): number | null {
  const path = join(dir, "vqvae", "config.json");
  if (!existsSync(path)) return null;
  try {
    const j = JSON.parse(readFileSync(path, "utf8")) as { training?: { steps?: unknown } };
    return typeof j.training?.steps === "number" ? j.training.steps : null;
  } catch {
    return null;
  }
}

export function modelFacts(lm: LoadedModel): ModelFacts {
  const c = lm.config;
  const card = lm.card;
  return {
    dir: lm.dir,
    preset: c.preset,
    experts: [...c.model.experts],
    timesteps: [...c.model.timesteps],
    schedule: c.model.schedule,
    gating: c.model.gating.mode,
    target: c.model.target,
    parameters: { moe: countParameters(lm.model.parameters()), vqvae: countParameters(lm.vqvae.parameters()) },
    training: { steps: c.training.steps, batchSize: c.training.batchSize, lr: c.training.lr },
    vqvae: { codebookSize: lm.vqvae.config.codebookSize, embedDim: lm.vqvae.config.embedDim, trainingSteps: vqvaeTrainingSteps(lm.dir) },
    sampling: { steps: c.sampling.steps, start: c.sampling.start, snapToCodebook: c.sampling.snapToCodebook },
    data: {
      path: card.dataset.path,
      counts: { ...card.dataset.counts },
      slice: `${card.slice.height}x${card.slice.width}`,
      axis: card.slice.axis,
      voxelSize: [...card.voxelSize],
    },
  };
}
