// Typed configuration objects: defaults are frozen plain objects; a user's overrides (a JSON file, CLI
// flags) are merged in by `resolveConfig`, which rejects unknown keys and values of the wrong type and
// echoes what it got. `diffConfig` lists what differs between two resolved configs, for refusing a
// checkpoint made with another one.

export type ConfigValue = number | string | boolean | null | readonly ConfigValue[] | { readonly [k: string]: ConfigValue };
export type ConfigObject = { readonly [k: string]: ConfigValue };

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const show = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
};
const kindOf = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/**
 * Merges `overrides` into a copy of `defaults`. Keys must exist in the defaults (nested objects are
 * merged key by key; arrays are replaced whole) and values must have the default's type, except where
 * the default is null (any JSON value). Throws a ConfigError naming the key path ("model.gating.gamma").
 */
export function resolveConfig<C extends ConfigObject>(defaults: C, overrides: unknown, path = "config"): C {
  if (overrides === undefined) return structuredClone(defaults) as C;
  if (!isObject(overrides)) throw new ConfigError(`${path} must be an object, got ${show(overrides)}`);
  const out: Record<string, unknown> = structuredClone(defaults) as Record<string, unknown>;
  for (const [k, v] of Object.entries(overrides)) {
    const where = `${path}.${k}`;
    if (!(k in defaults)) {
      throw new ConfigError(`unknown key ${where} (known keys of ${path}: ${Object.keys(defaults).join(", ")})`);
    }
    const d = (defaults as Record<string, unknown>)[k];
    if (d === null) {
      out[k] = structuredClone(v);
    } else if (isObject(d)) {
      out[k] = resolveConfig(d as ConfigObject, v, where);
    } else if (Array.isArray(d)) {
      if (!Array.isArray(v)) throw new ConfigError(`${where} must be an array, got ${show(v)}`);
      const itemKind = d.length > 0 ? kindOf(d[0]) : undefined;
      for (const [i, item] of v.entries()) {
        if (itemKind !== undefined && kindOf(item) !== itemKind) throw new ConfigError(`${where}[${i}] must be a ${itemKind}, got ${show(item)}`);
        if (typeof item === "number" && !Number.isFinite(item)) throw new ConfigError(`${where}[${i}] must be finite, got ${show(item)}`);
      }
      out[k] = structuredClone(v);
    } else {
      if (kindOf(v) !== kindOf(d)) throw new ConfigError(`${where} must be a ${kindOf(d)}, got ${show(v)}`);
      if (typeof v === "number" && !Number.isFinite(v)) throw new ConfigError(`${where} must be a finite number, got ${show(v)}`);
      out[k] = v;
    }
  }
  return out as C;
}

/** The key paths whose values differ between two configs, as "path: a -> b" lines. */
export function diffConfig(a: unknown, b: unknown, path = ""): string[] {
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => diffConfig(a[k], b[k], path === "" ? k : `${path}.${k}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${path}: ${show(a)} -> ${show(b)}`];
}

/** Throws a ConfigError unless `ok`, with "path must be cond, got value". */
export function requireConfig(ok: boolean, path: string, cond: string, value: unknown): void {
  if (!ok) throw new ConfigError(`${path} must be ${cond}, got ${show(value)}`);
}
