// Options shared by the training commands: --preset, --config FILE (JSON overrides), --resume.
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

/**
 * The preset and the overrides a training command starts from: --preset with --config; on --resume
 * without --config, the run's own config.json (with its preset), so a resumed run keeps its config.
 * Returns a copy the caller may add flag overrides to.
 */
export function startingConfig(opts: { preset: string; config?: string; resume?: boolean; output: string }): {
  preset: string;
  overrides: Record<string, Record<string, unknown>>;
} {
  const saved = join(opts.output, "config.json");
  if (opts.resume === true && opts.config === undefined && existsSync(saved)) {
    const c = JSON.parse(readFileSync(saved, "utf8")) as { preset: string } & Record<string, Record<string, unknown>>;
    return { preset: c.preset, overrides: c };
  }
  return { preset: opts.preset, overrides: structuredClone((readConfigFile(opts.config) ?? {}) as Record<string, Record<string, unknown>>) };
}
