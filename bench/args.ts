// Command-line options shared by the benchmarks (bench/all_report.ts, bench/parity.ts): `--name value`
// pairs and bare flags, integers with a lower bound, the thread count (option, MOEDIFF_NUM_THREADS,
// default) and the model directory (option, else models/default). Every refusal names the
// benchmark and the option, through the caller's error class.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

export interface BenchArgSpec {
  /** The benchmark's name, the prefix of every message ("bench", "parity"). */
  readonly name: string;
  /** Options that stand alone ("--quick"). */
  readonly flags: readonly string[];
  /** Options followed by a value ("--model DIR"). */
  readonly valued: readonly string[];
  /** Appended to the unknown-option message (e.g. the usage text). */
  readonly help: string;
  /** The error to throw (default RangeError). */
  readonly error?: new (message: string) => Error;
}

export interface BenchArgs {
  /** Whether a flag was given. */
  has(flag: string): boolean;
  /** A valued option's raw text, or undefined. */
  value(option: string): string | undefined;
  /** `--name` as an integer >= min, or `fallback` when absent. */
  int(name: string, fallback: number, min: number): number;
  /** The thread count default: MOEDIFF_NUM_THREADS when set (validated), else `fallback`. */
  threadsDefault(env: Readonly<Record<string, string | undefined>>, fallback: number): number;
  /** `--model`, else root/models/default; refused when the directory does not exist. */
  model(root: string, expects: string): string;
}

export function parseBenchArgs(args: readonly string[], spec: BenchArgSpec): BenchArgs {
  const E = spec.error ?? RangeError;
  const flags = new Set(spec.flags);
  const valued = new Set(spec.valued);
  const values = new Map<string, string>();
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (flags.has(a)) {
      seen.add(a);
      continue;
    }
    if (!valued.has(a)) throw new E(`${spec.name}: unknown option '${a}'\n${spec.help}`);
    const v = args[i + 1];
    if (v === undefined || v.startsWith("--")) throw new E(`${spec.name}: ${a} needs a value`);
    values.set(a, v);
    i++;
  }
  return {
    has: (flag) => seen.has(flag),
    value: (option) => values.get(option),
    int(name, fallback, min) {
      const raw = values.get(`--${name}`);
      if (raw === undefined) return fallback;
      const v = Number(raw);
      if (!Number.isInteger(v) || v < min) throw new E(`${spec.name}: --${name} expects an integer >= ${min}, got '${raw}'`);
      return v;
    },
    threadsDefault(env, fallback) {
      const raw = env.MOEDIFF_NUM_THREADS;
      if (raw === undefined || raw === "") return fallback;
      const v = Number(raw);
      if (!Number.isInteger(v) || v < 1) throw new E(`${spec.name}: MOEDIFF_NUM_THREADS must be a positive integer, got '${raw}'`);
      return v;
    },
    model(root, expects) {
      const given = values.get("--model");
      if (given === undefined) {
        const def = join(root, "models", "default");
        if (!existsSync(def)) throw new E(`${spec.name}: no --model DIR given and the default model ${def} does not exist; pass --model with a trained run directory (${expects})`);
        return resolve(def);
      }
      if (!existsSync(given)) throw new E(`${spec.name}: the model directory ${given} does not exist`);
      return resolve(given);
    },
  };
}
