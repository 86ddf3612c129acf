// The scale of a residual diffusion target (config.model.target = "residual"): 1 / std of
// z0 - condition latent over the training slices, so the experts diffuse a target of unit variance,
// like the latent itself after train-vqvae's scaleByStd. Computed once, in batches, without gradients;
// the result is written into the run's config.json, so inference and a resumed run use the same number.
import * as T from "../torch/index.js";
import type { SliceDataset } from "../data/dataset.js";
import type { MoEDiffConfig } from "../models/moediff/config.js";
import type { VQVAE } from "../models/vqvae/index.js";
import { latentsOf } from "./latents.js";

export function residualScaleOf(vqvae: VQVAE, data: SliceDataset, config: MoEDiffConfig, device: T.Device, batchSize = 8): number {
  const n = data.size("train");
  let sum = 0;
  let sumSq = 0;
  let count = 0;
  for (let start = 0; start < n; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, n - start) }, (_, j) => start + j);
    T.tidy(() => {
      const { z0, condLatent } = latentsOf(vqvae, data, "train", indices, config, device);
      const r = z0.sub(condLatent).to("float64");
      sum += r.sum().item();
      sumSq += r.square().sum().item();
      count += r.numel;
    });
  }
  const mean = sum / count;
  const std = Math.sqrt(Math.max(sumSq / count - mean * mean, 0));
  if (!(std > 0)) throw new Error("the training slices' HR and 3T latents are identical (z0 - condition latent has zero spread): a residual target has nothing to learn; use model.target \"latent\"");
  return 1 / std;
}
