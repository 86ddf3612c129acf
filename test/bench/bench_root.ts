// A throwaway repository root for the benchmarks' option parsers (bench/args.ts), with or without a
// models/default directory, removed afterwards.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function withRoot(fn: (root: string) => void, withDefaultModel: boolean): void {
  const root = mkdtempSync(join(tmpdir(), "bench-root-"));
  try {
    if (withDefaultModel) mkdirSync(join(root, "models", "default"), { recursive: true });
    fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
