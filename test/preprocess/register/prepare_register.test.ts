// `prepare --pairs --register`: each real LR is rigidly registered to its HR before resampling; the
// transform goes into the pair's manifest entry. A tiny pairs manifest whose LR is a shifted copy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { registerPrepare } from "../../../src/cli/commands/prepare.js";
import { openSliceDataset } from "../../../src/data/dataset.js";
import { prepareDataset } from "../../../src/data/prepare.js";
import type { PairRegistration } from "../../../src/data/manifest.js";
import { SPLITS } from "../../../src/data/split.js";
import { resample } from "../../../src/volume/resample.js";
import { phantom, tempDir, writeVolume } from "../../data/phantom.js";

const SIZE = { height: 32, width: 32 } as const;

/** HR phantom (1 mm) and an LR copy at 2 mm whose anatomy is moved by (3, -2, 1) mm: T(p) = p + (3, -2, 1). */
function writeShiftedPair(dir: string, subject: string): string {
  mkdirSync(join(dir, subject), { recursive: true });
  const hr = phantom();
  const moved = { ...hr, affine: hr.affine.map((x, i) => x + (i === 3 ? 3 : i === 7 ? -2 : i === 11 ? 1 : 0)) };
  const lr = resample(moved, { dims: [12, 14, 10], affine: [2, 0, 0, -11, 0, 2, 0, -13, 0, 0, 2, -9, 0, 0, 0, 1] });
  writeVolume(join(dir, subject, "hr.nii.gz"), hr);
  writeVolume(join(dir, subject, "lr.nii.gz"), lr);
  return `${subject},${subject}/lr.nii.gz,${subject}/hr.nii.gz`;
}

/** Mean |cond centre slice - hr| over every slice of a data set. */
function meanMismatch(dir: string): number {
  using ds = openSliceDataset(dir);
  let sum = 0;
  let n = 0;
  for (const sp of SPLITS) {
    for (let i = 0; i < ds.size(sp); i++) {
      const s = ds.getSlice(sp, i);
      const hw = s.hr.length;
      for (let q = 0; q < hw; q++) sum += Math.abs((s.cond[hw + q] as number) - (s.hr[q] as number));
      n += hw;
    }
  }
  return sum / n;
}

test("prepare --register records each pair's transform and aligns the LR slices with the HR slices", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rows = ["a", "b", "c"].map((s) => writeShiftedPair(dir, s));
    writeFileSync(join(dir, "pairs.csv"), ["subject,lr,hr", ...rows].join("\n"));
    const source = { kind: "pairs" as const, manifest: join(dir, "pairs.csv") };
    const stages: string[] = [];
    const reg = await prepareDataset({ output: join(dir, "reg"), source, ...SIZE, register: true, onProgress: (p) => stages.push(p.stage) });
    const plain = await prepareDataset({ output: join(dir, "plain"), source, ...SIZE });
    assert.ok(stages.includes("registering a"), `stages ${stages.join(", ")}`);
    for (const p of reg.manifest.pairs) {
      const r = (p as { registration?: PairRegistration }).registration;
      assert.ok(r !== undefined, `pair ${p.subject} has a registration record`);
      assert.equal(r.metric, "ncc");
      assert.ok(Math.abs(r.translationMm[0]! - 3) < 0.3 && Math.abs(r.translationMm[1]! + 2) < 0.3 && Math.abs(r.translationMm[2]! - 1) < 0.3, `translation ${r.translationMm}`);
      assert.ok(r.rotationDeg.every((a) => Math.abs(a) < 1), `rotation ${r.rotationDeg}`);
      assert.equal(r.matrix.length, 4);
      assert.deepEqual(r.matrix[3], [0, 0, 0, 1]);
      assert.equal(r.levels.length, 3);
    }
    assert.ok(plain.manifest.pairs.every((p) => !("registration" in p)), "no record without --register");
    const registered = meanMismatch(reg.output);
    const unregistered = meanMismatch(plain.output);
    assert.ok(registered < 0.6 * unregistered, `mean |LR - HR| ${registered.toFixed(4)} registered vs ${unregistered.toFixed(4)} not`);
  } finally {
    cleanup();
  }
});

test("--register is refused for simulated pairs and checks its options before reading any volume", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const hr = writeVolume(join(dir, "hr.nii.gz"), phantom());
    await assert.rejects(
      prepareDataset({ output: join(dir, "ds"), source: { kind: "simulate", hr: [hr] }, ...SIZE, register: true }),
      /prepare: registration \(--register\) applies only to real pairs \(--pairs\)/,
    );
    writeFileSync(join(dir, "pairs.csv"), "subject,lr,hr\ns,missing.nii.gz,hr.nii.gz\n");
    await assert.rejects(
      prepareDataset({ output: join(dir, "ds"), source: { kind: "pairs", manifest: join(dir, "pairs.csv") }, ...SIZE, register: { metric: "cc" as "ncc" } }),
      /register: metric must be ncc or mi, got "cc"/,
    );
    const cli = async (...args: string[]): Promise<Error | null> => {
      const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
      registerPrepare(program);
      try {
        await program.parseAsync(["node", "moediff-sr", "prepare", ...args]);
        return null;
      } catch (e) {
        return e as Error;
      }
    };
    assert.match((await cli("--simulate", hr, "-o", join(dir, "x"), "--register"))?.message ?? "", /--register applies only with --pairs/);
    assert.match((await cli("--pairs", join(dir, "pairs.csv"), "-o", join(dir, "x"), "--register-metric", "mi"))?.message ?? "", /--register-metric applies only with --register/);
    assert.match((await cli("--pairs", join(dir, "pairs.csv"), "-o", join(dir, "x"), "--register", "--register-metric", "cc"))?.message ?? "", /--register-metric must be ncc or mi, got 'cc'/);
  } finally {
    cleanup();
  }
});
