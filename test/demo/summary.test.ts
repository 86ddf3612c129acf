// The summary renderers: Markdown and HTML escaping, the tables' numbers (brain first, the Δ on the
// brain PSNR, the whole grid second), the latent diagnostics, the training-time results section (an
// older whole-first table put brain first; omitted without it), the limits and the warnings.
import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeHtml, escapeMarkdown, renderHtml, renderMarkdown, type Block } from "../../src/util/document.js";
import { METHODS, type MethodScores, type ScopeScores } from "../../src/demo/score.js";
import { fmtDelta, fmtHfen, fmtPsnr, fmtRmse, fmtSsim, shortTable, summaryHtml, summaryMarkdown } from "../../src/demo/summary.js";
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

function fakeReport(o: { results?: boolean; oldResults?: boolean; warnings?: string[]; lpips?: boolean; noBrain?: boolean } = {}): DemoReport {
  const methods = [method("input", 23.944, 0.41749), method("trilinear", 25.95, 0.48), method("bspline", 26.5, 0.47), method("autoencoder", 29.1, 0.88), method("enhanced", Infinity, 0.9)].map((m, i) => ({
    ...m,
    ...(o.lpips === true ? { lpips: { value: 0.3 - 0.01 * i, brain: 0.2 - 0.01 * i } } : {}),
    ...(o.noBrain === true ? { regions: m.regions.filter((g) => g.name !== "brain") } : {}),
  }));
  const scope: ScopeScores = {
    scope: "slab",
    reference: "reference.nii.gz",
    regionsDir: "regions",
    dims: [10, 12, 4],
    voxelSize: [1, 1, 1],
    dataRange: 120,
    regionsSkipped: ["ventricles"],
    note: null,
    methods,
  };
  return {
    format: DEMO_REPORT_FORMAT,
    version: 2,
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
      ...(o.oldResults === true
        ? {
            results: {
              title: "Held-out comparison",
              columns: ["method", "PSNR dB", "SSIM", "SSIM 2-D", "HFEN", "brain PSNR dB", "brain SSIM", "Δ PSNR vs B-spline dB"],
              rows: [
                ["cubic B-spline", 26.5, 0.47, 0.4561, 0.1696, 27.32, 0.8938, 0],
                ["MoEDiff-SR", 29.94, 0.8903, 0.8808, 0.1535, 28.02, 0.9005, 3.43],
                ["E1 only", "not trained", "", "", "", "", "", ""],
              ],
            },
          }
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
    autoencoder: { seconds: 1.5 },
    latent: {
      measured: { rho: 0.28422, cos: 0.017225, moved: 43.3, gap: 152.3, slices: [101, 102, 103, 104], tiles: 4, latentShape: [4, 128, 96], values: 196608, decodedVsOutput: 5.6e-7, seconds: 5 },
      note: null,
    },
    specialisation: {
      experts: ["E1", "E2", "E3"],
      dataRange: 122,
      regions: [
        { region: "cortex", voxels: 900, gateMean: [0.1, 0.2, 0.7], gateStd: [0.05, 0.06, 0.1], expertPsnr: [25.1, 25.4, 26.01], mixturePsnr: 26.346 },
        { region: "centrum_semiovale", voxels: 300, gateMean: [0.8, 0.1, 0.1], gateStd: [0.02, 0.01, 0.01], expertPsnr: [34.2, 33.1, 32], mixturePsnr: 34.5 },
      ],
      spread: [0.7, 0.1, 0.6],
    },
    lpips: o.lpips === true ? { net: "vgg", backbone: "vgg16.pth", linear: "lin.pth" } : null,
    evaluations: [scope],
    figures: { panel: "panel.png", experts: "experts.png", gates: "gates.png", slices: [1, 2] },
    files: ["lr.nii.gz", "regions/gw_junction.nii.gz", "metrics.json"],
    timings: { simulate: 4.25, enhance: 80.5, total: 100 },
    warnings: o.warnings ?? [],
  };
}

test("the per-region expert table shows each expert's gate and own PSNR beside the mixture, and the spread", () => {
  const md = summaryMarkdown(fakeReport());
  assert.match(md, /## Which expert does what/);
  assert.match(md, /\| cortex \| 900 \| 0\.100 ± 0\.050 \| 0\.200 ± 0\.060 \| 0\.700 ± 0\.100 \| 25\.10 \| 25\.40 \| 26\.01 \| 26\.35 \|/);
  assert.match(md, /\| centrum semiovale \| 300 \|/);
  assert.match(md, /\(max − min\): E1 0\.700, E2 0\.100, E3 0\.600\./);
  const none = summaryMarkdown({ ...fakeReport(), specialisation: null });
  assert.doesNotMatch(none, /Which expert does what/);
});

test("the summary tables hold the report's numbers with fixed digits; n/a and inf are spelled out", () => {
  const r = fakeReport();
  const md = summaryMarkdown(r);
  const rows = md.split("\n").filter((l) => l.startsWith("| "));
  assert.ok(rows.includes("| input (nearest) | 23.94 | 0.4175 | 0.4275 | 0.1235 | 1.414 |"), rows.join("\n"));
  assert.ok(rows.includes("| MoEDiff-SR | inf | 0.9000 | 0.9100 | 0.1235 | 1.414 |"), rows.join("\n"));
  // Brain rows: PSNR, SSIM, HFEN, the Δ on the brain PSNR (trilinear 26.95 - B-spline 27.50), RMSE.
  assert.ok(rows.includes("| trilinear | 26.95 | 0.2400 | 0.5000 | -0.55 | 1.235 |"), "brain-mask row");
  assert.ok(rows.includes("| autoencoder only | 30.10 | 0.4400 | 0.5000 | \\+2.60 | 1.235 |"), rows.join("\n"));
  // The brain table comes before the whole-grid table.
  const brainAt = md.indexOf("Inside the brain mask of the reference");
  const wholeAt = md.indexOf("Whole grid, the zero background included");
  assert.ok(brainAt > 0 && wholeAt > brainAt, "brain first");
  assert.match(summaryHtml(r), /ρ = \|z_out − z_LR\| \/ \|z_HR − z_LR\| = 0\.284, cos\(z_out − z_LR, z_HR − z_LR\) = 0\.017/);
  assert.match(md, /autoencoder only \(autoencoder\.nii\.gz\): the model's VQ-VAE alone, no diffusion step/);
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
  const lines = table.split("\n");
  assert.match(lines[0] ?? "", /^held-out slab \(10x12x4\); PSNR with data range 120 \(reference max - min\):$/);
  assert.match(lines[1] ?? "", /^\s+brain PSNR\s+brain SSIM\s+brain HFEN\s+Δ brain PSNR\s+PSNR dB\s+SSIM\s+HFEN$/);
  // brain PSNR, SSIM, HFEN, Δ, then the whole grid's PSNR, SSIM, HFEN.
  assert.match(table, /input \(nearest\)\s+24\.94\s+0\.2087\s+0\.5000\s+-2\.56\s+23\.94\s+0\.4175\s+0\.1235\n/);
  assert.match(table, /cubic B-spline\s+27\.50\s+0\.2350\s+0\.5000\s+0\.00\s+26\.50/);
  assert.match(table, /\nlatent \(MoEDiff-SR, 4 slab slices\): rho = \|z_out - z_LR\| \/ \|z_HR - z_LR\| = 0\.284, cos\(z_out - z_LR, z_HR - z_LR\) = 0\.017$/);
  assert.equal(fmtDelta(0.7012), "+0.70");
  assert.equal(fmtDelta(-2.5649), "-2.56");
  assert.equal(fmtDelta(0.001), "0.00");
});

test("LPIPS columns follow HFEN in both tables; without a brain mask the whole grid is shown with a warning", () => {
  const md = summaryMarkdown(fakeReport({ lpips: true }));
  const rows = md.split("\n").filter((l) => l.startsWith("| "));
  assert.ok(rows.includes("| method | PSNR dB | SSIM | HFEN | LPIPS | Δ PSNR vs B-spline dB | RMSE |"), rows.join("\n"));
  assert.ok(rows.includes("| trilinear | 26.95 | 0.2400 | 0.5000 | 0.1900 | -0.55 | 1.235 |"), rows.join("\n"));
  assert.ok(rows.includes("| trilinear | 25.95 | 0.4800 | 0.4900 | 0.1235 | 0.2900 | 1.414 |"), rows.join("\n"));
  assert.match(md, /LPIPS v0\.1 \(vgg; weights vgg16\.pth and lin\.pth\)/);
  assert.match(shortTable(fakeReport({ lpips: true })), /brain HFEN\s+brain LPIPS\s+Δ brain PSNR\s+PSNR dB\s+SSIM\s+HFEN\s+LPIPS\n\s+input \(nearest\)\s+24\.94\s+0\.2087\s+0\.5000\s+0\.2000\s+-2\.56\s+23\.94\s+0\.4175\s+0\.1235\s+0\.3000/);
  const none = fakeReport({ noBrain: true });
  assert.match(summaryMarkdown(none), /No brain mask of the reference .* no claim should rest on them/);
  assert.match(shortTable(none), /no brain mask: whole-grid figures only/);
  assert.doesNotMatch(shortTable(none), /brain PSNR/);
});

test("an older whole-first results table is rendered brain first, its Δ recomputed on the brain PSNR", () => {
  const md = summaryMarkdown(fakeReport({ oldResults: true }));
  const rows = md.split("\n").filter((l) => l.startsWith("| "));
  assert.ok(rows.includes("| method | brain PSNR dB | brain SSIM | brain HFEN | Δ brain PSNR vs B-spline dB | PSNR dB | SSIM | SSIM 2-D | HFEN |"), rows.join("\n"));
  assert.ok(rows.includes("| MoEDiff-SR | 28.02 | 0.9005 | not recorded | 0.7 | 29.94 | 0.8903 | 0.8808 | 0.1535 |"), rows.join("\n"));
  assert.ok(rows.includes("| E1 only | not trained |  |  |  |  |  |  |  |"), rows.join("\n"));
  assert.match(md, /Columns put brain first from a table recorded before brain-first reporting/);
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
  assert.equal(JSON.parse(reportJson(r)).evaluations[0].methods[4].volume.psnr, "Infinity");
});
