// Options shared by the training commands: --preset, --config FILE (JSON overrides), --resume.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../../util/config.js";
import { readJsonFile } from "../../util/json_file.js";

/** Reads a JSON config file of overrides, with errors that name the file. */
export function readConfigFile(path: string | undefined): unknown {
  if (path === undefined) return undefined;
  if (!existsSync(path)) throw new ConfigError(`--config ${path}: no such file`);
  return readJsonFile(path, { what: "--config", fix: 'fix it (a JSON object of overrides, e.g. {"training": {"lr": 1e-4}})', error: ConfigError });
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
    const c = readJsonFile(saved, { what: "the run's config", fix: "give the run's settings with --config FILE, or start a new run without --resume", error: ConfigError }) as { preset: string } & Record<string, Record<string, unknown>>;
    if (typeof c !== "object" || c === null || typeof c.preset !== "string") throw new ConfigError(`the run's config ${saved} names no preset; give the run's settings with --config FILE`);
    return { preset: c.preset, overrides: c };
  }
  return { preset: opts.preset, overrides: structuredClone((readConfigFile(opts.config) ?? {}) as Record<string, Record<string, unknown>>) };
}
