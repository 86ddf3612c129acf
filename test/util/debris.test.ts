// No debris (issue 21.2): what a kill -9 leaves mid-write (`.NAME.PID.HEX.tmp` files of
// writeFileAtomic, `.checkpoint.PID.HEX.tmp` directories and a half-renamed `.checkpoint.PID.HEX.old`
// of saveCheckpoint) is cleared by the next run in that directory, only where process PID is gone.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { clearDebris, processAlive } from "../../src/util/debris.js";
import { writeFileAtomic } from "../../src/util/atomic_write.js";
import { tempDir, phantom, writeVolume } from "../data/phantom.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
let dir: string;
let cleanup: () => void;
/** The pid of a process that has exited. */
let dead: number;

before(() => {
  ({ dir, cleanup } = tempDir("moediff-debris-"));
  dead = spawnSync(process.execPath, ["-e", ""]).pid!;
  assert.equal(processAlive(dead), false);
});
after(() => cleanup());

function plantCheckpointDir(path: string, step: number): void {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, "state.json"), JSON.stringify({ step }));
}

test("clearDebris removes the temporary files and directories of dead processes only, and nothing else", () => {
  const d = join(dir, "mixed");
  mkdirSync(d);
  const deadFile = `.out.nii.gz.${dead}.0123456789ab.tmp`;
  const deadDir = `.checkpoint.${dead}.89abcdef.tmp`;
  const liveFile = `.out.nii.gz.${process.pid}.0123456789ab.tmp`;
  const liveDir = `.checkpoint.${process.ppid}.89abcdef.tmp`;
  const others = ["out.nii.gz", ".hidden.tmp", `.x.${dead}.tmp`, `.x.${dead}.zz12zz12.tmp`, `x.${dead}.0123456789ab.tmp`];
  writeFileSync(join(d, deadFile), "partial");
  plantCheckpointDir(join(d, deadDir), 5);
  writeFileSync(join(d, liveFile), "being written");
  plantCheckpointDir(join(d, liveDir), 6);
  for (const o of others) writeFileSync(join(d, o), "");
  const actions = clearDebris(d);
  assert.deepEqual(actions.map((a) => [a.action, a.path]).sort(), [["removed", join(d, deadDir)], ["removed", join(d, deadFile)]].sort());
  assert.deepEqual(readdirSync(d).sort(), [liveDir, liveFile, ...others].sort());
  assert.deepEqual(clearDebris(join(dir, "no-such-dir")), []);
});

test("a checkpoint left half-renamed (.old present, checkpoint/ missing) is renamed back; an .old beside its checkpoint is removed", () => {
  const d = join(dir, "half");
  plantCheckpointDir(join(d, `.checkpoint.${dead}.0badc0de.old`), 4);
  plantCheckpointDir(join(d, `.checkpoint.${dead}.00c0ffee.tmp`), 6); // the new one, complete or not
  const actions = clearDebris(d);
  assert.deepEqual(
    actions.find((a) => a.action === "restored"),
    { path: join(d, `.checkpoint.${dead}.0badc0de.old`), action: "restored", target: join(d, "checkpoint") },
  );
  assert.deepEqual(readdirSync(d), ["checkpoint"]);
  assert.equal(JSON.parse(readFileSync(join(d, "checkpoint", "state.json"), "utf8")).step, 4);
  // killed after the second rename, before the .old was removed
  plantCheckpointDir(join(d, `.checkpoint.${dead}.0badc0de.old`), 2);
  clearDebris(d);
  assert.deepEqual(readdirSync(d), ["checkpoint"]);
  assert.equal(JSON.parse(readFileSync(join(d, "checkpoint", "state.json"), "utf8")).step, 4);
});

test("the first atomic write of a process into a directory clears its debris", () => {
  const d = join(dir, "outputs");
  mkdirSync(d);
  const debris = `.enhanced.nii.gz.${dead}.0123456789ab.tmp`;
  writeFileSync(join(d, debris), "partial");
  writeFileAtomic(join(d, "a.txt"), (w) => w(Buffer.from("a")));
  assert.deepEqual(readdirSync(d), ["a.txt"]);
});

test("a command writing a NIfTI into a directory holding a killed write's temporary file removes it", () => {
  const d = join(dir, "cli");
  mkdirSync(d);
  const input = writeVolume(join(dir, "in.nii.gz"), phantom([8, 8, 4]));
  const debris = `.out.nii.gz.${dead}.0123456789ab.tmp`;
  writeFileSync(join(d, debris), "partial");
  const r = spawnSync(process.execPath, [main, "convert", input, join(d, "out.nii.gz")], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(d), ["out.nii.gz"]);
});
