// The demo's summary (OUT/summary.md and OUT/summary.html) and the short table it prints, from the
// run's record (types.ts). Numbers are metrics.json's, formatted with fixed digits: PSNR 2 decimals,
// SSIM, HFEN and LPIPS 4, RMSE 4 significant digits; "n/a" for NaN (e.g. SSIM of a region with no voxel
// in the SSIM map's interior), "inf" for an exact match.
// Every table leads with the brain (SPEC section 6: a black background must never carry a claim): the
// figures inside the reference's brain mask and the brain PSNR's difference to the cubic B-spline come
// first, the whole grid (background included) second. The latent diagnostics (ρ, cos) follow.
import { renderHtml, renderMarkdown, type Block, type Text } from "../util/document.js";
import { specialisationTable } from "./specialisation.js";
import { METHODS, type MethodScores, type ScopeScores } from "./score.js";
import { brainFirst } from "./results_layout.js";
import type { DemoReport } from "./types.js";

export const LIMITS = [
  "Research use only, not for diagnosis or any clinical decision.",
] as const;

const num = (v: number, f: (x: number) => string): string => (Number.isNaN(v) ? "n/a" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : f(v));
export const fmtPsnr = (v: number): string => num(v, (x) => x.toFixed(2));
export const fmtSsim = (v: number): string => num(v, (x) => x.toFixed(4));
export const fmtHfen = fmtSsim;
export const fmtLpips = fmtSsim;
/** A difference in dB with its sign: "+0.70", "-2.56", "0.00". */
export const fmtDelta = (v: number): string => num(v, (x) => `${x > 0.005 ? "+" : ""}${Math.abs(x) < 0.005 ? "0.00" : x.toFixed(2)}`);
export const fmtRmse = (v: number): string => num(v, (x) => Number(x.toPrecision(4)).toString());
const fmtMm = (v: number): string => Number(v.toPrecision(6)).toString();

const REGION_LABELS: Readonly<Record<string, string>> = {
  brain: "brain mask",
  csf: "CSF",
  gm: "grey matter",
  wm: "white matter",
  ventricles: "lateral ventricles",
  centrum_semiovale: "centrum semiovale",
  cortex: "cortex (all grey matter)",
  gw_junction: "grey-white junction",
};

const methodLabel = (key: string): string => METHODS.find((m) => m.key === key)?.label ?? key;
const regionLabel = (name: string): string => (REGION_LABELS[name] !== undefined ? `${REGION_LABELS[name]} (${name})` : name);
const grid = (dims: readonly number[], vs: readonly number[]): string => `${dims.join("×")} voxels of ${vs.map(fmtMm).join("×")} mm`;

function brainRegion(m: MethodScores) {
  return m.regions.find((r) => r.name === "brain");
}

/** Brain PSNR minus the cubic B-spline's, per method (NaN without a B-spline row or brain mask). */
function brainDelta(s: ScopeScores, m: MethodScores): number {
  const base = s.methods.find((x) => x.method === "bspline");
  const b = brainRegion(m);
  const ref = base === undefined ? undefined : brainRegion(base);
  return b === undefined || ref === undefined ? Number.NaN : b.psnr - ref.psnr;
}

const withLpips = (s: ScopeScores): boolean => s.methods.some((m) => m.lpips !== undefined);

function scopeBlocks(s: ScopeScores, r: DemoReport): Block[] {
  const slab = r.heldout.slab;
  const n = slab.last - slab.first + 1;
  const heading =
    s.scope === "slab"
      ? `Held-out slab: ${slab.axis} slices ${slab.first}–${slab.last} (${n} slices, never seen in training)`
      : "Whole volume (it includes the slices the model was trained on)";
  const lp = withLpips(s);
  const lpipsCell = (v: number | null | undefined): string[] => (lp ? [v === undefined || v === null ? "n/a" : fmtLpips(v)] : []);
  const withBrain = s.methods.filter((m) => brainRegion(m) !== undefined);
  const brainTable: Block[] =
    withBrain.length === s.methods.length && s.methods.length > 0
      ? [
          {
            kind: "table",
            caption: `Inside the brain mask of the reference (${brainRegion(s.methods[0] as MethodScores)?.voxels ?? 0} voxels): the figures to judge by. PSNR with the data range ${fmtRmse(s.dataRange)} (reference max − min); Δ = brain PSNR minus the cubic B-spline's.`,
            header: ["method", "PSNR dB", "SSIM", "HFEN", ...(lp ? ["LPIPS"] : []), "Δ PSNR vs B-spline dB", "RMSE"],
            align: ["left", "right", "right", "right", ...(lp ? ["right" as const] : []), "right", "right"],
            rows: s.methods.map((m) => {
              const b = brainRegion(m)!;
              return [methodLabel(m.method), fmtPsnr(b.psnr), fmtSsim(b.ssim), fmtHfen(b.hfen), ...lpipsCell(m.lpips?.brain), fmtDelta(brainDelta(s, m)), fmtRmse(b.rmse)];
            }),
          },
        ]
      : [{ kind: "paragraph", text: "No brain mask of the reference (see the regions note): only whole-grid figures, which a black background flatters; no claim should rest on them." }];
  const blocks: Block[] = [
    { kind: "heading", level: 2, text: heading },
    {
      kind: "paragraph",
      text: [
        `${grid(s.dims, s.voxelSize)}; data range ${fmtRmse(s.dataRange)} (reference max − min).`,
        ...(s.note === null
          ? [
              " Reproduce a row with ",
              { code: `moediff-sr evaluate --pred ${s.methods[s.methods.length - 1]?.file ?? "enhanced.nii.gz"} --ref ${s.reference}${s.regionsDir !== null ? ` --regions ${s.regionsDir}` : ""} --per-slice --axis ${axisIndex(slab.axis)}` },
              ".",
            ]
          : []),
      ],
    },
    ...brainTable,
    {
      kind: "table",
      caption: "Whole grid, the zero background included (it flatters any method that keeps it black). SSIM is 3-D; SSIM 2-D is the mean over the slices of the per-slice SSIM.",
      header: ["method", "PSNR dB", "SSIM", "SSIM 2-D", "HFEN", ...(lp ? ["LPIPS"] : []), "RMSE"],
      align: ["left", "right", "right", "right", "right", ...(lp ? ["right" as const] : []), "right"],
      rows: s.methods.map((m) => [
        methodLabel(m.method),
        fmtPsnr(m.volume.psnr),
        fmtSsim(m.volume.ssim),
        fmtSsim(m.sliceMeans.ssim),
        fmtHfen(m.volume.hfen),
        ...lpipsCell(m.lpips?.value),
        fmtRmse(m.volume.rmse),
      ]),
    },
  ];
  const first = s.methods[0];
  const others = first?.regions.filter((g) => g.name !== "brain") ?? [];
  if (first !== undefined && others.length > 0) {
    blocks.push({
      kind: "table",
      caption: "Per region: PSNR dB / SSIM (regions overlap; PSNR uses the grid's data range).",
      header: ["region", "voxels", ...s.methods.map((m) => methodLabel(m.method))],
      align: ["left", "right", ...s.methods.map(() => "right" as const)],
      rows: others.map((g) => [
        regionLabel(g.name),
        String(g.voxels),
        ...s.methods.map((m) => {
          const x = m.regions.find((q) => q.name === g.name);
          return x === undefined ? "n/a" : `${fmtPsnr(x.psnr)} / ${fmtSsim(x.ssim)}`;
        }),
      ]),
    });
  }
  if (s.note !== null) blocks.push({ kind: "paragraph", text: `Note: ${s.note}.` });
  if (s.regionsSkipped.length > 0) blocks.push({ kind: "paragraph", text: `Regions with no voxel on this grid: ${s.regionsSkipped.join(", ")}.` });
  return blocks;
}

function axisIndex(axis: string): number {
  return axis === "x" ? 0 : axis === "y" ? 1 : 2;
}

function howItWasMade(r: DemoReport): Text[] {
  const a = r.heldout.acquisition;
  const e = r.enhance;
  const voxel = typeof a.voxelSize === "number" ? `${fmtMm(a.voxelSize)} mm` : `${a.voxelSize.map(fmtMm).join("×")} mm`;
  const sim = r.heldout.simulation;
  const reproduced =
    sim.reproducesRecord === null ? "" : sim.reproducesRecord ? " It reproduces the white-matter level and noise σ the data set recorded." : " It does NOT reproduce the white-matter level and noise σ the data set recorded (see the warnings).";
  return [
    [
      `Acquisition: `,
      { code: `moediff-sr simulate` },
      ` of the RAS-reoriented source with LR voxel ${voxel}, SNR ${a.snr}, bias strength ${a.bias}, gradient-nonlinearity warp ${a.gradwarp} mm, seed ${a.seed} — the acquisition of the model's training pair. LR grid ${grid(r.heldout.lrGrid.dims, r.heldout.lrGrid.voxelSize)}; noise σ ${fmtRmse(sim.sigma)} (white-matter mean ${fmtRmse(sim.wmMean)} / SNR).${reproduced}`,
    ],
    r.mode === "slab"
      ? `LR input (lr.nii.gz): LR slices ${r.heldout.lrSlices[0]}–${r.heldout.lrSlices[1]} along ${r.heldout.slab.axis}, those whose cubic B-spline support reaches the enhanced grid plus a margin, so interpolating them equals interpolating the whole acquisition.`
      : "LR input (lr.nii.gz): the whole simulated acquisition on its LR grid.",
    `Reference (reference.nii.gz): the HR source volume${r.mode === "slab" ? ` on the held-out slab` : ""}, RAS.`,
    ...METHODS.map((m) => `${m.label} (${m.key}.nii.gz): ${m.description}.`),
    [
      `Enhancement: DDIM ${e.steps} steps, eta ${e.eta}, start ${e.start}, ${e.mode} experts, seed ${e.seed}, ${e.snapToCodebook ? "final latent snapped to the codebook" : "no codebook snap"}, slice axis ${e.axis}, device ${e.device}; `,
      r.mode === "slab"
        ? `HR slices ${e.slices[0]}–${e.slices[1]} were enhanced (the slab and one more slice each side, so the slab's edge slices see their true neighbours in the 2.5D condition), then cut to the slab. `
        : "the whole volume was enhanced. ",
      `The input was normalised by ${fmtRmse(e.inputScale)}, the 99.5th percentile of the whole LR volume's foreground on the HR grid, as the training data were`,
      `. ${e.slicesRun} slices, ${e.tilesRun} tiles, ${e.seconds.toFixed(1)} s.`,
    ],
    "Metrics as moediff-sr evaluate computes them: PSNR = 10 log10(R² / MSE) with R the reference's max − min (over the grid, also for the brain rows); SSIM as scikit-image (Gaussian σ 1.5, K1 0.01, K2 0.03), 3-D, averaged over voxels at least 5 voxels from every face (on a thin slab, its middle slices only); SSIM 2-D the same per slice across the slab axis, averaged over slices; HFEN = ‖LoG(pred) − LoG(ref)‖ / ‖LoG(ref)‖ with σ 1.5 (inside a region: both norms summed over its voxels).",
    ...(r.lpips !== null
      ? [
          `LPIPS v0.1 (${r.lpips.net}; weights ${r.lpips.backbone} and ${r.lpips.linear}) per slice across the slab axis, slices mapped to [−1, 1] by the data range, mean over the slices; inside the brain: both images set to the reference minimum outside the brain mask, mean over the slices with brain.`,
        ]
      : []),
    r.regions.method === "segment"
      ? "Regions: moediff-sr segment of the HR reference (the whole source volume, then cut to the grid): brain mask, CSF/GM/WM and derived regions (regions/*.nii.gz)."
      : r.regions.method === "brain-mask"
        ? `Regions: the brain mask of the HR reference only (regions/brain.nii.gz)${r.regions.note !== null ? `: ${r.regions.note}` : "."}`
        : `No region masks${r.regions.note !== null ? `: ${r.regions.note}` : "."}`,
  ];
}

function modelBlocks(r: DemoReport): Block[] {
  const m = r.model;
  const counts = Object.entries(m.data.counts).map(([k, v]) => `${k} ${v}`).join(", ");
  return [
    { kind: "heading", level: 2, text: "The model" },
    {
      kind: "list",
      items: [
        ["Directory: ", { code: m.dir }],
        `Data: ${m.data.path} (${counts} slices of ${m.data.slice} along ${m.data.axis}, HR voxel ${m.data.voxelSize.map(fmtMm).join("×")} mm), built from ${r.heldout.source.subject}.`,
        `Recipe: preset ${m.preset}; experts ${m.experts.map((k) => `E${k}`).join(", ")} with T = ${m.timesteps.join(", ")} (${m.schedule} schedules), ${m.gating} gating, diffusion target ${m.target}; ${m.training.steps} training steps of batch ${m.training.batchSize} at learning rate ${m.training.lr}.`,
        `Autoencoder: VQ-VAE with a ${m.vqvae.codebookSize}-entry codebook, ${m.vqvae.embedDim} latent channels${m.vqvae.trainingSteps !== null ? `, ${m.vqvae.trainingSteps} training steps` : ""}.`,
        `Parameters: ${m.parameters.moe.toLocaleString("en-US")} (condition encoder, gating, experts) + ${m.parameters.vqvae.toLocaleString("en-US")} (VQ-VAE).`,
        `Sampling defaults of the model: DDIM ${m.sampling.steps} steps, start ${m.sampling.start}, codebook snap ${m.sampling.snapToCodebook ? "on" : "off"}.`,
      ],
    },
  ];
}

/** ρ and cos of the latent on the slab (latent_diagnostics.ts). */
export function latentText(r: DemoReport): string {
  const l = r.latent.measured;
  if (l === null) return `Latent diagnostics: ${r.latent.note ?? "not measured"}.`;
  const shape = l.latentShape.join("×");
  const check = l.decodedVsOutput === null ? "" : ` Decoding this z_out gives the enhanced output to within ${l.decodedVsOutput.toExponential(1)} (normalised intensities), so it is the output's latent.`;
  return (
    `Latent diagnostics on the slab's ${l.slices.length} slices with signal (${l.tiles} tiles, latents ${shape}): ρ = |z_out − z_LR| / |z_HR − z_LR| = ${fmtRatio(l.rho)}, cos(z_out − z_LR, z_HR − z_LR) = ${fmtRatio(l.cos)} ` +
    `(|z_out − z_LR| = ${fmtRmse(l.moved)}, |z_HR − z_LR| = ${fmtRmse(l.gap)}, Frobenius norms). z_LR is the 3T slice's latent (what the autoencoder-only row decodes), z_HR the HR reference slice's latent with its b and g (the training target), z_out the sampler's final latent before decoding. ` +
    `ρ 0: the sampler left the 3T latent where it was; ρ 1 and cos 1: it reached the HR latent; cos ≤ 0: it moved away from it.${check}`
  );
}

/** Per region: each expert's gate and its own estimate's PSNR (specialisation.ts). */
function specialisationBlocks(r: DemoReport): Block[] {
  if (r.specialisation === null) return [];
  const t = specialisationTable(r.specialisation);
  return [
    { kind: "heading", level: 2, text: "Which expert does what" },
    {
      kind: "paragraph",
      text:
        "Per region of the reference: each expert's gate weight (mean ± standard deviation over the region's voxels, from the explain gate maps) and the PSNR of each expert's own estimate " +
        `(its own chain from the same start noise, the explain expert volumes) beside the mixture's, data range ${String(Number(r.specialisation.dataRange.toPrecision(4)))}.`,
    },
    { kind: "table", header: t.header, align: t.header.map((_, i) => (i === 0 ? "left" : "right")), rows: t.rows },
    { kind: "paragraph", text: t.spread },
  ];
}

export const fmtRatio = (v: number): string => num(v, (x) => x.toFixed(3));

function resultsBlocks(r: DemoReport): Block[] {
  const res = r.heldout.results === undefined ? undefined : brainFirst(r.heldout.results);
  if (res === undefined) return [];
  const blocks: Block[] = [
    { kind: "heading", level: 2, text: res.title },
    { kind: "table", header: [...res.columns], rows: res.rows.map((row) => row.map((c) => (c === null ? "n/a" : String(c)))) },
  ];
  if (res.command !== undefined) blocks.push({ kind: "paragraph", text: ["Made by ", { code: res.command }, "."] });
  if (res.notes !== undefined && res.notes.length > 0) blocks.push({ kind: "list", items: [...res.notes] });
  return blocks;
}

function limits(r: DemoReport): string[] {
  const subject = r.heldout.source.subject;
  return [
    ...LIMITS,
    `Trained on simulated 3T-like acquisitions of one subject (${subject}); the held-out slab is other slices of the same brain, so these numbers say nothing yet about other subjects, scanners or contrasts.`,
    "The reference is the HR source volume itself, not a 7T acquisition: a 7T-like output here means agreement with that volume.",
    "A diffusion model can produce plausible detail that is not in the data; compare with the input and the baselines, and read the per-expert difference maps.",
  ];
}

export function summaryBlocks(r: DemoReport): Block[] {
  const slab = r.heldout.slab;
  const blocks: Block[] = [
    { kind: "heading", level: 1, text: `MoEDiff-SR demo: ${r.heldout.source.subject}, held-out slab` },
    {
      kind: "paragraph",
      text:
        `A simulated 3T acquisition of ${r.heldout.source.subject} (${r.heldout.source.path}) was enhanced with the MoEDiff-SR model and compared with classical upsampling, ` +
        `against the HR volume, on the held-out slab (${slab.axis} slices ${slab.first}–${slab.last})${r.mode === "whole" ? " and on the whole volume" : ""}. ` +
        "Higher PSNR and SSIM and lower HFEN and RMSE are better.",
    },
  ];
  for (const s of r.evaluations) blocks.push(...scopeBlocks(s, r));
  blocks.push({ kind: "paragraph", text: latentText(r) });
  blocks.push(...specialisationBlocks(r));
  blocks.push(
    { kind: "heading", level: 2, text: "Figures" },
    { kind: "paragraph", text: `${METHODS.map((m) => m.label).join(", ")} and the reference, with a magnified inset:` },
    { kind: "image", src: r.figures.panel, alt: "comparison panel" },
    { kind: "paragraph", text: "Each expert's own estimate and the aggregated output: absolute difference to the reference (brighter = larger error):" },
    { kind: "image", src: r.figures.experts, alt: "per-expert difference maps" },
    { kind: "paragraph", text: "Gating weights of each expert (0 to 1) over the enhanced image:" },
    { kind: "image", src: r.figures.gates, alt: "gating maps" },
    { kind: "heading", level: 2, text: "How it was made" },
    { kind: "list", items: howItWasMade(r) },
    ...modelBlocks(r),
    ...resultsBlocks(r),
    { kind: "heading", level: 2, text: "Limits" },
    { kind: "list", items: limits(r) },
    { kind: "heading", level: 2, text: "Files" },
    { kind: "list", items: r.files.map((f) => ({ code: f })) },
    { kind: "heading", level: 2, text: "Timings" },
    {
      kind: "table",
      header: ["stage", "seconds"],
      align: ["left", "right"],
      rows: Object.entries(r.timings).map(([k, v]) => [k, v.toFixed(1)]),
    },
  );
  if (r.warnings.length > 0) blocks.push({ kind: "heading", level: 2, text: "Warnings" }, { kind: "list", items: [...r.warnings] });
  return blocks;
}

export function summaryMarkdown(r: DemoReport): string {
  return renderMarkdown(summaryBlocks(r));
}

export function summaryHtml(r: DemoReport): string {
  return renderHtml(summaryBlocks(r), `MoEDiff-SR demo: ${r.heldout.source.subject}`);
}

/**
 * The short plain-text table the command prints, per scope: inside the brain mask first (PSNR, SSIM,
 * HFEN, LPIPS with weights, Δ PSNR vs the cubic B-spline), then the whole grid; then ρ and cos.
 */
export function shortTable(r: DemoReport): string {
  const lines: string[] = [];
  const pad = (v: string, n: number): string => v.padStart(n);
  for (const s of r.evaluations) {
    const brain = s.methods.length > 0 && s.methods.every((m) => brainRegion(m) !== undefined);
    const lp = withLpips(s);
    const where = s.scope === "slab" ? `held-out slab (${s.dims.join("x")})` : `whole volume (${s.dims.join("x")}, includes training slices)`;
    lines.push(`${where}; PSNR with data range ${fmtRmse(s.dataRange)} (reference max - min):`);
    const brainHead = brain ? ["brain PSNR", "brain SSIM", "brain HFEN", ...(lp ? ["brain LPIPS"] : []), "Δ brain PSNR"] : [];
    const wholeHead = ["PSNR dB", "SSIM", "HFEN", ...(lp ? ["LPIPS"] : [])];
    const width = (h: string): number => Math.max(8, h.length + 2);
    lines.push(`  ${"".padEnd(17)}${[...brainHead, ...wholeHead].map((h) => pad(h, width(h))).join("")}`);
    for (const m of s.methods) {
      const b = brainRegion(m);
      const brainCells = brain && b !== undefined ? [fmtPsnr(b.psnr), fmtSsim(b.ssim), fmtHfen(b.hfen), ...(lp ? [m.lpips?.brain === undefined || m.lpips.brain === null ? "n/a" : fmtLpips(m.lpips.brain)] : []), fmtDelta(brainDelta(s, m))] : [];
      const wholeCells = [fmtPsnr(m.volume.psnr), fmtSsim(m.volume.ssim), fmtHfen(m.volume.hfen), ...(lp ? [m.lpips === undefined ? "n/a" : fmtLpips(m.lpips.value)] : [])];
      const heads = [...brainHead, ...wholeHead];
      lines.push(`  ${methodLabel(m.method).padEnd(17)}${[...brainCells, ...wholeCells].map((c, i) => pad(c, width(heads[i] as string))).join("")}`);
    }
    if (!brain) lines.push("  (no brain mask: whole-grid figures only, which a black background flatters)");
  }
  const l = r.latent.measured;
  lines.push(
    l === null
      ? `latent: ${r.latent.note ?? "not measured"}`
      : `latent (MoEDiff-SR, ${l.slices.length} slab slices): rho = |z_out - z_LR| / |z_HR - z_LR| = ${fmtRatio(l.rho)}, cos(z_out - z_LR, z_HR - z_LR) = ${fmtRatio(l.cos)}`,
  );
  return lines.join("\n");
}
