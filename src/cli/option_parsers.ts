// Parsers for numeric command-line options, shared by the commands (commander calls them with the raw string).

/** A parser accepting plain decimal positive integers ("12"), naming the option otherwise. */
export function positiveInt(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got '${v}'`);
    return n;
  };
}
