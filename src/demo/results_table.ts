// The comparison table of the default model (issues 7 and 19): on the held-out slab of the default data
// set, every row scored by the demo's own code (evaluate.ts scoreScope, via runDemo), seeded, in the
// order of the baselines' cost and then of the models:
//
//   input (nearest), trilinear, cubic B-spline        the classical baselines (from the default model's demo)
//   autoencoder only                                  decode(encode(LR)): the default model's pipeline with
//                                                     steps 0 (from the same demo)
//   regression U-Net                                  DIR/unet (train-unet): the plain pixel-space regression
//                                                     model (SPEC section 6) on the default demo's LR input and
//                                                     enhanced grid, as `baseline --method unet` makes it
//   E1 / E2 / E3 only                                 DIR/e1, e2, e3: one expert each, same training steps
//   MoEDiff-SR, 3 experts (default)                   DIR/moe
//   3 experts without b and g                         DIR/nobg: the ablation of the encoder's b and g inputs
//   VQ-VAE ceiling                                    decode(encode(HR)) on the slab (ceiling.ts)
//   every run again "from noise"                      the full chain (start 1, fullChainSteps DDIM steps),
//                                                     where the experts, not the 3T latent, make the image
//
// Columns (results_layout.ts): brain first — PSNR (data range of the reference), SSIM, HFEN, LPIPS with
// weights, and the brain PSNR's difference to the cubic B-spline row — then the whole grid: PSNR, 3-D
// SSIM, mean per-slice 2-D SSIM, HFEN, LPIPS; last ρ and cos of the latent (latent_diagnostics.ts) for
// the diffusion rows. A run that is not trained (no model.safetensors) keeps its row with "not
// trained"; a demo that fails keeps it with "failed".
//
// evaluateDefault runs it all for `npm run train:default`'s directory layout (scripts/train-default.mjs):
// it writes heldout.json into every trained run (from DIR/data/manifest.json), runs the demo of each
// into DIR/eval/<run>/ (slab mode, the model's sampler settings, seed 1) and DIR/eval/<run>-noise/ (the
// full chain; a demo newer than its model with the same sampler settings is reused), computes the ceiling into DIR/eval/ceiling/, and writes
// DIR/eval/results.json (heldout.json's `results` object) and results.md; DIR/moe/heldout.json gets the
// table too, so `moediff-sr demo --model DIR/moe` shows it.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as T from "../torch/index.js";
import { openSliceDataset } from "../data/dataset.js";
import { readManifest } from "../data/manifest.js";
import { resolveStoredMoEDiffConfig } from "../models/moediff/config.js";
import { loadVqvae } from "../models/vqvae/load.js";
import { axisDim } from "../model_dir/card.js";
import { brainMask } from "../preprocess/segment/index.js";
import { writeFileAtomic } from "../util/atomic_write.js";
import { ceilingFile, ceilingSlab, scoreCeiling, vqvaeReconstruction } from "./ceiling.js";
import { renderMarkdown, type Block } from "../util/document.js";
import { scoreScope, type MethodKey, type MethodScores, type ScopeLpips } from "./score.js";
import { enhanceVolumeUNet } from "../inference/unet_enhance.js";
import { readNifti, toVolume } from "../nifti/index.js";
import type { Axis } from "../data/slicing.js";
import { loadLpipsScorer } from "../evaluate/evaluate.js";
import type { LatentGap } from "./latent_diagnostics.js";
import { BSPLINE_LABEL, columnKeys, resultColumns, type ColumnKey } from "./results_layout.js";
import { formatHeldout, heldoutFromManifest, type HeldoutResults, type ResultCell } from "../model_dir/heldout.js";
import { OutputWriter } from "./outputs.js";
import { runDemo } from "./run.js";
import { cropData, cropGrid, cropVolume, type Dim } from "./slab.js";
import { loadSource } from "./source.js";
import { DEMO_REPORT_FORMAT, type DemoReport } from "./types.js";

export const RESULTS_TITLE = "Held-out comparison of the default model";
export const RESULTS_COMMAND = "npm run train:default";
/** The columns without and with LPIPS (results_layout.ts). */
export const RESULT_COLUMNS = resultColumns({ lpips: false });
export const RESULT_COLUMNS_LPIPS = resultColumns({ lpips: true });

/** The trained runs of the recipe, in the order they are evaluated (the first demo gives the baseline rows). */
export const RUNS = [
  { name: "moe", label: "MoEDiff-SR, 3 experts (default)" },
  { name: "e1", label: "E1 only" },
  { name: "e2", label: "E2 only" },
  { name: "e3", label: "E3 only" },
  { name: "nobg", label: "3 experts without b and g" },
] as const;
/** The runs in table order: each single expert, then the mixture, then its ablation. */
export const RUN_ROWS: readonly (typeof RUNS)[number]["name"][] = ["e1", "e2", "e3", "moe", "nobg"];
export const BASELINES = [
  { key: "input", label: "input (nearest)" },
  { key: "trilinear", label: "trilinear" },
  { key: "bspline", label: BSPLINE_LABEL },
  { key: "autoencoder", label: "autoencoder only" },
] as const;
/** The plain regression U-Net's row (SPEC section 6): the run DIR/unet of `train-unet`. */
export const REGRESSION_UNET = { name: "unet", label: "regression U-Net" } as const;
export const CEILING_LABEL = "VQ-VAE ceiling";
/** DDIM steps of the "from noise" rows (evaluateDefault's fullChainSteps). */
export const FULL_CHAIN_STEPS = 10;
const fromNoiseLabel = (label: string, steps: number): string => `${label}, from noise (${steps} steps)`;

export interface RowScores {
  readonly brainPsnr: number | null;
  readonly brainSsim: number | null;
  readonly brainHfen: number | null;
  readonly brainLpips: number | null;
  readonly psnr: number;
  readonly ssim: number;
  readonly ssim2d: number;
  readonly hfen: number;
  readonly lpips: number | null;
  /** ρ and cos of the latent: diffusion rows only (null: not a latent model's row, or not measured). */
  readonly rho: number | null;
  readonly cos: number | null;
}

/** One row's numbers from a method's scores (and, for a diffusion row, its latent diagnostics). */
export function rowScores(m: MethodScores, latent: Pick<LatentGap, "rho" | "cos"> | null = null): RowScores {
  const brain = m.regions.find((r) => r.name === "brain");
  return {
    brainPsnr: brain?.psnr ?? null,
    brainSsim: brain?.ssim ?? null,
    brainHfen: brain?.hfen ?? null,
    brainLpips: m.lpips?.brain ?? null,
    psnr: m.volume.psnr,
    ssim: m.volume.ssim,
    ssim2d: m.sliceMeans.ssim,
    hfen: m.volume.hfen,
    lpips: m.lpips?.value ?? null,
    rho: latent?.rho ?? null,
    cos: latent?.cos ?? null,
  };
}

/** A row: its label and either numbers or why there are none ("not trained", "failed"). */
export type TableRow = { readonly label: string; readonly scores: RowScores } | { readonly label: string; readonly status: string };

const fixed = (digits: number) => (v: number | null): ResultCell =>
  v === null || Number.isNaN(v) ? null : v === Infinity ? "inf" : v === -Infinity ? "-inf" : Number(v.toFixed(digits));

/**
 * heldout.json's `results` (title, command, columns, rows, notes), brain first (results_layout.ts): PSNR
 * to 2 decimals, SSIM, HFEN, LPIPS, ρ and cos to 4; the Δ is the brain PSNR's against the cubic B-spline
 * row. LPIPS columns when any row has LPIPS; ρ and cos cells are empty for rows without a latent.
 */
export function resultsTable(rows: readonly TableRow[], notes: readonly string[]): HeldoutResults {
  const bspline = rows.find((r) => r.label === BSPLINE_LABEL);
  const ref = bspline !== undefined && "scores" in bspline ? bspline.scores.brainPsnr : null;
  const lpips = rows.some((r) => "scores" in r && (r.scores.lpips !== null || r.scores.brainLpips !== null));
  const keys = columnKeys({ lpips });
  const db = fixed(2);
  const unit = fixed(4);
  const cell = (s: RowScores, k: ColumnKey): ResultCell => {
    switch (k) {
      case "method":
        throw new Error("resultsTable: internal error: the label is not a score");
      case "brainPsnr":
        return db(s.brainPsnr);
      case "brainSsim":
        return unit(s.brainSsim);
      case "brainHfen":
        return unit(s.brainHfen);
      case "brainLpips":
        return unit(s.brainLpips);
      case "delta":
        return ref === null || s.brainPsnr === null || !Number.isFinite(ref) || !Number.isFinite(s.brainPsnr) ? null : db(s.brainPsnr - ref);
      case "psnr":
        return db(s.psnr);
      case "ssim":
        return unit(s.ssim);
      case "ssim2d":
        return unit(s.ssim2d);
      case "hfen":
        return unit(s.hfen);
      case "lpips":
        return unit(s.lpips);
      case "rho":
        return s.rho === null ? "" : unit(s.rho);
      case "cos":
        return s.cos === null ? "" : unit(s.cos);
    }
  };
  return {
    title: RESULTS_TITLE,
    command: RESULTS_COMMAND,
    columns: resultColumns({ lpips }),
    rows: rows.map((r): ResultCell[] => {
      if (!("scores" in r)) return [r.label, r.status, ...new Array<ResultCell>(keys.length - 2).fill("")];
      return [r.label, ...keys.slice(1).map((k) => cell(r.scores, k))];
    }),
    notes: [...notes],
  };
}

/** results.md: the table, how it was made, the notes. */
export function resultsMarkdown(r: HeldoutResults): string {
  const blocks: Block[] = [
    { kind: "heading", level: 1, text: r.title },
    {
      kind: "table",
      header: [...r.columns],
      align: r.columns.map((_, i) => (i === 0 ? "left" : "right")),
      rows: r.rows.map((row) => row.map((c) => (c === null ? "n/a" : String(c)))),
    },
  ];
  if (r.command !== undefined) blocks.push({ kind: "paragraph", text: ["Made by ", { code: r.command }, "."] });
  if (r.notes !== undefined && r.notes.length > 0) blocks.push({ kind: "list", items: [...r.notes] });
  return renderMarkdown(blocks);
}

// ---- running it --------------------------------------------------------------------------------

export interface EvaluateDefaultOptions {
  /** The train:default directory (data/, vqvae/, moe/, e1/, e2/, e3/, nobg/). */
  readonly dir: string;
  /** Sampler seed of every demo (default 1). */
  readonly seed?: number;
  /** DDIM steps (default: each model's sampling.steps). */
  readonly steps?: number;
  /** DDIM steps of the extra "from noise" rows (start 1); 0 leaves them out. Default FULL_CHAIN_STEPS. */
  readonly fullChainSteps?: number;
  /** Segment the reference for region rows (default true; false: the brain mask only). */
  readonly regions?: boolean;
  /** Re-run demos even when a matching one exists. */
  readonly force?: boolean;
  /** LPIPS weights for every demo (the LPIPS columns); demos without LPIPS are not reused then. */
  readonly lpips?: { readonly backbone: string; readonly linear: string; readonly net?: "vgg" | "alex" };
  readonly device?: T.Device;
  readonly log?: (line: string) => void;
}

export interface RunOutcome {
  readonly name: string;
  readonly label: string;
  /** "default": the model's own sampler settings; "noise": the full chain. */
  readonly sampler: "default" | "noise";
  readonly status: "evaluated" | "reused" | "not trained" | "failed";
  readonly error?: string;
  readonly report?: DemoReport;
}

export interface CeilingOutcome {
  readonly file: string;
  readonly snapToCodebook: boolean;
  readonly scores: RowScores;
  /** The same with the other snap setting. */
  readonly other: { readonly file: string; readonly scores: RowScores };
  readonly vqvaeDir: string;
  readonly missing: readonly number[];
  readonly croppedVoxelsPerSlice: number;
}

export interface EvaluateDefaultResult {
  readonly results: HeldoutResults;
  readonly runs: readonly RunOutcome[];
  /** The same runs sampled from noise (empty with fullChainSteps 0). */
  readonly fullChain: readonly RunOutcome[];
  readonly ceiling: CeilingOutcome | null;
  readonly files: { readonly json: string; readonly markdown: string };
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** metrics.json of a demo (non-finite numbers were written as strings). */
function readReport(path: string): DemoReport {
  const r = JSON.parse(readFileSync(path, "utf8"), (_k, v: unknown) => (v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : v === "NaN" ? Number.NaN : v)) as DemoReport;
  if (r.format !== DEMO_REPORT_FORMAT) throw new Error(`${path} is not a moediff-sr demo record`);
  return r;
}

/**
 * A demo in `out` that can stand for this run: this record version (with the autoencoder row and the
 * latent diagnostics), slab mode, same seed (steps, start), LPIPS if asked, newer than the weights.
 */
function reusable(out: string, run: string, seed: number, steps: number | undefined, start: number | undefined, lpips: boolean): DemoReport | null {
  const path = join(out, "metrics.json");
  if (!existsSync(path) || statSync(path).mtimeMs <= statSync(join(run, "model.safetensors")).mtimeMs) return null;
  try {
    const r = readReport(path);
    const same =
      r.version === 2 &&
      r.mode === "slab" &&
      r.enhance.seed === seed &&
      (steps === undefined || r.enhance.steps === steps) &&
      (start === undefined || r.enhance.start === start) &&
      (!lpips || r.lpips !== null);
    return same ? r : null;
  } catch {
    return null;
  }
}

const slabScope = (r: DemoReport) => r.evaluations.find((s) => s.scope === "slab");
const enhancedOf = (r: DemoReport): MethodScores | undefined => slabScope(r)?.methods.find((m) => m.method === "enhanced");

export async function evaluateDefault(o: EvaluateDefaultOptions): Promise<EvaluateDefaultResult> {
  const log = o.log ?? (() => {});
  const seed = o.seed ?? 1;
  const device = o.device ?? T.getDefaultDevice();
  const dataDir = join(o.dir, "data");
  const manifest = readManifest(dataDir);
  const heldout = heldoutFromManifest(manifest);
  const evalDir = join(o.dir, "eval");
  const chainSteps = o.fullChainSteps ?? FULL_CHAIN_STEPS;
  if (!Number.isInteger(chainSteps) || chainSteps < 0) throw new RangeError(`evaluateDefault: fullChainSteps must be an integer >= 0, got ${chainSteps}`);
  const runs: RunOutcome[] = [];
  const chainRuns: RunOutcome[] = [];

  const demoOf = async (r: (typeof RUNS)[number], sampler: RunOutcome["sampler"]): Promise<RunOutcome> => {
    const run = join(o.dir, r.name);
    const label = sampler === "default" ? r.label : fromNoiseLabel(r.label, chainSteps);
    if (!existsSync(join(run, "model.safetensors"))) {
      log(`${r.name}: not trained (${run}/model.safetensors is missing)`);
      return { ...r, label, sampler, status: "not trained" };
    }
    writeFileAtomic(join(run, "heldout.json"), (w) => w(Buffer.from(formatHeldout(heldout))));
    const out = join(evalDir, sampler === "default" ? r.name : `${r.name}-noise`);
    const steps = sampler === "default" ? o.steps : chainSteps;
    const start = sampler === "default" ? undefined : 1;
    const old = o.force === true ? null : reusable(out, run, seed, steps, start, o.lpips !== undefined);
    if (old !== null) {
      log(`${r.name}: reusing the demo in ${out}`);
      return { ...r, label, sampler, status: "reused", report: old };
    }
    log(`${r.name}: demo of ${run} into ${out} (seed ${seed}${start === undefined ? "" : `, from noise, ${steps} steps`})`);
    try {
      const d = await runDemo({
        modelDir: run,
        out,
        seed,
        device,
        regions: o.regions ?? true,
        ...(o.lpips !== undefined ? { lpips: o.lpips } : {}),
        ...(steps !== undefined ? { steps } : {}),
        ...(start !== undefined ? { start } : {}),
        log: (l) => log(`  ${l}`),
      });
      return { ...r, label, sampler, status: "evaluated", report: d.report };
    } catch (e) {
      log(`${r.name}: the demo failed: ${errorText(e)}`);
      return { ...r, label, sampler, status: "failed", error: errorText(e) };
    }
  };
  for (const r of RUNS) runs.push(await demoOf(r, "default"));
  if (chainSteps > 0) for (const r of RUNS) chainRuns.push(await demoOf(r, "noise"));

  const withDemo = runs.filter((r) => r.report !== undefined && enhancedOf(r.report) !== undefined);
  const first = withDemo[0];
  const scorer = o.lpips === undefined ? null : await loadLpipsScorer({ lpipsBackbone: o.lpips.backbone, lpipsLinear: o.lpips.linear, lpipsNet: o.lpips.net ?? "vgg" });
  let ceiling: CeilingOutcome | null;
  let unet: { row: TableRow; note: string };
  try {
    const lpips = scorer === null || o.lpips === undefined ? undefined : { scorer, backbone: o.lpips.backbone, linear: o.lpips.linear };
    ceiling = computeCeiling(o.dir, first === undefined ? null : join(evalDir, first.name), device, log, lpips);
    unet = await unetRow(o.dir, first === undefined ? null : join(evalDir, first.name), first?.report, device, log, lpips);
  } finally {
    scorer?.dispose();
  }

  // The rows.
  const rows: TableRow[] = [];
  const notes: string[] = [];
  const baseScope = first?.report !== undefined ? slabScope(first.report) : undefined;
  for (const b of BASELINES) {
    const m = baseScope?.methods.find((x) => x.method === b.key);
    if (m === undefined) rows.push({ label: b.label, status: "no demo ran" });
    // The autoencoder alone leaves the 3T latent where it is: ρ = 0 by definition (cos is undefined).
    else rows.push({ label: b.label, scores: b.key === "autoencoder" ? { ...rowScores(m), rho: 0 } : rowScores(m) });
  }
  rows.push(unet.row);
  const runRow = (r: RunOutcome): TableRow => {
    const m = r.report !== undefined ? enhancedOf(r.report) : undefined;
    return m !== undefined ? { label: r.label, scores: rowScores(m, r.report?.latent.measured ?? null) } : { label: r.label, status: r.status === "failed" ? "failed" : "not trained" };
  };
  const inTableOrder = (list: readonly RunOutcome[]): RunOutcome[] => RUN_ROWS.flatMap((name) => list.filter((r) => r.name === name));
  rows.push(...inTableOrder(runs).map(runRow));
  rows.push(ceiling === null ? { label: CEILING_LABEL, status: "not trained" } : { label: CEILING_LABEL, scores: ceiling.scores });
  rows.push(...inTableOrder(chainRuns).map(runRow));

  const s = heldout.slab;
  const a = heldout.acquisition;
  notes.push(
    `Held-out slab: ${heldout.source.subject} ${s.axis} slices ${s.first}–${s.last} (the data set's test slab, never seen in training), simulated 3T acquisition: voxel ${JSON.stringify(a.voxelSize)} mm, SNR ${a.snr}, bias ${a.bias}, warp ${a.gradwarp} mm, seed ${a.seed}.`,
  );
  if (baseScope !== undefined) {
    notes.push(
      `Scores as moediff-sr evaluate computes them on the slab grid (${baseScope.dims.join("×")}), brain first: brain = inside the brain mask of the HR reference (moediff-sr segment), the figures a claim may rest on; ` +
        `PSNR with the data range ${Number(baseScope.dataRange.toPrecision(6))} (reference max − min over the slab) inside the brain and on the whole grid; Δ = brain PSNR minus the cubic B-spline's; ` +
        `the whole-grid columns include the zero background, which flatters any method that keeps it black; SSIM is 3-D, SSIM 2-D the mean over slices.`,
    );
  }
  notes.push(
    "Autoencoder only: the default model's pipeline with steps 0 (moediff-sr enhance --steps 0): the 3T latent every chain starts from, decoded — decode(encode(LR)), no diffusion step.",
    unet.note,
    "ρ = |z_out − z_LR| / |z_HR − z_LR| and cos = cos(z_out − z_LR, z_HR − z_LR) over the latents of the slab's slices (z_LR: the 3T slice's latent, z_HR: the HR slice's with its b and g, z_out: the sampler's final latent; Frobenius norms): ρ 0 = the sampler did not move the 3T latent, ρ 1 and cos 1 = it reached the HR latent, cos ≤ 0 = it moved away from it.",
  );
  const samplers = [...new Set(withDemo.map((r) => `DDIM ${r.report!.enhance.steps} steps, start ${r.report!.enhance.start}, ${r.report!.enhance.snapToCodebook ? "codebook snap" : "no codebook snap"}`))];
  if (samplers.length > 0) notes.push(`Every model sampled with its own sampling settings (${samplers.join("; ")}), joint experts, seed ${seed}; per-run details in eval/<run>/summary.md.`);
  if (chainRuns.length > 0) {
    notes.push(
      `"From noise" rows: the same models sampled with the full chain (start 1: every chain starts from pure noise, DDIM ${chainSteps} steps over each expert's whole schedule), so the image comes from the experts rather than from the 3T latent the partial chain starts at; per-run details in eval/<run>-noise/summary.md.`,
    );
  }
  const base = withDemo.map((r) => slabScope(r.report!)?.methods.find((m) => m.method === "bspline")?.volume.psnr);
  if (base.some((p) => p !== base[0])) notes.push("Warning: the demos' B-spline rows differ, so they did not see the same LR input; the baseline rows are the default model's.");
  if (ceiling !== null) {
    notes.push(
      `VQ-VAE ceiling: the HR test slices with their b and g (as the model's encoder saw them) through encoder, quantiser and decoder of ${ceiling.vqvaeDir} — the diffusion target decoded, what a perfect sampler would give; ` +
        `placed back on the reference grid and scaled by the HR normalisation divisor (the models' outputs are scaled by the LR acquisition's divisor times the training pairs' HR/LR divisor ratio, as enhance does). ` +
        `With the codebook snap ${ceiling.snapToCodebook ? "off" : "on"} instead: PSNR ${fixed(2)(ceiling.other.scores.psnr)} dB, SSIM ${fixed(4)(ceiling.other.scores.ssim)}.`,
    );
    if (ceiling.missing.length > 0) notes.push(`The test split lacks slab slices ${ceiling.missing.join(", ")} (too little brain); they are 0 in the ceiling volume.`);
    if (ceiling.croppedVoxelsPerSlice > 0) notes.push(`The training slices crop ${ceiling.croppedVoxelsPerSlice} voxels of every slab slice; they are 0 in the ceiling volume.`);
  }
  for (const r of [...runs, ...chainRuns]) if (r.status === "failed") notes.push(`${r.label}: the demo failed: ${r.error ?? "unknown error"}.`);

  const results = resultsTable(rows, notes);
  const w = new OutputWriter(evalDir);
  const json = w.text("results.json", `${JSON.stringify(results, null, 2)}\n`);
  const markdown = w.text("results.md", resultsMarkdown(results));
  if (existsSync(join(o.dir, "moe", "model.safetensors"))) {
    writeFileAtomic(join(o.dir, "moe", "heldout.json"), (wr) => wr(Buffer.from(formatHeldout({ ...heldout, results }))));
  }
  return { results, runs, fullChain: chainRuns, ceiling, files: { json, markdown } };
}

/**
 * The regression U-Net's row: DIR/unet (train-unet) on the LR input of the demo in `demoOut`, onto the
 * grid that demo enhanced (the slab and its context, normalised by the same divisor), cut to the slab,
 * written to DIR/eval/unet/unet.nii.gz and scored by the demo's scoring against the same reference.
 */
async function unetRow(
  dir: string,
  demoOut: string | null,
  report: DemoReport | undefined,
  device: T.Device,
  log: (l: string) => void,
  lpips?: ScopeLpips,
): Promise<{ row: TableRow; note: string }> {
  const run = join(dir, REGRESSION_UNET.name);
  const label = REGRESSION_UNET.label;
  const about = "the plain pixel-space regression baseline (train-unet: a 2-D U-Net on the same condition slices, residual on the B-spline image)";
  if (!existsSync(join(run, "model.safetensors"))) {
    log(`${REGRESSION_UNET.name}: not trained (${run}/model.safetensors is missing)`);
    return { row: { label, status: "not trained" }, note: `${label}: ${about}; not trained in this directory.` };
  }
  if (demoOut === null || report === undefined) return { row: { label, status: "no demo ran" }, note: `${label}: ${about}; no demo gave it an input.` };
  try {
    log(`${REGRESSION_UNET.name}: ${run} on the held-out slab's LR input (as baseline --method unet)`);
    const slab = report.heldout.slab;
    const dim = axisDim(slab.axis) as Dim;
    const hr = loadSource(heldoutFromManifest(readManifest(join(dir, "data"))).source).ras;
    const [c0, c1] = report.enhance.slices;
    const grid = cropGrid({ dims: [hr.dims[0], hr.dims[1], hr.dims[2]], affine: Array.from(hr.affine) }, dim, c0, c1);
    const lr = toVolume(readNifti(join(demoOut, "lr.nii.gz")));
    const r = await enhanceVolumeUNet(run, lr, { like: grid, inputScale: report.enhance.wholeVolumeScale, axes: [report.enhance.axis as Axis], device });
    const out = new OutputWriter(join(dir, "eval", REGRESSION_UNET.name));
    const file = out.volume("unet.nii.gz", cropVolume(r.output, dim, slab.first - c0, slab.last - c0), "moediff-sr regression U-Net baseline");
    const files = Object.fromEntries(
      ["input", "trilinear", "bspline", "autoencoder", "enhanced"].map((k) => [k, k === "enhanced" ? file : join(demoOut, `${k}.nii.gz`)]),
    ) as Record<MethodKey, string>;
    const regions = existsSync(join(demoOut, "regions")) ? join(demoOut, "regions") : null;
    const scope = scoreScope("slab", join(demoOut, "reference.nii.gz"), files, regions, dim, lpips === undefined ? {} : { lpips });
    const m = scope.methods.find((x) => x.method === "enhanced");
    if (m === undefined) throw new Error("internal error: no row for the U-Net");
    return { row: { label, scores: rowScores(m) }, note: `${label}: ${about}, ${run}, on the same LR input and grid as the default model's demo; eval/unet/unet.nii.gz.` };
  } catch (e) {
    log(`${REGRESSION_UNET.name}: failed: ${errorText(e)}`);
    return { row: { label, status: "failed" }, note: `${label}: ${about}; scoring it failed: ${errorText(e)}.` };
  }
}

/** The ceiling of the default model's VQ-VAE (both snap settings), scored against `demoOut`'s files. */
function computeCeiling(dir: string, demoOut: string | null, device: T.Device, log: (l: string) => void, lpips?: ScopeLpips): CeilingOutcome | null {
  const moe = join(dir, "moe");
  const vqvaeDir = existsSync(join(moe, "vqvae", "model.safetensors")) ? join(moe, "vqvae") : join(dir, "vqvae");
  if (!existsSync(join(vqvaeDir, "model.safetensors"))) {
    log(`ceiling: no trained VQ-VAE (${vqvaeDir}/model.safetensors is missing)`);
    return null;
  }
  const { model: vqvae, config: vqConfig } = loadVqvae(vqvaeDir, device);
  try {
    let inputs = vqConfig.inputs;
    let snap = false;
    if (existsSync(join(moe, "config.json"))) {
      const raw = JSON.parse(readFileSync(join(moe, "config.json"), "utf8")) as { preset: string };
      const c = resolveStoredMoEDiffConfig(raw);
      inputs = c.inputs;
      snap = c.sampling.snapToCodebook;
    }
    const out = new OutputWriter(join(dir, "eval", "ceiling"));
    const ds = openSliceDataset(join(dir, "data"));
    try {
      const heldout = heldoutFromManifest(ds.manifest);
      const dim = axisDim(heldout.slab.axis) as Dim;
      let reference: string;
      let regionsDir: string | null;
      let baselines: Record<"input" | "trilinear" | "bspline", string> | undefined;
      if (demoOut !== null) {
        reference = join(demoOut, "reference.nii.gz");
        regionsDir = existsSync(join(demoOut, "regions")) ? join(demoOut, "regions") : null;
        baselines = { input: join(demoOut, "input.nii.gz"), trilinear: join(demoOut, "trilinear.nii.gz"), bspline: join(demoOut, "bspline.nii.gz") };
      } else {
        // No demo ran: the slab reference and the brain mask, cut as the demo cuts them.
        const src = loadSource(heldout.source);
        const ref = cropVolume(src.ras, dim, heldout.slab.first, heldout.slab.last);
        reference = out.volume("reference.nii.gz", ref, "moediff-sr ceiling reference");
        out.mask("regions/brain.nii.gz", cropData(brainMask(src.ras).mask, src.ras.dims, dim, heldout.slab.first, heldout.slab.last), ref, "moediff-sr ceiling brain mask");
        regionsDir = out.path("regions");
      }
      const one = (s: boolean) => {
        log(`ceiling: decode(encode(HR)) of the held-out slab, codebook snap ${s ? "on" : "off"}`);
        const c = ceilingSlab(ds, vqvaeReconstruction(vqvae, s), { inputs, device });
        const file = ceilingFile(out.out, s);
        const { scores } = scoreCeiling({ volume: c.volume, file, reference, regionsDir, axis: dim, ...(baselines !== undefined ? { baselines } : {}), ...(lpips !== undefined ? { lpips } : {}) });
        return { c, file, scores: rowScores(scores) };
      };
      const main = one(snap);
      const other = one(!snap);
      return {
        file: main.file,
        snapToCodebook: snap,
        scores: main.scores,
        other: { file: other.file, scores: other.scores },
        vqvaeDir,
        missing: main.c.missing,
        croppedVoxelsPerSlice: main.c.croppedVoxelsPerSlice,
      };
    } finally {
      ds.close();
    }
  } finally {
    vqvae.dispose();
  }
}
