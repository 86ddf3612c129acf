// An append-only JSON-lines log (one object per line), flushed per line so a run in the background
// can be followed with `tail -f`. The log reads as one uninterrupted run: a new run starts it afresh
// (reset: a killed run before it may have logged steps without a checkpoint), and a resumed run first
// cuts it back to the checkpoint's step (resumeAt).
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";

export class JsonlLog {
  constructor(readonly path: string) {}

  write(record: Record<string, unknown>): void {
    appendFileSync(this.path, `${JSON.stringify(record, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v))}\n`);
  }

  /** Empties the log (a new run in a directory where an earlier one was killed before its first checkpoint). */
  reset(): void {
    if (existsSync(this.path)) writeFileSync(this.path, "");
  }

  /**
   * Cuts the log back for a run resuming from its checkpoint at `step`: records of later steps go (and
   * a line cut short), and so do evaluation records (`eval`: written when a run finishes, so stale in one being resumed).
   */
  resumeAt(step: number): void {
    this.#keep((r) => (typeof r.step !== "number" || r.step <= step) && !("eval" in r));
  }

  #keep(keep: (record: { step?: unknown }) => boolean): void {
    if (!existsSync(this.path)) return;
    const kept = readFileSync(this.path, "utf8")
      .split("\n")
      .filter((line) => {
        if (line.trim() === "") return false;
        try {
          return keep(JSON.parse(line) as { step?: unknown });
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
