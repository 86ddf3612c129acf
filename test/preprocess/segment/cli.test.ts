// `moediff-sr segment` through its commander registration (as main.ts will wire it), on Colin27 at
// 3 mm written to a temporary file: the files it writes, and its errors for bad input.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { registerSegment, segmentOptionParsers } from "../../../src/cli/commands/segment.js";
import { readNifti, toVolume, writeNifti } from "../../../src/nifti/index.js";
import { readLabelNames } from "../../../src/metrics/regions.js";
import { resampleToVoxelSize } from "../../../src/volume/resample.js";
import { assertThrowsMatching } from "../../helpers.js";

const COLIN = "/usr/share/mricron/templates/ch2bet.nii.gz";
const work = mkdtempSync(join(tmpdir(), "moediff-segment-cli-"));
after(() => rmSync(work, { recursive: true, force: true }));

const t1Path = join(work, "t1.nii.gz");
assert.ok(existsSync(COLIN), `${COLIN} is missing: run scripts/setup.sh (it installs the Debian package mricron-data)`);
const t1 = resampleToVoxelSize(toVolume(readNifti(COLIN)), 3);
writeNifti(t1Path, t1);

async function run(...args: string[]): Promise<void> {
  const program = new Command().exitOverride();
  registerSegment(program);
  await program.parseAsync(["node", "moediff-sr", "segment", ...args]);
}

async function rejects(args: string[], ...patterns: RegExp[]): Promise<void> {
  let caught: unknown;
  try {
    await run(...args);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof Error, `expected segment ${args.join(" ")} to fail`);
  for (const p of patterns) assert.match(caught.message, p);
}

test("segment writes the uint8 label map, labels.json, the mask, the bias field and the region masks", async () => {
  const out = join(work, "seg", "labels.nii.gz");
  const regions = join(work, "seg", "regions");
  const maskOut = join(work, "seg", "brain.nii.gz");
  const biasOut = join(work, "seg", "bias.nii.gz");
  await run(t1Path, "-o", out, "--regions", regions, "--write-mask", maskOut, "--write-bias", biasOut);
  const labels = readNifti(out);
  assert.equal(labels.datatype, "uint8");
  assert.deepEqual(labels.dims, [...t1.dims]);
  assert.ok(labels.data.every((v) => v === 0 || v === 1 || v === 2 || v === 3));
  const names = readLabelNames(join(work, "seg", "labels.json"));
  assert.deepEqual([...names], [[1, "CSF"], [2, "GM"], [3, "WM"]]);
  const brain = readNifti(maskOut);
  assert.equal(brain.datatype, "uint8");
  assert.ok(brain.data.every((v, i) => (v !== 0) === (labels.data[i] !== 0)));
  const bias = readNifti(biasOut).data;
  assert.ok(bias.every((b, i) => (labels.data[i] === 0 ? b === 1 : b > 0.7 && b < 1.4)));
  const table = JSON.parse(readFileSync(join(regions, "regions.json"), "utf8")) as {
    centrumSemiovaleAboveZ: number;
    regions: Record<string, { file: string; voxels: number; volumeMl: number }>;
  };
  assert.deepEqual(Object.keys(table.regions), ["brain", "csf", "gm", "wm", "ventricles", "centrum_semiovale", "cortex", "gw_junction"]);
  for (const [name, entry] of Object.entries(table.regions)) {
    const m = readNifti(join(regions, entry.file));
    assert.equal(m.datatype, "uint8", name);
    const count = m.data.reduce((s, v) => s + (v !== 0 ? 1 : 0), 0);
    assert.equal(count, entry.voxels, name);
    assert.ok(Math.abs(entry.volumeMl - count * 0.027) < 1e-3, name);
  }
  assert.equal(table.regions.wm!.voxels, labels.data.reduce((s, v) => s + (v === 3 ? 1 : 0), 0));
  assert.ok(table.regions.centrum_semiovale!.voxels > 100);
  assert.ok(table.centrumSemiovaleAboveZ > 15 && table.centrumSemiovaleAboveZ < 45);
  // a supplied mask is used as given, and an explicit CSO bound replaces the ventricles
  const again = join(work, "seg2", "labels.nii.gz");
  await run(t1Path, "-o", again, "--mask", maskOut, "--regions", join(work, "seg2", "r"), "--cso-min-z", "40", "--junction-width", "6.5");
  const t2 = JSON.parse(readFileSync(join(work, "seg2", "r", "regions.json"), "utf8")) as typeof table;
  assert.equal(t2.centrumSemiovaleAboveZ, 40);
  assert.equal(t2.regions.ventricles, undefined);
  assert.ok(t2.regions.centrum_semiovale!.voxels < table.regions.centrum_semiovale!.voxels);
  assert.ok(t2.regions.gw_junction!.voxels > table.regions.gw_junction!.voxels);
});

test("segment: bad input and option errors say what to do", async () => {
  const out = join(work, "bad", "labels.nii.gz");
  // a mask on another grid
  const other = join(work, "other_mask.nii.gz");
  writeNifti(other, { data: new Float32Array(8).fill(1), dims: [2, 2, 2], affine: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1] });
  await rejects([t1Path, "-o", out, "--mask", other], /is not the input's/, /moediff-sr baseline .* --method input --like/);
  // an empty mask on the right grid
  const empty = join(work, "empty_mask.nii.gz");
  writeNifti(empty, { data: new Float32Array(t1.data.length), dims: t1.dims, affine: t1.affine });
  await rejects([t1Path, "-o", out, "--mask", empty], /the supplied mask is empty/);
  await rejects([t1Path, "-o", out, "--cso-min-z", "30"], /give --regions DIR too/);
  // NaN voxels: refused unless --non-finite zero
  const nanPath = join(work, "nan.nii.gz");
  const withNan = t1.data.slice();
  withNan[100] = Number.NaN;
  writeNifti(nanPath, { data: withNan, dims: t1.dims, affine: t1.affine });
  await rejects([nanPath, "-o", out], /NaN/);
  await run(nanPath, "-o", join(work, "nan_ok", "labels.nii.gz"), "--non-finite", "zero");
  assert.ok(existsSync(join(work, "nan_ok", "labels.nii.gz")));
  // a constant image
  const flat = join(work, "flat.nii.gz");
  writeNifti(flat, { data: new Float32Array(t1.data.length).fill(5), dims: t1.dims, affine: t1.affine });
  await rejects([flat, "-o", out], /constant/);
  // a 4-D input needs --volume-index
  const four = join(work, "four.nii.gz");
  writeNifti(four, { ...readNifti(t1Path), dims: [...t1.dims, 2], data: new Float32Array(t1.data.length * 2) });
  await rejects([four, "-o", out], /4-D with 2 frames; choose one with --volume-index/);
  assertThrowsMatching(() => segmentOptionParsers.skullStripped("maybe"), /--skull-stripped must be one of auto, yes, no, got 'maybe'/);
  assertThrowsMatching(() => segmentOptionParsers.positiveMm("junction-width")("0"), /--junction-width must be a positive number of mm/);
  await rejects([t1Path, "-o", out, "--mrf-beta", "-1"], /--mrf-beta must be a number >= 0/);
  assert.equal(existsSync(out), false);
});
