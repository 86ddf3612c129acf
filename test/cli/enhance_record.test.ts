// `moediff-sr enhance` writes OUT.json beside OUT.nii.gz: the model's hash and the SHA-256 of each file it
// covers, the input's and output's SHA-256 (all recomputed here from the files), the sampler settings and
// the input checks; with a card recording its training inputs, a 3 mm input draws one warning line,
// printed and recorded; with an older card, one note line says what is not checked.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { stderrOf } from "./in_process.js";
import { registerEnhance } from "../../src/cli/commands/enhance.js";
import { phantom, tempDir, writeVolume } from "../data/phantom.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";
import type { Sidecar } from "../../src/inference/sidecar.js";

let dir: string;
let cleanup: () => void;
let oldCard: string;
let newCard: string;
let lr2: string;
let lr3: string;

const sha256 = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

before(() => {
  ({ dir, cleanup } = tempDir("moediff-enhance-record-"));
  oldCard = writeTinyModelDir(join(dir, "old"));
  newCard = writeTinyModelDir(join(dir, "new"), {
    card: { trainingData: { lrVoxelSize: [1.5, 2.2], lrAnisotropy: 1, snr: [15, 40], fieldOfViewMm: { min: [50, 60, 20], max: [70, 80, 30] }, orientationDeg: 0 } },
  });
  lr2 = writeVolume(join(dir, "lr2.nii.gz"), phantom([30, 36, 12], [2, 0, 0, -29, 0, 2, 0, -35, 0, 0, 2, -11, 0, 0, 0, 1]));
  lr3 = writeVolume(join(dir, "lr3.nii.gz"), phantom([20, 24, 8], [3, 0, 0, -29, 0, 3, 0, -35, 0, 0, 3, -11, 0, 0, 0, 1]));
});
after(() => cleanup());

const cli = (args: string[]): Promise<string[]> => stderrOf([registerEnhance], args);

test("the record beside the output holds the model's hash and files, the input's and output's SHA-256 and the sampler settings", async () => {
  const out = join(dir, "sr.nii.gz");
  const said = await cli(["enhance", lr2, "-o", out, "--model", oldCard, "--steps", "1", "--seed", "4"]);
  const path = join(dir, "sr.json");
  assert.ok(existsSync(path));
  assert.match(said.join("\n"), /enhance: wrote .*sr\.json: the model, its hash/);
  const r = JSON.parse(readFileSync(path, "utf8")) as Sidecar;
  assert.equal(r.format, "moediff-sr-enhance-record");
  // Every hash recomputed from the files.
  assert.equal(r.input.sha256, sha256(lr2));
  assert.equal(r.output.sha256, sha256(out));
  const files = ["config.json", "model.safetensors", join("vqvae", "config.json"), join("vqvae", "model.safetensors"), "card.json"];
  assert.deepEqual(
    r.model.files,
    files.map((file) => ({ file, sha256: sha256(join(oldCard, file)) })),
  );
  const hash = createHash("sha256").update(Buffer.concat(files.map((f) => readFileSync(join(oldCard, f))))).digest("hex").slice(0, 12);
  assert.equal(r.model.hash, hash);
  assert.equal(r.model.cardVersion, 1);
  assert.match(said.join("\n"), new RegExp(`model ${hash}`));
  // The sampler settings as run.
  assert.equal(r.sampler.settings.seed, 4);
  assert.equal(r.sampler.settings.steps, 1);
  assert.deepEqual(r.sampler.axes, ["z"]);
  assert.match(r.sampler.description, /1 steps?/);
  assert.deepEqual(r.input.voxelSize, [2, 2, 2]);
  assert.deepEqual(r.output.dims, [60, 72, 24]);
  // An older card: no warning, one note naming what is not checked, recorded too.
  assert.deepEqual(said.filter((l) => l.includes("warning")), []);
  const notes = said.filter((l) => l.startsWith("enhance: note:"));
  assert.equal(notes.length, 1);
  assert.match(notes[0] as string, /does not record its training inputs \(an older card\): voxel size, SNR, contrast, field of view, orientation not checked/);
  assert.equal(r.checks.unchecked, (notes[0] as string).replace("enhance: note: ", ""));
});

test("with a card that records its training inputs, a 3 mm input draws a voxel-size warning line, also in the record", async () => {
  const out = join(dir, "sr3.nii");
  const said = await cli(["enhance", lr3, "-o", out, "--model", newCard, "--steps", "1"]);
  const warnings = said.filter((l) => l.startsWith("enhance: warning:"));
  assert.ok(warnings.some((l) => /input voxel 3 x 3 x 3 mm is outside the training inputs' 1\.5–2\.2 mm/.test(l)), said.join("\n"));
  const r = JSON.parse(readFileSync(join(dir, "sr3.json"), "utf8")) as Sidecar;
  assert.deepEqual(r.checks.warnings, warnings.map((l) => l.replace("enhance: warning: ", "")));
  assert.equal(r.checks.items.find((c) => c.item === "voxel size")?.status, "warning");
  // contrast is not recorded on this card: unchecked, said once
  assert.equal(said.filter((l) => l.startsWith("enhance: note:")).length, 1);
  assert.match(said.join("\n"), /does not record the training inputs' contrast: not checked/);
});
