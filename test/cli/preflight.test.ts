// Commands that write outputs check them, the device and the model before reading any input: each run
// here gives a nonexistent input together with one bad setting, so the error reported must be the
// setting's (one line, exit code 1) and not the input's. Runs `moediff-sr` in a child process.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { tempDir } from "../data/phantom.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
let dir: string;
let cleanup: () => void;
let run: string;
let missing: string;

before(() => {
  ({ dir, cleanup } = tempDir("moediff-preflight-"));
  run = writeTinyModelDir(join(dir, "run"));
  missing = join(dir, "no-such-input.nii.gz");
  writeFileSync(join(dir, "a-file"), "x");
});
after(() => cleanup());

/** Runs the CLI; asserts exit code 1 and one line on stderr; returns that line without the "moediff-sr: " prefix. */
function fails(...args: string[]): string {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 120_000, cwd: dir });
  assert.equal(r.status, 1, `${args.join(" ")}: exit ${r.status}\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `${args.join(" ")}: one line expected, got:\n${r.stderr}`);
  assert.match(lines[0] as string, /^moediff-sr: /);
  return (lines[0] as string).slice("moediff-sr: ".length);
}

test("enhance: a bad output name, a missing output directory, a bad --explain, an unknown model each come before the input is read", () => {
  const ok = join(dir, "out.nii.gz");
  assert.equal(fails("enhance", missing, "-o", "out.png", "--model", run), "-o out.png: the output must be a NIfTI file named .nii or .nii.gz (e.g. out.nii.gz)");
  assert.equal(
    fails("enhance", missing, "-o", "/nonexistent/dir/x.nii.gz", "--model", run),
    "-o /nonexistent/dir/x.nii.gz: the directory /nonexistent/dir does not exist; create it first (mkdir -p /nonexistent/dir)",
  );
  assert.match(fails("enhance", missing, "-o", join(dir, "a-file", "x.nii.gz"), "--model", run), /a-file is not a directory$/);
  // -o an existing directory: the result keeps the input's name in it, which here is the input itself
  assert.match(fails("enhance", missing, "-o", dir, "--model", run), /no-such-input\.nii\.gz would be overwritten by its result; choose another -o directory$/);
  assert.match(fails("enhance", missing, "-o", ok, "--model", run, "--explain", join(dir, "a-file")), /^--explain .*a-file is a file, not a directory; name a directory$/);
  assert.match(fails("enhance", missing, "-o", ok, "--model", join(dir, "nowhere")), /^model directory .*nowhere does not exist$/);
  assert.match(fails("enhance", missing, "-o", ok, "--model", run, "--steps", "0", "--explain", join(dir, "ex")), /^steps 0 runs the autoencoder alone/, "the model's settings are checked before the input is read");
  // with everything else right, the input is what is reported
  assert.match(fails("enhance", missing, "-o", ok, "--model", run), /no-such-input\.nii\.gz/);
  assert.equal(existsSync(ok), false);
});

test("--device: an unknown name, and CUDA where this build or machine has none, in one line before anything is read", () => {
  assert.equal(fails("enhance", missing, "-o", "out.nii.gz", "--model", run, "--device", "tpu"), "--device must be cpu, cuda or cuda:N, got 'tpu'");
  if (!T.cuda.isAvailable()) {
    const said = fails("enhance", missing, "-o", "out.nii.gz", "--model", run, "--device", "cuda");
    if (T.cuda.isBuilt()) assert.match(said, /^--device cuda: this build has CUDA but libtorch sees no GPU/);
    else assert.match(said, /^--device cuda: this build has no CUDA \(its libtorch [\d.]+ is CPU-only\); use --device cpu, or rebuild against a CUDA libtorch: LIBTORCH=\/path\/to\/libtorch bash scripts\/setup\.sh/);
    assert.match(fails("demo", "--model", run, "-o", join(dir, "demo"), "--device", "cuda:1"), /^--device cuda:1: this build/);
    assert.match(fails("baseline", missing, "--method", "unet", "--model", run, "-o", "out.nii.gz", "--device", "cuda"), /^--device cuda: this build/);
  } else {
    assert.match(fails("enhance", missing, "-o", "out.nii.gz", "--model", run, "--device", "cuda:99"), /^--device cuda:99: there (is|are) \d+ CUDA device/);
  }
});

test("baseline, simulate, convert, demo: the output is checked before the input is read", () => {
  assert.match(fails("baseline", missing, "--method", "trilinear", "--voxel", "1", "-o", "b.png"), /^-o b\.png: the output must be a NIfTI file/);
  assert.match(fails("baseline", missing, "--method", "unet", "--model", join(dir, "nowhere"), "-o", "b.nii.gz"), /nowhere/, "the U-Net directory before the input");
  assert.match(fails("simulate", missing, "-o", join(dir, "none", "lr.nii.gz")), /the directory .*none does not exist/);
  assert.match(fails("simulate", missing, "-o", "lr.nii.gz", "--write-maps", join(dir, "a-file")), /^--write-maps .*a-file is a file, not a directory/);
  assert.match(fails("convert", missing, "x.img"), /^OUTPUT x\.img: the output must be a NIfTI file named \.nii or \.nii\.gz \(e\.g\. x\.nii\.gz\)$/);
  assert.match(fails("demo", "--model", run, "-o", join(dir, "a-file")), /^-o .*a-file is a file, not a directory/);
  mkdirSync(join(dir, "fresh"), { recursive: true });
  assert.match(fails("bias-correct", missing, "-o", join(dir, "fresh", "c.nii.gz"), "--write-field", "field.txt"), /^--write-field field\.txt: the output must be a NIfTI file/);
});
