// Shared test assertions. Comparisons are two-sided: |actual - expected| <= atol + rtol * |expected|.
import assert from "node:assert/strict";

type Numeric = ArrayLike<number> | ArrayLike<bigint>;

function toNumbers(a: Numeric): number[] {
  return Array.from(a as ArrayLike<number | bigint>, (v) => Number(v));
}

export interface CloseOptions {
  atol?: number;
  rtol?: number;
  message?: string;
}

/** Asserts elementwise closeness (NaN matches only NaN). */
export function assertClose(actual: Numeric | number, expected: Numeric | number, o: CloseOptions = {}): void {
  const atol = o.atol ?? 1e-6;
  const rtol = o.rtol ?? 1e-5;
  const a = typeof actual === "number" ? [actual] : toNumbers(actual);
  const e = typeof expected === "number" ? [expected] : toNumbers(expected);
  assert.equal(a.length, e.length, `${o.message ?? "assertClose"}: length ${a.length} vs expected ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = e[i] as number;
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    if (x === y) continue;
    const ok = Math.abs(x - y) <= atol + rtol * Math.abs(y);
    if (!ok) {
      assert.fail(`${o.message ?? "assertClose"}: element ${i}: got ${x}, expected ${y} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** Asserts that fn throws an Error whose message matches every pattern. */
export function assertThrowsMatching(fn: () => unknown, ...patterns: RegExp[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, "expected an Error to be thrown");
  for (const p of patterns) assert.match(caught.message, p);
}
