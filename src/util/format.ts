// Numbers for people.

/** Up to 6 significant digits, no trailing zeros. */
export function fmt(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(6))) : String(v);
}
