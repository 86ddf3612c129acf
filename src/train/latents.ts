// The frozen autoencoder's latents of training slices: the HR latent z0 of [x, g, b] and the 3T
// condition latent, per batch (latentsOf) or computed once per slice and kept (LatentCache,
// training.cacheLatents).
import * as T from "../torch/index.js";
import type { SliceDataset } from "../data/dataset.js";
import type { SplitName } from "../data/split.js";
import type { MoEDiffConfig } from "../models/moediff/config.js";
import type { VQVAE } from "../models/vqvae/index.js";
import { conditionEncoderInput, encoderInput } from "../models/vqvae/encoder_input.js";

/** The frozen autoencoder's latents of a batch. */
export function latentsOf(vqvae: VQVAE, data: SliceDataset, split: SplitName, indices: readonly number[], config: MoEDiffConfig, device: T.Device) {
  const batch = data.getBatch(split, indices, { device });
  return T.noGrad(() => ({
    z0: vqvae.encodeLatent(encoderInput(batch.hr, batch.g, batch.bias, config.inputs)),
    condLatent: vqvae.encodeLatent(conditionEncoderInput(batch.cond)),
    y: batch.cond,
  }));
}

/**
 * latentsOf with the per-slice latents kept after their first computation (training.cacheLatents).
 * The condition slices y are read from the data set each time (they are cheap to read).
 *
 * A slice's latents are computed with those of its fixed chunk of `chunk` consecutive indices
 * (default: the batch size), never with whichever other slices happen to be missing: a convolution's
 * result can depend in its last bit on the batch it runs in (batch 1 and 4 differ by ~2e-7), so a
 * resumed run, which starts with an empty cache, would otherwise drift from the uninterrupted one.
 */
export class LatentCache {
  readonly #z0 = new Map<number, T.Tensor>();
  readonly #cond = new Map<number, T.Tensor>();

  constructor(
    readonly vqvae: VQVAE,
    readonly data: SliceDataset,
    readonly split: SplitName,
    readonly config: MoEDiffConfig,
    readonly device: T.Device,
    readonly chunk: number = config.training.batchSize,
  ) {
    if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`LatentCache: chunk must be a positive integer, got ${chunk}`);
  }

  get(indices: readonly number[]) {
    const size = this.data.size(this.split);
    const chunks = [...new Set(indices.filter((i) => !this.#z0.has(i)).map((i) => Math.floor(i / this.chunk)))].sort((a, b) => a - b);
    for (const c of chunks) {
      const members = Array.from({ length: Math.min(this.chunk, size - c * this.chunk) }, (_, j) => c * this.chunk + j);
      T.tidy(() => {
        const lat = latentsOf(this.vqvae, this.data, this.split, members, this.config, this.device);
        members.forEach((idx, j) => {
          this.#z0.set(idx, T.keep(lat.z0.narrow(0, j, 1).clone()));
          this.#cond.set(idx, T.keep(lat.condLatent.narrow(0, j, 1).clone()));
        });
      });
    }
    const batch = this.data.getBatch(this.split, indices, { device: this.device });
    return {
      z0: T.cat(indices.map((i) => this.#z0.get(i)!), 0),
      condLatent: T.cat(indices.map((i) => this.#cond.get(i)!), 0),
      y: batch.cond,
    };
  }

  dispose(): void {
    for (const t of [...this.#z0.values(), ...this.#cond.values()]) t.dispose();
    this.#z0.clear();
    this.#cond.clear();
  }
}
