// Reading a Siemens `.grad` gradient-coil coefficient file: the text format that the HCP gradunwarp
// tool reads (github Washington-University/gradunwarp, gradunwarp/core/coeffs.py, get_siemens_grad),
// and FreeSurfer's mris_gradient_unwarp too.
//
// The format: a comment block of lines starting with '#' (it ends with "#*] END:"), a few free-text
// header lines (system name, "win_..." parameters, the coil mode, a table heading), the reference radius
//     0.250000 m = R0 ...
// in METRES, then one line per spherical-harmonic coefficient:
//     <no> A( n, m)   <value>   <x|y|z>      (cosine term: alpha_nm of that gradient axis)
//     <no> B( n, m)   <value>   <x|y|z>      (sine term: beta_nm)
// What the coefficients mean is in siemens_field.ts.
//
// gradunwarp finds these lines with regular expressions and silently skips every other line. We accept
// the same lines and are stricter, so that a damaged file does not quietly give a wrong field:
// - a line that starts like a coefficient ("<no> A(" or "<no> B(") must parse completely, and after the
//   first coefficient every non-blank, non-'#' line must be a coefficient (a bad line is an error with
//   its line number and text);
// - m <= n, n <= MAX_DEGREE, no coefficient given twice, R0 given once and > 0;
// - at least one coefficient per axis x, y and z (a real file lists all three; a missing axis means a
//   truncated or wrong file; a zero value is a valid entry for a coil without error on that axis).
// Values may carry an exponent or a '+' sign (gradunwarp's pattern needs "-?d.d"; ours is a superset).
// B(n, 0) multiplies sin(0 phi) = 0 and so has no effect, as in gradunwarp; it is accepted.
import { readFileSync } from "node:fs";

/** Highest degree n accepted (real files stop near 13-20; beyond this the file is likely not a .grad). */
export const MAX_DEGREE = 40;

export type GradAxis = "x" | "y" | "z";
export const GRAD_AXES: readonly GradAxis[] = ["x", "y", "z"];

/** One gradient axis's coefficients: alpha (A, cosine) and beta (B, sine), index n * (nmax + 1) + m. */
export interface AxisCoefficients {
  readonly alpha: Float64Array;
  readonly beta: Float64Array;
}

/** The parsed file. */
export interface GradCoefficients {
  /** Where it came from (for messages). */
  readonly source: string;
  /** Reference radius R0 in mm (the file gives metres). */
  readonly r0: number;
  /** Highest degree n listed. */
  readonly nmax: number;
  /** Per axis, arrays of (nmax + 1)^2 values, index n * (nmax + 1) + m (entries with m > n are 0). */
  readonly x: AxisCoefficients;
  readonly y: AxisCoefficients;
  readonly z: AxisCoefficients;
  /** Number of coefficient lines read. */
  readonly count: number;
}

/** A malformed .grad file: the message names the file and, where it applies, the line. */
export class GradFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GradFileError";
  }
}

const NUMBER = String.raw`[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?`;
/** A complete coefficient line. */
const COEFF_LINE = new RegExp(String.raw`^\s*(\d+)\s+([AB])\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s+(${NUMBER})\s+([xyz])\s*;?\s*$`);
/** A line that starts like a coefficient (so it must parse as one). */
const COEFF_START = /^\s*\d+\s+[AB]\s*\(/;
/** The reference radius line. */
const R0_LINE = new RegExp(String.raw`(${NUMBER})\s*m\s*=\s*R0\b`);

interface Entry {
  ab: "A" | "B";
  n: number;
  m: number;
  value: number;
  axis: GradAxis;
  line: number;
}

function quote(line: string): string {
  const t = line.trim();
  return JSON.stringify(t.length > 100 ? `${t.slice(0, 100)}...` : t);
}

/** Explains what is wrong with a line that starts like a coefficient but does not parse. */
function whyBad(line: string): string {
  const t = line.trim();
  if (!/\)/.test(t)) return "the '( n, m)' index pair is not closed";
  if (!/\(\s*\d+\s*,\s*\d+\s*\)/.test(t)) return "the index pair must be two integers '( n, m)'";
  const after = t.slice(t.indexOf(")") + 1).trim().split(/\s+/).filter((s) => s !== "");
  if (after.length === 0) return "the value and the axis (x, y or z) are missing";
  if (!new RegExp(`^${NUMBER}$`).test(after[0] as string)) return `the value '${after[0]}' is not a number`;
  if (after.length === 1) return "the axis (x, y or z) is missing after the value";
  if (!/^[xyz];?$/.test(after[1] as string)) return `the axis must be x, y or z, got '${after[1]}'`;
  return "unexpected text after the axis";
}

/** Parses the text of a .grad file; `source` names it in errors. */
export function parseGradFile(text: string, source = "coefficient file"): GradCoefficients {
  if (typeof text !== "string") throw new TypeError(`parseGradFile: text must be a string, got ${typeof text}`);
  const lines = text.split(/\r\n|\r|\n/);
  let r0m: number | undefined;
  let r0Line = 0;
  const entries: Entry[] = [];
  const seen = new Map<string, number>();
  const expected = "'<no> A( n, m) <value> <x|y|z>' or with B";
  for (let l = 0; l < lines.length; l++) {
    const line = lines[l] as string;
    const no = l + 1;
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const c = COEFF_LINE.exec(line);
    if (c === null) {
      if (COEFF_START.test(line)) {
        throw new GradFileError(`${source}: line ${no}: malformed coefficient line ${quote(line)}: ${whyBad(line)}; expected ${expected}`);
      }
      const r = R0_LINE.exec(line);
      if (r !== null && entries.length === 0) {
        if (r0m !== undefined) throw new GradFileError(`${source}: line ${no}: a second R0 line ${quote(line)} (the first is on line ${r0Line})`);
        r0m = Number(r[1]);
        r0Line = no;
        if (!(Number.isFinite(r0m) && r0m > 0)) throw new GradFileError(`${source}: line ${no}: R0 must be a positive radius in metres, got ${quote(line)}`);
        continue;
      }
      if (entries.length > 0) {
        throw new GradFileError(
          `${source}: line ${no}: ${quote(line)} is not a coefficient line; after the first coefficient every line must be ${expected} (or blank, or a '#' comment)`,
        );
      }
      continue; // free-text header line before the coefficients
    }
    const ab = c[2] as "A" | "B";
    const n = Number(c[3]);
    const m = Number(c[4]);
    const value = Number(c[5]);
    const axis = c[6] as GradAxis;
    if (n > MAX_DEGREE) throw new GradFileError(`${source}: line ${no}: degree n = ${n} in ${quote(line)} is above ${MAX_DEGREE}; is this a Siemens .grad file?`);
    if (m > n) throw new GradFileError(`${source}: line ${no}: order m = ${m} > degree n = ${n} in ${quote(line)}; a spherical harmonic needs m <= n`);
    if (!Number.isFinite(value)) throw new GradFileError(`${source}: line ${no}: the value in ${quote(line)} is not finite`);
    const key = `${ab}${n},${m}${axis}`;
    const first = seen.get(key);
    if (first !== undefined) throw new GradFileError(`${source}: line ${no}: ${ab}(${n}, ${m}) ${axis} is given twice (also on line ${first}); remove one`);
    seen.set(key, no);
    entries.push({ ab, n, m, value, axis, line: no });
  }
  if (r0m === undefined) {
    throw new GradFileError(
      `${source}: no reference radius: a Siemens .grad file has a line like ' 0.250000 m = R0' before the coefficients; is this a .grad file?`,
    );
  }
  if (entries.length === 0) {
    throw new GradFileError(`${source}: no coefficient lines (${expected}); is this a Siemens .grad file, and is it complete?`);
  }
  for (const axis of GRAD_AXES) {
    if (!entries.some((e) => e.axis === axis)) {
      throw new GradFileError(
        `${source}: no coefficients for the ${axis} gradient axis; a .grad file lists the x, y and z coils (a value of 0 is fine for an ideal axis); is the file truncated?`,
      );
    }
  }
  const nmax = Math.max(...entries.map((e) => e.n));
  const size = (nmax + 1) * (nmax + 1);
  const make = (): AxisCoefficients => ({ alpha: new Float64Array(size), beta: new Float64Array(size) });
  const coeffs = { x: make(), y: make(), z: make() };
  for (const e of entries) {
    const target = coeffs[e.axis];
    (e.ab === "A" ? target.alpha : target.beta)[e.n * (nmax + 1) + e.m] = e.value;
  }
  return { source, r0: r0m * 1000, nmax, ...coeffs, count: entries.length };
}

/** Reads and parses a .grad file. */
export function readGradFile(path: string): GradCoefficients {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = e !== null && typeof e === "object" && "code" in e ? String(e.code) : "";
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : e instanceof Error ? e.message : String(e);
    throw new GradFileError(`cannot read the coefficient file ${path}: ${why}`);
  }
  return parseGradFile(text, path);
}
