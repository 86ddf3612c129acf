// Exporting a run as the embedded model, on a tiny random-weight run and data set: the export loads
// through loadModelDir and its stored precisions are the ones the card records; the recorded check
// numbers are what sampling the exported and the float32 weights gives here; float16 files are about
// half the size; a zero tolerance keeps float32 bit for bit; bad targets are refused and leave nothing.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as T from "../../src/torch/index.js";
import { openSliceDataset } from "../../src/data/dataset.js";
import { loadModelDir } from "../../src/model_dir/load.js";
import { MoEDiffSRPipeline } from "../../src/inference/pipeline.js";
import { mixSeed } from "../../src/inference/moe_sampler.js";
import { readHeldout, type HeldoutResults } from "../../src/model_dir/heldout.js";
import { compareOutputs, exportModel, fileDtypes, sampleSlices, toFloat16File } from "../../src/export/export_model.js";
import { wallTimeFromLog, WEIGHT_FILES, type Network } from "../../src/export/record.js";
import { tempDir } from "../data/phantom.js";
import { tinyDataset } from "../train/fixture.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

let dir: string;
let cleanup: () => void;
let data: string;
let run: string;
const results: HeldoutResults = { title: "Held-out comparison", command: "npm run train:default", columns: ["method", "PSNR dB"], rows: [["cubic B-spline", 25.1], ["E1 only", "not trained"]], notes: ["n"] };

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-export-"));
  data = await tinyDataset(dir);
  run = writeTinyModelDir(join(dir, "run"));
  // Fewer DDIM steps than the preset's 25 keep the checks fast; the export samples as the config says.
  const cfg = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
  writeFileSync(join(run, "config.json"), JSON.stringify({ ...cfg, sampling: { ...cfg.sampling, steps: 4 } }));
  writeFileSync(join(run, "log.jsonl"), ['{"step":10,"time":5}', '{"step":20,"time":9.5}', '{"step":30,"time":4}', '{"step":40,"time":8}', ""].join("\n"));
});
after(() => cleanup());

const NETWORKS: Network[] = ["moe", "vqvae"];

/** Output of `modelDir` on the test slices the export checked, as the export samples them. */
function outputs(modelDir: string, slices: readonly number[], seed: number): { out: Float32Array; hr: Float32Array; hw: number } {
  const ds = openSliceDataset(data);
  const pipe = MoEDiffSRPipeline.fromDir(modelDir);
  try {
    return T.tidy(() => {
      const b = ds.getBatch("test", slices);
      const out = sampleSlices(pipe, b.cond, slices.map((s) => mixSeed(seed, s)));
      return { out, hr: b.hr.contiguous().data() as Float32Array, hw: ds.height * ds.width };
    });
  } finally {
    pipe.dispose();
    ds.close();
  }
}

test("the default export: loads, stores what the card says, and the card's check numbers are reproduced", async () => {
  const out = join(dir, "models", "default");
  const tensors = T.memory().numTensors;
  const r = await exportModel({ run, out, data, results, checkSlices: 2, recipe: { command: "npm run train:default", configs: [], logs: [{ label: "VQ-VAE", path: join(dir, "none.jsonl") }] } });
  assert.equal(T.memory().numTensors, tensors, "the export leaves no tensor behind");
  for (const f of r.files) assert.ok(existsSync(join(out, f)), f);
  assert.deepEqual(readdirSync(join(dir, "models")), ["default"], "no temporary directory is left");
  const card = JSON.parse(readFileSync(join(out, "card.json"), "utf8"));
  assert.deepEqual(card.export, JSON.parse(JSON.stringify(r.record)));
  assert.deepEqual(readHeldout(out).results, results);
  assert.match(r.record.check.sampler, /^DDIM 4 steps/);

  const chosen = NETWORKS.filter((n) => r.record.weights[n].dtype === "float16");
  for (const n of NETWORKS) {
    const w = r.record.weights[n];
    assert.equal(w.bytes, statSync(join(out, WEIGHT_FILES[n])).size);
    assert.equal(w.float32Bytes, statSync(join(run, WEIGHT_FILES[n])).size);
    const dtypes = [...fileDtypes(join(out, WEIGHT_FILES[n])).values()];
    assert.ok(dtypes.every((d) => d !== (w.dtype === "float16" ? "float32" : "float16")), `${n}: stored as ${w.dtype} (${[...new Set(dtypes)].join(", ")})`);
  }
  // The decision follows the trials, and the recorded numbers are what sampling gives here.
  const trials = r.record.check.trials;
  for (const t of trials) assert.equal(t.pass, t.maxAbs < 0.01 && t.psnrDelta < 0.01);
  const fp32 = outputs(run, r.record.check.slices, 1);
  const mine = outputs(out, r.record.check.slices, 1);
  const c = compareOutputs(mine.out, fp32.out, fp32.hr, fp32.hw);
  if (chosen.length === 0) assert.equal(c.maxAbs, 0);
  else {
    const t = trials.find((x) => x.float16.join() === chosen.join());
    assert.ok(t !== undefined && t.pass, `a passing trial for ${chosen.join(" + ")}`);
    assertClose(c.maxAbs, t.maxAbs, { atol: 1e-7, rtol: 1e-6 });
    assertClose(c.psnrDelta, t.psnrDelta, { atol: 1e-7, rtol: 1e-6 });
  }
  const md = readFileSync(join(out, "MODEL_CARD.md"), "utf8");
  for (const heading of ["## Intended use", "## Training data", "## Recipe", "## Held-out results", "## Precision of the weights", "## Known limits", "## Licence"]) assert.ok(md.includes(heading), heading);
  assert.match(md, /not for diagnosis/);
  assert.match(md, /mricron-data/);
  assert.match(md, /\| cubic B-spline \| 25\.1 \|/);
  assert.match(md, /MoEDiff-SR \(3 experts\): 40 steps in 0\.3 min of training wall time \(2 sittings/);
  assert.match(md, /VQ-VAE: no training log/);
  assert.match(md, /simulated acquisition: voxel [\d.]+ mm, SNR [\d.]+/);
});

test("with an unbounded tolerance both networks are float16: half the size, every float tensor F16, and it loads", async () => {
  const out = join(dir, "f16");
  const r = await exportModel({ run, out, data, checkSlices: 1, tolerance: { psnrDb: Infinity, maxAbs: Infinity } });
  for (const n of NETWORKS) {
    const w = r.record.weights[n];
    assert.equal(w.dtype, "float16");
    assert.ok(w.bytes < 0.6 * w.float32Bytes && w.bytes > 0.4 * w.float32Bytes, `${n}: ${w.bytes} vs ${w.float32Bytes} bytes`);
    const src = fileDtypes(join(run, WEIGHT_FILES[n]));
    for (const [k, d] of fileDtypes(join(out, WEIGHT_FILES[n]))) assert.equal(d, src.get(k) === "float32" ? "float16" : src.get(k), k);
  }
  const lm = loadModelDir(out);
  try {
    assert.equal(lm.model.parameters()[0]?.dtype, "float32", "float16 weights load into the float32 model");
  } finally {
    lm.dispose();
  }
});

test("with a zero tolerance both networks stay float32, tensor for tensor", async () => {
  const out = join(dir, "f32");
  const r = await exportModel({ run, out, data, checkSlices: 1, tolerance: { psnrDb: 0, maxAbs: 0 } });
  assert.ok(r.record.check.trials.every((t) => !t.pass));
  for (const n of NETWORKS) {
    assert.equal(r.record.weights[n].dtype, "float32");
    assert.deepEqual(readFileSync(join(out, WEIGHT_FILES[n])), readFileSync(join(run, WEIGHT_FILES[n])));
  }
});

test("float16 conversion keeps a tensor float16 cannot hold in float32", () => {
  const src = join(dir, "big.safetensors");
  const dst = join(dir, "big16.safetensors");
  const a = T.tensor([1, 2, 3], [3]);
  const big = T.tensor([1e6, 1], [2]);
  const idx = T.tensor([1, 2], [2], { dtype: "int64" });
  try {
    T.io.saveFile(src, { a, big, idx });
  } finally {
    for (const t of [a, big, idx]) t.dispose();
  }
  assert.deepEqual(toFloat16File(src, dst).keptFloat32, ["big"]);
  assert.deepEqual(Object.fromEntries(fileDtypes(dst)), { a: "float16", big: "float32", idx: "int64" });
});

test("wallTimeFromLog sums the sittings of a resumed run", () => {
  assert.deepEqual(wallTimeFromLog(join(run, "log.jsonl")), { seconds: 17.5, steps: 40, sittings: 2 });
  assert.equal(wallTimeFromLog(join(dir, "missing.jsonl")), null);
});

test("bad targets are refused before anything is written", async () => {
  const other = join(dir, "other");
  mkdirSync(other);
  writeFileSync(join(other, "notes.txt"), "mine");
  await assert.rejects(exportModel({ run, out: other, data }), /is not empty and is not an exported model/);
  assert.deepEqual(readdirSync(other), ["notes.txt"]);
  await assert.rejects(exportModel({ run, out: join(dir, "f32"), data }), /already holds a model; pass force/);
  await assert.rejects(exportModel({ run: join(dir, "nothing"), out: join(dir, "new"), data }), /model directory .*nothing does not exist/);
  assert.ok(!existsSync(join(dir, "new")));
  assert.ok(readdirSync(dir).every((f) => !f.includes(".partial-")), "no partial export is left");
  assertThrowsMatching(() => compareOutputs(new Float32Array(4), new Float32Array(3), new Float32Array(4), 2), /lengths 4, 3, 4/);
});
