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
// bench parity (and the whole benchmark, unless --skip-parity) needs PyTorch: install Debian's when missing.
if ((name === "parity" || (name === "all" && !rest.includes("--skip-parity"))) && !hasTorch()) installTorch();
const r = spawnSync(process.execPath, [join(root, "dist/bench", `${name}.js`), ...rest], { stdio: "inherit" });
process.exit(r.status ?? 1);

function hasTorch() {
  return ["/usr/bin/python3", "python3"].some((py) => spawnSync(py, ["-c", "import torch"], { stdio: "ignore" }).status === 0);
}

function installTorch() {
  if (process.getuid?.() !== 0) {
    console.error("bench: python3-torch is missing (the PyTorch side of bench parity); install it with `sudo apt-get install python3-torch`");
    return;
  }
  console.error("bench: installing python3-torch for the PyTorch parity check (apt-get)");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const apt = (args) => spawnSync("apt-get", args, { stdio: "inherit", env }).status === 0;
  if (!apt(["install", "-y", "--no-install-recommends", "python3-torch"])) {
    apt(["update"]);
    apt(["install", "-y", "--no-install-recommends", "python3-torch"]);
  }
}
