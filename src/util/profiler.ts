// Wall time per named part of a job, for `npm run -s bench profile`: enhanceVolume, the pipeline and
// the MoE sampler time their parts when given a Profiler (and do nothing extra without one). Times
// nest: a part's time includes the parts timed inside it (the bench subtracts them for exclusive
// shares). CPU ops are synchronous, so wall time around a call is the call's time; on a GPU the
// times would need a device synchronisation first.

export interface ProfileEntry {
  /** Wall seconds, summed over calls. */
  seconds: number;
  calls: number;
  /** Work units (tiles) the calls covered, for per-unit costs such as FLOPs. */
  units: number;
}

export class Profiler {
  readonly entries = new Map<string, ProfileEntry>();

  /** Runs fn, adding its wall time to `name` (`units`: how many tiles the call covered). */
  time<R>(name: string, fn: () => R, units = 1): R {
    const t0 = performance.now();
    try {
      return fn();
    } finally {
      this.add(name, (performance.now() - t0) / 1000, units);
    }
  }

  add(name: string, seconds: number, units = 1): void {
    const e = this.entries.get(name) ?? { seconds: 0, calls: 0, units: 0 };
    e.seconds += seconds;
    e.calls += 1;
    e.units += units;
    this.entries.set(name, e);
  }

  seconds(name: string): number {
    return this.entries.get(name)?.seconds ?? 0;
  }
}

/** `profiler.time`, or a plain call when there is no profiler. */
export function timed<R>(profiler: Profiler | undefined, name: string, fn: () => R, units = 1): R {
  return profiler === undefined ? fn() : profiler.time(name, fn, units);
}
