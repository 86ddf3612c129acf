// Parsing Siemens .grad coefficient files: the fixtures, the layout of the arrays, and malformed files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { GradFileError, parseGradFile, readGradFile } from "../../../src/preprocess/gradunwarp/grad_file.js";
import { assertThrowsMatching } from "../../helpers.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../../../test/fixtures/${name}`, import.meta.url));

/** A minimal well-formed file around the given coefficient lines. */
function file(coefficientLines: string, r0Line = " 0.250000 m = R0 = radius"): string {
  return ["#*[ Script", "#*] END:", "", " TEST coil", " win_low = 0, win_high = 0;", r0Line, " 0 = CoSyMode", " no. cf. value axis", " ------", coefficientLines].join("\n");
}

const THREE_AXES = "  1 A( 3, 0)  -0.1  z\n  2 A( 3, 1)  -0.09  x\n  3 B( 3, 1)  -0.08  y";

test("the multi-term fixture: R0 in mm, degree, and every coefficient in its (n, m) slot", () => {
  const c = readGradFile(fixture("gdc_multi.grad"));
  assert.equal(c.r0, 250);
  assert.equal(c.nmax, 5);
  assert.equal(c.count, 11);
  const at = (n: number, m: number) => n * 6 + m;
  assert.equal(c.z.alpha[at(3, 0)], -0.085);
  assert.equal(c.z.alpha[at(5, 0)], -0.031);
  assert.equal(c.z.alpha[at(2, 0)], 0.012);
  assert.equal(c.x.alpha[at(3, 1)], -0.094);
  assert.equal(c.x.alpha[at(3, 3)], 0.017);
  assert.equal(c.x.beta[at(2, 1)], 0.007);
  assert.equal(c.y.beta[at(3, 1)], -0.09);
  assert.equal(c.y.alpha[at(4, 2)], 0.009);
  // Everything else is zero: 11 non-zero values in total over the six arrays.
  let nonzero = 0;
  for (const a of [c.x, c.y, c.z]) for (const arr of [a.alpha, a.beta]) for (const v of arr) if (v !== 0) nonzero++;
  assert.equal(nonzero, 11);
  assert.equal(c.x.alpha.length, 36);
});

test("CRLF line ends, exponents, '+' signs, tabs and a trailing ';' are accepted; R0 may be an integer", () => {
  const c = parseGradFile(file("  1 A(3,0)\t+1.5e-2 z;\r\n  2 A( 3, 1) -9E-2 x\r\n  3 B(3 ,1) 0.08 y\r\n", " 1 m = R0"), "t.grad");
  assert.equal(c.r0, 1000);
  assert.equal(c.z.alpha[3 * 4 + 0], 0.015);
  assert.equal(c.x.alpha[3 * 4 + 1], -0.09);
  assert.equal(c.y.beta[3 * 4 + 1], 0.08);
});

test("no R0 line: an error saying what the line looks like", () => {
  assertThrowsMatching(() => parseGradFile(file(THREE_AXES, " radius unknown"), "a.grad"), /a\.grad: no reference radius/, /m = R0/);
});

test("R0 must be positive and given once", () => {
  assertThrowsMatching(() => parseGradFile(file(THREE_AXES, " 0.000 m = R0"), "a.grad"), /a\.grad: line 6: R0 must be a positive radius/);
  assertThrowsMatching(() => parseGradFile(file(THREE_AXES, " 0.25 m = R0\n 0.3 m = R0"), "a.grad"), /line 7: a second R0 line .* first is on line 6/);
});

test("no coefficient lines at all", () => {
  assertThrowsMatching(() => parseGradFile(file(""), "empty.grad"), /empty\.grad: no coefficient lines/);
  assertThrowsMatching(() => parseGradFile("", "blank.grad"), /blank\.grad: no reference radius/);
});

test("a malformed coefficient line: its line number, its text and what is wrong", () => {
  // The coefficient block starts on line 10 of file().
  const cases: [string, RegExp][] = [
    ["  1 A( 3, 0)  -0.1  z\n  2 A( 3, 1)  abc  x", /line 11: malformed coefficient line "2 A\( 3, 1\)  abc  x": the value 'abc' is not a number/],
    ["  1 A( 3, 0)  -0.1  z\n  2 A( 3, 1)  -0.09", /line 11: .*the axis \(x, y or z\) is missing/],
    ["  1 A( 3, 0)  -0.1  w", /line 10: .*the axis must be x, y or z, got 'w'/],
    ["  1 A( 3, 0  -0.1  z", /line 10: .*index pair is not closed/],
    ["  1 B( 3, x)  -0.1  z", /line 10: .*two integers/],
    ["  1 A( 3, 0)", /line 10: .*the value and the axis .* are missing/],
  ];
  for (const [lines, pattern] of cases) {
    assertThrowsMatching(() => parseGradFile(file(lines), "bad.grad"), /^bad\.grad: /, pattern);
  }
});

test("after the first coefficient, a line that is not a coefficient is an error; comments and blanks are not", () => {
  assertThrowsMatching(() => parseGradFile(file(`${THREE_AXES}\n garbage here`), "g.grad"), /g\.grad: line 13: "garbage here" is not a coefficient line/);
  const c = parseGradFile(file(`${THREE_AXES}\n\n# a comment\n   \n`), "g.grad");
  assert.equal(c.count, 3);
});

test("m > n, a degree above the limit, a duplicate: errors with the line", () => {
  assertThrowsMatching(() => parseGradFile(file(`${THREE_AXES}\n  4 A( 2, 3) 0.1 x`), "m.grad"), /line 13: order m = 3 > degree n = 2/);
  assertThrowsMatching(() => parseGradFile(file(`${THREE_AXES}\n  4 A(41, 0) 0.1 z`), "n.grad"), /line 13: degree n = 41 .* above 40/);
  assertThrowsMatching(() => parseGradFile(file(`${THREE_AXES}\n  4 A( 3, 0) 0.2 z`), "d.grad"), /line 13: A\(3, 0\) z is given twice \(also on line 10\)/);
});

test("an axis without any coefficient is an error (a truncated file); a listed zero is fine", () => {
  assertThrowsMatching(() => parseGradFile(file("  1 A( 3, 0) -0.1 z\n  2 A( 3, 1) -0.09 x"), "t.grad"), /t\.grad: no coefficients for the y gradient axis/);
  const c = readGradFile(fixture("gdc_z3.grad"));
  assert.equal(c.r0, 100);
  assert.equal(c.z.alpha[3 * 4 + 0], -0.8);
  assert.equal(c.count, 3);
});

test("reading: a missing file or a directory is a GradFileError naming the path", () => {
  assert.throws(() => readGradFile("/nonexistent/coil.grad"), (e: unknown) => e instanceof GradFileError && /cannot read the coefficient file \/nonexistent\/coil\.grad: no such file/.test(e.message));
  assertThrowsMatching(() => readGradFile(fileURLToPath(new URL(".", import.meta.url))), /it is a directory/);
});
