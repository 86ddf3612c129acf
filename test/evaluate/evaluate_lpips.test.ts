// `moediff-sr evaluate` with LPIPS (--lpips-backbone/--lpips-linear/--lpips-net): the report's value
// is the module's (src/metrics/lpips_volume.ts) and the Python golden's; without the options the
// command still runs where the tensor engine cannot load.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as T from "../../src/torch/index.js";
import { writeNifti } from "../../src/nifti/index.js";
import { evaluate, runEvaluate, type EvaluateReport } from "../../src/evaluate/evaluate.js";
import { formatReport, reportToJson } from "../../src/evaluate/report_text.js";
import { Lpips } from "../../src/metrics/lpips.js";
import { lpipsVolume } from "../../src/metrics/lpips_volume.js";
import { dataRange } from "../../src/volume/volume.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { FIXTURES, goldenVolume, loadLpipsGolden } from "../metrics/lpips_formula.js";

const g = loadLpipsGolden().volume;
const work = mkdtempSync(join(tmpdir(), "moediff-evaluate-lpips-"));
after(() => rmSync(work, { recursive: true, force: true }));

const { pred, ref } = goldenVolume(g);
const AFFINE = [1, 0, 0, -9, 0, 1, 0, -8, 0, 0, 1.5, -3, 0, 0, 0, 1];
const PRED = join(work, "pred.nii.gz");
const REF = join(work, "ref.nii.gz");
writeNifti(PRED, { data: pred, dims: g.dims, affine: AFFINE });
writeNifti(REF, { data: ref, dims: g.dims, affine: AFFINE });
const BACKBONE = `${FIXTURES}lpips_vgg_tiny.pth`;
const LINEAR = `${FIXTURES}lpips_vgg_tiny_lin.pth`;
const ALEX = `${FIXTURES}lpips_alex_tiny.safetensors`;
const ALEX_LIN = `${FIXTURES}lpips_alex_tiny_lin.pth`;

/** The module's LPIPS of the volume, computed directly. */
function moduleLpips(range: number, backbone = BACKBONE, linear = LINEAR, net: "vgg" | "alex" = "vgg") {
  using model = Lpips.fromFiles(backbone, linear, { net });
  return lpipsVolume(model, pred, ref, g.dims, { axis: 2, low: dataRange(ref)[0], range });
}

test("evaluate reports LPIPS equal to the module's and to the Python golden", async () => {
  const r = await evaluate({ pred: PRED, ref: REF, lpipsBackbone: BACKBONE, lpipsLinear: LINEAR });
  const want = moduleLpips(r.dataRange);
  assert.ok(r.lpips !== undefined);
  assert.equal(r.lpips.value, want.mean);
  assertClose(r.lpips.value, g.mean, { atol: 1e-5, rtol: 0 });
  assert.deepEqual(
    { net: r.lpips.net, version: r.lpips.version, axis: r.lpips.axis, used: r.lpips.slicesUsed, skipped: r.lpips.slicesSkipped, slices: r.lpips.slices },
    { net: "vgg", version: "0.1", axis: 2, used: 10, skipped: 1, slices: undefined },
  );
  assert.match(formatReport(r), new RegExp(`^LPIPS\\s+${g.mean.toFixed(6)} \\(vgg v0\\.1; mean over 10 slices across axis 2, 1 with a constant reference skipped\\)$`, "m"));
  const back = JSON.parse(reportToJson(r)) as EvaluateReport;
  assert.equal(back.lpips?.value, r.lpips.value);
  assert.equal(back.lpips?.backbone, BACKBONE);
});

test("--per-slice adds per-slice LPIPS (n/a for the skipped slice); --data-range and --lpips-net alex are honoured", async () => {
  const r = await evaluate({ pred: PRED, ref: REF, lpipsBackbone: BACKBONE, lpipsLinear: LINEAR, perSlice: true, dataRange: 150 });
  const want = moduleLpips(150);
  assert.equal(r.dataRange, 150);
  assert.deepEqual(r.lpips?.slices, want.slices);
  assert.equal(r.lpips?.value, want.mean);
  const text = formatReport(r);
  assert.match(text, /per slice across axis 2 \(2-D SSIM and HFEN; LPIPS n\/a: constant reference\):/);
  assert.match(text, new RegExp(`^slice 0 .*\\s${want.slices[0]!.lpips.toFixed(4)}$`, "m"));
  assert.match(text, /^slice 2 .*\sn\/a$/m);
  // AlexNet needs 31x31 images: the 18x16 slices are refused with the reason.
  await assert.rejects(evaluate({ pred: PRED, ref: REF, lpipsBackbone: ALEX, lpipsLinear: ALEX_LIN, lpipsNet: "alex" }), /slices across axis 2 are 18x16 voxels, but the alex LPIPS network needs at least 31x31/);
});

test("incomplete LPIPS options are clear errors; runEvaluate without the network says to use evaluate()", async () => {
  await assert.rejects(evaluate({ pred: PRED, ref: REF, lpipsBackbone: BACKBONE }), /LPIPS needs both --lpips-backbone FILE .* and --lpips-linear FILE .*; only --lpips-backbone was given/);
  await assert.rejects(evaluate({ pred: PRED, ref: REF, lpipsLinear: LINEAR }), /LPIPS needs both .*only --lpips-linear was given/);
  await assert.rejects(evaluate({ pred: PRED, ref: REF, lpipsNet: "alex" }), /--lpips-net needs --lpips-backbone FILE and --lpips-linear FILE/);
  assertThrowsMatching(() => runEvaluate({ pred: PRED, ref: REF, lpipsBackbone: BACKBONE, lpipsLinear: LINEAR }), /call evaluate\(\) \(async\), which loads it/);
  await assert.rejects(evaluate({ pred: PRED, ref: REF, lpipsBackbone: LINEAR, lpipsLinear: LINEAR }), /LPIPS VGG-16 backbone/);
  const none = await evaluate({ pred: PRED, ref: REF });
  assert.equal(none.lpips, undefined);
  assert.doesNotMatch(formatReport(none), /LPIPS/);
});

const main = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const run = (env: Record<string, string>, ...args: string[]) =>
  spawnSync(process.execPath, [main, ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, ...env } });

test("the CLI prints the module's LPIPS; without the options it runs with no engine, with them it says the engine is needed", () => {
  const threads = { MOEDIFF_NUM_THREADS: String(T.getNumThreads()) };
  const r = run(threads, "evaluate", "--pred", PRED, "--ref", REF, "--lpips-backbone", BACKBONE, "--lpips-linear", LINEAR, "--json");
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as EvaluateReport;
  assertClose(report.lpips!.value, moduleLpips(report.dataRange).mean, { atol: 1e-9, rtol: 0 });
  const noEngine = { MOEDIFF_NATIVE: join(work, "missing.node") };
  const plain = run(noEngine, "evaluate", "--pred", PRED, "--ref", REF);
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /^volume\s+\d+\.\d{3}\s/m);
  const lp = run(noEngine, "evaluate", "--pred", PRED, "--ref", REF, "--lpips-backbone", BACKBONE, "--lpips-linear", LINEAR);
  assert.equal(lp.status, 1);
  assert.match(lp.stderr, /evaluate: LPIPS needs the tensor engine, which did not load \(.*missing\.node.*\); leave out the --lpips-\* options/);
  assert.doesNotMatch(lp.stderr, /at .*\.js:\d+/);
  const half = run(noEngine, "evaluate", "--pred", PRED, "--ref", REF, "--lpips-linear", LINEAR);
  assert.equal(half.status, 1);
  assert.match(half.stderr, /LPIPS needs both/);
  const bad = run(noEngine, "evaluate", "--pred", PRED, "--ref", REF, "--lpips-net", "squeeze");
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--lpips-net must be vgg or alex, got 'squeeze'/);
});

test("brain LPIPS: outside the brain both images are set to the reference minimum; the table gives it beside the brain row", async () => {
  const [nx, ny] = g.dims;
  // A box of "brain" in the middle of every slice; outside it pred is made far worse, which the brain LPIPS must not see.
  const mask = Float32Array.from({ length: ref.length }, (_, q) => {
    const i = q % nx;
    const j = Math.floor(q / nx) % ny;
    return i >= 3 && i < nx - 3 && j >= 3 && j < ny - 3 ? 1 : 0;
  });
  const dir = join(work, "brain-lpips");
  mkdirSync(dir);
  writeNifti(join(dir, "brain.nii.gz"), { data: mask, dims: g.dims, affine: AFFINE });
  const worseOutside = join(work, "worse-outside.nii.gz");
  writeNifti(worseOutside, { data: Float32Array.from(pred, (v, q) => (mask[q] === 1 ? v : v + 60)), dims: g.dims, affine: AFFINE });
  const a = await evaluate({ pred: PRED, ref: REF, regions: dir, lpipsBackbone: BACKBONE, lpipsLinear: LINEAR });
  const b = await evaluate({ pred: worseOutside, ref: REF, regions: dir, lpipsBackbone: BACKBONE, lpipsLinear: LINEAR });
  assert.ok(a.lpips?.brain !== undefined && b.lpips?.brain !== undefined);
  assert.equal(a.lpips.brain.region, "brain");
  assert.equal(b.lpips.brain.value, a.lpips.brain.value, "the background does not reach the brain LPIPS");
  assert.ok(b.lpips.value > a.lpips.value + 1e-3, "it does reach the whole-grid LPIPS");
  // By hand: the masked images through the module.
  using model = Lpips.fromFiles(BACKBONE, LINEAR, { net: "vgg" });
  const low = dataRange(ref)[0];
  const masked = (v: Float32Array) => Float32Array.from(v, (x, q) => (mask[q] === 1 ? x : low));
  const want = lpipsVolume(model, masked(pred), masked(ref), g.dims, { axis: 2, low, range: a.dataRange });
  assert.equal(a.lpips.brain.value, want.mean);
  assert.equal(a.lpips.brain.slicesUsed, want.slices.length);
  const text = formatReport(a);
  assert.match(text, new RegExp(`^brain\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\d+\\s+${a.lpips.brain.value.toFixed(4)}$`, "m"));
  assert.match(text, new RegExp(`^volume\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\S+\\s+\\d+\\s+${a.lpips.value.toFixed(4)}$`, "m"));
  assert.match(text, /^LPIPS brain \d\.\d{6} \(brain: outside it both images set to the reference minimum/m);
});
