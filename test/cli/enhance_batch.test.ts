// `moediff-sr enhance` over many volumes (issue 21, point 8): several inputs or --list into -o DIR,
// --bids ROOT into BIDS derivatives, --skip-existing, a failing volume reported while the others are
// written, and the refusals made before any volume is read.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stderrOf } from "./in_process.js";
import { registerEnhance } from "../../src/cli/commands/enhance.js";
import { readNifti } from "../../src/nifti/index.js";
import { phantom, tempDir, writeVolume } from "../data/phantom.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";
import { bidsDerivativeStem, findBidsT1w } from "../../src/data/bids.js";
import { planEnhanceJobs } from "../../src/cli/enhance_jobs.js";

let dir: string;
let cleanup: () => void;
let run: string;
const affine = [2, 0, 0, -29, 0, 2, 0, -35, 0, 0, 2, -11, 0, 0, 0, 1];

before(() => {
  ({ dir, cleanup } = tempDir("moediff-enhance-batch-"));
  run = writeTinyModelDir(join(dir, "run"));
});
after(() => cleanup());

const cli = (args: string[]): Promise<string[]> => stderrOf([registerEnhance], args);
const vol = (path: string): string => {
  mkdirSync(join(path, ".."), { recursive: true });
  return writeVolume(path, phantom([30, 36, 6], affine));
};

test("several inputs into -o DIR: one model load, each result named as its input; --skip-existing skips it next time", async () => {
  const a = vol(join(dir, "in", "a.nii.gz"));
  const b = vol(join(dir, "in", "b.nii"));
  const out = join(dir, "out");
  const said = (await cli(["enhance", a, b, "-o", `${out}/`, "--model", run, "--steps", "1", "--threads", "1"])).join("\n");
  assert.match(said, /enhance: 2 volume\(s\); 1 thread\(s\)/);
  assert.match(said, /done: 2 written, 0 skipped \(already there\), 0 failed, of 2/);
  for (const name of ["a", "b"]) {
    assert.ok(existsSync(join(out, `${name}.nii.gz`)), `${name}.nii.gz`);
    assert.ok(existsSync(join(out, `${name}.json`)), `${name}.json (the record)`);
  }
  const before = statSync(join(out, "a.nii.gz")).mtimeMs;
  const again = (await cli(["enhance", a, b, "-o", out, "--model", run, "--steps", "1", "--skip-existing"])).join("\n");
  assert.match(again, /2 already done \(--skip-existing\)/);
  assert.match(again, /done: 0 written, 2 skipped/);
  assert.equal(statSync(join(out, "a.nii.gz")).mtimeMs, before);
});

test("--list: paths relative to the list, comments ignored; a failing volume is reported, the others written, exit non-zero", async () => {
  vol(join(dir, "list", "good.nii.gz"));
  writeFileSync(join(dir, "list", "broken.nii.gz"), "not a nifti");
  const list = join(dir, "list", "inputs.txt");
  writeFileSync(list, "# subjects\ngood.nii.gz\n\nbroken.nii.gz\n");
  const out = join(dir, "list-out");
  const lines: string[] = [];
  await assert.rejects(
    async () => void lines.push(...(await cli(["enhance", "--list", list, "-o", out, "--model", run, "--steps", "1"]))),
    /1 of 2 volume\(s\) failed \(listed above\); the others were written/,
  );
  assert.ok(existsSync(join(out, "good.nii.gz")));
  assert.equal(existsSync(join(out, "broken.nii.gz")), false);
});

test("--bids: every T1w of every subject and session into derivatives, named desc-7Tlike, with sidecars and dataset_description.json", async () => {
  const root = join(dir, "bids");
  vol(join(root, "sub-01", "anat", "sub-01_T1w.nii.gz"));
  vol(join(root, "sub-02", "ses-a", "anat", "sub-02_ses-a_run-1_T1w.nii.gz"));
  vol(join(root, "sub-02", "ses-b", "anat", "sub-02_ses-b_T1w.nii"));
  vol(join(root, "sub-02", "ses-b", "anat", "sub-02_ses-b_FLAIR.nii.gz")); // not a T1w: left alone
  writeFileSync(join(root, "dataset_description.json"), JSON.stringify({ Name: "test", BIDSVersion: "1.9.0" }));
  assert.deepEqual(findBidsT1w(root).map((t) => t.relDir), ["sub-01/anat", "sub-02/ses-a/anat", "sub-02/ses-b/anat"]);
  const said = (await cli(["enhance", "--bids", root, "--model", run, "--steps", "1"])).join("\n");
  assert.match(said, /3 T1w volume\(s\)/);
  const deriv = join(root, "derivatives", "moediff-sr");
  const want = ["sub-01/anat/sub-01_desc-7Tlike_T1w", "sub-02/ses-a/anat/sub-02_ses-a_run-1_desc-7Tlike_T1w", "sub-02/ses-b/anat/sub-02_ses-b_desc-7Tlike_T1w"];
  for (const w of want) {
    const nii = existsSync(join(deriv, `${w}.nii.gz`)) ? `${w}.nii.gz` : `${w}.nii`;
    assert.ok(existsSync(join(deriv, nii)), nii);
    assert.ok(existsSync(join(deriv, `${w}.json`)), `${w}.json`);
    assert.ok((readNifti(join(deriv, nii)).dims[2] ?? 0) > 6, "super-resolved");
  }
  const desc = JSON.parse(readFileSync(join(deriv, "dataset_description.json"), "utf8")) as { DatasetType: string; GeneratedBy: { Name: string }[] };
  assert.equal(desc.DatasetType, "derivative");
  assert.equal(desc.GeneratedBy[0]?.Name, "moediff-sr");
  assert.equal(existsSync(join(deriv, "sub-02", "ses-b", "anat", "sub-02_ses-b_desc-7Tlike_FLAIR.nii.gz")), false);
});

test("planning refusals come before anything is read: clashing names, a file -o for many inputs, --bids with inputs, nothing given", () => {
  assert.throws(() => planEnhanceJobs({ inputs: ["x/t1.nii.gz", "y/t1.nii"], output: "out" }), /x\/t1\.nii\.gz and y\/t1\.nii would both be written to out\/t1\.nii\.gz/);
  assert.throws(() => planEnhanceJobs({ inputs: ["a.nii.gz", "b.nii.gz"], output: "o.nii.gz" }), /names a file, but 2 inputs were given: name a directory/);
  assert.throws(() => planEnhanceJobs({ inputs: ["a.nii.gz"], bids: dir }), /--bids finds its own inputs/);
  assert.throws(() => planEnhanceJobs({ inputs: [] }), /no input: give a volume/);
  assert.throws(() => planEnhanceJobs({ inputs: ["a.nii.gz"] }), /-o is required/);
  assert.throws(() => planEnhanceJobs({ inputs: [], bids: join(dir, "nowhere") }), /--bids .*nowhere: not a directory/);
  assert.deepEqual(planEnhanceJobs({ inputs: ["a.nii"], output: "b.nii.gz" }), { jobs: [{ input: "a.nii", output: "b.nii.gz", label: "a.nii" }], single: true, derivatives: null });
  assert.equal(bidsDerivativeStem("sub-01_ses-1_desc-preproc_T1w"), "sub-01_ses-1_desc-7Tlike_T1w");
});

test("--qc DIR: a figure and tissue means per volume, and qc.md over the run", async () => {
  const a = vol(join(dir, "qc-in", "subj-a.nii.gz"));
  const b = vol(join(dir, "qc-in", "subj-b.nii.gz"));
  const qc = join(dir, "qc");
  const said = (await cli(["enhance", a, b, "-o", join(dir, "qc-out"), "--model", run, "--steps", "1", "--qc", qc])).join("\n");
  assert.match(said, /quality report .*qc\.md \(2 volume\(s\)\)/);
  for (const name of ["subj-a", "subj-b"]) {
    assert.ok(statSync(join(qc, `${name}.png`)).size > 1000, `${name}.png`);
    const rec = JSON.parse(readFileSync(join(qc, `${name}.json`), "utf8")) as { tissue: { tissue: string; voxels: number; before: number; after: number; ratio: number }[] };
    assert.deepEqual(rec.tissue.map((t) => t.tissue), ["CSF", "GM", "WM"]);
    for (const t of rec.tissue) assert.ok(t.voxels > 0 && Number.isFinite(t.before) && Number.isFinite(t.ratio), JSON.stringify(t));
  }
  const md = readFileSync(join(qc, "qc.md"), "utf8");
  assert.match(md, /\| \[subj-a\]\(subj-a\.png\) \|/);
  assert.match(md, /\| \[subj-b\]\(subj-b\.png\) \|/);
});
