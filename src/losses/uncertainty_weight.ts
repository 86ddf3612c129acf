// Uncertainty-based weight of the gating loss (paper Eq. 17): w = 1 / sigma^2_gating,
// sigma^2 estimated by an exponential moving average with decay 0.99.
//
// Decisions where the paper is vague:
// - The observed quantity is the batch-mean gating loss of each training step
//   (a number; w carries no gradient).
// - EMA mean and variance follow the incremental exponentially weighted update
//   (Finch 2009): delta = x - mean; mean += (1 - d) delta; var = d (var + (1 - d) delta^2).
//   The mean starts at the first observation and the variance at
//   `initialVariance` (default 1, so w = 1 — the plain sum L_E + L_gating — until
//   the estimate has seen data; a zero start would give the largest weight on
//   the first steps).
// - Bounded so it cannot explode: w = clamp(1 / max(var, varianceFloor), wMin, wMax),
//   defaults varianceFloor 1e-8, wMin 0.01, wMax 100.
// - The weight after an update uses that update (the current step's loss counts).
// - Updated only in training: the caller calls update() on training steps only
//   (total.ts does so when `training` is true); `weight` reads without updating.
// - The state is a plain JSON-able object for checkpoints (stateDict/loadStateDict).

export interface UncertaintyWeightConfig {
  /** EMA decay (default 0.99, Eq. 17). */
  decay?: number;
  /** Variance before any observation (default 1). */
  initialVariance?: number;
  /** Smallest variance used in 1/var (default 1e-8). */
  varianceFloor?: number;
  /** Bounds of w (defaults 0.01 and 100). */
  wMin?: number;
  wMax?: number;
}

export interface UncertaintyWeightState {
  decay: number;
  initialVariance: number;
  varianceFloor: number;
  wMin: number;
  wMax: number;
  /** EMA mean of the gating loss (0 before any update). */
  mean: number;
  /** EMA variance of the gating loss. */
  variance: number;
  /** Number of updates so far. */
  count: number;
}

export class UncertaintyWeight {
  readonly decay: number;
  readonly initialVariance: number;
  readonly varianceFloor: number;
  readonly wMin: number;
  readonly wMax: number;
  #mean = 0;
  #variance: number;
  #count = 0;

  constructor(c: UncertaintyWeightConfig = {}) {
    this.decay = c.decay ?? 0.99; // Eq. 17
    this.initialVariance = c.initialVariance ?? 1;
    this.varianceFloor = c.varianceFloor ?? 1e-8;
    this.wMin = c.wMin ?? 0.01;
    this.wMax = c.wMax ?? 100;
    if (!(this.decay >= 0 && this.decay < 1)) throw new RangeError(`UncertaintyWeight: decay must be in [0, 1), got ${this.decay}`);
    if (!(this.initialVariance >= 0)) throw new RangeError(`UncertaintyWeight: initialVariance must be >= 0, got ${this.initialVariance}`);
    if (!(this.varianceFloor > 0)) throw new RangeError(`UncertaintyWeight: varianceFloor must be > 0, got ${this.varianceFloor}`);
    if (!(this.wMin > 0 && this.wMax >= this.wMin && Number.isFinite(this.wMax))) {
      throw new RangeError(`UncertaintyWeight: need 0 < wMin <= wMax < Infinity, got wMin=${this.wMin}, wMax=${this.wMax}`);
    }
    this.#variance = this.initialVariance;
  }

  get mean(): number {
    return this.#mean;
  }
  get variance(): number {
    return this.#variance;
  }
  get count(): number {
    return this.#count;
  }

  /** w = clamp(1 / max(var, floor), wMin, wMax) (Eq. 17, bounded). */
  get weight(): number {
    const w = 1 / Math.max(this.#variance, this.varianceFloor); // Eq. 17
    return Math.min(Math.max(w, this.wMin), this.wMax);
  }

  /** Folds one training step's gating loss into the EMAs; returns the new weight. */
  update(gatingLoss: number): number {
    if (!Number.isFinite(gatingLoss)) throw new RangeError(`UncertaintyWeight.update: the gating loss must be finite, got ${gatingLoss}`);
    if (this.#count === 0) {
      this.#mean = gatingLoss;
    } else {
      const d = this.decay;
      const delta = gatingLoss - this.#mean;
      this.#mean += (1 - d) * delta;
      this.#variance = d * (this.#variance + (1 - d) * delta * delta);
    }
    this.#count += 1;
    return this.weight;
  }

  stateDict(): UncertaintyWeightState {
    return {
      decay: this.decay,
      initialVariance: this.initialVariance,
      varianceFloor: this.varianceFloor,
      wMin: this.wMin,
      wMax: this.wMax,
      mean: this.#mean,
      variance: this.#variance,
      count: this.#count,
    };
  }

  /** Restores the running state (mean, variance, count); the configuration must match. */
  loadStateDict(s: UncertaintyWeightState): void {
    for (const key of ["decay", "initialVariance", "varianceFloor", "wMin", "wMax", "mean", "variance", "count"] as const) {
      if (typeof s[key] !== "number" || !Number.isFinite(s[key])) {
        throw new TypeError(`UncertaintyWeight.loadStateDict: '${key}' must be a finite number, got ${JSON.stringify(s[key])}`);
      }
    }
    for (const key of ["decay", "initialVariance", "varianceFloor", "wMin", "wMax"] as const) {
      if (s[key] !== this[key]) {
        throw new RangeError(`UncertaintyWeight.loadStateDict: checkpoint has ${key}=${s[key]}, this object ${this[key]}; construct it with the checkpoint's configuration`);
      }
    }
    if (!(s.variance >= 0) || !Number.isInteger(s.count) || s.count < 0) {
      throw new RangeError(`UncertaintyWeight.loadStateDict: invalid state variance=${s.variance}, count=${s.count}`);
    }
    this.#mean = s.mean;
    this.#variance = s.variance;
    this.#count = s.count;
  }

  /** A new object with the configuration and running state of a checkpoint. */
  static fromStateDict(s: UncertaintyWeightState): UncertaintyWeight {
    const u = new UncertaintyWeight({ decay: s.decay, initialVariance: s.initialVariance, varianceFloor: s.varianceFloor, wMin: s.wMin, wMax: s.wMax });
    u.loadStateDict(s);
    return u;
  }
}
