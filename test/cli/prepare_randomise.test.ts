// The command line of prepare --randomise: it runs with --simulate and --stripped, shows progress per
// subject and prints what it made; misplaced options are refused with a message naming them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { headPhantom } from "../data/randomise/phantom.js";
import { tempDir, writeVolume } from "../data/phantom.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 120_000, env: { ...process.env, MOEDIFF_NUM_THREADS: "1" } });

test("prepare --simulate HEAD --stripped BRAIN --randomise 3 writes a randomised data set", () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = headPhantom(36);
    const hr = writeVolume(join(dir, "ph.nii.gz"), p.head);
    const brain = writeVolume(join(dir, "ph_brain.nii.gz"), p.brain);
    const out = join(dir, "ds");
    const r = run("prepare", "--simulate", hr, "--stripped", brain, "--randomise", "3", "--randomise-slices", "2", "--size", "40", "--snr", "20:30", "-o", out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /wrote .*ds: 18 pairs from 3 subject\(s\), split by subjects/);
    assert.match(r.stdout, /slices: train \d+, val 12, test 12 \(40x40, axes x, y, z\); skipped \d+ with too little brain, \d+ not drawn/);
    assert.match(r.stdout, /randomised: 3 subjects, 2 slices per axis and skull variant/);
    assert.match(r.stderr, /subjects 3\/3/);
    const m = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as {
      counts: { train: number; val: number; test: number };
      settings: { randomise: { ranges: { acquisition: { snr: number[]; voxel: number[] } } } };
    };
    assert.equal(m.counts.train + m.counts.val + m.counts.test, 3 * 2 * 3 * 2);
    assert.deepEqual(m.settings.randomise.ranges.acquisition.snr, [20, 30], "--snr given replaces the randomisation's range");
    assert.deepEqual(m.settings.randomise.ranges.acquisition.voxel, [1, 2.2], "--voxel not given: the randomisation's own range, not prepare's");
  } finally {
    cleanup();
  }
});

test("prepare refuses --randomise options out of place", () => {
  const { dir, cleanup } = tempDir();
  try {
    const hr = writeVolume(join(dir, "ph.nii.gz"), headPhantom(24).brain);
    const out = join(dir, "ds");
    const cases: [string[], RegExp][] = [
      [["--simulate", hr, "--randomise", "2"], /--randomise needs an integer number of subjects >= 3/],
      [["--simulate", hr, "--randomise-slices", "4"], /--randomise-slices applies only with --randomise/],
      [["--simulate", hr, "--stripped", hr], /--stripped applies only with --randomise and --simulate/],
      [["--simulate", hr, "--randomise", "3", "--pairs-per-volume", "2"], /--pairs-per-volume does not apply with --randomise/],
      [["--pairs", hr, "--randomise", "3"], /--randomise makes subjects from HR volumes \(--default or --simulate\), not from --pairs/],
    ];
    for (const [args, want] of cases) {
      const r = run("prepare", "-o", out, ...args);
      assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, want, args.join(" "));
    }
  } finally {
    cleanup();
  }
});
