// `moediff-sr register MOVING FIXED -o OUT`, through commander as main.ts runs it (the lead wires the
// command into main.ts): output on the fixed grid, the transform JSON, the summary, option errors.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { readNifti, toVolume } from "../../../src/nifti/index.js";
import { resample, resampleLike } from "../../../src/volume/resample.js";
import { registerRegister, registerOptionParsers } from "../../../src/cli/commands/register.js";
import { resampleMoving } from "../../../src/preprocess/register/transform_file.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";
import { phantom, writeVolume } from "../../data/phantom.js";

const work = mkdtempSync(join(tmpdir(), "moediff-register-cli-"));
after(() => rmSync(work, { recursive: true, force: true }));

const fixedVolume = phantom();
const fixedPath = writeVolume(join(work, "fixed.nii.gz"), fixedVolume);
// The same phantom moved 2 mm along y (T(p) = p + 2y), on a 1.25 mm grid.
const movingVolume = resample(
  { ...fixedVolume, affine: fixedVolume.affine.map((x, i) => (i === 7 ? x + 2 : x)) },
  { dims: [20, 22, 16], affine: [1.25, 0, 0, -11.875, 0, 1.25, 0, -13.125, 0, 0, 1.25, -9.375, 0, 0, 0, 1] },
);
const movingPath = writeVolume(join(work, "moving.nii.gz"), movingVolume);

async function run(...args: string[]): Promise<{ error: Error | null; stdout: string[] }> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerRegister(program);
  const stdout: string[] = [];
  const log = console.log;
  console.log = (...xs: unknown[]) => void stdout.push(xs.join(" "));
  try {
    await program.parseAsync(["node", "moediff-sr", "register", ...args]);
    return { error: null, stdout };
  } catch (e) {
    return { error: e as Error, stdout };
  } finally {
    console.log = log;
  }
}

test("register writes MOVING on FIXED's grid, the transform JSON and a summary", async () => {
  const out = join(work, "out.nii.gz");
  const tj = join(work, "t.json");
  const r = await run(movingPath, fixedPath, "-o", out, "--write-transform", tj, "--levels", "2x1", "--iterations", "30x15", "--interpolation", "trilinear");
  assert.equal(r.error, null, r.error?.message);
  const fixed = toVolume(readNifti(fixedPath));
  const o = readNifti(out);
  assert.deepEqual(o.dims, [...fixed.dims]);
  assertClose(o.affine, fixed.affine, { atol: 1e-5 });
  // The registered image matches the fixed one far better than the unregistered one does.
  const relError = (data: ArrayLike<number>): number => {
    let num = 0;
    let den = 0;
    fixed.data.forEach((v, q) => {
      num += (data[q]! - v) ** 2;
      den += v * v;
    });
    return num / den;
  };
  // (Resampling twice blurs the phantom's fine texture: the true transform is the reference.)
  const registered = relError(o.data);
  const truth = relError(resampleMoving(movingVolume, fixed, [1, 0, 0, 0, 0, 1, 0, 2, 0, 0, 1, 0, 0, 0, 0, 1], "trilinear").data);
  const unregistered = relError(resampleLike(movingVolume, fixed).data);
  assert.ok(registered < 1.1 * truth && registered < unregistered / 4, `relative squared error ${registered} registered, ${truth} with the true transform, ${unregistered} unregistered`);
  const doc = JSON.parse(readFileSync(tj, "utf8")) as { matrix: number[][]; translation_mm: number[]; moving: string; levels: unknown[] };
  assert.equal(doc.moving, movingPath);
  assert.equal(doc.levels.length, 2);
  assert.ok(Math.abs(doc.translation_mm[1]! - 2) < 0.3, `y translation ${doc.translation_mm[1]}`);
  const text = r.stdout.join("\n");
  assert.match(text, /^moving +.*moving\.nii\.gz: 20x22x16 at 1\.25x1\.25x1\.25 mm$/m);
  assert.match(text, /^metric +ncc, init com, overlap \d+\.\d% as given, \d+\.\d% registered$/m);
  assert.match(text, /^level 1 +shrink 2, smoothing 1 mm, \d+ points, \d+ iterations.*, cost -0\.9\d+, [\d.]+ s$/m);
  assert.match(text, /^rotation +.* deg about x, y, z \(R = Rz Ry Rx, about /m);
  assert.match(text, /^translation +-?[\d.]+, [\d.]+, -?[\d.]+ mm$/m);
  assert.match(text, /^transform +.*t\.json$/m);
});

test("register refuses non-overlapping volumes and bad options with clear errors, writing nothing", async () => {
  const far = writeVolume(join(work, "far.nii.gz"), { ...movingVolume, affine: movingVolume.affine.map((x, i) => (i === 11 ? x + 400 : x)) });
  const out = join(work, "never.nii.gz");
  const r = await run(far, fixedPath, "-o", out);
  assert.match(r.error?.message ?? "", /the volumes do not overlap: check they are of the same subject\/space/);
  assert.equal(existsSync(out), false);
  const p = registerOptionParsers;
  assertThrowsMatching(() => p.levels("4x0x1"), /--levels expects positive integer shrink factors separated by x \(e\.g\. 4x2x1\), got '4x0x1'/);
  assertThrowsMatching(() => p.iterations("100x"), /--iterations expects positive integers separated by x/);
  assertThrowsMatching(() => p.metric("cc"), /--metric must be ncc, mi, got 'cc'/);
  assertThrowsMatching(() => p.init("moments"), /--init must be none, com, geometry, got 'moments'/);
  assertThrowsMatching(() => p.minOverlap("1.5"), /--min-overlap expects a fraction in \(0, 1\], got '1\.5'/);
  assert.deepEqual(p.smoothing("2x1x0"), [2, 1, 0]);
  const mismatch = await run(movingPath, fixedPath, "-o", out, "--levels", "2x1", "--iterations", "10x10x10");
  assert.match(mismatch.error?.message ?? "", /give one shrink factor, smoothing sigma and iteration count per level; got 2 levels/);
  assert.equal(existsSync(out), false);
});
