// Parsers for numeric command-line options, shared by the commands (commander calls them with the raw string).

/** A parser accepting plain decimal positive integers ("12"), naming the option otherwise. */
export function positiveInt(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got '${v}'`);
    return n;
  };
}

/** A parser accepting integers >= 0, naming the option otherwise. */
export function nonNegativeInt(name: string): (v: string) => number {
  return (v) => {
    const x = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(x)) throw new Error(`--${name} must be an integer >= 0, got '${v}'`);
    return x;
  };
}

/** --voxel: one size in mm or three ("0.7" or "0.7,0.7,1"). */
export function parseVoxel(v: string): number | [number, number, number] {
  const parts = v.split(",").map((s) => Number(s.trim()));
  if ((parts.length !== 1 && parts.length !== 3) || parts.some((x) => !(Number.isFinite(x) && x > 0))) {
    throw new Error(`--voxel must be a positive size in mm or three of them (e.g. 0.7 or 0.7,0.7,1), got '${v}'`);
  }
  return parts.length === 1 ? (parts[0] as number) : (parts as [number, number, number]);
}

/** --start: where each sampling chain starts, a fraction of its schedule in (0, 1]. */
export const parseStart = (v: string): number => numberOption("start", "a fraction in (0, 1]", (x) => x > 0 && x <= 1)(v);

/** A parser accepting finite numbers for which `ok` holds; the error says `--name must be <what>`. */
export function numberOption(name: string, what: string, ok: (x: number) => boolean): (v: string) => number {
  return (v) => {
    const x = v.trim() === "" ? Number.NaN : Number(v);
    if (!Number.isFinite(x) || !ok(x)) throw new Error(`--${name} must be ${what}, got '${v}'`);
    return x;
  };
}
