// `moediff-sr info FILE` and `moediff-sr convert`, run as a user would.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { readNifti } from "../../src/nifti/index.js";
import { assertClose } from "../helpers.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/nifti/", import.meta.url));
const fx = (name: string) => join(FIXTURES, name);
const work = mkdtempSync(join(tmpdir(), "moediff-nifti-cli-"));
after(() => rmSync(work, { recursive: true, force: true }));

function run(args: string[], nodeArgs: string[] = []) {
  return spawnSync(process.execPath, [...nodeArgs, main, ...args], { encoding: "utf8", timeout: 60_000 });
}

/** No stack trace lines ("    at f (file.js:1:2)") in what a user sees. */
function assertNoStack(s: string): void {
  assert.doesNotMatch(s, /^\s+at .*:\d+:\d+\)?$/m);
}

interface InfoJson {
  file: string;
  format: string;
  byteOrder: string;
  compressed: boolean;
  dims: number[];
  frames: number;
  voxelSize: number[];
  datatype: string;
  datatypeCode: number;
  orientation: string;
  affine: number[][];
  affineSource: string;
  qformCode: number;
  sformCode: number;
  qfac: number;
  scaling: { slope: number; inter: number; applied: boolean };
  range: { min: number; max: number };
  nonFiniteZeroed: number;
  description: string;
}

test("info FILE --json: dims, voxel size, datatype, orientation, affine, codes, range", () => {
  const r = run(["info", fx("n1_be_int16.nii"), "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout) as InfoJson;
  const im = readNifti(fx("n1_be_int16.nii"));
  assert.equal(info.format, "NIfTI-1");
  assert.equal(info.byteOrder, "big");
  assert.equal(info.compressed, false);
  assert.deepEqual(info.dims, [5, 4, 3]);
  assert.equal(info.frames, 1);
  assertClose(info.voxelSize, [2, 2.5, 3]);
  assert.equal(info.datatype, "int16");
  assert.equal(info.datatypeCode, 4);
  assert.equal(info.orientation, "LAS");
  assert.deepEqual(info.affine, [
    [-2, 0, 0, 40],
    [0, 2.5, 0, -50],
    [0, 0, 3, -20],
    [0, 0, 0, 1],
  ]);
  assert.equal(info.affineSource, "sform");
  assert.equal(info.qformCode, 1);
  assert.equal(info.sformCode, 2);
  assert.equal(info.qfac, -1);
  assert.deepEqual(info.range, { min: -32768, max: 32767 });
  assert.equal(info.range.min, Math.min(...im.data));
  assert.equal(info.scaling.applied, false);
});

test("info FILE --json on a scaled 4-D gzip file", () => {
  const r = run(["info", fx("n1_4d.nii.gz"), "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout) as InfoJson;
  assert.equal(info.compressed, true);
  assert.deepEqual(info.dims, [5, 4, 3, 2]);
  assert.equal(info.frames, 2);
  const s = JSON.parse(run(["info", fx("n1_scaled_int16.nii"), "--json"]).stdout) as InfoJson;
  assert.deepEqual(s.scaling, { slope: 0.5, inter: -10, applied: true });
  assert.deepEqual(s.range, { min: -32768 * 0.5 - 10, max: 32767 * 0.5 - 10 });
});

test("info FILE prints a readable summary", () => {
  const r = run(["info", fx("n1_qform_only_qfac.nii")]);
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^format\s+NIfTI-1, little-endian$/m);
  assert.match(out, /^dims\s+5 x 4 x 3$/m);
  assert.match(out, /^voxel size\s+2 x 2 x 1\.5 mm$/m);
  assert.match(out, /^datatype\s+float32 \(code 16\)$/m);
  assert.match(out, /^orientation\s+LAS$/m);
  assert.match(out, /^qform code\s+1 \(scanner\), qfac -1$/m);
  assert.match(out, /^sform code\s+0 \(unknown\)$/m);
  assert.match(out, /^affine\s+voxel to world \(mm\), from the qform:$/m);
  assert.match(out, /^\s+0\.0000\s+0\.0000\s+0\.0000\s+1\.0000$/m);
  assert.match(out, /^range\s+-12345\.7 to [\d.]+$/m);
  const four = run(["info", fx("n1_4d.nii.gz")]);
  assert.match(four.stdout, /^dims\s+5 x 4 x 3 x 2 frames$/m);
  assert.match(four.stdout, /^format\s+NIfTI-1, little-endian, gzip$/m);
});

test("info FILE does not load the tensor engine; info without FILE does", () => {
  // A module hook that refuses anything under src/torch/ (and any .node addon),
  // as if the native addon were missing.
  const hooks = join(work, "no_engine_hooks.mjs");
  writeFileSync(
    hooks,
    `export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (/\\/src\\/torch\\/|\\.node$/.test(r.url)) throw new Error("engine blocked: " + r.url);
  return r;
}
`,
  );
  const register = join(work, "register_hooks.mjs");
  writeFileSync(register, `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  const nodeArgs = ["--import", pathToFileURL(register).href];

  const r = run(["info", fx("n1_int16.nii"), "--json"], nodeArgs);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual((JSON.parse(r.stdout) as InfoJson).dims, [5, 4, 3]);
  const out = join(work, "engineless.nii.gz");
  const c = run(["convert", fx("n1_int16.nii"), out], nodeArgs);
  assert.equal(c.status, 0, c.stderr);
  assert.ok(existsSync(out));

  // The hook does block the engine: plain `info` fails under it, cleanly.
  const e = run(["info", "--json"], nodeArgs);
  assert.equal(e.status, 1);
  assert.match(e.stderr, /^moediff-sr: engine blocked: .*\/src\/torch\//);
  assertNoStack(e.stderr);
  // ... and help still lists every command, the demo marked unavailable.
  const h = run(["--help"], nodeArgs);
  assert.equal(h.status, 0, h.stderr);
  assert.match(h.stdout, /demo .*unavailable: the tensor engine did not load/);
  assert.match(h.stdout, /info \[options\] \[file\]/);
  assert.match(h.stdout, /convert \[options\] <in> <out>/);
});

test("info with a bad file: a clear message, exit code 1, no stack trace", () => {
  const bad = join(work, "notes.nii");
  writeFileSync(bad, "these are not voxels ".repeat(30));
  const r = run(["info", bad]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^moediff-sr: nifti: .*notes\.nii: not a NIfTI file: sizeof_hdr/);
  assertNoStack(r.stderr);
  assert.equal(r.stdout, "");
  const missing = run(["info", join(work, "missing.nii.gz"), "--json"]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /missing\.nii\.gz: cannot read the file: no such file/);
  assertNoStack(missing.stderr);
});

test("info --non-finite zero reads a file with NaNs", () => {
  const p = join(work, "nan.nii");
  // A float32 .nii written by hand: the fixture with its first voxel replaced.
  const bytes = new Uint8Array(352 + 240);
  bytes.set(new Uint8Array(readFileSync(fx("n1_float32.nii"))));
  new DataView(bytes.buffer).setFloat32(352, NaN, true);
  writeFileSync(p, bytes);
  const r = run(["info", p, "--json"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /1 of 60 voxels are not finite \(1 NaN, 0 Inf.*--non-finite zero/);
  const z = run(["info", p, "--json", "--non-finite", "zero"]);
  assert.equal(z.status, 0, z.stderr);
  assert.equal((JSON.parse(z.stdout) as InfoJson).nonFiniteZeroed, 1);
  const bad = run(["info", p, "--non-finite", "maybe"]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--non-finite must be "error" or "zero", got 'maybe'/);
});

test("convert IN OUT --dtype: same grid and affine, the requested datatype", () => {
  const src = readNifti(fx("n1_sform_and_qform.nii"));
  for (const [dtype, ext] of [
    ["int16", ".nii"],
    ["float64", ".nii.gz"],
    ["uint8", ".nii"],
  ] as const) {
    const out = join(work, `conv_${dtype}${ext}`);
    const r = run(["convert", fx("n1_sform_and_qform.nii"), out, "--dtype", dtype]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^wrote .*conv_${dtype}.*: 5x4x3 ${dtype}, NIfTI-1${ext === ".nii.gz" ? ", gzip" : ""}, RAS, \\d+ bytes$`, "m"));
    const im = readNifti(out);
    assert.equal(im.datatype, dtype);
    assert.equal(im.compressed, ext === ".nii.gz");
    assert.deepEqual([...im.dims], [5, 4, 3]);
    assert.deepEqual([...im.affine], [...src.affine]);
    assert.equal(im.sformCode, 4);
    if (dtype === "float64") assert.deepEqual([...im.data], [...src.data]);
    if (dtype === "uint8") assert.match(r.stderr, /warning: \d+ values were outside the uint8 range and were clamped/);
    if (dtype === "int16") assert.match(r.stderr, /note: \d+ non-integer values were rounded to int16 \(halves away from zero\)/);
  }
  assert.deepEqual(readdirSync(work).filter((n) => n.endsWith(".tmp")), []);
});

test("convert keeps 4-D frames and can write NIfTI-2", () => {
  const out = join(work, "four.nii");
  const r = run(["convert", fx("n1_4d.nii.gz"), out, "--nifti2", "--description", "converted"]);
  assert.equal(r.status, 0, r.stderr);
  const im = readNifti(out);
  const src = readNifti(fx("n1_4d.nii.gz"));
  assert.equal(im.version, 2);
  assert.deepEqual([...im.dims], [5, 4, 3, 2]);
  assert.deepEqual([...im.data], [...src.data]);
  assert.equal(im.description, "converted");
});

test("convert errors: bad dtype, bad input, bad output name", () => {
  const d = run(["convert", fx("n1_int16.nii"), join(work, "x.nii"), "--dtype", "complex64"]);
  assert.equal(d.status, 1);
  assert.match(d.stderr, /--dtype must be one of uint8, int8, int16, uint16, int32, float32, float64, got 'complex64'/);
  assertNoStack(d.stderr);
  const i = run(["convert", join(work, "none.nii"), join(work, "x.nii")]);
  assert.equal(i.status, 1);
  assert.match(i.stderr, /none\.nii: cannot read the file: no such file/);
  const o = run(["convert", fx("n1_int16.nii"), join(work, "x.img")]);
  assert.equal(o.status, 1);
  assert.match(o.stderr, /^moediff-sr: OUTPUT .*x\.img: the output must be a NIfTI file named \.nii or \.nii\.gz \(e\.g\. x\.nii\.gz\)$/m);
  assertNoStack(o.stderr);
  const m = run(["convert", fx("n1_int16.nii")]);
  assert.equal(m.status, 1);
  assert.match(m.stderr, /missing required argument 'out'/);
  assert.equal(existsSync(join(work, "x.nii")), false);
});
