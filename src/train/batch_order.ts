// The order in which a trainer visits a data set's items: a fresh seeded permutation per epoch,
// cut into batches (the last partial batch of an epoch is dropped so every step sees the same batch
// size). The position is (epoch, batch); the permutation of an epoch is a pure function of
// (seed, epoch), so a resumed run continues with exactly the same batches.
import * as T from "../torch/index.js";

export class BatchOrder {
  readonly batchesPerEpoch: number;
  #epoch = -1;
  #perm: number[] = [];

  constructor(
    readonly size: number,
    readonly batchSize: number,
    readonly seed: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`BatchOrder: the data set is empty (size ${size})`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`BatchOrder: batchSize must be a positive integer, got ${batchSize}`);
    // With fewer items than a batch, an epoch is one batch drawn with wrap-around.
    this.batchesPerEpoch = Math.max(1, Math.floor(size / batchSize));
  }

  /** Item indices of global batch number `step` (0-based). */
  batch(step: number): number[] {
    const epoch = Math.floor(step / this.batchesPerEpoch);
    const b = step % this.batchesPerEpoch;
    if (epoch !== this.#epoch) {
      this.#perm = permutation(this.size, this.seed * 100_003 + epoch);
      this.#epoch = epoch;
    }
    return Array.from({ length: this.batchSize }, (_, i) => this.#perm[(b * this.batchSize + i) % this.size]!);
  }

  epochOf(step: number): number {
    return Math.floor(step / this.batchesPerEpoch);
  }
}

function permutation(n: number, seed: number): number[] {
  using g = new T.Generator({ seed: seed % 2 ** 52, device: "cpu" });
  using p = T.randperm(n, { generator: g, dtype: "int64", device: "cpu" });
  return (p.toArray() as (number | bigint)[]).map(Number);
}
