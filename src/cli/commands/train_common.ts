// Options shared by the training commands: --preset, --config FILE (JSON overrides), --resume, --device.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../util/config.js";

/** Reads a JSON config file of overrides, with errors that name the file. */
export function readConfigFile(path: string | undefined): unknown {
  if (path === undefined) return undefined;
  if (!existsSync(path)) throw new ConfigError(`--config ${path}: no such file`);
  try {
    return JSON.parse(readFileSync(path, "utf8")) as unknown;
  } catch (e) {
    throw new ConfigError(`--config ${path}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** On --resume, the run's own config.json is the base unless --config/--preset say otherwise. */
export function runConfigPath(outDir: string): string {
  return join(outDir, "config.json");
}

export function positiveInt(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got '${v}'`);
    return n;
  };
}

export function nonNegativeInt(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} expects an integer >= 0, got '${v}'`);
    return n;
  };
}
