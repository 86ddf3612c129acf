#!/usr/bin/env node
// Runs the compiled test suite with node's test runner, one file at a time
// (libtorch already uses every core inside a file). Pass paths or name
// fragments to run a subset: `npm test -- tensor`.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";

const root = join(import.meta.dirname, "..", "dist", "test");
function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return find(p);
    return name.endsWith(".test.js") ? [p] : [];
  });
}
let files;
try {
  files = find(root).sort();
} catch {
  console.error("run-tests: dist/test is missing; run `bash scripts/setup.sh` first");
  process.exit(1);
}
const filters = process.argv.slice(2);
if (filters.length > 0) files = files.filter((f) => filters.some((q) => relative(root, f).includes(q)));
if (files.length === 0) {
  console.error(`run-tests: no test files match ${filters.join(" ")}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ["--test", "--test-concurrency=1", "--test-reporter=spec", ...files], {
  stdio: "inherit",
  env: { ...process.env, MOEDIFF_TEST: "1" },
});
process.exit(r.status ?? 1);
