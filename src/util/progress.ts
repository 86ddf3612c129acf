// Progress for long work: a bar with values and ETA on a terminal; in a log
// (no TTY) a plain line every `logEverySeconds`, so background runs stay readable.
import cliProgress from "cli-progress";

export interface Progress {
  update(done: number, values?: Record<string, number | string>): void;
  stop(): void;
}

function formatValues(values: Record<string, number | string>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k} ${typeof v === "number" ? (Math.abs(v) >= 1e-3 || v === 0 ? v.toFixed(4) : v.toExponential(2)) : v}`)
    .join("  ");
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s` : `${s.toFixed(0)}s`;
}

/**
 * A progress display for `total` units of work. `initial` is work already done before this process
 * (a resumed run): the ETA is computed from this process's own rate.
 */
export function progress(
  label: string,
  total: number,
  o: { logEverySeconds?: number; stream?: NodeJS.WriteStream; initial?: number } = {},
): Progress {
  const stream = o.stream ?? process.stderr;
  const initial = o.initial ?? 0;
  const start = Date.now();
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} | {values} | ETA {eta_formatted}`,
        barsize: 24,
        hideCursor: true,
        stream,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, initial, { values: "" });
    return {
      update: (done, values = {}) => bar.update(done, { values: formatValues(values) }),
      stop: () => bar.stop(),
    };
  }
  const every = (o.logEverySeconds ?? 10) * 1000;
  let last = 0;
  return {
    update(done, values = {}) {
      const now = Date.now();
      if (now - last < every && done < total) return;
      last = now;
      const elapsed = (now - start) / 1000;
      const eta = done > initial ? (elapsed / (done - initial)) * (total - done) : Number.NaN;
      stream.write(`${label} ${done}/${total} | ${formatValues(values)} | elapsed ${formatSeconds(elapsed)} ETA ${formatSeconds(eta)}\n`);
    },
    stop() {},
  };
}
