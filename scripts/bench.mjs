#!/usr/bin/env node
// `npm run bench [-- options]` runs the project benchmark dist/bench/all.js (bench/all.ts: a table and one
// JSON line); `npm run bench <name> [-- options]` runs dist/bench/<name>.js. Both after making sure the
// build is current.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const setup = spawnSync("bash", [join(root, "scripts/setup.sh"), "--quiet"], { stdio: "inherit" });
if (setup.status !== 0) process.exit(setup.status ?? 1);
const names = readdirSync(join(root, "dist/bench")).filter((f) => f.endsWith(".js") && !f.startsWith("all_") && f !== "stats.js").map((f) => f.slice(0, -3));
// No name (nothing, or options first): the whole benchmark.
const first = process.argv[2];
const [name, rest] = first === undefined || first.startsWith("-") ? ["all", process.argv.slice(2)] : [first, process.argv.slice(3)];
if (!existsSync(join(root, "dist/bench", `${name}.js`))) {
  console.error(`usage: npm run bench [-- options] (the whole benchmark) or npm run bench <name> [-- options]; benchmarks: ${names.join(", ")}`);
  process.exit(1);
}
const r = spawnSync(process.execPath, [join(root, "dist/bench", `${name}.js`), ...rest], { stdio: "inherit" });
process.exit(r.status ?? 1);
