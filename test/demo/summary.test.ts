// The summary renderers: Markdown and HTML escaping, the tables' numbers, the training-time results
// section rendered as given (and omitted without it), the limits and the warnings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeHtml, escapeMarkdown, renderHtml, renderMarkdown, type Block } from "../../src/util/document.js";
import { METHODS, type MethodScores, type ScopeScores } from "../../src/demo/score.js";
import { fmtHfen, fmtPsnr, fmtRmse, fmtSsim, shortTable, summaryHtml, summaryMarkdown } from "../../src/demo/summary.js";
import { DEMO_REPORT_FORMAT, reportJson, type DemoReport } from "../../src/demo/types.js";

test("Markdown escaping keeps text literal, in paragraphs and table cells", () => {
  assert.equal(escapeMarkdown("gw_junction | *bold* <b> [x](y) `c`"), "gw\\_junction \\| \\*bold\\* \\<b\\> \\[x\\](y) \\`c\\`");
  assert.equal(escapeMarkdown("two\nlines"), "two lines");
  const md = renderMarkdown([
    { kind: "table", header: ["a|b", "n"], rows: [["x_y", "1.5"]], align: ["left", "right"] },
    { kind: "paragraph", text: ["run ", { code: "a `b` | c" }] },
    { kind: "code", text: "```inner```" },
  ]);
  assert.match(md, /^\| a\\\|b \| n \|\n\|---\|---:\|\n\| x\\_y \| 1\.5 \|\n/);
  assert.match(md, /run ``a `b` \\\| c``/, "a code span uses a longer fence than its content and escapes | for tables");
  assert.match(md, /````\n```inner```\n````/);
});

test("HTML escaping: text, attributes and table cells cannot inject markup", () => {
  assert.equal(escapeHtml(`<script>alert("x" & 'y')</script>`), "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
  const blocks: Block[] = [
    { kind: "heading", level: 1, text: "A <b>title</b>" },
    { kind: "table", header: ["<th>"], rows: [["<td>&"]] },
    { kind: "image", src: "my figure.png", alt: `"quoted"` },
    { kind: "list", items: [["x ", { code: "<y>" }]] },
  ];
  const html = renderHtml(blocks, "t<itle>");
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<title>t&lt;itle&gt;<\/title>/);
  assert.match(html, /<h1>A &lt;b&gt;title&lt;\/b&gt;<\/h1>/);
  assert.match(html, /<th>&lt;th&gt;<\/th>/);
  assert.match(html, /<td>&lt;td&gt;&amp;<\/td>/);
  assert.match(html, /<img src="my%20figure\.png" alt="&quot;quoted&quot;">/);
  assert.match(html, /<li>x <code>&lt;y&gt;<\/code><\/li>/);
  assert.doesNotMatch(html, /<b>|<th><th>|<td><td>/);
});

function method(key: (typeof METHODS)[number]["key"], psnr: number, ssim: number): MethodScores {
  const region = (name: string, p: number, s: number) => ({ name, label: 1, voxels: 100, mse: 1, rmse: 1.23456, psnr: p, ssim: s, ssimVoxels: 10, hfen: 0.5 });
  return {
    method: key,
    file: `${key}.nii.gz`,
    volume: { mse: 2, rmse: 1.41421356, psnr, ssim, hfen: 0.123456, voxels: 1000 },
    regions: [region("brain", psnr + 1, ssim / 2), region("gw_junction", psnr - 1, Number.NaN)],
    sliceMeans: { psnr: psnr + 0.5, ssim: ssim + 0.01, hfen: 0.2, slices: 3 },
    perSlice: [],
  };
}

function fakeReport(o: { results?: boolean; warnings?: string[] } = {}): DemoReport {
  const scope: ScopeScores = {
    scope: "slab",
    reference: "reference.nii.gz",
    regionsDir: "regions",
    dims: [10, 12, 4],
    voxelSize: [1, 1, 1],
    dataRange: 120,
    regionsSkipped: ["ventricles"],
    note: null,
    methods: [method("input", 23.944, 0.41749), method("trilinear", 25.95, 0.48), method("bspline", 26.5, 0.47), method("enhanced", Infinity, 0.9)],
  };
  return {
    format: DEMO_REPORT_FORMAT,
    version: 1,
    mode: "slab",
    model: {
      dir: "/models/default",
      preset: "cpu-small",
      experts: [1, 2, 3],
      timesteps: [500, 2000, 1000],
      schedule: "linear",
      gating: "global",
      target: "latent",
      parameters: { moe: 2242180, vqvae: 645685 },
      training: { steps: 400, batchSize: 4, lr: 2e-4 },
      vqvae: { codebookSize: 1024, embedDim: 4, trainingSteps: 1500 },
      sampling: { steps: 25, start: 1, snapToCodebook: true },
      data: { path: "data/colin27", counts: { train: 96, val: 13, test: 13 }, slice: "256x256", axis: "z", voxelSize: [1, 1, 1] },
    },
    heldout: {
      source: { path: "/usr/share/mricron/templates/ch2bet.nii.gz", subject: "ch2bet", sha256: "a".repeat(64), sha256Expected: "a".repeat(64), sha256Matches: true },
      acquisition: { voxelSize: 1.639, snr: 31.877, bias: 0.088, gradwarp: 0.091, seed: 4076130350, wmMean: 108.8, sigma: 3.41 },
      slab: { axis: "z", first: 101, last: 104 },
      hrGrid: { dims: [181, 217, 181], voxelSize: [1, 1, 1] },
      lrGrid: { dims: [110, 132, 110], voxelSize: [1.639, 1.639, 1.639] },
      simulation: { wmMean: 108.8, sigma: 3.41, reproducesRecord: true },
      lrSlices: [46, 84],
      ...(o.results === true
        ? { results: { title: "Training <comparison>", command: "npm run train:default", columns: ["model", "PSNR | dB"], rows: [["3 experts", 29.1], ["no_b", null]], notes: ["noted *here*"] } }
        : {}),
    },
    enhance: {
      sampler: "ddim",
      steps: 25,
      eta: 0,
      start: 1,
      mode: "joint",
      seed: 0,
      batch: 4,
      device: "cpu",
      snapToCodebook: true,
      axis: "z",
      slices: [100, 105],
      inputScale: 122.16,
      wholeVolumeScale: 122.16,
      slicesRun: 6,
      tilesRun: 6,
      evaluations: [150, 150, 150],
      seconds: 80.5,
    },
    regions: { method: "segment", names: ["brain", "gw_junction"], note: null },
    evaluations: [scope],
    figures: { panel: "panel.png", experts: "experts.png", gates: "gates.png", slices: [1, 2] },
    files: ["lr.nii.gz", "regions/gw_junction.nii.gz", "metrics.json"],
    timings: { simulate: 4.25, enhance: 80.5, total: 100 },
    warnings: o.warnings ?? [],
  };
}

test("the summary tables hold the report's numbers with fixed digits; n/a and inf are spelled out", () => {
  const r = fakeReport();
  const md = summaryMarkdown(r);
  const rows = md.split("\n").filter((l) => l.startsWith("| "));
  assert.ok(rows.includes("| input (nearest) | 23.94 | 0.4175 | 0.4275 | 0.1235 | 1.414 |"), rows.join("\n"));
  assert.ok(rows.includes("| MoEDiff-SR | inf | 0.9000 | 0.9100 | 0.1235 | 1.414 |"), rows.join("\n"));
  assert.ok(rows.includes("| trilinear | 26.95 | 0.2400 | 0.5000 | 1.235 |"), "brain-mask row");
  assert.ok(rows.some((l) => l.startsWith("| grey-white junction (gw\\_junction) | 100 | 22.94 / n/a |")), "region row with the escaped name and n/a SSIM");
  assert.match(md, /Regions with no voxel on this grid: ventricles\./);
  assert.match(md, /normalised by 122\.2, the 99\.5th percentile of the whole LR volume/);
  assert.equal(fmtPsnr(26.5), "26.50");
  assert.equal(fmtSsim(Number.NaN), "n/a");
  assert.equal(fmtHfen(0.12345), "0.1235");
  assert.equal(fmtRmse(5.7700001), "5.77");
  assert.equal(fmtPsnr(-Infinity), "-inf");
  // Figures are relative links; the limits and the model card facts are there.
  assert.match(md, /!\[comparison panel\]\(panel\.png\)/);
  assert.match(md, /Research use only, not for diagnosis/);
  assert.match(md, /2,242,180 \(condition encoder, gating, experts\)/);
  assert.doesNotMatch(md, /Training/, "no results section without results");
  assert.doesNotMatch(md, /## Warnings/);
  const table = shortTable(r);
  assert.match(table, /input \(nearest\)\s+23\.94\s+0\.4175\s+0\.1235\s+24\.94\s+0\.2087/);
});

test("the training-time results are rendered as given, escaped; warnings are listed; HTML matches", () => {
  const r = fakeReport({ results: true, warnings: ["sha <mismatch>"] });
  const md = summaryMarkdown(r);
  assert.match(md, /## Training \\<comparison\\>\n\n\| model \| PSNR \\\| dB \|\n\|---\|---\|\n\| 3 experts \| 29\.1 \|\n\| no\\_b \| n\/a \|/);
  assert.match(md, /Made by `npm run train:default`\./);
  assert.match(md, /- noted \\\*here\\\*/);
  assert.match(md, /## Warnings\n\n- sha \\<mismatch\\>/);
  const html = summaryHtml(r);
  assert.match(html, /<h2>Training &lt;comparison&gt;<\/h2>/);
  assert.match(html, /<td>no_b<\/td><td>n\/a<\/td>/);
  assert.match(html, /<img src="panel\.png" alt="comparison panel">/);
  assert.match(html, /<li>sha &lt;mismatch&gt;<\/li>/);
  assert.match(html, /<td class="r">inf<\/td>/);
  assert.match(html, /Research use only, not for diagnosis/);
  // metrics.json keeps non-finite numbers as strings.
  assert.equal(JSON.parse(reportJson(r)).evaluations[0].methods[3].volume.psnr, "Infinity");
});
