import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 60_000 });

test("info --json reports libtorch, threads and CUDA", () => {
  const r = run("info", "--json");
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout) as { libtorch: string; threads: number; cuda: boolean };
  assert.match(info.libtorch, /^\d+\.\d+/);
  assert.ok(info.threads >= 1);
  assert.equal(typeof info.cuda, "boolean");
});

test("bad options get a clear message and exit code 1, not a stack trace", () => {
  const r = run("demo", "--steps", "-3");
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--steps expects a positive integer/);
  const dir = mkdtempSync(join(tmpdir(), "moediff-cli-"));
  try {
    // a directory that is not a model with a held-out description
    const r2 = run("demo", "--model", dir, "-o", join(dir, "out"));
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /heldout\.json/);
    assert.doesNotMatch(r2.stderr, /at .*\.js:\d+/);
    assert.equal(existsSync(join(dir, "out", "summary.md")), false, "no report for a run that failed");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
