// The version of this moediff-sr, from its package.json (for --version, output headers, the viewer).
import { readFileSync } from "node:fs";

let cached: string | undefined;

/** package.json's version ("0.1.0"), or "unknown" where the file cannot be read. */
export function toolVersion(): string {
  if (cached !== undefined) return cached;
  try {
    // dist/src/util/version.js -> <package>/package.json
    const v = (JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version?: unknown }).version;
    cached = typeof v === "string" ? v : "unknown";
  } catch {
    cached = "unknown";
  }
  return cached;
}
