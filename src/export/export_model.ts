// Exporting a trained run as the embedded default model (models/default/, what `enhance` loads when no
// --model is given): config.json, card.json, heldout.json (with the comparison table), model.safetensors
// and vqvae/{config.json, model.safetensors}, plus MODEL_CARD.md for people.
//
// Precision. Each network (the MoE: condition encoder, gating, experts; the VQ-VAE) is stored as
// float16 when that does not change the output, else float32. The check: on `checkSlices` test
// slices, seeded, the whole sampling path (3T latent, condition tokens, gating, DDIM with the model's
// sampling settings, decode) is run with the float32 weights and with the candidate weights loaded
// through loadModelDir (which copies float16 into the float32 model); a candidate passes when the
// largest per-slice change of PSNR against the HR slice is below `tolerance.psnrDb` (0.01 dB) and the
// largest absolute change of any output pixel is below `tolerance.maxAbs` (0.01 of the normalised
// intensity scale, about a third of the simulated LR noise: sigma / divisor = 3.4 / 122 on the default
// data). Each network is tried alone,
// then both together; if the pair fails though each passed alone, the one that changed the output
// less stays float16. A tensor whose values overflow float16 stays float32 (and is listed).
// Non-floating tensors (index buffers, flags) are stored as they are.
//
// Everything is written into a hidden directory next to `out`, loaded back and checked, and renamed
// into place at the end; an existing export is replaced only with `force`.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import * as T from "../torch/index.js";
import { openSliceDataset } from "../data/dataset.js";
import { readManifest, type DatasetManifest } from "../data/manifest.js";
import { loadModelDir } from "../model_dir/load.js";
import { mixSeed } from "../inference/moe_sampler.js";
import { MoEDiffSRPipeline } from "../inference/pipeline.js";
import { writeFileAtomic } from "../util/atomic_write.js";
import { resolveStoredMoEDiffConfig } from "../models/moediff/config.js";
import { formatHeldout, heldoutFromManifest, parseHeldout, readHeldout, type HeldoutResults, type HeldoutSpec } from "../model_dir/heldout.js";
import { modelCardMarkdown } from "./model_card_md.js";
import { EXPORT_TOLERANCE, WEIGHT_FILES, wallTimeFromLog, type ExportRecord, type ExportTolerance, type Network, type PrecisionCheck, type WeightRecord } from "./record.js";
import { stageOutput } from "../data/output_dir.js";

export interface ExportOptions {
  /** The trained run (DIR/moe). */
  readonly run: string;
  /** Where the model goes (models/default). */
  readonly out: string;
  /** The run's data set (its manifest describes the data; its test split gives the check slices). */
  readonly data: string;
  /** The comparison table (DIR/eval/results.json); default: the run's heldout.json's, if any. */
  readonly results?: HeldoutResults;
  /** For the card: how it was trained (command, config files shown as they are, training logs). */
  readonly recipe?: { readonly command: string; readonly configs: readonly string[]; readonly logs: readonly { readonly label: string; readonly path: string }[] };
  readonly checkSlices?: number;
  readonly seed?: number;
  readonly tolerance?: ExportTolerance;
  /** Replace an existing export in `out`. */
  readonly force?: boolean;
  readonly device?: T.Device;
  readonly log?: (line: string) => void;
}

export interface ExportResult {
  readonly out: string;
  readonly record: ExportRecord;
  readonly files: readonly string[];
}

const isFloat = (d: T.DType): boolean => d === "float32" || d === "float64" || d === "bfloat16" || d === "float16";

/** The tensors of a safetensors file with floating ones as float16 (except those float16 cannot hold). */
export function toFloat16File(src: string, dst: string): { keptFloat32: string[] } {
  const { tensors } = T.io.loadFile(src);
  const converted = new Map<string, T.Tensor>();
  const keptFloat32: string[] = [];
  try {
    for (const [name, t] of tensors) {
      if (!isFloat(t.dtype)) {
        converted.set(name, t);
        continue;
      }
      const h = t.to("float16");
      // float16 overflows to inf where the float32 value was finite: keep such a tensor in float32.
      const finite = T.tidy(() => T.isfinite(h).sum().item() === h.numel || T.isfinite(t).sum().item() !== t.numel);
      if (finite) converted.set(name, h);
      else {
        h.dispose();
        keptFloat32.push(name);
        converted.set(name, t);
      }
    }
    T.io.saveFile(dst, converted, { format: "pt" });
  } finally {
    for (const t of converted.values()) t.dispose();
    for (const t of tensors.values()) t.dispose();
  }
  return { keptFloat32 };
}

/** The dtype of every tensor of a safetensors file. */
export function fileDtypes(path: string): Map<string, T.DType> {
  const { tensors } = T.io.loadFile(path);
  const out = new Map([...tensors].map(([k, t]) => [k, t.dtype]));
  for (const t of tensors.values()) t.dispose();
  return out;
}

/**
 * The model's output for `cond` [B, 3, H, W] as enhance makes it for one batch of tiles (the pipeline's
 * default settings, noise per slice from seeds[b]): [B*H*W] normalised intensities.
 */
export function sampleSlices(pipe: MoEDiffSRPipeline, cond: T.Tensor, seeds: readonly number[]): Float32Array {
  return pipe.sampleTiles(cond, seeds, pipe.defaultOptions()).images;
}

/** Largest |a - b| and largest per-slice |PSNR(a, hr) - PSNR(b, hr)| (data range 1) over slices of hw pixels. */
export function compareOutputs(a: Float32Array, b: Float32Array, hr: Float32Array, hw: number): { maxAbs: number; psnrDelta: number } {
  if (a.length !== b.length || a.length !== hr.length || a.length % hw !== 0) throw new RangeError(`compareOutputs: lengths ${a.length}, ${b.length}, ${hr.length} are not equal multiples of ${hw}`);
  let maxAbs = 0;
  let psnrDelta = 0;
  const psnr = (x: Float32Array, s: number): number => {
    let e = 0;
    for (let i = s; i < s + hw; i++) e += ((x[i] as number) - (hr[i] as number)) ** 2;
    return -10 * Math.log10(e / hw);
  };
  for (let s = 0; s < a.length; s += hw) {
    for (let i = s; i < s + hw; i++) maxAbs = Math.max(maxAbs, Math.abs((a[i] as number) - (b[i] as number)));
    const d = Math.abs(psnr(a, s) - psnr(b, s));
    psnrDelta = Math.max(psnrDelta, Number.isNaN(d) ? 0 : d);
  }
  return { maxAbs, psnrDelta };
}

/** `out` may receive an export: absent, empty, or (with force) a former export. */
function checkOut(out: string, force: boolean): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new Error(`export: ${out} exists and is not a directory`);
  if (readdirSync(out).length === 0) return;
  if (!existsSync(join(out, "card.json")) || !existsSync(join(out, "config.json"))) {
    throw new Error(`export: ${out} is not empty and is not an exported model (no card.json and config.json); remove it yourself or choose another directory`);
  }
  if (!force) throw new Error(`export: ${out} already holds a model; pass force (--force) to replace it`);
}

export async function exportModel(o: ExportOptions): Promise<ExportResult> {
  const log = o.log ?? (() => {});
  const run = resolve(o.run);
  const out = resolve(o.out);
  const device = o.device ?? T.getDefaultDevice();
  const tolerance = o.tolerance ?? EXPORT_TOLERANCE;
  const seed = o.seed ?? 1;
  const nCheck = o.checkSlices ?? 4;
  if (!Number.isInteger(nCheck) || nCheck < 1) throw new RangeError(`export: checkSlices must be a positive integer, got ${nCheck}`);
  checkOut(out, o.force === true);
  const manifest: DatasetManifest = readManifest(o.data);
  loadModelDir(run, { device }).dispose(); // validates the run before anything is written
  const staged = stageOutput(out, o.force === true, checkOut);
  const tmp = staged.tmp;
  try {
    mkdirSync(join(tmp, "vqvae"), { recursive: true });
    for (const f of ["config.json", join("vqvae", "config.json"), "card.json"]) copyFileSync(join(run, f), join(tmp, f));
    const base: HeldoutSpec = existsSync(join(run, "heldout.json")) ? readHeldout(run) : heldoutFromManifest(manifest);
    const results = o.results ?? base.results;
    const heldout = parseHeldout(JSON.parse(JSON.stringify({ ...base, ...(results !== undefined ? { results } : {}) })), "export: heldout.json");

    // The check slices: evenly spaced test slices, their conditions and HR targets.
    const ds = openSliceDataset(o.data);
    let cond: T.Tensor;
    let hr: Float32Array;
    let slices: number[];
    try {
      const n = ds.size("test");
      slices = [...new Set(Array.from({ length: Math.min(nCheck, n) }, (_, j) => (nCheck === 1 ? 0 : Math.round((j * (n - 1)) / Math.max(1, Math.min(nCheck, n) - 1)))))];
      const b = ds.getBatch("test", slices, { device });
      cond = b.cond;
      hr = T.tidy(() => b.hr.to("float32").contiguous().data() as Float32Array);
      for (const t of [b.hr, b.bias, b.g]) t.dispose();
    } finally {
      ds.close();
    }
    const hw = ds.height * ds.width;
    const seeds = slices.map((s) => mixSeed(seed, s));

    // The float32 reference output, the candidates and the trials.
    const half: Record<Network, string> = { moe: join(tmp, ".model.f16"), vqvae: join(tmp, ".vqvae.f16") };
    const kept: Record<Network, string[]> = { moe: [], vqvae: [] };
    const place = (f16: readonly Network[]): void => {
      for (const n of ["moe", "vqvae"] as const) copyFileSync(f16.includes(n) ? half[n] : join(run, WEIGHT_FILES[n]), join(tmp, WEIGHT_FILES[n]));
    };
    const trial = (f16: readonly Network[]): PrecisionCheck => {
      place(f16);
      const pipe = MoEDiffSRPipeline.fromDir(tmp, { device });
      try {
        const c = compareOutputs(sampleSlices(pipe, cond, seeds), reference, hr, hw);
        const r = { float16: [...f16], ...c, pass: c.psnrDelta < tolerance.psnrDb && c.maxAbs < tolerance.maxAbs };
        log(`export: float16 ${f16.join(" + ")}: max |change| ${c.maxAbs.toExponential(2)}, PSNR change ${c.psnrDelta.toExponential(2)} dB: ${r.pass ? "kept" : "too large"}`);
        return r;
      } finally {
        pipe.dispose();
      }
    };
    const trials: PrecisionCheck[] = [];
    let chosen: Network[];
    let reference: Float32Array;
    try {
      for (const n of ["moe", "vqvae"] as const) kept[n] = toFloat16File(join(run, WEIGHT_FILES[n]), half[n]).keptFloat32;
      log(`export: sampling ${slices.length} test slices with the float32 weights`);
      const fp32 = MoEDiffSRPipeline.fromDir(run, { device });
      try {
        reference = sampleSlices(fp32, cond, seeds);
      } finally {
        fp32.dispose();
      }
      const alone = (["moe", "vqvae"] as const).map((n) => trial([n]));
      trials.push(...alone);
      chosen = alone.filter((t) => t.pass).flatMap((t) => t.float16);
      if (chosen.length === 2) {
        const both = trial(chosen);
        trials.push(both);
        if (!both.pass) chosen = [...alone].sort((x, y) => x.maxAbs - y.maxAbs)[0]!.float16.slice();
      }
    } finally {
      cond.dispose();
    }
    place(chosen);
    for (const f of Object.values(half)) rmSync(f, { force: true });

    const weights = Object.fromEntries(
      (["moe", "vqvae"] as const).map((n) => [
        n,
        { dtype: chosen.includes(n) ? "float16" : "float32", bytes: statSync(join(tmp, WEIGHT_FILES[n])).size, float32Bytes: statSync(join(run, WEIGHT_FILES[n])).size, keptFloat32: chosen.includes(n) ? kept[n] : [] },
      ]),
    ) as unknown as Record<Network, WeightRecord>;
    const raw = JSON.parse(readFileSync(join(run, "config.json"), "utf8")) as { preset: string };
    const runConfig = resolveStoredMoEDiffConfig(raw);
    const sp = runConfig.sampling;
    const record: ExportRecord = {
      from: run,
      weights,
      check: {
        slices,
        seed,
        sampler: `DDIM ${sp.steps} steps, eta 0, start ${sp.start}, codebook snap ${sp.snapToCodebook ? "on" : "off"}, joint experts`,
        tolerance,
        trials,
      },
    };
    const card = JSON.parse(readFileSync(join(run, "card.json"), "utf8")) as Record<string, unknown>;
    writeFileAtomic(join(tmp, "card.json"), (w) => w(Buffer.from(`${JSON.stringify({ ...card, export: record }, null, 2)}\n`)));
    writeFileAtomic(join(tmp, "heldout.json"), (w) => w(Buffer.from(formatHeldout(heldout))));

    // Load the final directory once more: it must be a working model directory.
    loadModelDir(tmp, { device }).dispose();
    const logs = [{ label: `MoEDiff-SR (${runConfig.model.experts.length} expert${runConfig.model.experts.length === 1 ? "" : "s"})`, path: join(run, "log.jsonl") }, ...(o.recipe?.logs ?? [])].map((l) => ({ label: l.label, time: wallTimeFromLog(l.path) }));
    const md = modelCardMarkdown({ dir: tmp, manifest, heldout, record, logs, ...(o.recipe !== undefined ? { command: o.recipe.command, configs: o.recipe.configs } : {}) });
    writeFileAtomic(join(tmp, "MODEL_CARD.md"), (w) => w(Buffer.from(md)));

    staged.commit();
    const files = ["config.json", "card.json", "heldout.json", "MODEL_CARD.md", WEIGHT_FILES.moe, join("vqvae", "config.json"), WEIGHT_FILES.vqvae];
    return { out, record, files };
  } catch (e) {
    staged.abort();
    throw e;
  }
}
