// Small statistics for benchmarks: medians of repeated measurements.
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError("median of nothing");
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Median over `rounds` of the mean time per call (microseconds) of `iters` calls of fn. */
export function timePerCallUs(fn: () => void, iters: number, rounds: number): number {
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) fn();
    perRound.push(Number(process.hrtime.bigint() - t0) / 1000 / iters);
  }
  return median(perRound);
}

export function parseIntFlag(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} expects a positive integer, got '${args[i + 1]}'`);
  return v;
}
