// A tiny seeded pseudo-random generator for the data-set builder's own draws (per-pair acquisition
// parameters, per-pair simulation seeds, the subject shuffle). Pure JS, so the same seed gives the
// same numbers on every machine. Algorithm: mulberry32 (32-bit state, period 2^32), seeded by
// hashing the seed and a stream name with splitmix32, so independent streams ("params", "split")
// do not depend on how many numbers the other consumed.

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

export class Rng {
  #state: number;

  /** seed: an integer in 0..2^32-1; stream: a name that selects an independent sequence. */
  constructor(seed: number, stream = "") {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`Rng: seed must be an integer in 0..4294967295, got ${seed}`);
    }
    let s = splitmix32(seed);
    for (let i = 0; i < stream.length; i++) s = splitmix32(s ^ stream.charCodeAt(i));
    this.#state = s;
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi] (lo when lo === hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** A uniformly random permutation of `items` (Fisher-Yates); the input is not modified. */
  shuffle<T>(items: readonly T[]): T[] {
    const a = items.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = a[i] as T;
      a[i] = a[j] as T;
      a[j] = t;
    }
    return a;
  }
}
