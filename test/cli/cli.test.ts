import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

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
  const r = run("demo", "--size", "33");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--size must be even, got 33/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  const r2 = run("demo", "--steps", "-3");
  assert.notEqual(r2.status, 0);
  assert.match(r2.stderr, /--steps expects a positive integer/);
});

test("the demo runs end to end with a short schedule", () => {
  const r = run("demo", "--steps", "20", "--batch", "4", "--size", "16");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /bicubic\s+\d+\.\d+ dB/);
  assert.match(r.stdout, /network\s+\d+\.\d+ dB/);
  assert.match(r.stderr, /training 20\/20/);
});
