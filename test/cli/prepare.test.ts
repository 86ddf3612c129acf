import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { registerPrepare } from "../../src/cli/commands/prepare.js";
import { phantom, tempDir, writeVolume } from "../data/phantom.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, MOEDIFF_NUM_THREADS: "1" } });

test("prepare --simulate builds a data set and prints counts, size and time", () => {
  const { dir, cleanup } = tempDir();
  try {
    const hr = writeVolume(join(dir, "sub-x.nii.gz"), phantom());
    const out = join(dir, "ds");
    const r = run("prepare", "--simulate", hr, "-o", out, "--size", "32x40", "--shard-size", "8", "--seed", "5", "--snr", "20", "--bias", "0:0.2");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /wrote .*ds: 1 pair from 1 subject\(s\), split by slabs/);
    assert.match(r.stdout, /slices: train \d+, val 2, test 2 \(32x40, axis z\); skipped 2 with too little brain, 12 in slab gaps/);
    assert.match(r.stdout, /\d+ shard files?, [\d.]+ KiB on disk, [\d.]+ s/);
    assert.match(r.stderr, /pairs 1\/1/);
    const m = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as {
      settings: { height: number; width: number; seed: number; ranges: { snr: number[]; bias: number[] } };
      pairs: { acquisition: { snr: number; bias: number } }[];
    };
    assert.deepEqual([m.settings.height, m.settings.width, m.settings.seed], [32, 40, 5]);
    assert.deepEqual(m.settings.ranges.snr, [20, 20]);
    assert.equal(m.pairs[0]?.acquisition.snr, 20);
    assert.ok((m.pairs[0]?.acquisition.bias ?? -1) >= 0 && (m.pairs[0]?.acquisition.bias ?? 1) <= 0.2);
    const again = run("prepare", "--simulate", hr, "-o", out);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /exists and is not empty; choose another -o, or pass --force to replace it/);
  } finally {
    cleanup();
  }
});

/** Runs `prepare` in this process (no spawn): resolves with the error it throws, or null. */
async function inProcess(args: string[]): Promise<Error | null> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerPrepare(program);
  try {
    await program.parseAsync(["node", "moediff-sr", "prepare", ...args]);
    return null;
  } catch (e) {
    return e as Error;
  }
}

test("prepare rejects bad options with clear messages", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const hr = writeVolume(join(dir, "a.nii.gz"), phantom());
    const out = join(dir, "ds");
    const cases: [string[], RegExp][] = [
      [["-o", out], /give exactly one source: --default, --simulate HR\.nii\.gz \[\.\.\.\] or --pairs manifest\.csv/],
      [["-o", out, "--default", "--simulate", hr], /give exactly one source/],
      [["-o", out, "--simulate", hr, "--size", "abc"], /--size expects N or HxW \(positive integers\), got 'abc'/],
      [["-o", out, "--simulate", hr, "--voxel", "2:1"], /--voxel range '2:1' has lo > hi/],
      [["-o", out, "--simulate", hr, "--snr", "x:3"], /--snr expects lo:hi or a single number, got 'x:3'/],
      [["-o", out, "--simulate", hr, "--axis", "w"], /slice axis must be "x", "y" or "z", got "w"/],
      [["-o", out, "--simulate", hr, "--min-brain", "2"], /--min-brain expects a fraction in \[0, 1\], got '2'/],
      [["-o", out, "--simulate", hr, "--seed", "-1"], /--seed expects an integer in 0\.\.4294967295, got '-1'/],
      [["-o", out, "--simulate", hr, "--shard-size", "0"], /--shard-size expects a positive integer, got '0'/],
      [["-o", out, "--simulate", hr, "--subjects", "a"], /--subjects applies only with --pairs/],
      [["-o", out, "--pairs", hr, "--snr", "20", "--pairs-per-volume", "2"], /--pairs-per-volume, --snr apply only to simulated pairs \(--default, --simulate\), not to --pairs/],
      [["-o", out, "--simulate", join(dir, "missing.nii")], /HR volume .*missing\.nii does not exist/],
      [["--simulate", hr], /required option '-o, --output <dir>' not specified/],
    ];
    for (const [args, pattern] of cases) {
      const e = await inProcess(args);
      assert.ok(e instanceof Error, `${args.join(" ")} must fail`);
      assert.match(e.message, pattern);
    }
    assert.equal(existsSync(out), false);
  } finally {
    cleanup();
  }
});

test("from the command line, errors exit with status 1 and a message, not a stack trace", () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, "pairs.csv"), "subject,lr\ns1,a.nii.gz\n");
    const out = join(dir, "ds");
    const r = run("prepare", "-o", out, "--pairs", join(dir, "pairs.csv"));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /moediff-sr: pairs manifest .*pairs\.csv: line 1: missing required column hr/);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
    const r2 = run("prepare", "-o", out, "--simulate", join(dir, "pairs.csv"), "--size", "0");
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /--size expects N or HxW/);
    assert.equal(existsSync(out), false);
  } finally {
    cleanup();
  }
});
