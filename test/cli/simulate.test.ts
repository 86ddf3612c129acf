// `moediff-sr simulate`, run as a user would (the compiled CLI next to this compiled test).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readNifti, toVolume, writeNifti } from "../../src/nifti/index.js";
import { gridFor } from "../../src/volume/affine.js";
import { Random } from "../../src/util/random.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { simulateOptionParsers } from "../../src/cli/commands/simulate.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "moediff-simulate-cli-"));
after(() => rmSync(work, { recursive: true, force: true }));

function run(...args: string[]) {
  return spawnSync(process.execPath, [main, "simulate", ...args], { encoding: "utf8", timeout: 60_000 });
}

/** 24 x 20 x 16 at 1 mm: background, CSF 20, GM 60, WM 100 (+- 1). */
const input = join(work, "hr.nii.gz");
const AFFINE = [1, 0, 0, -12, 0, 1, 0, -10, 0, 0, 1, -6, 0, 0, 0, 1];
{
  const r = new Random(1, "phantom");
  const data = new Float32Array(24 * 20 * 16);
  for (let k = 0; k < 16; k++) {
    for (let j = 0; j < 20; j++) {
      for (let i = 0; i < 24; i++) {
        const d = Math.hypot((i - 11.5) / 10, (j - 9.5) / 8, (k - 7.5) / 6);
        const level = d < 0.5 ? 100 : d < 0.75 ? 60 : d < 0.95 ? 20 : 0;
        data[i + 24 * (j + 20 * k)] = level === 0 ? 0 : level + r.uniformRange(-1, 1);
      }
    }
  }
  writeNifti(input, { data, dims: [24, 20, 16], affine: AFFINE });
}

test("simulate writes the LR image, the maps (displacement as 3 frames) and a summary", () => {
  const out = join(work, "lr.nii.gz");
  const maps = join(work, "maps");
  const r = run(input, "-o", out, "--voxel", "2,2,3", "--snr", "25", "--bias", "0.4", "--gradwarp", "1", "--seed", "3", "--write-maps", maps);
  assert.equal(r.status, 0, r.stderr);
  const lr = readNifti(out);
  const g = gridFor(toVolume(readNifti(input)), [2, 2, 3]);
  assert.deepEqual(lr.dims, [...g.dims]);
  assertClose(lr.affine, g.affine, { atol: 1e-5 });
  assert.equal(lr.datatype, "float32");
  assert.match(lr.description, /simulate voxel 2,2,3 snr 25 bias 0.4 gradwarp 1 seed 3/);
  for (const name of ["bias", "g", "jacobian"]) {
    const m = readNifti(join(maps, `${name}.nii.gz`));
    assert.deepEqual(m.dims, [...g.dims], name);
    assertClose(m.affine, g.affine, { atol: 1e-5 });
  }
  const b = readNifti(join(maps, "bias.nii.gz")).data;
  assert.ok(b.every((x) => x >= Math.exp(-0.2) - 1e-6 && x <= Math.exp(0.2) + 1e-6));
  const d = readNifti(join(maps, "displacement.nii.gz"));
  assert.deepEqual(d.dims, [...g.dims, 3]);
  // g is the magnitude of the three displacement frames, at most the requested 1 mm.
  const gm = readNifti(join(maps, "g.nii.gz")).data;
  const n = gm.length;
  for (let q = 0; q < n; q += 7) assertClose(gm[q]!, Math.hypot(d.data[q]!, d.data[n + q]!, d.data[2 * n + q]!), { atol: 1e-6, rtol: 1e-5 });
  assert.ok(Math.max(...gm) <= 1 + 1e-6);
  assert.match(r.stdout, /noise\s+Rician, sigma 4\.\d+ = WM mean 10\d\.?\d* \(estimated\) \/ SNR 25/);
  assert.match(r.stdout, /LR grid 12x10x5 at 2x2x3 mm/);
  assert.match(r.stdout, /maps\s+.*bias\.nii\.gz g\.nii\.gz jacobian\.nii\.gz displacement\.nii\.gz/);
});

test("same seed, same bytes; another seed, other bytes; --on-hr-grid returns the input grid", () => {
  const a = join(work, "a.nii");
  const b = join(work, "b.nii");
  const c = join(work, "c.nii");
  for (const [file, seed] of [[a, "7"], [b, "7"], [c, "8"]] as const) {
    const r = run(input, "-o", file, "--seed", seed, "--gradwarp", "0.5", "--wm-mean", "100");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /WM mean 100 \(given\)/);
  }
  assert.ok(readFileSync(a).equals(readFileSync(b)));
  assert.ok(!readFileSync(a).equals(readFileSync(c)));
  const hr = join(work, "hr_grid.nii.gz");
  const r = run(input, "-o", hr, "--on-hr-grid", "--snr", "inf", "--slice-axis", "k", "--slice-profile", "rect");
  assert.equal(r.status, 0, r.stderr);
  const im = readNifti(hr);
  assert.deepEqual(im.dims, [24, 20, 16]);
  assertClose(im.affine, AFFINE, { atol: 1e-6 });
  assert.match(r.stdout, /noise\s+none/);
  assert.match(r.stdout, /2-D multi-slice along axis 2, rect profile/);
});

test("bad values get a clear message and exit code 1, and nothing is written", () => {
  const out = join(work, "never.nii.gz");
  const cases: [string[], RegExp][] = [
    [["--snr", "abc"], /--snr must be a positive number \(or 'inf' for no noise\), got 'abc'/],
    [["--gradwarp", "500"], /folds this/],
    [["--slice-thickness", "3"], /--slice-profile and --slice-thickness need --slice-axis/],
  ];
  for (const [args, re] of cases) {
    const r = run(input, "-o", out, ...args);
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /^\s+at .*:\d+:\d+\)?$/m);
  }
  const missing = run(input);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /required option '-o, --output <file>' not specified/);
  assert.ok(!existsSync(out));
});

test("the option parsers accept the documented forms and name bad values", () => {
  const p = simulateOptionParsers;
  assert.equal(p.voxel("1.5"), 1.5);
  assert.deepEqual(p.voxel("1,1.2,3"), [1, 1.2, 3]);
  assert.equal(p.snr("20"), 20);
  assert.equal(p.snr("inf"), Infinity);
  assert.equal(p.snr("Infinity"), Infinity);
  assert.equal(p.seed("4294967295"), 4294967295);
  assert.equal(p.sliceAxis("k"), 2);
  assert.equal(p.sliceAxis("0"), 0);
  assert.equal(p.sliceProfile("rect"), "rect");
  assert.equal(p.bias("0"), 0);
  const bad: [() => unknown, RegExp][] = [
    [() => p.voxel("1.5,0,2"), /--voxel must be a positive number of mm or three of them as x,y,z, got '0'/],
    [() => p.voxel("1,2"), /--voxel must be .* got '1,2'/],
    [() => p.snr("0"), /--snr must be a positive number \(or 'inf' for no noise\), got '0'/],
    [() => p.snr(""), /--snr must be a positive number/],
    [() => p.seed("-1"), /--seed must be an integer from 0 to 4294967295, got '-1'/],
    [() => p.seed("1.5"), /got '1.5'/],
    [() => p.seed("4294967296"), /got '4294967296'/],
    [() => p.bias("-0.2"), /--bias must be a number >= 0, got '-0.2'/],
    [() => p.gradwarp("x"), /--gradwarp must be a number >= 0, got 'x'/],
    [() => p.wmMean("0"), /--wm-mean must be a positive number, got '0'/],
    [() => p.sliceAxis("3"), /--slice-axis must be 0, 1 or 2 \(or i, j, k/],
    [() => p.sliceProfile("sinc"), /--slice-profile must be "gaussian" or "rect", got 'sinc'/],
  ];
  for (const [f, re] of bad) assertThrowsMatching(f, re);
});
