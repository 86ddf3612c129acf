// A seeded pseudo-random number generator in plain JavaScript, so that simulated data are
// byte-for-byte reproducible from a seed (the engine's generators depend on the libtorch build).
//
// Generator: xoshiro128** (Blackman & Vigna 2018), 128 bits of state, 32-bit outputs, period 2^128 - 1.
// Seeding: the 32-bit seed and a stream label (hashed with FNV-1a) go through splitmix32 (the MurmurHash3
// finaliser over a Weyl sequence) to fill the state, so nearby seeds give unrelated sequences and each
// named stream of one seed ("bias", "noise", ...) is independent of the others: drawing more numbers
// from one stream never shifts another.
// Doubles: 53 random bits, uniform on [0, 1). Normals: Box-Muller, both values of each pair are used.

const MAX_SEED = 0xffffffff;

/** Throws unless `seed` is an integer in 0 .. 2^32 - 1; `what` names it in the message. */
export function checkSeed(seed: unknown, what = "seed"): number {
  if (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`${what} must be an integer from 0 to ${MAX_SEED}, got ${typeof seed === "number" ? seed : JSON.stringify(seed)}`);
  }
  return seed;
}

/** FNV-1a hash of a string's UTF-16 code units (32 bits). */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** One splitmix32 step: advances state[0] and returns a mixed 32-bit value. */
function splitmix32(state: Uint32Array): number {
  state[0] = ((state[0] as number) + 0x9e3779b9) >>> 0;
  let z = state[0] as number;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

export class Random {
  readonly #s = new Uint32Array(4);
  #spare = 0;
  #hasSpare = false;

  /**
   * A generator for `seed` (integer 0 .. 2^32 - 1) and an optional stream label. The same seed and
   * stream always give the same sequence.
   */
  constructor(seed: number, stream = "") {
    checkSeed(seed, "Random: seed");
    if (typeof stream !== "string") throw new TypeError(`Random: stream must be a string, got ${typeof stream}`);
    const sm = new Uint32Array([seed]);
    const first = splitmix32(sm);
    sm[0] = (first ^ fnv1a(stream)) >>> 0;
    for (let i = 0; i < 4; i++) this.#s[i] = splitmix32(sm);
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1; // the one state xoshiro cannot leave
  }

  /** A generator with the given raw xoshiro128** state (four uint32, not all zero): for reference tests. */
  static fromState(state: readonly [number, number, number, number]): Random {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > MAX_SEED) || state.every((v) => v === 0)) {
      throw new RangeError(`Random.fromState: state must be four integers in 0 .. ${MAX_SEED}, not all zero, got [${state.join(", ")}]`);
    }
    const r = new Random(0);
    r.#s.set(state);
    return r;
  }

  /** The next 32-bit output, an integer in 0 .. 2^32 - 1 (xoshiro128**). */
  nextUint32(): number {
    const s = this.#s;
    const s0 = s[0] as number;
    const s1 = s[1] as number;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s[2] = (s[2] as number) ^ s0;
    s[3] = (s[3] as number) ^ s1;
    s[1] = s1 ^ (s[2] as number);
    s[0] = s0 ^ (s[3] as number);
    s[2] = (s[2] as number) ^ t;
    s[3] = rotl(s[3] as number, 11);
    return r;
  }

  /** Uniform on [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * TWO_POW_26 + lo) / TWO_POW_53;
  }

  /** Uniform on [lo, hi). */
  uniformRange(lo: number, hi: number): number {
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(hi >= lo)) {
      throw new RangeError(`Random.uniformRange: need finite lo <= hi, got [${lo}, ${hi})`);
    }
    return lo + (hi - lo) * this.uniform();
  }

  /** An integer uniform on min .. max inclusive (max - min < 2^32), without modulo bias. */
  integer(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min || max - min > MAX_SEED) {
      throw new RangeError(`Random.integer: need integers min <= max with max - min < 2^32, got ${min} .. ${max}`);
    }
    const range = max - min + 1;
    if (range === 2 ** 32) return min + this.nextUint32();
    // Reject the top partial block of 2^32 so every value is equally likely.
    const limit = 2 ** 32 - (2 ** 32 % range);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return min + (x % range);
  }

  /** A normal draw, N(mean, std^2), by the Box-Muller transform. */
  normal(mean = 0, std = 1): number {
    if (this.#hasSpare) {
      this.#hasSpare = false;
      return mean + std * this.#spare;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    this.#spare = radius * Math.sin(angle);
    this.#hasSpare = true;
    return mean + std * radius * Math.cos(angle);
  }

  /** Fills `out` with N(mean, std^2) draws, in index order; returns `out`. */
  fillNormal<A extends Float32Array | Float64Array>(out: A, mean = 0, std = 1): A {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
