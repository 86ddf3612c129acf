// Seeded random-number generators, as torch.Generator.
import { getDefaultDevice, parseDevice, type Device } from "./device.js";
import { native } from "./native.js";
import { Tensor } from "./tensor.js";

const registry = new FinalizationRegistry<number>((id) => native.generatorFree(id));

export class Generator {
  #id: number;
  readonly device: Device;

  constructor(options: { seed?: number; device?: Device } = {}) {
    this.device = parseDevice(options.device ?? getDefaultDevice());
    this.#id = native.generatorNew(this.device, checkSeed(options.seed ?? 0));
    registry.register(this, this.#id, this);
  }

  get id(): number {
    if (this.#id === 0) throw new Error("Generator is disposed");
    return this.#id;
  }

  manualSeed(seed: number): this {
    native.generatorSeed(this.id, checkSeed(seed));
    return this;
  }

  /** The generator's full state as a uint8 tensor, for checkpoints. */
  getState(): Tensor {
    return new Tensor(native.generatorGetState(this.id));
  }

  /** Restores a state from getState(). */
  setState(state: Tensor): void {
    native.generatorSetState(this.id, state.id);
  }

  dispose(): void {
    if (this.#id === 0) return;
    registry.unregister(this);
    native.generatorFree(this.#id);
    this.#id = 0;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  return seed;
}

/** Seeds the default generators of every device (torch.manual_seed). */
export function manualSeed(seed: number): void {
  native.manualSeed(checkSeed(seed));
}
