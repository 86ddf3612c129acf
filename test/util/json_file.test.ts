// readJsonFile: every failure is one line that names the file, says what it is and what to do, and
// places a syntax error by line and column instead of quoting the file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeJsonSyntaxError, JsonFileError, readJsonFile } from "../../src/util/json_file.js";
import { tempDir } from "../data/phantom.js";
import { loadCheckpoint } from "../../src/train/checkpoint.js";
import { readManifest } from "../../src/data/manifest.js";
import { readConfigFile } from "../../src/cli/commands/train_common.js";

const o = { what: "the model card", fix: "write it again" };

test("a valid file parses; garbage, an empty file, a missing file and a directory each name the file in one line", () => {
  const { dir, cleanup } = tempDir("moediff-json-file-");
  try {
    const good = join(dir, "good.json");
    writeFileSync(good, '{"a": [1, 2]}');
    assert.deepEqual(readJsonFile(good, o), { a: [1, 2] });

    const bad = join(dir, "card.json");
    writeFileSync(bad, "not json at all, and a long tail that must not be quoted back");
    assert.throws(
      () => readJsonFile(bad, o),
      (e: unknown) =>
        e instanceof JsonFileError &&
        e.path === bad &&
        e.message === `the model card ${bad} is not valid JSON (unexpected token 'o'); write it again` &&
        e.problem === "is not valid JSON (unexpected token 'o'); write it again",
    );
    const trailing = join(dir, "trailing.json");
    writeFileSync(trailing, '{\n  "a": 1,\n}\n');
    assert.throws(() => readJsonFile(trailing, o), /trailing\.json is not valid JSON \(expected double-quoted property name at line 3 column 1\); write it again$/);
    const empty = join(dir, "empty.json");
    writeFileSync(empty, "  \n");
    assert.throws(() => readJsonFile(empty, o), /empty\.json is not valid JSON \(the file is empty\)/);
    assert.throws(() => readJsonFile(join(dir, "none.json"), o), /^JsonFileError: the model card .*none\.json does not exist; write it again$/m);
    mkdirSync(join(dir, "sub.json"));
    assert.throws(() => readJsonFile(join(dir, "sub.json"), o), /sub\.json is a directory, not a file; write it again/);

    class CardError extends Error {}
    assert.throws(() => readJsonFile(bad, { ...o, error: CardError }), (e: unknown) => e instanceof CardError && !e.message.includes("\n"));
  } finally {
    cleanup();
  }
});

test("describeJsonSyntaxError drops the quoted text and turns a position into line and column", () => {
  assert.equal(describeJsonSyntaxError(`Unexpected token 'x', "{\\n x}" is not valid JSON`, "{\n x}"), "unexpected token 'x'");
  assert.equal(describeJsonSyntaxError("Expected property name or '}' in JSON at position 4", '{\n  "'), "expected property name or '}' at line 2 column 3");
  assert.equal(describeJsonSyntaxError("Unexpected end of JSON input", '{"a":'), "unexpected end of JSON input");
});

test("the checkpoint state, a data set's manifest and a --config file name themselves the same way", () => {
  const { dir, cleanup } = tempDir("moediff-json-callers-");
  try {
    mkdirSync(join(dir, "ckpt"));
    writeFileSync(join(dir, "ckpt", "state.json"), "{");
    assert.throws(() => loadCheckpoint(join(dir, "ckpt")), /^CheckpointError: checkpoint .*ckpt: state\.json is not valid JSON \(.*\); the checkpoint is damaged: delete the checkpoint directory and train without --resume$/);
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "data", "manifest.json"), "[1, 2,, 3]");
    assert.throws(() => readManifest(join(dir, "data")), /^ManifestError: data set .*data: manifest\.json is not valid JSON \(unexpected token ','\); the data set is damaged: prepare it again/);
    writeFileSync(join(dir, "cfg.json"), "{training: 1}");
    assert.throws(() => readConfigFile(join(dir, "cfg.json")), /^ConfigError: --config .*cfg\.json is not valid JSON \(expected property name or '}' at line 1 column 2\); fix it/);
  } finally {
    cleanup();
  }
});
