// Axis ticks and number labels: "nice" linear ticks (steps of 1, 2 or 5 times a power of ten), decade
// ticks for log axes, and short number formats for titles and tick labels.

/** Three significant digits, exponent form for very small or large magnitudes ("0.0123", "1.23e-5", "4.56e+6"). */
export function formatValue(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "n/a" : v > 0 ? "inf" : "-inf";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a < 1e-3 || a >= 1e5) return v.toExponential(digits - 1).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(digits)));
}

/** Labels for evenly spaced ticks: enough decimals to tell neighbours apart, no more. */
export function formatTicks(ticks: readonly number[]): string[] {
  if (ticks.length === 0) return [];
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : Math.abs(ticks[0]!) || 1;
  const big = Math.max(...ticks.map(Math.abs));
  if (big >= 1e5 || (big > 0 && big < 1e-3) || step < 1e-4) return ticks.map((t) => (t === 0 ? "0" : t.toExponential(2).replace(/\.?0+e/, "e")));
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return ticks.map((t) => (Math.abs(t) < step * 1e-9 ? 0 : t).toFixed(decimals));
}

/** A "nice" step near span / target: 1, 2 or 5 times a power of ten. */
export function niceStep(span: number, target = 5): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / target;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/** Nice axis limits enclosing [lo, hi] and the ticks between them. */
export function niceRange(lo: number, hi: number, target = 5): { lo: number; hi: number; ticks: number[] } {
  if (!(hi > lo)) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const step = niceStep(hi - lo, target);
  const a = Math.floor(lo / step + 1e-9) * step;
  const b = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let t = a, i = 0; t <= b + step * 1e-6 && i < 100; i++, t = a + i * step) ticks.push(Number(t.toPrecision(12)));
  return { lo: a, hi: b, ticks };
}

/** Log axis: whole decades enclosing [lo, hi] (both > 0), ticks at each decade (every 2nd or more when many). */
export function logRange(lo: number, hi: number): { lo: number; hi: number; ticks: number[] } {
  if (!(lo > 0) || !(hi > 0)) throw new RangeError(`logRange: limits must be positive, got [${lo}, ${hi}]`);
  const a = Math.floor(Math.log10(lo) + 1e-9);
  let b = Math.ceil(Math.log10(hi) - 1e-9);
  if (b === a) b = a + 1;
  const every = Math.max(1, Math.ceil((b - a) / 8));
  const ticks: number[] = [];
  for (let e = a; e <= b; e += every) ticks.push(10 ** e);
  return { lo: 10 ** a, hi: 10 ** b, ticks };
}

/** "1e-3", "0.01", "1", "100", "1e+4" for decade ticks. */
export function formatDecade(v: number): string {
  const e = Math.round(Math.log10(v));
  if (e >= -2 && e <= 3) return String(Number((10 ** e).toPrecision(1)));
  return `1e${e > 0 ? "+" : ""}${e}`;
}
