// An append-only JSON-lines log (one object per line), flushed per line so a run in the background
// can be followed with `tail -f`. On resume, lines past the checkpoint's step are dropped first, so
// the log reads as one uninterrupted run.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";

export class JsonlLog {
  constructor(readonly path: string) {}

  write(record: Record<string, unknown>): void {
    appendFileSync(this.path, `${JSON.stringify(record, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v))}\n`);
  }

  /** Keeps only records whose `step` is <= `step` (and records without a step). */
  truncateAfter(step: number): void {
    if (!existsSync(this.path)) return;
    const kept = readFileSync(this.path, "utf8")
      .split("\n")
      .filter((line) => {
        if (line.trim() === "") return false;
        try {
          const r = JSON.parse(line) as { step?: unknown };
          return typeof r.step !== "number" || r.step <= step;
        } catch {
          return false; // a line cut short by a crash
        }
      });
    writeFileSync(this.path, kept.length === 0 ? "" : `${kept.join("\n")}\n`);
  }

  /** Every record in the file. */
  static read(path: string): Record<string, unknown>[] {
    return readFileSync(path, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}
