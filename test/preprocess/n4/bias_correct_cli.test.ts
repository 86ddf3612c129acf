// `moediff-sr bias-correct`, run in this process through commander (the lead registers the command in
// main.ts), on a small synthetic head: option handling, outputs, and clear errors for bad input.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { readNifti, writeNifti } from "../../../src/nifti/index.js";
import { registerBiasCorrect, parseIterations } from "../../../src/cli/commands/bias_correct.js";
import { n4BiasCorrection, resolveN4Options } from "../../../src/preprocess/n4/n4.js";
import type { Volume } from "../../../src/volume/volume.js";
import { Random } from "../../../src/util/random.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

const work = mkdtempSync(join(tmpdir(), "moediff-n4-cli-"));
after(() => rmSync(work, { recursive: true, force: true }));

const DIMS: [number, number, number] = [40, 44, 36];
const AFFINE = [2, 0, 0, -40, 0, 2, 0, -44, 0, 0, 2, -36, 0, 0, 0, 1];

/** An ellipsoidal "brain": WM core 100, GM shell 70 (wavy boundary), a CSF pocket 30, noise 1.5; background 0. */
function head(): { clean: Volume; wm: Uint8Array } {
  const r = new Random(11, "head");
  const data = new Float32Array(DIMS[0] * DIMS[1] * DIMS[2]);
  const wm = new Uint8Array(data.length);
  for (let k = 0, v = 0; k < DIMS[2]; k++) {
    for (let j = 0; j < DIMS[1]; j++) {
      for (let i = 0; i < DIMS[0]; i++, v++) {
        const d = Math.hypot((i - 19.5) / 18, (j - 21.5) / 20, (k - 17.5) / 16);
        const wave = 0.08 * Math.sin(i / 2) * Math.cos(j / 3);
        const pocket = Math.hypot((i - 17) / 3, (j - 22) / 5, (k - 18) / 3) < 1;
        if (d >= 0.97) continue;
        const level = pocket ? 30 : d < 0.6 + wave ? 100 : 70;
        if (level === 100 && d < 0.5) wm[v] = 1;
        data[v] = level + 1.5 * r.normal();
      }
    }
  }
  return { clean: { data, dims: DIMS, affine: AFFINE }, wm };
}

/** A smooth field: linear ramp plus a quadratic bump, log range about +-0.25. */
function field(): Float32Array {
  const out = new Float32Array(DIMS[0] * DIMS[1] * DIMS[2]);
  for (let k = 0, v = 0; k < DIMS[2]; k++) for (let j = 0; j < DIMS[1]; j++) for (let i = 0; i < DIMS[0]; i++, v++) {
    out[v] = Math.exp(0.2 * (i / 39 - 0.5) - 0.15 * ((j - 22) / 22) ** 2 + 0.1 * (k / 35));
  }
  return out;
}

const { clean, wm } = head();
const trueField = field();
const biased: Volume = { ...clean, data: clean.data.map((x, i) => x * trueField[i]!) };
const input = join(work, "in.nii.gz");
writeNifti(input, biased);

function cv(data: ArrayLike<number>, mask: Uint8Array): number {
  let n = 0;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) (n++, (s += data[i]!), (s2 += data[i]! ** 2));
  const mean = s / n;
  return Math.sqrt(s2 / n - mean * mean) / mean;
}

/** Runs the command in this process: the error it throws (or null) and what it printed to stderr. */
async function run(args: string[]): Promise<{ error: Error | null; stderr: string }> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerBiasCorrect(program);
  const lines: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    await program.parseAsync(["node", "moediff-sr", "bias-correct", ...args]);
    return { error: null, stderr: lines.join("\n") };
  } catch (e) {
    return { error: e as Error, stderr: lines.join("\n") };
  } finally {
    console.error = original;
  }
}

test("bias-correct writes the corrected volume and the field (input = output * field) and reports what it did", async () => {
  const out = join(work, "out.nii.gz");
  const fieldOut = join(work, "field.nii.gz");
  const r = await run([input, "-o", out, "--write-field", fieldOut, "--shrink", "2", "--iterations", "30x30x30"]);
  assert.equal(r.error, null, r.error?.message);
  assert.match(r.stderr, /bias-correct: wrote .*out\.nii\.gz and .*field\.nii\.gz: 3 levels, iterations \d+\+\d+\+\d+ = \d+ \(\d of 3 levels converged\)/);
  assert.match(r.stderr, /mask \d+ voxels, automatic \(> [\d.]+, \d+ hole voxels filled\); \d+ points after shrinking; [\d.]+ s/);
  const o = readNifti(out);
  const f = readNifti(fieldOut);
  assert.deepEqual(o.dims.slice(0, 3), DIMS);
  assertClose(o.affine, AFFINE, { atol: 1e-6 });
  assertClose(f.affine, AFFINE, { atol: 1e-6 });
  for (let i = 0; i < biased.data.length; i += 101) assertClose(o.data[i]! * f.data[i]!, biased.data[i]!, { atol: 1e-4, rtol: 1e-5 });
  // The field tracks the true one (up to scale) and the WM becomes flatter.
  const brain = Uint8Array.from(clean.data, (x) => (x > 0 ? 1 : 0));
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < brain.length; i++) {
    if (!brain[i]) continue;
    const x = Math.log(trueField[i]!);
    const y = Math.log(f.data[i]!);
    n++;
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
  }
  const corr = (sxy / n - (sx / n) * (sy / n)) / Math.sqrt((sxx / n - (sx / n) ** 2) * (syy / n - (sy / n) ** 2));
  assert.ok(corr > 0.95, `field correlation ${corr}`);
  // WM CV: the noise alone gives cv(clean) = 0.015; the field doubles it; the correction brings it back
  // to within 10% of the noise floor.
  const floor = cv(clean.data, wm);
  assert.ok(cv(biased.data, wm) > 1.8 * floor);
  assert.ok(cv(o.data, wm) < 1.1 * floor, `WM CV ${cv(biased.data, wm)} -> ${cv(o.data, wm)}, clean ${floor}`);
});

test("bias-correct with --mask uses it and says how many mask voxels it left out", async () => {
  const maskPath = join(work, "mask.nii.gz");
  // The mask covers the brain and 1 voxel of background around it: those zeros are left out.
  const m = new Float32Array(biased.data.length);
  for (let k = 0, v = 0; k < DIMS[2]; k++) for (let j = 0; j < DIMS[1]; j++) for (let i = 0; i < DIMS[0]; i++, v++) {
    if (Math.hypot((i - 19.5) / 18, (j - 21.5) / 20, (k - 17.5) / 16) < 1.02) m[v] = 1;
  }
  let zeros = 0;
  for (let i = 0; i < m.length; i++) if (m[i] === 1 && biased.data[i] === 0) zeros++;
  assert.ok(zeros > 0);
  writeNifti(maskPath, { data: m, dims: DIMS, affine: AFFINE });
  const r = await run([input, "-o", join(work, "masked.nii.gz"), "--mask", maskPath, "--shrink", "3", "--iterations", "10x10"]);
  assert.equal(r.error, null, r.error?.message);
  assert.match(r.stderr, new RegExp(`bias-correct: ${zeros} mask voxels are <= 0 or not finite and were left out of the fit`));
  assert.match(r.stderr, /mask \d+ voxels, given;/);
});

test("bias-correct rejects bad input and options with clear messages", async () => {
  const emptyMask = join(work, "empty.nii.gz");
  writeNifti(emptyMask, { data: new Float32Array(biased.data.length), dims: DIMS, affine: AFFINE });
  const otherGrid = join(work, "other.nii.gz");
  writeNifti(otherGrid, { data: new Float32Array(20 * 22 * 18).fill(1), dims: [20, 22, 18], affine: AFFINE });
  const tinyMask = join(work, "tiny.nii.gz");
  const t = new Float32Array(biased.data.length);
  for (let v = 0; v < 20; v++) t[20 + DIMS[0] * (22 + DIMS[1] * 18) + v] = 1;
  writeNifti(tinyMask, { data: t, dims: DIMS, affine: AFFINE });
  const four = join(work, "four.nii.gz");
  const twice = new Float32Array(biased.data.length * 2);
  twice.set(biased.data);
  twice.set(biased.data, biased.data.length);
  writeNifti(four, { ...readNifti(input), dims: [...DIMS, 2], data: twice } as never);
  const negative = join(work, "negative.nii.gz");
  writeNifti(negative, { data: biased.data.map((x) => -x), dims: DIMS, affine: AFFINE });
  const out = join(work, "x.nii.gz");
  const cases: [string[], RegExp][] = [
    [[input, "-o", out, "--mask", emptyMask], /mask .*empty\.nii\.gz is empty \(no nonzero voxels\)/],
    [[input, "-o", out, "--mask", otherGrid], /mask .*other\.nii\.gz is 20x22x18, the image is 40x44x36: the mask must be on the image's grid/],
    [[input, "-o", out, "--mask", tinyMask], /too few voxels: \d+ points after shrinking \d+ valid mask voxels by 4, at least 100 are needed.*smaller --shrink/],
    [[negative, "-o", out], /no positive voxels; N4 works on magnitude images/],
    [[input, "-o", out, "--iterations", "50x0x50"], /--iterations must be positive integers joined by x, one per level \(e\.g\. 50x50x50x50 for 4 levels\), got '50x0x50'/],
    [[input, "-o", out, "--bins", "2"], /--bins must be at least 4, got '2'/],
    [[input, "-o", out, "--convergence", "-1"], /--convergence must be a number >= 0, got '-1'/],
    [[input, "-o", out, "--spline-distance", "0"], /--spline-distance must be a positive distance in mm, got '0'/],
    [[input, "-o", out, "--fwhm", "abc"], /--fwhm must be a positive number \(log-intensity units\), got 'abc'/],
    [[input, "-o", out, "--shrink", "0"], /--shrink expects a positive integer, got '0'/],
    [[input, "-o", out, "--volume-index", "3"], /--volume-index 3 is out of range: .* has 1 frame/],
    [[input], /required option '-o, --output <file>' not specified/],
    [[four, "-o", out], /is 4-D with 2 frames; choose one with --volume-index 0\.\.1/],
  ];
  for (const [args, pattern] of cases) {
    const { error } = await run(args);
    assert.ok(error instanceof Error, `${args.join(" ")} must fail`);
    assert.match(error.message, pattern);
  }
});

test("the N4 options are checked by name; iteration lists parse", () => {
  assert.deepEqual(parseIterations("50x40X3"), [50, 40, 3]);
  assert.deepEqual(parseIterations("7"), [7]);
  assertThrowsMatching(() => resolveN4Options({ shrinkFactor: 2 } as never), /unknown option "shrinkFactor"/);
  assertThrowsMatching(() => resolveN4Options({ iterations: [] }), /iterations must be one or more positive integers/);
  assertThrowsMatching(() => resolveN4Options({ shrink: 1.5 }), /shrink must be a positive integer, got 1\.5/);
  assertThrowsMatching(() => resolveN4Options({ smoothing: -1 }), /smoothing must be a number >= 0, got -1/);
  assert.equal(resolveN4Options({}).splineDistance, 200);
  // A constant image inside the mask has nothing to sharpen.
  const flat: Volume = { data: new Float32Array(DIMS[0] * DIMS[1] * DIMS[2]).fill(5), dims: DIMS, affine: AFFINE };
  assertThrowsMatching(() => n4BiasCorrection(flat, { shrink: 2 }), /the image is constant \(5\) inside the mask/);
  assertThrowsMatching(() => n4BiasCorrection(flat, {}, new Uint8Array(3)), /mask has 3 voxels, the volume 63360/);
  assertThrowsMatching(() => n4BiasCorrection(flat, {}, new Uint8Array(flat.data.length)), /the mask is empty/);
});
