// The brain-first layout of the comparison table: an older whole-first table (as models/default's
// heldout.json held before) is put brain first with its Δ recomputed on the brain PSNR and its
// whole-image Δ dropped; a brain-first table or one without brain columns is left as recorded; the
// model card renders it brain first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { brainFirst, isBrainFirst, NOT_RECORDED } from "../../src/demo/results_layout.js";
import { RESULT_COLUMNS } from "../../src/demo/results_table.js";
import { heldoutResultsBlocks } from "../../src/export/model_card_md.js";
import { renderMarkdown } from "../../src/util/document.js";
import type { HeldoutResults } from "../../src/model_dir/heldout.js";

const old: HeldoutResults = {
  title: "Held-out comparison of the default model",
  command: "npm run train:default",
  columns: ["method", "PSNR dB", "SSIM", "SSIM 2-D", "HFEN", "brain PSNR dB", "brain SSIM", "Δ PSNR vs B-spline dB", "notes col"],
  rows: [
    ["input (nearest)", 23.94, 0.4175, 0.4008, 0.2879, 23.06, 0.7935, -2.56, "a"],
    ["cubic B-spline", 26.5, 0.47, 0.4561, 0.1696, 27.32, 0.8938, 0, "b"],
    ["MoEDiff-SR, 3 experts (default)", 29.94, 0.8903, 0.8808, 0.1535, 28.02, 0.9005, 3.43, "c"],
    ["E1 only", "not trained", "", "", "", "", "", "", ""],
    ["VQ-VAE ceiling", 32.46, 0.9728, 0.9691, 0.1018, null, null, 5.96, "d"],
  ],
  notes: ["recorded"],
};

test("brainFirst: brain columns lead, the Δ is the brain PSNR's, the whole-image Δ is gone, unknown columns kept last", () => {
  assert.equal(isBrainFirst(old), false);
  const r = brainFirst(old);
  assert.equal(isBrainFirst(r), true);
  assert.deepEqual(r.columns, ["method", "brain PSNR dB", "brain SSIM", "brain HFEN", "Δ brain PSNR vs B-spline dB", "PSNR dB", "SSIM", "SSIM 2-D", "HFEN", "notes col"]);
  assert.deepEqual(r.rows[0], ["input (nearest)", 23.06, 0.7935, NOT_RECORDED, -4.26, 23.94, 0.4175, 0.4008, 0.2879, "a"]);
  assert.deepEqual(r.rows[1]?.[4], 0);
  assert.deepEqual(r.rows[2], ["MoEDiff-SR, 3 experts (default)", 28.02, 0.9005, NOT_RECORDED, 0.7, 29.94, 0.8903, 0.8808, 0.1535, "c"]);
  assert.deepEqual(r.rows[3], ["E1 only", "not trained", "", "", "", "", "", "", "", ""]);
  assert.deepEqual(r.rows[4]?.slice(1, 5), [null, null, NOT_RECORDED, null], "no brain PSNR, no Δ");
  assert.equal(r.notes?.[0], "recorded");
  assert.match(r.notes?.[1] ?? "", /Columns put brain first .*within 0\.01 dB/);
  assert.equal(r.title, old.title);
  // Idempotent, and a table that is already brain first (the current layout) is left alone.
  assert.equal(brainFirst(r), r);
  const current: HeldoutResults = { title: "t", columns: [...RESULT_COLUMNS], rows: [] };
  assert.equal(brainFirst(current), current);
  // Without brain figures there is nothing to lead with: as recorded.
  const plain: HeldoutResults = { title: "t", columns: ["method", "PSNR dB"], rows: [["x", 1]] };
  assert.equal(brainFirst(plain), plain);
});

test("the model card's results section renders a recorded whole-first table brain first", () => {
  const md = renderMarkdown(heldoutResultsBlocks(old));
  const header = md.split("\n").find((l) => l.startsWith("| method"));
  assert.equal(header, "| method | brain PSNR dB | brain SSIM | brain HFEN | Δ brain PSNR vs B-spline dB | PSNR dB | SSIM | SSIM 2-D | HFEN | notes col |");
  assert.match(md, /Brain-masked figures first/);
  assert.match(renderMarkdown(heldoutResultsBlocks(undefined)), /Not evaluated yet/);
});
