#!/usr/bin/env node
// `npm run bench <name>` runs dist/bench/<name>.js after making sure the build is current.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const setup = spawnSync("bash", [join(root, "scripts/setup.sh"), "--quiet"], { stdio: "inherit" });
if (setup.status !== 0) process.exit(setup.status ?? 1);
const names = readdirSync(join(root, "dist/bench")).filter((f) => f.endsWith(".js")).map((f) => f.slice(0, -3));
const name = process.argv[2];
if (!name || !existsSync(join(root, "dist/bench", `${name}.js`))) {
  console.error(`usage: npm run bench <name> [-- options]; benchmarks: ${names.join(", ")}`);
  process.exit(name ? 1 : 0);
}
const r = spawnSync(process.execPath, [join(root, "dist/bench", `${name}.js`), ...process.argv.slice(3)], { stdio: "inherit" });
process.exit(r.status ?? 1);
