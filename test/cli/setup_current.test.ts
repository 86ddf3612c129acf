// The launcher's fast path (scripts/setup-current.sh): setup is skipped only while nothing it builds
// from changed since it last finished. Run on a small stand-in tree in a temporary directory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

function tree(): { dir: string; current: () => number; touch: (rel: string, secondsAgo?: number) => void } {
  const dir = mkdtempSync(join(tmpdir(), "moediff-setup-current-"));
  const files = [
    "src/index.ts", "test/a.test.ts", "bench/all.ts", "web/index.html", "native/src/addon.cc", "native/binding.gyp",
    "native/libtorch-config.mjs", "tsconfig.json", "package.json", "package-lock.json",
    "dist/src/cli/main.js", "native/build/Release/moediff_native.node", "dist/viewer/index.html",
  ];
  const touch = (rel: string, secondsAgo = 0): void => {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, "x");
    const t = Date.now() / 1000 - secondsAgo;
    utimesSync(p, t, t);
  };
  for (const f of files) touch(f, 100);
  mkdirSync(join(dir, "scripts"));
  copyFileSync(join(ROOT, "scripts", "setup-current.sh"), join(dir, "scripts", "setup-current.sh"));
  utimesSync(join(dir, "scripts", "setup-current.sh"), Date.now() / 1000 - 100, Date.now() / 1000 - 100);
  // Directories count too (a deleted source changes its directory): date them all before the stamp.
  const ageDirs = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory() && e.name !== ".setup-stamps") ageDirs(join(d, e.name));
    const t = Date.now() / 1000 - 100;
    if (d !== dir) utimesSync(d, t, t);
  };
  const current = (): number => {
    ageDirs(dir);
    return spawnSync("bash", [join(dir, "scripts", "setup-current.sh")], { env: { ...process.env, LIBTORCH: "" } }).status ?? -1;
  };
  return { dir, current, touch };
}

test("setup-current: 0 after a finished setup; 1 with no stamp, a newer source, another Node or a missing build", () => {
  const { dir, current, touch } = tree();
  try {
    assert.equal(current(), 1, "no stamp: setup must run");
    const stamp = (content: string): void => {
      mkdirSync(join(dir, ".setup-stamps"), { recursive: true });
      writeFileSync(join(dir, ".setup-stamps", "ready"), content);
      const t = Date.now() / 1000 - 50;
      utimesSync(join(dir, ".setup-stamps", "ready"), t, t);
    };
    stamp(`${process.version} system\n`);
    assert.equal(current(), 0, "nothing changed since the stamp");
    stamp(`v1.0.0 system\n`);
    assert.equal(current(), 1, "another Node");
    stamp(`${process.version} system\n`);
    touch("src/cli/new_command.ts");
    assert.equal(current(), 1, "a source newer than the stamp");
    stamp(`${process.version} system\n`);
    touch("src/cli/new_command.ts", 100);
    assert.equal(current(), 0);
    touch("package-lock.json");
    assert.equal(current(), 1, "a newer lockfile");
    touch("package-lock.json", 100);
    rmSync(join(dir, "native", "build"), { recursive: true });
    assert.equal(current(), 1, "the native addon is missing");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--version answers without loading any command module; a command loads only its own", () => {
  const modules = (args: string[]): { status: number | null; stdout: string; loaded: string[] } => {
    const r = spawnSync(process.execPath, [join(ROOT, "dist", "src", "cli", "main.js"), ...args], {
      env: { ...process.env, NODE_DEBUG: "module,esm" },
      encoding: "utf8",
    });
    const loaded = [...new Set([...r.stderr.matchAll(/cli[/\\]commands[/\\](\w+)\.js/g)].map((m) => m[1] as string))];
    return { status: r.status, stdout: r.stdout, loaded: r.stderr.includes("moediff_native") ? [...loaded, "native"] : loaded };
  };
  const v = modules(["--version"]);
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  assert.deepEqual(v.loaded, []);
  const info = modules(["info", "--help"]);
  assert.equal(info.status, 0);
  assert.deepEqual(info.loaded, ["info"]);
});
