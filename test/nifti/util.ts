// Shared by the NIfTI tests: fixture paths, nibabel's expectations, temporary directories.
import { after } from "node:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// Compiled tests live in dist/test/nifti/; fixtures stay in the repository's test/fixtures/.
export const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/nifti/", import.meta.url));

export function fixture(name: string): string {
  return join(FIXTURES, name);
}

/** What nibabel read from one fixture (see test/fixtures/make_nifti_fixtures.py). */
export interface ExpectedCase {
  file: string;
  version: 1 | 2;
  endianness: "little" | "big";
  shape: number[];
  dtype: string;
  datatype_code: number;
  affine: number[][];
  qform: number[][];
  sform: number[][];
  qform_code: number;
  sform_code: number;
  qfac: number;
  zooms: number[];
  xyzt_units: [string, string];
  axcodes: string;
  slope: number;
  inter: number;
  description: string;
  data: number[];
}

export function expectedCases(): ExpectedCase[] {
  const doc = JSON.parse(readFileSync(fixture("expected.json"), "utf8")) as { cases: ExpectedCase[] };
  return doc.cases;
}

export function expectedCase(file: string): ExpectedCase {
  const c = expectedCases().find((x) => x.file === file);
  if (c === undefined) throw new Error(`no expected case for ${file}`);
  return c;
}

/** Nested rows -> row-major 16. */
export function flat(rows: number[][]): number[] {
  return rows.flat();
}

// Created when this module loads, so the cleanup hook belongs to the whole file, not to one test.
const work = mkdtempSync(join(tmpdir(), "moediff-nifti-"));
after(() => rmSync(work, { recursive: true, force: true }));
let count = 0;

/** A fresh empty directory, removed when the test file ends. */
export function freshDir(): string {
  const d = join(work, `d${count++}`);
  mkdirSync(d);
  return d;
}
