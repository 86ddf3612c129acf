// `moediff-sr gradunwarp`, run in-process through commander as main.ts would register it: outputs against
// the closed form of the single-term coil (test/fixtures/gdc_z3.grad, see field.test.ts), the --warp
// round trip through --write-warp, 4-D inputs, and the errors for bad inputs.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { registerGradunwarp } from "../../../src/cli/commands/gradunwarp.js";
import { readNifti, toVolume, writeNifti } from "../../../src/nifti/index.js";
import { readGradFile } from "../../../src/preprocess/gradunwarp/grad_file.js";
import { coefficientDisplacement } from "../../../src/preprocess/gradunwarp/displacement.js";
import { unwarpVolume } from "../../../src/preprocess/gradunwarp/unwarp.js";
import { applyToPoint, type Vec3 } from "../../../src/volume/affine.js";
import type { Volume } from "../../../src/volume/volume.js";
import { assertClose } from "../../helpers.js";

const Z3 = fileURLToPath(new URL("../../../../test/fixtures/gdc_z3.grad", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "moediff-gdc-cli-"));
after(() => rmSync(work, { recursive: true, force: true }));
const at = (name: string) => join(work, name);

/** Runs the command; returns what it printed on console.error. */
async function run(...args: string[]): Promise<string> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerGradunwarp(program);
  const lines: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    await program.parseAsync(["gradunwarp", ...args], { from: "user" });
  } finally {
    console.error = original;
  }
  return lines.join("\n");
}

async function rejects(args: string[], ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(run(...args), (e: unknown) => {
    assert.ok(e instanceof Error);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

/** Closed form of gdc_z3.grad (A(3,0) z = -0.8, R0 = 100 mm): see field.test.ts. */
function z3(p: Vec3, c: Vec3 = [0, 0, 0]): { uz: number; det: number } {
  const [x, y, z] = [p[0] - c[0], p[1] - c[1], p[2] - c[2]];
  return { uz: (-0.8 * (z ** 3 - 1.5 * z * (x * x + y * y))) / 1e4, det: 1 + (-0.8 * (3 * z * z - 1.5 * (x * x + y * y))) / 1e4 };
}

// The input: 20 x 18 x 16 voxels of 3 mm (RAS), smooth blobs, off-centre so the field matters.
const DIMS: [number, number, number] = [20, 18, 16];
const AFFINE = [3, 0, 0, -28, 0, 3, 0, -25, 0, 0, 3, -20, 0, 0, 0, 1];
const N = 20 * 18 * 16;
const input = at("in.nii.gz");
const blobs = (p: Vec3) => 100 * Math.exp(-((p[0] - 2) ** 2 + (p[1] + 1) ** 2 + (p[2] - 12) ** 2) / 150) + 40 * Math.exp(-((p[0] + 8) ** 2 + p[1] ** 2 + (p[2] + 8) ** 2) / 60);
const IN_DATA = Float32Array.from({ length: N }, (_, o) => blobs(applyToPoint(AFFINE, [o % 20, Math.floor(o / 20) % 18, Math.floor(o / 360)])));
writeNifti(input, { data: IN_DATA, dims: DIMS, affine: AFFINE });

const voxelWorld = (affine: readonly number[], dims: readonly number[], o: number) =>
  applyToPoint(affine, [o % dims[0]!, Math.floor(o / dims[0]!) % dims[1]!, Math.floor(o / (dims[0]! * dims[1]!))]);

test("IN --coeffs: OUT is the unwarped input, g = |u|, det and the warp follow the closed form", async () => {
  const log = await run(input, "--coeffs", Z3, "-o", at("out.nii.gz"), "--write-map", at("g.nii.gz"), "--write-jacobian", at("j.nii.gz"), "--write-warp", at("w.nii.gz"));
  assert.match(log, /distortion from .*gdc_z3\.grad \(R0 100 mm, 3 coefficients, degree 3\), isocentre at world 0,0,0 mm/);
  assert.match(log, /wrote .*out\.nii\.gz: 20x18x16, bspline, Jacobian intensity correction/);
  const g = readNifti(at("g.nii.gz"));
  const j = readNifti(at("j.nii.gz"));
  const w = readNifti(at("w.nii.gz"));
  assert.deepEqual(g.dims, DIMS);
  assert.deepEqual(w.dims, [...DIMS, 3]);
  assertClose(g.affine, AFFINE, { atol: 1e-5 });
  for (let o = 0; o < N; o++) {
    const e = z3(voxelWorld(AFFINE, DIMS, o));
    assertClose(g.data[o]!, Math.abs(e.uz), { atol: 2e-6, rtol: 1e-6 });
    assertClose(j.data[o]!, e.det, { atol: 2e-6, rtol: 1e-6 });
    // RAS storage: warp frames are (-x, +y, +z) in mm; u = (0, 0, uz).
    assertClose([w.data[o]!, w.data[N + o]!, w.data[2 * N + o]!], [0, 0, e.uz], { atol: 2e-6, rtol: 1e-6 });
  }
  assert.ok(Math.max(...g.data) > 0.5, "the field is not trivial on this grid");
  const coeffs = readGradFile(Z3);
  const vol: Volume = { data: IN_DATA, dims: DIMS, affine: AFFINE };
  const expected = unwarpVolume(vol, coefficientDisplacement(coeffs, vol, { jacobian: true })).image.data;
  const out = readNifti(at("out.nii.gz")).data;
  assertClose(out, expected, { atol: 1e-5, rtol: 1e-6 });
  assert.ok(Math.max(...Array.from(out, (v, o) => Math.abs(v - IN_DATA[o]!))) > 2, "unwarping changed the image (by up to 4 of 100)");
});

test("--warp W (written by --write-warp) gives the same g, det within finite differences, and the same unwarp", async () => {
  await run(input, "--coeffs", Z3, "-o", at("c_nojac.nii.gz"), "--no-jacobian", "--write-warp", at("w2.nii.gz"));
  await run("--warp", at("w2.nii.gz"), "--write-map", at("g2.nii.gz"), "--write-jacobian", at("j2.nii.gz"));
  await run(input, "--warp", at("w2.nii.gz"), "-o", at("w_nojac.nii.gz"), "--no-jacobian");
  const g2 = readNifti(at("g2.nii.gz"));
  const j2 = readNifti(at("j2.nii.gz")).data;
  assertClose(g2.affine, AFFINE, { atol: 1e-5 });
  for (let o = 0; o < N; o++) {
    const e = z3(voxelWorld(AFFINE, DIMS, o));
    assertClose(g2.data[o]!, Math.abs(e.uz), { atol: 2e-6, rtol: 1e-6 });
    // det = 1 + du_z/dz with u_z cubic in z: |d3u/dz3| = 6 |a| / R0^2 = 4.8e-4 and |d2u/dz2| = 4.8e-4 |z|,
    // |z| <= 25 mm here. Central differences (h = 3 mm) err by h^2/6 |d3u| = 7.2e-4; the one-sided ones on
    // the first and last slice by up to h/2 |d2u| + h^2/6 |d3u| = 1.8e-2 + 7.2e-4.
    const k = Math.floor(o / 360);
    assertClose(j2[o]!, e.det, { atol: k === 0 || k === 15 ? 1.8e-2 + 7.2e-4 : 7.2e-4 + 1e-6 });
  }
  assertClose(readNifti(at("w_nojac.nii.gz")).data, readNifti(at("c_nojac.nii.gz")).data, { atol: 1e-4, rtol: 1e-5 });
});

test("--like REF: maps only, on REF's grid, with the isocentre where --isocenter says", async () => {
  const refAffine = [2, 0, 0, -10, 0, 2, 0, -10, 0, 0, 2, 5, 0, 0, 0, 1];
  writeNifti(at("ref.nii"), { data: new Float32Array(8 * 7 * 9), dims: [8, 7, 9], affine: refAffine });
  const log = await run("--coeffs", Z3, "--like", at("ref.nii"), "--isocenter", "1,-2,10", "--write-map", at("g3.nii.gz"));
  assert.match(log, /isocentre at world 1,-2,10 mm/);
  assert.match(log, /maps on 8x7x9: \|u\| max/);
  const g3 = readNifti(at("g3.nii.gz"));
  assert.deepEqual(g3.dims, [8, 7, 9]);
  for (let o = 0; o < g3.data.length; o++) assertClose(g3.data[o]!, Math.abs(z3(voxelWorld(refAffine, [8, 7, 9], o), [1, -2, 10]).uz), { atol: 2e-6, rtol: 1e-6 });
});

test("a 4-D input: every frame is unwarped with the same field", async () => {
  const data = new Float32Array(2 * N);
  data.set(IN_DATA, 0);
  for (let o = 0; o < N; o++) data[N + o] = 2 * IN_DATA[o]! + 1;
  writeNifti(at("in4.nii"), { data, dims: [...DIMS, 2], affine: AFFINE } as unknown as Volume);
  await run(at("in4.nii"), "--coeffs", Z3, "-o", at("out4.nii"));
  await run(input, "--coeffs", Z3, "-o", at("out3.nii"));
  const four = readNifti(at("out4.nii"));
  assert.deepEqual(four.dims, [...DIMS, 2]);
  const one = readNifti(at("out3.nii")).data;
  assertClose(toVolume(four, 0).data, one, { atol: 1e-6 });
  const second = toVolume(readNifti(at("in4.nii")), 1);
  const coeffs = readGradFile(Z3);
  assertClose(toVolume(four, 1).data, unwarpVolume(second, coefficientDisplacement(coeffs, second, { jacobian: true })).image.data, { atol: 1e-4, rtol: 1e-6 });
});

test("bad inputs get clear errors", async () => {
  await rejects([input, "-o", at("x.nii")], /give the distortion with --coeffs FILE\.grad or with --warp/);
  await rejects([input, "-o", at("x.nii"), "--coeffs", Z3, "--warp", at("w.nii.gz")], /one of them/);
  await rejects([input, "--coeffs", Z3, "--write-map", at("x.nii")], /IN .*in\.nii\.gz given without -o OUT/);
  await rejects(["--coeffs", Z3, "-o", at("x.nii")], /-o needs the volume to unwarp/);
  await rejects(["--coeffs", Z3, "--write-map", at("x.nii")], /the maps need a grid: give IN, or --like REF/);
  await rejects(["--coeffs", Z3], /nothing to do/);
  await rejects([input, "--coeffs", Z3, "-o", at("x.img")], /-o .*x\.img: the output must be a NIfTI file named \.nii or \.nii\.gz/);
  await rejects([input, "--coeffs", Z3, "-o", at("x.nii"), "--like", at("ref.nii")], /--like sets the grid of the maps/);
  await rejects(["--warp", at("w.nii.gz"), "--isocenter", "0,0,0", "--write-map", at("x.nii")], /--isocenter applies to --coeffs only/);
  await rejects(["--coeffs", Z3, "--isocenter", "0,0", "--like", input, "--write-map", at("x.nii")], /--isocenter must be three numbers x,y,z/);
  await rejects([input, "--coeffs", Z3, "-o", at("x.nii"), "--interp", "cubic"], /--interp must be "bspline" or "trilinear"/);
  // A malformed coefficient file: the line number and the line.
  writeFileSync(at("bad.grad"), "#*] END:\n 0.25 m = R0\n  1 A( 3, 0) -0.1 z\n  2 A( 3, 1) -0.1\n  3 B( 3, 1) -0.1 y\n");
  await rejects([input, "--coeffs", at("bad.grad"), "-o", at("x.nii")], /bad\.grad: line 4: malformed coefficient line "2 A\( 3, 1\) -0\.1": the axis \(x, y or z\) is missing/);
  await rejects([input, "--coeffs", at("missing.grad"), "-o", at("x.nii")], /cannot read the coefficient file .*missing\.grad: no such file/);
  // Warps with the wrong number of frames.
  await rejects(["--warp", input, "--write-map", at("x.nii")], /--warp .*in\.nii\.gz: has dims \[20, 18, 16\] \(1 frame\); a warp is 3 frames/);
  writeNifti(at("two.nii"), { data: new Float32Array(2 * N), dims: [...DIMS, 2], affine: AFFINE } as unknown as Volume);
  await rejects(["--warp", at("two.nii"), "--write-map", at("x.nii")], /has dims \[20, 18, 16, 2\] \(2 frames\); a warp is 3 frames/);
});

test("an absolute warp (coordinates instead of displacements) is flagged", async () => {
  const data = new Float32Array(3 * N).fill(80);
  writeNifti(at("abs.nii"), { data, dims: [...DIMS, 3], affine: AFFINE } as unknown as Volume);
  const log = await run("--warp", at("abs.nii"), "--write-map", at("gabs.nii"));
  assert.match(log, /looks like an ABSOLUTE warp/);
});
