// A damaged file in a model directory, given to `moediff-sr enhance` in a child process: the error is one
// line on stderr naming the file and what to do, with no stack trace and no JSON.parse text alone, and
// it comes before the input is read (the input given does not exist).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { tempDir } from "../data/phantom.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
let dir: string;
let cleanup: () => void;
let run: string;
let missing: string;

before(() => {
  ({ dir, cleanup } = tempDir("moediff-model-dir-errors-"));
  run = writeTinyModelDir(join(dir, "run"));
  missing = join(dir, "no-such-input.nii.gz"); // the model is loaded before the input is read
});
after(() => cleanup());

/** A copy of the tiny model with `file` replaced by `text`. */
function damaged(file: string, text: string): string {
  const copy = join(dir, `damaged-${file.replace(/\W/g, "_")}`);
  cpSync(run, copy, { recursive: true });
  writeFileSync(join(copy, file), text);
  return copy;
}

function enhance(model: string): string {
  const r = spawnSync(process.execPath, [main, "enhance", missing, "-o", join(dir, "out.nii.gz"), "--model", model, "--steps", "1"], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 1, r.stderr);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${r.stderr}`);
  return lines[0] as string;
}

test("garbage vqvae/config.json, config.json and card.json: one line naming the file and the remedy", () => {
  const vq = damaged(join("vqvae", "config.json"), "not json");
  assert.equal(
    enhance(vq),
    `moediff-sr: the autoencoder (VQ-VAE) config ${join(vq, "vqvae", "config.json")} is not valid JSON (unexpected token 'o'); ` +
      `copy ${vq} again from where it came from (\`moediff-sr train\` writes it)`,
  );
  const cfg = damaged("config.json", '{"preset": "cpu-small",');
  assert.match(enhance(cfg), new RegExp(`^moediff-sr: the model config ${cfg}/config\\.json is not valid JSON \\(.* at line 1 column \\d+\\); copy `));
  const card = damaged("card.json", "");
  assert.match(enhance(card), new RegExp(`^moediff-sr: the model card ${card}/card\\.json is not valid JSON \\(the file is empty\\); write it again with`));
  const vqNull = damaged(join("vqvae", "config.json"), "null");
  assert.match(enhance(vqNull), /config\.json has no "model" section; it is not a config written by `moediff-sr train-vqvae`/);
});
