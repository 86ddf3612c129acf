// `moediff-sr enhance` and `moediff-sr baseline` in-process on a tiny model directory: outputs on the
// requested grid, the --explain directory (and `figures experts` reading it), the refusals, which
// leave no output file behind, and the output header (the input's transform codes, version, model hash).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { stderrOf } from "./in_process.js";
import { registerEnhance } from "../../src/cli/commands/enhance.js";
import { registerBaseline } from "../../src/cli/commands/baseline.js";
import { registerFigures } from "../../src/cli/commands/figures.js";
import { readNifti, toVolume, writeNifti } from "../../src/nifti/index.js";
import { phantom, tempDir, writeVolume } from "../data/phantom.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";
import { modelHash } from "../../src/model_dir/hash.js";

let dir: string;
let cleanup: () => void;
let run: string;
let lrPath: string;
let refPath: string;
const lrAffine = [2, 0, 0, -29, 0, 2, 0, -35, 0, 0, 2, -11, 0, 0, 0, 1];

before(() => {
  ({ dir, cleanup } = tempDir("moediff-enhance-cli-"));
  run = writeTinyModelDir(join(dir, "run"));
  lrPath = writeVolume(join(dir, "lr.nii.gz"), phantom([30, 36, 12], lrAffine));
  refPath = writeVolume(join(dir, "ref.nii.gz"), phantom([40, 48, 16], [1.5, 0, 0, -29.25, 0, 1.5, 0, -35.25, 0, 0, 1.5, -11.25, 0, 0, 0, 1]));
});
after(() => cleanup());

const cli = (args: string[]): Promise<string[]> => stderrOf([registerEnhance, registerBaseline, registerFigures], args);

test("enhance --like REF --explain DIR: the output and every explain file on the reference grid; figures reads the directory", async () => {
  const out = join(dir, "sr.nii.gz");
  const ex = join(dir, "explain");
  const said = await cli(["enhance", lrPath, "-o", out, "--model", run, "--like", refPath, "--steps", "2", "--seed", "1", "--explain", ex]);
  assert.match(said.join("\n"), /wrote .*sr\.nii\.gz: 40x48x16 at 1\.5x1\.5x1\.5 mm; \d+ of 16 slices had signal/);
  const sr = readNifti(out);
  const ref = readNifti(refPath);
  assert.deepEqual(sr.dims.slice(0, 3), [40, 48, 16]);
  sr.affine.forEach((v, i) => assert.ok(Math.abs(v - (ref.affine[i] as number)) < 1e-6));
  assert.deepEqual(readdirSync(ex).sort(), ["expert_E1.nii.gz", "expert_E2.nii.gz", "expert_E3.nii.gz", "explain.json", "gate_E1.nii.gz", "gate_E2.nii.gz", "gate_E3.nii.gz"]);
  const meta = JSON.parse(readFileSync(join(ex, "explain.json"), "utf8")) as { experts: number[]; gating: string; axis: number; mode: string };
  assert.deepEqual(meta.experts, [1, 2, 3]);
  assert.equal(meta.axis, 2);
  assert.equal(meta.mode, "joint");
  const png = join(dir, "experts.png");
  await cli(["figures", "experts", "--explain", ex, "--ref", refPath, "-o", png]);
  assert.ok(existsSync(png));
});

test("enhance refuses a 4-D input without --volume-index, --skip-below without --async, and --voxel with --like; nothing is written", async () => {
  const v = toVolume(readNifti(lrPath));
  const four = join(dir, "four.nii.gz");
  const data = new Float32Array(v.data.length * 2);
  data.set(v.data);
  data.set(v.data, v.data.length);
  writeNifti(four, { ...readNifti(lrPath), dims: [30, 36, 12, 2], data } as never);
  const out = join(dir, "never.nii.gz");
  await assert.rejects(cli(["enhance", four, "-o", out, "--model", run]), /4-D with 2 frames; choose one with --volume-index 0\.\.1/);
  await assert.rejects(cli(["enhance", lrPath, "-o", out, "--model", run, "--skip-below", "0.1"]), /--skip-below needs --async/);
  await assert.rejects(cli(["enhance", lrPath, "-o", out, "--model", run, "--voxel", "1", "--like", refPath]), /--voxel or --like, not both/);
  await assert.rejects(cli(["enhance", lrPath, "-o", out, "--model", join(dir, "nowhere")]), /model directory .* does not exist/);
  await assert.rejects(cli(["enhance", lrPath, "-o", out, "--model", run, "--sampler", "euler"]), /--sampler must be ddim or ddpm, got 'euler'/);
  assert.ok(!existsSync(out));
  // the 4-D input with a frame chosen works
  await cli(["enhance", four, "-o", out, "--model", run, "--volume-index", "1", "--steps", "1", "--voxel", "2"]);
  assert.deepEqual(readNifti(out).dims.slice(0, 3), [30, 36, 12]);
});

test("baseline: input (nearest), trilinear and bspline on the --like grid or at --voxel; refusals", async () => {
  // A linear ramp along x: trilinear and B-spline reproduce it inside the field of view; nearest shows the LR voxels.
  const ramp = { data: new Float32Array(30 * 36 * 12), dims: [30, 36, 12] as [number, number, number], affine: lrAffine };
  for (let q = 0; q < ramp.data.length; q++) ramp.data[q] = 10 + 3 * (q % 30);
  const rampPath = writeVolume(join(dir, "ramp.nii.gz"), ramp);
  const world = (v: { affine: readonly number[] }, i: number): number => (v.affine[0] as number) * i + (v.affine[3] as number);
  for (const method of ["input", "trilinear", "bspline"]) {
    const out = join(dir, `base_${method}.nii.gz`);
    await cli(["baseline", rampPath, "--method", method, "--like", refPath, "-o", out]);
    const b = toVolume(readNifti(out));
    assert.deepEqual(b.dims, [40, 48, 16]);
    for (const i of [12, 17, 24]) { // away from the edges, where the B-spline's mirror boundary bends a ramp
      const x = world(b, i); // world x of output column i
      const lrI = (x + 29) / 2; // its LR voxel coordinate
      const want = method === "input" ? 10 + 3 * Math.round(lrI) : 10 + 3 * lrI;
      const got = b.data[i + 40 * (24 + 48 * 8)] as number;
      assert.ok(Math.abs(got - want) < 1e-3, `${method} at column ${i}: ${got} vs ${want}`);
    }
  }
  const out = join(dir, "base_voxel.nii.gz");
  await cli(["baseline", rampPath, "--method", "trilinear", "--voxel", "1", "-o", out]);
  assert.deepEqual(readNifti(out).dims.slice(0, 3), [60, 72, 24]);
  const never = join(dir, "base_never.nii.gz");
  await assert.rejects(cli(["baseline", rampPath, "--method", "trilinear", "-o", never]), /--voxel MM or --like/);
  await assert.rejects(cli(["baseline", rampPath, "--method", "lanczos", "--voxel", "1", "-o", never]), /--method must be one of trilinear, bspline, input/);
  assert.ok(!existsSync(never));
});

test("enhance and baseline keep the input's sform/qform codes (MNI, 4); the description names the version and the model's hash", async () => {
  const mni = join(dir, "mni.nii.gz");
  writeNifti(mni, phantom([30, 36, 12], lrAffine), { sformCode: 4, qformCode: 4 });
  const out = join(dir, "mni_sr.nii.gz");
  const said = await cli(["enhance", mni, "-o", out, "--model", run, "--steps", "1", "--voxel", "2"]);
  const sr = readNifti(out);
  assert.equal(sr.sformCode, 4);
  assert.equal(sr.qformCode, 4);
  // the hash of the files, computed here as the docs say: cat config.json model.safetensors vqvae/config.json vqvae/model.safetensors card.json | sha256sum
  const files = ["config.json", "model.safetensors", join("vqvae", "config.json"), join("vqvae", "model.safetensors"), "card.json"];
  const hash = createHash("sha256").update(Buffer.concat(files.map((f) => readFileSync(join(run, f))))).digest("hex").slice(0, 12);
  assert.equal(modelHash(run), hash);
  const version = (JSON.parse(readFileSync(fileURLToPath(new URL("../../../package.json", import.meta.url)), "utf8")) as { version: string }).version;
  assert.match(sr.description, new RegExp(`^moediff-sr ${version.replace(/\./g, "\\.")} enhance model ${hash} (ddim|resshift) 1 joint seed 0$`));
  assert.match(said.join("\n"), new RegExp(`\\(model ${hash}\\)`));
  const base = join(dir, "mni_base.nii.gz");
  await cli(["baseline", mni, "--method", "bspline", "--voxel", "2", "-o", base]);
  const b = readNifti(base);
  assert.deepEqual([b.sformCode, b.qformCode, b.description], [4, 4, `moediff-sr ${version} baseline bspline`]);
});
