// `moediff-sr train-unet` and `moediff-sr baseline --method unet` as a user runs them (in-process, on a
// tiny phantom data set): the run directory, --resume, the refusals (which leave no output behind),
// the U-Net's output on the --like grid, and the registration in the command list.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { registerTrainUNet } from "../../src/cli/commands/train_unet.js";
import { registerBaseline } from "../../src/cli/commands/baseline.js";
import { readNifti } from "../../src/nifti/index.js";
import { phantom, tempDir, writeVolume } from "../data/phantom.js";
import { tinyDataset } from "../train/fixture.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
let dir: string;
let cleanup: () => void;
let data: string;
let configFile: string;
let lrPath: string;
let refPath: string;

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-unet-cli-"));
  data = await tinyDataset(dir);
  configFile = join(dir, "tiny.json");
  writeFileSync(configFile, JSON.stringify({ model: { baseChannels: 8, channelMult: [1, 2] }, training: { batchSize: 4, cropSize: 32, warmupSteps: 1, logEvery: 1 } }));
  lrPath = writeVolume(join(dir, "lr.nii.gz"), phantom([30, 36, 12], [2, 0, 0, -29, 0, 2, 0, -35, 0, 0, 2, -11, 0, 0, 0, 1]));
  refPath = writeVolume(join(dir, "ref.nii.gz"), phantom([40, 48, 16], [1.5, 0, 0, -29.25, 0, 1.5, 0, -35.25, 0, 0, 1.5, -11.25, 0, 0, 0, 1]));
});
after(() => cleanup());

/** Runs the commands in-process; returns what they printed (stdout and stderr lines). */
async function cli(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerTrainUNet(program);
  registerBaseline(program);
  const lines: string[] = [];
  const [log, err] = [console.log, console.error];
  console.log = (...a: unknown[]) => void lines.push(a.join(" "));
  console.error = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    await program.parseAsync(["node", "moediff-sr", ...args]);
  } finally {
    [console.log, console.error] = [log, err];
  }
  return lines.join("\n");
}

test("train-unet DATA -o RUN --config FILE --steps N: a finished run; --resume accepts it; a second run into RUN is refused", async () => {
  const run = join(dir, "run");
  const said = await cli(["train-unet", data, "-o", run, "--config", configFile, "--steps", "6"]);
  assert.match(said, /U-Net \(cpu-small\): [\d,]+ parameters, 8 base channels x \[1, 2\], 1 residual block\(s\) per level, norm group; \d+ training slices; 6 steps of 4 32x32 crops/);
  assert.match(said, /held-out \(val, \d+ slices\): U-Net PSNR/);
  for (const f of ["config.json", "card.json", "model.safetensors", "metrics.json", "log.jsonl"]) assert.ok(existsSync(join(run, f)), f);
  const config = JSON.parse(readFileSync(join(run, "config.json"), "utf8")) as { kind: string; training: { steps: number; minutes: number } };
  assert.deepEqual([config.kind, config.training.steps, config.training.minutes], ["unet", 6, 0]);
  // --resume without --config reads the run's own config.json
  assert.match(await cli(["train-unet", data, "-o", run, "--resume"]), /has finished \(step 6 of 6\); nothing to do/);
  await assert.rejects(cli(["train-unet", data, "-o", run, "--config", configFile, "--steps", "6"]), /already holds a U-Net run; pass --resume to continue it/);
});

test("train-unet refusals: --steps with --minutes, a bad --minutes, a missing data set, an unknown config key", async () => {
  const out = join(dir, "never");
  await assert.rejects(cli(["train-unet", data, "-o", out, "--steps", "3", "--minutes", "1"]), /give --steps N or --minutes M, not both/);
  await assert.rejects(cli(["train-unet", data, "-o", out, "--minutes", "0"]), /--minutes must be a number of minutes > 0, got '0'/);
  await assert.rejects(cli(["train-unet", join(dir, "nowhere"), "-o", out]), /data set .*nowhere: the directory does not exist/);
  const bad = join(dir, "bad.json");
  writeFileSync(bad, JSON.stringify({ model: { levels: 3 } }));
  await assert.rejects(cli(["train-unet", data, "-o", out, "--config", bad]), /unknown key config\.model\.levels/);
  assert.ok(!existsSync(out), "no output directory after a refusal");
});

test("baseline --method unet --model RUN --like REF: the U-Net's output on the reference grid; refusals leave no file", async () => {
  const run = join(dir, "run");
  if (!existsSync(join(run, "model.safetensors"))) await cli(["train-unet", data, "-o", run, "--config", configFile, "--steps", "6"]);
  const out = join(dir, "unet.nii.gz");
  const said = await cli(["baseline", lrPath, "--method", "unet", "--model", run, "--like", refPath, "-o", out]);
  assert.match(said, /baseline: wrote .*unet\.nii\.gz: unet \(.*run\), 40x48x16 at 1\.5x1\.5x1\.5 mm; \d+ of 16 slices had signal/);
  const sr = readNifti(out);
  const ref = readNifti(refPath);
  assert.deepEqual(sr.dims.slice(0, 3), [40, 48, 16]);
  sr.affine.forEach((v, i) => assert.ok(Math.abs(v - (ref.affine[i] as number)) < 1e-6));
  // without --like or --voxel: the card's voxel size (the tiny data set's HR grid, 1 mm)
  const atCard = join(dir, "unet-card.nii.gz");
  assert.match(await cli(["baseline", lrPath, "--method", "unet", "--model", run, "-o", atCard]), /unet \(.*\), 60x72x24 at 1x1x1 mm/);

  const never = join(dir, "never.nii.gz");
  await assert.rejects(cli(["baseline", lrPath, "--method", "unet", "--like", refPath, "-o", never]), /--method unet needs --model DIR, a U-Net directory made by `moediff-sr train-unet`/);
  await assert.rejects(cli(["baseline", lrPath, "--method", "bspline", "--model", run, "--like", refPath, "-o", never]), /--model applies to --method unet only/);
  await assert.rejects(cli(["baseline", lrPath, "--method", "unet", "--model", run, "--voxel", "1", "--like", refPath, "-o", never]), /give --voxel or --like, not both/);
  const moe = writeTinyModelDir(join(dir, "moe"));
  await assert.rejects(cli(["baseline", lrPath, "--method", "unet", "--model", moe, "-o", never]), /is a MoEDiff-SR run .*not a U-Net; enhance with it using `moediff-sr enhance --model/);
  assert.ok(!existsSync(never));
});

test("the command line lists train-unet and its options", () => {
  const all = spawnSync(process.execPath, [main, "--help"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(all.status, 0, all.stderr);
  assert.match(all.stdout, /train-unet \[options\] <data>\s+train the regression U-Net baseline/);
  const one = spawnSync(process.execPath, [main, "train-unet", "--help"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(one.status, 0, one.stderr);
  for (const o of ["--minutes <m>", "--steps <n>", "--resume", "--config <file>"]) assert.ok(one.stdout.includes(o), o);
  const base = spawnSync(process.execPath, [main, "baseline", "--help"], { encoding: "utf8", timeout: 60_000 });
  assert.match(base.stdout, /--model <dir>\s+with --method unet/);
});
