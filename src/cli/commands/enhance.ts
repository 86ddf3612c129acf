// `moediff-sr enhance IN.nii.gz -o OUT.nii.gz`: a 3T-like volume in, a 7T-like volume out, with a
// trained MoEDiff-SR model directory (src/inference/enhance.ts says what is done, in order).
// With --explain DIR it also writes each expert's own estimate and its gate weights on the output
// grid (DIR/expert_E<k>.nii.gz, DIR/gate_E<k>.nii.gz, DIR/explain.json), for `moediff-sr figures`.
// Before enhancing, the input is checked against what the model card records about the training inputs
// (voxel size, SNR, contrast, field of view, orientation; src/inference/trust.ts): one warning line per
// item outside it. Beside the output, OUT.json records the model (directory, hash, each hashed file's
// SHA-256), the sampler settings, the input's SHA-256 and the checks (src/inference/sidecar.ts).
// Every file is written to a temporary name and renamed, so an error leaves no half-written output.
// Many volumes in one run (issue 21, point 8; enhance_jobs.ts): several inputs or --list FILE with
// -o DIR, or --bids ROOT (BIDS derivatives). The model is loaded once, --skip-existing skips results
// already there, a failing volume is reported and the run goes on, and a summary ends the run; one
// progress bar covers every volume and axis, with one ETA.
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import * as T from "../../torch/index.js";
import { readNifti, toVolume, writeNifti, xformOptionsFrom } from "../../nifti/index.js";
import { toolVersion } from "../../util/version.js";
import type { Grid } from "../../volume/affine.js";
import { parseAxis, type Axis } from "../../data/slicing.js";
import { enhanceVolume } from "../../inference/enhance.js";
import { ENHANCE_DEFAULTS, MoEDiffSRPipeline } from "../../inference/pipeline.js";
import { writeExplain } from "../../inference/explain_files.js";
import { isSamplerName, samplerNames, schedulerClass, type SamplerName } from "../../diffusion/registry.js";
import { DEFAULT_MODEL_DIR } from "../../model_dir/default_dir.js";
import { parseNonFinite } from "../nifti_options.js";
import { fmt } from "../../util/format.js";
import { nonNegativeInt, parseStart, parseVoxel, positiveInt } from "../option_parsers.js";
import { progress } from "../../util/progress.js";
import { checkNiftiOutput, checkOutputDirectory, checkOutputFile } from "../output_check.js";
import { assessInput } from "../../inference/trust.js";
import { makeSidecar, modelFiles, sidecarPath, writeSidecar } from "../../inference/sidecar.js";
import { voxelSizes } from "../../volume/affine.js";
import { parseDeviceOption } from "../device_option.js";
import { planEnhanceJobs, type EnhanceJob } from "../enhance_jobs.js";
import { writeDerivativeDescription } from "../../data/bids.js";
import { writeQc, writeQcSummary, type QcRecord } from "../enhance_qc.js";


interface EnhanceCliOptions {
  output?: string;
  list?: string;
  bids?: string;
  skipExisting?: boolean;
  threads?: number;
  qc?: string;
  model?: string;
  voxel?: number | [number, number, number];
  like?: string;
  steps?: number;
  start?: number;
  sampler: SamplerName;
  eta: number;
  async?: boolean;
  skipBelow: number;
  seed: number;
  batch: number;
  device: string;
  axis: string;
  overlap: number;
  fullTiles?: boolean;
  snap?: boolean;
  explain?: string;
  volumeIndex?: number;
  nonFinite: "error" | "zero";
}

/** "ddim or ddpm": the registered samplers. */
const SAMPLERS = samplerNames().join(" or ").replace(/ or (?=.* or )/g, ", ");

function parseSampler(v: string): SamplerName {
  if (!isSamplerName(v)) throw new Error(`--sampler must be ${SAMPLERS}, got '${v}'`);
  return v;
}

function nonNegative(name: string) {
  return (v: string): number => {
    const x = Number(v);
    if (!(Number.isFinite(x) && x >= 0)) throw new Error(`--${name} must be a number >= 0, got '${v}'`);
    return x;
  };
}

function parseAxes(v: string): Axis[] {
  if (v === "all") return ["x", "y", "z"];
  return [parseAxis(v)];
}

export function registerEnhance(program: Command): void {
  program
    .command("enhance")
    .description("super-resolve a 3T-like volume into a 7T-like one with a trained MoEDiff-SR model")
    .argument("[inputs...]", "the LR volume(s) (NIfTI .nii or .nii.gz)")
    .option("-o, --output <path>", "the enhanced volume (.nii or .nii.gz); with several inputs or --list, a directory (each result keeps its input's name); with --bids, the derivative data set (default ROOT/derivatives/moediff-sr)")
    .option("--list <file>", "a text file naming one input volume per line (# comments; relative to the file's directory)")
    .option("--bids <root>", "enhance every sub-*/[ses-*/]anat/*_T1w.nii[.gz] of a BIDS data set into BIDS derivatives (<source>_desc-7Tlike_T1w.nii.gz, a JSON sidecar each, dataset_description.json)")
    .option("--skip-existing", "skip a volume whose result already exists (resume an interrupted batch)")
    .option("--threads <n>", "intra-op CPU threads (default: MOEDIFF_NUM_THREADS, else the machine's cores)", positiveInt("threads"))
    .option("--model <dir>", "a trained run directory (from `moediff-sr train`); default: the embedded model")
    .option("--voxel <mm>", "target voxel size, one number or three (default: the model's training voxel size)", parseVoxel)
    .option("--like <file>", "put the output on this volume's grid (e.g. the reference for evaluate)")
    .option("--sampler <kind>", `the sampler of a paper-formulation model (a residual-shifting model always uses ResShift's chain): ${samplerNames().map((n) => schedulerClass(n).description).join("; ")}`, parseSampler, ENHANCE_DEFAULTS.sampler)
    .option("--steps <n>", "diffusion steps: DDIM's, or the levels of a residual-shifting model's chain (default: the model's sampling.steps, 5 for cpu-small); 0: autoencoder only, decode(encode(LR)), no diffusion step", nonNegativeInt("steps"))
    .option("--start <fraction>", "start each chain at this fraction of its schedule from the noised 3T latent (SDEdit-style); 1 = from pure noise (default: the model's sampling.start)", parseStart)
    .option("--eta <x>", "DDIM eta, or ResShift's for a residual-shifting model: 0 deterministic, 1 ancestral/posterior", nonNegative("eta"), ENHANCE_DEFAULTS.eta)
    .option("--async", "asynchronous experts: each runs its own chain (fewer steps for coarser schedules)")
    .option("--skip-below <w>", "with --async: skip an expert whose gate weight is below w (at most 1/K)", nonNegative("skip-below"), ENHANCE_DEFAULTS.skipBelow)
    .option("--seed <n>", "random seed", nonNegativeInt("seed"), ENHANCE_DEFAULTS.seed)
    .option("--batch <n>", "tiles per forward pass", positiveInt("batch"), ENHANCE_DEFAULTS.batch)
    .option("--axis <axis>", "slice axis of the RAS volume: x, y, z, or all (average of the three)", "model")
    .option("--overlap <px>", "tile overlap when a slice is larger than the model's slice size", nonNegativeInt("overlap"), ENHANCE_DEFAULTS.overlap)
    .option("--full-tiles", "pad every slice to the model's slice size (default: a slice smaller than it runs on a tile fitted to it, a multiple of the model's size multiple; faster)")
    .option("--snap", "snap the final latent to the VQ-VAE codebook before decoding (default: the model's sampling.snapToCodebook)")
    .option("--no-snap", "decode the final latent as is instead of snapping it to the codebook")
    .option("--explain <dir>", "also write each expert's estimate and gate maps into this directory")
    .option("--qc <dir>", "a quality report per volume: input | B-spline | enhanced | difference in three planes (<name>.png), tissue means before and after and the warnings (<name>.json), and qc.md over all")
    .option("--volume-index <n>", "which frame of a 4-D input to enhance", nonNegativeInt("volume-index"))
    .option("--non-finite <mode>", "NaN/Inf voxels in the input: error or zero", parseNonFinite, "error")
    .option("--device <device>", "cpu, cuda or cuda:N", parseDeviceOption, "cpu")
    .action(async (inputs: string[], opts: EnhanceCliOptions) => {
      await runEnhance(inputs, opts);
    });
}

/** What one volume's enhancement needs from the run. */
interface RunContext {
  pipe: MoEDiffSRPipeline;
  files: ReturnType<typeof modelFiles>;
  modelDir: string;
  axes: Axis[];
  o: ReturnType<MoEDiffSRPipeline["resolveOptions"]>;
  opts: EnhanceCliOptions;
  /** Prefix of this volume's messages ("enhance" alone; "enhance [2/5 sub-02_T1w]" in a batch). */
  tag: string;
  /** The --explain directory of this volume. */
  explain: string | undefined;
  /** --qc: where the report goes, and the records so far. */
  qc: { dir: string; records: QcRecord[] } | null;
  /** Fraction of this volume done, 0..1. */
  onFraction: (fraction: number, detail: Record<string, string>) => void;
}

async function runEnhance(inputs: string[], opts: EnhanceCliOptions): Promise<void> {
  if (opts.skipBelow > 0 && opts.async !== true) throw new Error("--skip-below needs --async (joint sampling always queries every expert)");
  if (opts.voxel !== undefined && opts.like !== undefined) throw new Error("give --voxel or --like, not both");
  const plan = planEnhanceJobs({ inputs, ...(opts.output !== undefined ? { output: opts.output } : {}), ...(opts.list !== undefined ? { list: opts.list } : {}), ...(opts.bids !== undefined ? { bids: opts.bids } : {}) });
  const many = !plan.single;
  // Everything that can be checked without the inputs, before any is read: the outputs, the device
  // (checked when --device was parsed), the model.
  for (const job of plan.jobs) {
    checkNiftiOutput(job.output, "-o", { createDirs: many });
    const record = sidecarPath(job.output);
    checkOutputFile(record, "-o (its record)", { createDirs: many });
    if (resolve(record) === resolve(job.input)) throw new Error(`-o ${job.output}: its record ${record} would overwrite the input; choose another output name`);
  }
  if (opts.explain !== undefined) checkOutputDirectory(opts.explain, "--explain");
  if (opts.qc !== undefined) checkOutputDirectory(opts.qc, "--qc");
  if (opts.threads !== undefined) T.setNumThreads(opts.threads);
  const device = opts.device as T.Device;
  T.setDefaultDevice(device);
  const modelDir = opts.model ?? DEFAULT_MODEL_DIR;
  if (opts.model === undefined && !existsSync(join(modelDir, "model.safetensors"))) {
    throw new Error(`no embedded default model is installed (${modelDir}); pass --model RUN, a directory made by \`moediff-sr train\``);
  }
  const pending = plan.jobs.filter((j) => !(opts.skipExisting === true && existsSync(j.output)));
  const skipped = plan.jobs.length - pending.length;
  if (many && pending.length === 0) {
    // Nothing to do: the model is not even loaded.
    console.error(`enhance: ${plan.jobs.length} volume(s); ${skipped} already done (--skip-existing)`);
    console.error(`enhance: done: 0 written, ${skipped} skipped (already there), 0 failed, of ${plan.jobs.length}`);
    return;
  }
  const pipe = MoEDiffSRPipeline.fromDir(modelDir, { device });
  const files = modelFiles(modelDir);
  try {
    const axes = opts.axis === "model" ? [pipe.card.slice.axis] : parseAxes(opts.axis);
    const o = pipe.resolveOptions({
      sampler: opts.sampler,
      steps: opts.steps,
      eta: opts.eta,
      start: opts.start,
      mode: opts.async === true ? "async" : "joint",
      skipBelow: opts.skipBelow,
      seed: opts.seed,
      batch: opts.batch,
      overlap: opts.overlap,
      fitTiles: opts.fullTiles !== true,
      snapToCodebook: opts.snap,
      explain: opts.explain !== undefined,
    });
    if (many) {
      const what = opts.bids !== undefined ? `${plan.jobs.length} T1w volume(s) of ${resolve(opts.bids)} into ${plan.derivatives}` : `${plan.jobs.length} volume(s)`;
      console.error(`enhance: ${what}${skipped > 0 ? `; ${skipped} already done (--skip-existing)` : ""}; ${T.getNumThreads()} thread(s)`);
    }
    if (plan.derivatives !== null && pending.length > 0) {
      mkdirSync(plan.derivatives, { recursive: true });
      writeDerivativeDescription(plan.derivatives, toolVersion(), resolve(opts.bids as string));
    }
    // One bar for the whole run: each volume is 100 units, split evenly over its axes.
    const bar = pending.length > 0 ? progress(many ? `enhance ${pending.length} volume(s), %` : "enhance, %", 100 * pending.length) : null;
    const failed: { job: EnhanceJob; why: string }[] = [];
    const qc = opts.qc === undefined ? null : { dir: opts.qc, records: [] as QcRecord[] };
    let written = 0;
    for (const [i, job] of pending.entries()) {
      const ctx: RunContext = {
        pipe,
        files,
        modelDir,
        axes,
        o,
        opts,
        tag: many ? `enhance [${i + 1}/${pending.length} ${job.label}]` : "enhance",
        qc,
        explain: opts.explain === undefined ? undefined : many ? join(opts.explain, job.label.replace(/\.nii(\.gz)?$/, "")) : opts.explain,
        onFraction: (f, detail) => bar?.update(Math.min(100 * pending.length, Math.round(100 * (i + f))), many ? { volume: `${i + 1}/${pending.length}`, ...detail } : detail),
      };
      try {
        await enhanceOne(job, ctx);
        written++;
      } catch (e) {
        if (!many) throw e;
        const why = e instanceof Error ? e.message : String(e);
        failed.push({ job, why });
        console.error(`${ctx.tag}: failed: ${why}`);
      }
    }
    bar?.stop();
    if (qc !== null && qc.records.length > 0) console.error(`enhance: quality report ${writeQcSummary(qc.dir, qc.records)} (${qc.records.length} volume(s))`);
    if (many) {
      console.error(`enhance: done: ${written} written, ${skipped} skipped (already there), ${failed.length} failed, of ${plan.jobs.length}`);
      for (const f of failed) console.error(`  failed: ${f.job.input}: ${f.why}`);
      if (failed.length > 0) throw new Error(`${failed.length} of ${plan.jobs.length} volume(s) failed (listed above); the others were written`);
    }
  } finally {
    pipe.dispose();
  }
}

/** One volume: read, check, enhance, write the result, its record and (with --explain) the experts. */
async function enhanceOne(job: EnhanceJob, ctx: RunContext): Promise<void> {
  const { pipe, files, modelDir, axes, o, opts, tag } = ctx;
  const { input, output } = job;
  const record = sidecarPath(output);
  const im = readNifti(input, { nonFinite: opts.nonFinite });
  const frames = im.dims[3] ?? 1;
  if (frames > 1 && opts.volumeIndex === undefined) {
    throw new Error(`${input} is 4-D with ${frames} frames; choose one with --volume-index 0..${frames - 1}`);
  }
  const lr = toVolume(im, opts.volumeIndex ?? 0);
  // Is the input like the training inputs? One line per item that is not.
  const trust = assessInput(lr, pipe.card);
  for (const w of trust.warnings) console.error(`${tag}: warning: ${w}`);
  if (trust.unchecked !== null) console.error(`${tag}: note: ${trust.unchecked}`);
  let like: Grid | undefined;
  if (opts.like !== undefined) {
    const ref = readNifti(opts.like, { nonFinite: "zero" });
    like = { dims: [ref.dims[0], ref.dims[1], ref.dims[2]] as [number, number, number], affine: ref.affine };
  }
  const mode = o.mode === "joint" ? "joint" : `asynchronous${o.skipBelow > 0 ? `, skip below ${o.skipBelow}` : ""}`;
  const hash = files.hash;
  console.error(`${tag}: ${input} with ${resolve(modelDir)} (model ${hash}): ${pipe.describeSampler(o)}, ${mode}, axis ${axes.join("+")}, seed ${o.seed}`);
  const r = await enhanceVolume(pipe, lr, {
    ...o,
    ...(opts.voxel !== undefined ? { voxelSize: opts.voxel } : {}),
    ...(like !== undefined ? { like } : {}),
    axes,
    onProgress: (p) => {
      const a = Math.max(0, axes.indexOf(p.axis));
      ctx.onFraction((a + (p.tiles > 0 ? p.tilesDone / p.tiles : 1)) / axes.length, { axis: p.axis, slices: `${p.slicesDone}/${p.slices}` });
    },
  });
  const s = r.stats;
  const sampling = pipe.model.formulation === "resshift" ? `resshift ${o.steps}` : `${o.sampler}${o.sampler === "ddim" ? ` ${o.steps}` : ""}`;
  mkdirSync(dirname(resolve(output)), { recursive: true });
  // The input's transform codes (an MNI input stays MNI); the tool's version and the model's hash.
  writeNifti(output, r.output, {
    ...xformOptionsFrom(im, r.output.affine),
    description: `moediff-sr ${toolVersion()} enhance model ${hash} ${sampling} ${o.mode} seed ${o.seed}`.slice(0, 80),
  });
  if (ctx.explain !== undefined) writeExplain(ctx.explain, output, r, pipe);
  writeSidecar(
    record,
    makeSidecar({
      tool: { name: "moediff-sr", version: toolVersion(), command: "enhance" },
      input: { path: input, volumeIndex: opts.volumeIndex ?? null, dims: lr.dims, voxelSize: voxelSizes(lr.affine) },
      output: { path: output, dims: r.output.dims, voxelSize: voxelSizes(r.output.affine) },
      modelDir,
      modelFiles: files,
      card: pipe.card,
      formulation: pipe.model.formulation,
      sampler: { description: pipe.describeSampler(o), axes, settings: r.options },
      target: { voxelSize: opts.voxel === undefined ? null : typeof opts.voxel === "number" ? [opts.voxel, opts.voxel, opts.voxel] : opts.voxel, like: opts.like === undefined ? null : resolve(opts.like) },
      trust,
    }),
  );
  const perSlice = s.slicesRun > 0 ? s.seconds / s.slicesRun : Number.NaN;
  console.error(
    `${tag}: wrote ${output}: ${s.targetDims.join("x")} at ${s.targetVoxelSize.map(fmt).join("x")} mm; ` +
      `${s.slicesRun} of ${s.slices} slices had signal (${s.tilesRun} tiles of ${s.tileSize.join("x")}, ${s.tilesPerSlice} per slice); ` +
      `expert evaluations ${s.evaluations.join("/")}; ${s.seconds.toFixed(1)} s (${perSlice.toFixed(2)} s per slice)`,
  );
  console.error(`${tag}: wrote ${record}: the model, its hash, the sampler settings, the input's SHA-256 and the input checks`);
  if (ctx.qc !== null) {
    const name = job.label.replace(/\.nii(\.gz)?$/i, "");
    const notes = [...trust.warnings, ...(trust.unchecked === null ? [] : [trust.unchecked])];
    const q = await writeQc(ctx.qc.dir, name, { input, output }, lr, r.output, notes);
    ctx.qc.records.push(q);
    const t = q.tissue.map((x) => `${x.tissue} ${x.before.toFixed(1)} -> ${x.after.toFixed(1)}`).join(", ");
    console.error(`${tag}: quality report ${q.figure}: tissue means (B-spline -> enhanced) ${t}`);
    for (const w of q.warnings.slice(notes.length)) console.error(`${tag}: warning: ${w}`);
  }
}
