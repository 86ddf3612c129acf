// The package entry (package.json "main": dist/src/index.js) as another project sees it: a project with
// moediff-sr in its node_modules imports "moediff-sr", loads a tiny model through the pipeline and
// enhances a small volume, in its own process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readNifti, writeNifti } from "../../src/nifti/index.js";
import { phantom, tempDir } from "../data/phantom.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";

const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

const SCRIPT = `
import * as lib from "moediff-sr";
const [modelDir, input, output] = process.argv.slice(2);
const pipe = lib.MoEDiffSRPipeline.fromDir(modelDir);
try {
  const lr = lib.toVolume(lib.readNifti(input));
  const r = await lib.enhanceVolume(pipe, lr, { steps: 2, seed: 1 });
  lib.writeNifti(output, r.output);
  console.log(JSON.stringify({
    entry: import.meta.resolve("moediff-sr"),
    exports: Object.keys(lib).sort(),
    engine: typeof lib.torch.tensor,
    options: r.options,
    slicesRun: r.stats.slicesRun,
  }));
} finally {
  pipe.dispose();
}
`;

test('another project: import("moediff-sr") enhances a tiny volume with a tiny model', () => {
  const { dir, cleanup } = tempDir("moediff-entry-");
  try {
    const project = join(dir, "project");
    mkdirSync(join(project, "node_modules"), { recursive: true });
    symlinkSync(ROOT, join(project, "node_modules", "moediff-sr"), "dir");
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "uses-moediff-sr", type: "module", private: true }));
    writeFileSync(join(project, "enhance.mjs"), SCRIPT);
    const model = writeTinyModelDir(join(dir, "run"));
    const input = join(dir, "lr.nii.gz");
    writeNifti(input, phantom([30, 36, 18], [2, 0, 0, -29, 0, 2, 0, -35, 0, 0, 2, -17, 0, 0, 0, 1]));
    const output = join(dir, "out.nii.gz");

    const r = spawnSync(process.execPath, ["enhance.mjs", model, input, output], { cwd: project, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const line = r.stdout.trim().split("\n").pop() ?? "";
    const got = JSON.parse(line) as { entry: string; exports: string[]; engine: string; options: Record<string, unknown>; slicesRun: number };
    assert.equal(fileURLToPath(got.entry), join(ROOT, "dist", "src", "index.js"));
    for (const name of ["MoEDiffSRPipeline", "enhanceVolume", "readNifti", "writeNifti", "simulateAcquisition", "psnr", "ssim3d", "evaluate", "torch"]) assert.ok(got.exports.includes(name), `exports ${name}`);
    assert.equal(got.engine, "function");
    assert.equal(got.options.steps, 2);
    assert.equal(got.options.batch, 2, "the pipeline's default");
    assert.ok(got.slicesRun > 0);

    assert.ok(existsSync(output));
    const out = readNifti(output);
    assert.deepEqual([...out.dims.slice(0, 3)], [60, 72, 36], "the card's 1 mm grid over the 2 mm input's field of view");
    const data = out.data as Float32Array;
    assert.ok(data.every((v) => Number.isFinite(v) && v >= 0) && data.some((v) => v > 0));
    assert.ok(readFileSync(join(ROOT, "package.json"), "utf8").includes('"main": "dist/src/index.js"'));
  } finally {
    cleanup();
  }
});
