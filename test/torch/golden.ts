// Golden values from PyTorch (test/fixtures/ops_golden.json, written by
// test/fixtures/make_ops_golden.py): inputs as tensors, outputs compared two-sided.
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { assertClose } from "../helpers.js";

interface Encoded {
  shape: number[];
  dtype: T.DType;
  data: (number | string)[];
}

interface RawCase {
  inputs: Record<string, Encoded>;
  outputs: Record<string, Encoded>;
}

export interface Tolerance {
  atol?: number;
  rtol?: number;
}

// Compiled tests run from dist/test/torch/; the fixtures stay in the repository's test/fixtures/.
const FIXTURE = new URL("../../../test/fixtures/ops_golden.json", import.meta.url);

let cases: Record<string, RawCase> | undefined;
/** Outputs checked so far, per case (a case may be checked across several tests). */
const checkedOutputs = new Map<string, Set<string>>();

function load(): Record<string, RawCase> {
  if (cases === undefined) {
    const parsed = JSON.parse(readFileSync(FIXTURE, "utf8")) as { cases: Record<string, RawCase> };
    cases = parsed.cases;
  }
  return cases;
}

function numbers(e: Encoded): number[] {
  const values = e.data.map((v) => (typeof v === "string" ? Number(v) : v));
  // Single-precision values are stored with 9 significant digits, which
  // identify the float32 (and float16/bfloat16) value exactly: round to it.
  const single = e.dtype === "float32" || e.dtype === "complex64" || e.dtype === "float16" || e.dtype === "bfloat16";
  return single ? values.map(Math.fround) : values;
}

/** Default tolerances per dtype: float32 ops agree with PyTorch to float32 rounding. */
function defaultTolerance(dtype: T.DType): Required<Tolerance> {
  switch (dtype) {
    case "float64":
    case "complex128":
      return { atol: 1e-10, rtol: 1e-9 };
    case "float32":
    case "complex64":
      return { atol: 1e-5, rtol: 1e-4 };
    case "float16":
      return { atol: 1e-3, rtol: 1e-3 };
    case "bfloat16":
      return { atol: 1e-2, rtol: 1e-2 };
    default:
      return { atol: 0, rtol: 0 };
  }
}

/** Builds a tensor holding exactly the encoded values. */
export function decode(e: Encoded): T.Tensor {
  const values = numbers(e);
  switch (e.dtype) {
    case "complex64":
    case "complex128":
      return T.tidy(() => {
        const parts = T.tensor(Float64Array.from(values), [...e.shape, 2], { dtype: e.dtype === "complex64" ? "float32" : "float64" });
        return T.viewAsComplex(parts).clone();
      });
    case "int64":
      return T.tensor(BigInt64Array.from(values, (v) => BigInt(v)), e.shape);
    case "int32":
      return T.tensor(Int32Array.from(values), e.shape);
    case "int16":
      return T.tensor(Int16Array.from(values), e.shape);
    case "int8":
      return T.tensor(Int8Array.from(values), e.shape);
    case "uint8":
      return T.tensor(Uint8Array.from(values), e.shape);
    case "bool":
      return T.tensor(Uint8Array.from(values), e.shape, { dtype: "bool" });
    default:
      return T.tensor(Float64Array.from(values), e.shape, { dtype: e.dtype });
  }
}

export class GoldenCase {
  constructor(
    readonly name: string,
    private readonly raw: RawCase,
  ) {}

  /** An input as a tensor (tracked by the current tidy()). */
  input(name: string): T.Tensor {
    const e = this.raw.inputs[name];
    if (e === undefined) throw new Error(`golden case ${this.name} has no input '${name}'`);
    return decode(e);
  }

  /** An expected output as a tensor. */
  output(name = "out"): T.Tensor {
    return decode(this.expected(name));
  }

  expected(name = "out"): Encoded {
    const e = this.raw.outputs[name];
    if (e === undefined) throw new Error(`golden case ${this.name} has no output '${name}'`);
    return e;
  }

  /** Asserts shape, dtype and values of `actual` against PyTorch's output `name`. */
  check(actual: T.Tensor, name = "out", tol: Tolerance = {}): void {
    const e = this.expected(name);
    const what = `${this.name}.${name}`;
    let checked = checkedOutputs.get(this.name);
    if (checked === undefined) checkedOutputs.set(this.name, (checked = new Set()));
    checked.add(name);
    assert.deepEqual(actual.shape, e.shape, `${what}: shape [${actual.shape.join(", ")}] vs PyTorch [${e.shape.join(", ")}]`);
    assert.equal(actual.dtype, e.dtype, `${what}: dtype`);
    const d = defaultTolerance(e.dtype);
    assertClose(actual.data(), numbers(e), { atol: tol.atol ?? d.atol, rtol: tol.rtol ?? d.rtol, message: what });
  }

  /** The names of all expected outputs. */
  get outputNames(): string[] {
    return Object.keys(this.raw.outputs);
  }

  /** Asserts that check() ran (in this or an earlier test) for every output of the case. */
  assertAllChecked(): void {
    const checked = checkedOutputs.get(this.name) ?? new Set<string>();
    const missing = this.outputNames.filter((n) => !checked.has(n));
    assert.deepEqual(missing, [], `${this.name}: outputs never checked`);
  }
}

export function golden(name: string): GoldenCase {
  const raw = load()[name];
  if (raw === undefined) throw new Error(`no golden case '${name}' in ops_golden.json; rerun test/fixtures/make_ops_golden.py`);
  return new GoldenCase(name, raw);
}
