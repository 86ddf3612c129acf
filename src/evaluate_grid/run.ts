// evaluate-grid: the model against the classical baselines on held-out synthetic subjects over a grid
// of acquisitions (SPEC section 6, "test on held-out generated subjects over a grid of acquisitions").
//
//  1. Subjects: K test subjects made from the source (Colin27 by default) as prepare --randomise makes
//     training subjects (anatomy deformation + contrast remap; src/data/randomise), from their own fixed
//     seed and stream namespace (src/data/randomise/heldout.ts), so none was ever used in training. The
//     HR reference is the subject's "brain" variant (skull-stripped, as the default model was trained)
//     or its "head" variant; the brain mask is the subject's deformed brain labels.
//  2. Slices: N axial (z) slices per subject, spread over the brain's extent (slices whose brain area is
//     at least 30% of the largest), at positions (j + u_i) / N of that range, j = 0..N-1, with a
//     per-subject offset u_i = frac(0.5 + i * 0.618...) (golden-ratio steps), so K subjects together
//     sample K x N different levels.
//  3. Per subject and cell (cells.ts), ONE simulated LR acquisition (simulateAcquisition, on the LR
//     grid; sigma = the subject's WM mean / SNR; seeded by the subject) feeds every method:
//       B-spline, trilinear   the LR resampled onto the HR grid (src/volume/resample.ts)
//       MoEDiff-SR            enhanceVolume onto the HR grid, along z, running only the chosen slices
//                             (their results equal a full run's: enhance.ts `slices`)
//       U-Net                 with --unet DIR: enhanceVolumeUNet likewise
//  4. Metrics: the chosen slices, cropped in-plane to the brain's bounding box on them plus 8 voxels
//     (more than the filters' radii, so brain figures equal those of whole slices), are stacked into a
//     volume of N slices per method (and for the reference and the brain mask); brain-masked PSNR (data
//     range = max - min of the reference stack) and SSIM,
//     with SSIM and HFEN in the plane of each slice, through the evaluate library's own function
//     (volumeAndRegionMetrics, planar: exactly what `moediff-sr evaluate --planar --mask` computes on
//     the stacks; --keep-volumes writes them).
//  5. Per cell: the mean over subjects; overall: the mean over cells.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import * as T from "../torch/index.js";
import { writeNifti } from "../nifti/index.js";
import { dataRange, type Volume } from "../volume/volume.js";
import type { Grid } from "../volume/affine.js";
import { resample } from "../volume/resample.js";
import { simulateAcquisition } from "../simulate/simulate.js";
import { SubjectGenerator, type RandomiseSource, type SkullVariant, type SubjectParams } from "../data/randomise/subject.js";
import { drawHeldoutSubject, HELDOUT_NAMESPACE, HELDOUT_SEED } from "../data/randomise/heldout.js";
import { regionsFromMask, volumeAndRegionMetrics } from "../metrics/regions.js";
import { MoEDiffSRPipeline, type EnhanceSettings } from "../inference/pipeline.js";
import { enhanceVolume } from "../inference/enhance.js";
import { enhanceVolumeUNet, loadUNetModel, type LoadedUNet } from "../inference/unet_enhance.js";
import { filesHash, modelHash, UNET_HASH_FILES } from "../model_dir/hash.js";
import { toolVersion } from "../util/version.js";
import { GRID_ACQUISITIONS, GRID_BIASES, GRID_SNRS, gridCells, type GridAcquisition, type GridCell } from "./cells.js";

export const GRID_DEFAULTS = Object.freeze({ subjects: 8, slices: 4, variant: "brain" as SkullVariant });
/** Slices with at least this fraction of the largest slice's brain area are "through the brain". */
export const MIN_AREA_FRACTION = 0.3;

export type GridMethod = "bspline" | "trilinear" | "unet" | "model";
export const METHOD_LABELS: Readonly<Record<GridMethod, string>> = { bspline: "B-spline", trilinear: "trilinear", unet: "U-Net", model: "MoEDiff-SR" };

export interface BrainScores {
  readonly psnr: number;
  readonly ssim: number;
}

export interface SubjectCellResult {
  readonly subject: string;
  readonly cell: string;
  readonly dataRange: number;
  readonly brainVoxels: number;
  /** The simulation's WM level and noise sigma. */
  readonly wmMean: number;
  readonly sigma: number;
  readonly methods: Partial<Record<GridMethod, BrainScores>>;
}

export interface CellSummary {
  readonly key: string;
  readonly acquisition: string;
  readonly acquisitionLabel: string;
  readonly voxelSize: readonly [number, number, number];
  readonly sliceProfile: GridAcquisition["sliceProfile"] | null;
  readonly snr: number;
  readonly bias: number;
  /** Means over the subjects. */
  readonly methods: Partial<Record<GridMethod, BrainScores>>;
  /** Mean over subjects of model brain PSNR - B-spline brain PSNR, dB. */
  readonly modelMinusBspline: number;
  readonly unetMinusBspline?: number;
}

export interface GridResults {
  readonly format: "moediff-sr-evaluate-grid";
  readonly version: 1;
  readonly tool: string;
  readonly model: { readonly dir: string; readonly hash: string; readonly sampler: string; readonly settings: EnhanceSettings };
  readonly unet: { readonly dir: string; readonly hash: string } | null;
  readonly methods: readonly GridMethod[];
  readonly source: { readonly id: string; readonly files: RandomiseSource["files"] | null };
  readonly heldout: { readonly seed: number; readonly namespace: string; readonly variant: SkullVariant };
  readonly subjects: readonly { readonly id: string; readonly index: number; readonly slices: readonly number[]; readonly crop: PlaneCrop; readonly params: SubjectParams }[];
  readonly metric: string;
  readonly cells: readonly CellSummary[];
  /** Means over the cells. */
  readonly mean: { readonly methods: Partial<Record<GridMethod, BrainScores>>; readonly modelMinusBspline: number; readonly unetMinusBspline?: number };
  readonly perSubject: readonly SubjectCellResult[];
  readonly seconds: number;
}

export interface GridProgress {
  readonly done: number;
  readonly total: number;
  readonly subject: string;
  readonly cell: string;
  /** This unit's model - B-spline brain PSNR, dB. */
  readonly delta: number;
}

export interface GridOptions {
  readonly modelDir: string;
  readonly unetDir?: string;
  readonly source: RandomiseSource;
  readonly subjects?: number;
  readonly slices?: number;
  readonly variant?: SkullVariant;
  readonly acquisitions?: readonly GridAcquisition[];
  readonly snrs?: readonly number[];
  readonly biases?: readonly number[];
  /** Sampler settings over the model's defaults (steps, seed, batch, ...). */
  readonly enhance?: Partial<EnhanceSettings>;
  readonly device?: T.Device;
  /** Write every stack (reference, brain mask, each method) under this directory. */
  readonly keepVolumes?: string;
  readonly onProgress?: (p: GridProgress) => void;
  readonly log?: (line: string) => void;
}

/** The N slice indices along z of a subject (see the top of this file). */
export function chooseSlices(labels: ArrayLike<number>, dims: readonly [number, number, number], n: number, subjectIndex: number): number[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`slices must be a positive integer, got ${n}`);
  const [nx, ny, nz] = dims;
  const area = new Array<number>(nz).fill(0);
  for (let k = 0; k < nz; k++) {
    const base = k * nx * ny;
    let a = 0;
    for (let q = 0; q < nx * ny; q++) if ((labels[base + q] as number) !== 0) a++;
    area[k] = a;
  }
  const biggest = Math.max(...area);
  if (biggest === 0) throw new RangeError("the subject has no brain voxel");
  const through = area.flatMap((a, k) => (a >= MIN_AREA_FRACTION * biggest && k >= 1 && k <= nz - 2 ? [k] : []));
  const lo = through[0] as number;
  const hi = through[through.length - 1] as number;
  const u = (0.5 + subjectIndex * 0.6180339887498949) % 1;
  const picked = new Set<number>();
  for (let j = 0; j < n; j++) picked.add(Math.min(hi, Math.max(lo, Math.round(lo + ((j + u) / n) * (hi - lo)))));
  return [...picked].sort((a, b) => a - b);
}

/** An in-plane window of the slices: columns i0..i1-1, rows j0..j1-1. */
export interface PlaneCrop {
  readonly i0: number;
  readonly i1: number;
  readonly j0: number;
  readonly j1: number;
}

/** Voxels kept around the brain when stacks are cropped: more than the SSIM (5) and LoG (6) filter radii. */
export const CROP_MARGIN = 8;

/**
 * The bounding box of `mask`'s nonzero voxels on slices `ks` (along z), grown by `margin` and clipped to
 * the plane. Every filter window of a brain voxel then lies inside it, so brain-masked PSNR, SSIM and
 * HFEN of the cropped stacks equal those of the whole slices.
 */
export function brainCrop(mask: ArrayLike<number>, dims: readonly [number, number, number], ks: readonly number[], margin = CROP_MARGIN): PlaneCrop {
  const [nx, ny] = dims;
  let i0 = nx;
  let i1 = -1;
  let j0 = ny;
  let j1 = -1;
  for (const k of ks) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        if ((mask[i + nx * (j + ny * k)] as number) === 0) continue;
        if (i < i0) i0 = i;
        if (i > i1) i1 = i;
        if (j < j0) j0 = j;
        if (j > j1) j1 = j;
      }
    }
  }
  if (i1 < 0) throw new RangeError(`no brain voxel on slices z ${ks.join(", ")}`);
  return { i0: Math.max(0, i0 - margin), i1: Math.min(nx, i1 + 1 + margin), j0: Math.max(0, j0 - margin), j1: Math.min(ny, j1 + 1 + margin) };
}

/**
 * The slices `ks` of `v` (along z), optionally cropped in-plane, stacked into a volume with one slice
 * per entry of `ks` (its affine places them 1 slice apart from the first: a stack, not a slab).
 */
export function stackSlices(v: { data: ArrayLike<number>; dims: readonly [number, number, number]; affine: ArrayLike<number> }, ks: readonly number[], crop?: PlaneCrop): Volume {
  const [nx, ny] = v.dims;
  const c = crop ?? { i0: 0, i1: nx, j0: 0, j1: ny };
  const w = c.i1 - c.i0;
  const h = c.j1 - c.j0;
  const data = new Float32Array(w * h * ks.length);
  ks.forEach((k, s) => {
    for (let j = 0; j < h; j++) {
      const from = c.i0 + nx * (c.j0 + j + ny * k);
      for (let i = 0; i < w; i++) data[i + w * (j + h * s)] = v.data[from + i] as number;
    }
  });
  const a = Array.from(v.affine);
  const k0 = ks[0] ?? 0;
  for (let r = 0; r < 3; r++) a[4 * r + 3] = (a[4 * r + 3] as number) + (a[4 * r] as number) * c.i0 + (a[4 * r + 1] as number) * c.j0 + (a[4 * r + 2] as number) * k0;
  return { data, dims: [w, h, ks.length], affine: a };
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((s, x) => s + x, 0) / xs.length);

/** The brain-masked PSNR and SSIM of `pred` against `ref` (stacks), as evaluate --planar --mask computes them. */
export function brainScores(pred: Volume, ref: Volume, mask: Volume, range: number): BrainScores {
  const r = volumeAndRegionMetrics(pred.data, ref.data, ref.dims, range, [regionsFromMask(mask.data, "brain")], { planar: true });
  const b = r.regions[0]?.[0];
  if (b === undefined) throw new Error("evaluate-grid: internal error: no brain region scores");
  return { psnr: b.psnr, ssim: b.ssim };
}

function summarise(cell: GridCell, rows: readonly SubjectCellResult[], methods: readonly GridMethod[]): CellSummary {
  const m: Partial<Record<GridMethod, BrainScores>> = {};
  for (const k of methods) m[k] = { psnr: mean(rows.map((r) => r.methods[k]?.psnr ?? Number.NaN)), ssim: mean(rows.map((r) => r.methods[k]?.ssim ?? Number.NaN)) };
  const delta = (k: GridMethod): number => mean(rows.map((r) => (r.methods[k]?.psnr ?? Number.NaN) - (r.methods.bspline?.psnr ?? Number.NaN)));
  return {
    key: cell.key,
    acquisition: cell.acquisition.key,
    acquisitionLabel: cell.acquisition.label,
    voxelSize: cell.acquisition.voxelSize,
    sliceProfile: cell.acquisition.sliceProfile ?? null,
    snr: cell.snr,
    bias: cell.bias,
    methods: m,
    modelMinusBspline: delta("model"),
    ...(methods.includes("unet") ? { unetMinusBspline: delta("unet") } : {}),
  };
}

/** Runs the grid (see the top of this file). */
export async function runGrid(o: GridOptions): Promise<GridResults> {
  const t0 = performance.now();
  const log = o.log ?? ((): void => {});
  const nSubjects = o.subjects ?? GRID_DEFAULTS.subjects;
  const nSlices = o.slices ?? GRID_DEFAULTS.slices;
  const variant = o.variant ?? GRID_DEFAULTS.variant;
  if (!Number.isInteger(nSubjects) || nSubjects < 1) throw new RangeError(`subjects must be a positive integer, got ${nSubjects}`);
  if (!Number.isInteger(nSlices) || nSlices < 1) throw new RangeError(`slices must be a positive integer, got ${nSlices}`);
  if (variant === "head" && !o.source.hasSkull) throw new RangeError(`the source ${o.source.id} is skull-stripped: it has no head variant; use the brain variant`);
  const cells = gridCells(o.acquisitions ?? GRID_ACQUISITIONS, o.snrs ?? GRID_SNRS, o.biases ?? GRID_BIASES);
  const device = o.device ?? T.getDefaultDevice();
  const pipe = MoEDiffSRPipeline.fromDir(o.modelDir, { device });
  // Hashed as loaded: a model directory replaced during the run must not be credited with its results.
  const hash = modelHash(o.modelDir);
  let unet: LoadedUNet | null = null;
  let unetHash: string | null = null;
  try {
    if (o.unetDir !== undefined) {
      unet = loadUNetModel(o.unetDir, { device });
      unetHash = filesHash(o.unetDir, UNET_HASH_FILES);
    }
    const settings = pipe.resolveOptions(o.enhance ?? {});
    const methods: GridMethod[] = ["bspline", "trilinear", ...(unet !== null ? (["unet"] as const) : []), "model"];
    const subjects: { id: string; index: number; slices: number[]; crop: PlaneCrop; params: SubjectParams }[] = [];
    const perSubject: SubjectCellResult[] = [];
    const total = nSubjects * cells.length;
    let done = 0;
    for (let i = 0; i < nSubjects; i++) {
      const params = drawHeldoutSubject(i);
      const gen = new SubjectGenerator(o.source, params);
      const hr = gen.hrOf(variant);
      const grid: Grid = { dims: [hr.dims[0], hr.dims[1], hr.dims[2]], affine: Array.from(hr.affine) };
      const labels = gen.labels;
      let wmSum = 0;
      let wmCount = 0;
      for (let q = 0; q < labels.length; q++) {
        if (labels[q] === 3) {
          wmSum += hr.data[q] as number;
          wmCount++;
        }
      }
      if (wmCount === 0) throw new RangeError(`held-out subject ${params.subject}: no white matter left after the deformation`);
      const ks = chooseSlices(labels, grid.dims, nSlices, i);
      const maskVolume = { data: Float32Array.from(labels, (l) => (l !== 0 ? 1 : 0)), dims: grid.dims, affine: grid.affine };
      const crop = brainCrop(maskVolume.data, grid.dims, ks);
      subjects.push({ id: params.subject, index: i, slices: ks, crop, params });
      log(`subject ${params.subject}: slices z ${ks.join(", ")}`);
      const ref = stackSlices(hr, ks, crop);
      const mask = stackSlices(maskVolume, ks, crop);
      const [lo, hi] = dataRange(ref.data);
      const range = hi - lo;
      const seed = params.acquisition.brain.seed;
      for (const cell of cells) {
        const a = cell.acquisition;
        const sim = simulateAcquisition(
          hr,
          { voxelSize: [...a.voxelSize] as [number, number, number], snr: cell.snr, bias: cell.bias, gradwarp: 0, seed },
          { wmMean: wmSum / wmCount, device, ...(a.sliceProfile !== undefined ? { sliceProfile: a.sliceProfile } : {}) },
        );
        const lr = sim.image;
        const outputs: Partial<Record<GridMethod, Volume>> = {
          bspline: resample(lr, grid, { interpolation: "bspline", fill: 0 }),
          trilinear: resample(lr, grid, { interpolation: "trilinear", fill: 0 }),
        };
        if (unet !== null) outputs.unet = (await enhanceVolumeUNet(unet, lr, { like: grid, axes: ["z"], slices: ks })).output;
        outputs.model = (await enhanceVolume(pipe, lr, { ...settings, like: grid, axes: ["z"], slices: ks })).output;
        const scores: Partial<Record<GridMethod, BrainScores>> = {};
        const stacks: Partial<Record<GridMethod, Volume>> = {};
        for (const m of methods) {
          const s = stackSlices(outputs[m] as Volume, ks, crop);
          stacks[m] = s;
          scores[m] = brainScores(s, ref, mask, range);
        }
        if (o.keepVolumes !== undefined) writeStacks(join(o.keepVolumes, params.subject, cell.key), ref, mask, stacks, `${params.subject} ${cell.key} z ${ks.join(",")}`);
        const row: SubjectCellResult = { subject: params.subject, cell: cell.key, dataRange: range, brainVoxels: mask.data.reduce((s, x) => s + x, 0), wmMean: sim.wmMean, sigma: sim.sigma, methods: scores };
        perSubject.push(row);
        done++;
        o.onProgress?.({ done, total, subject: params.subject, cell: cell.key, delta: (scores.model?.psnr ?? Number.NaN) - (scores.bspline?.psnr ?? Number.NaN) });
      }
    }
    const summaries = cells.map((c) => summarise(c, perSubject.filter((r) => r.cell === c.key), methods));
    const overall: Partial<Record<GridMethod, BrainScores>> = {};
    for (const m of methods) overall[m] = { psnr: mean(summaries.map((s) => s.methods[m]?.psnr ?? Number.NaN)), ssim: mean(summaries.map((s) => s.methods[m]?.ssim ?? Number.NaN)) };
    return {
      format: "moediff-sr-evaluate-grid",
      version: 1,
      tool: toolVersion(),
      model: { dir: resolve(o.modelDir), hash, sampler: pipe.describeSampler(settings), settings },
      unet: unetHash !== null && o.unetDir !== undefined ? { dir: resolve(o.unetDir), hash: unetHash } : null,
      methods,
      source: { id: o.source.id, files: o.source.files ?? null },
      heldout: { seed: HELDOUT_SEED, namespace: HELDOUT_NAMESPACE, variant },
      subjects,
      metric:
        "brain-masked PSNR (data range = max - min of the reference slices) and SSIM (Gaussian window sigma 1.5, 2-D in each axial slice), " +
        "over the chosen axial slices of each subject, as `moediff-sr evaluate --planar --mask` computes them; per cell the mean over subjects, overall the mean over cells",
      cells: summaries,
      mean: {
        methods: overall,
        modelMinusBspline: mean(summaries.map((s) => s.modelMinusBspline)),
        ...(unet !== null ? { unetMinusBspline: mean(summaries.map((s) => s.unetMinusBspline ?? Number.NaN)) } : {}),
      },
      perSubject,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    unet?.dispose();
    pipe.dispose();
  }
}

function writeStacks(dir: string, ref: Volume, mask: Volume, stacks: Partial<Record<GridMethod, Volume>>, what: string): void {
  mkdirSync(dir, { recursive: true });
  const d = (name: string): string => `moediff-sr evaluate-grid ${name} ${what}`.slice(0, 80);
  writeNifti(join(dir, "reference.nii.gz"), ref, { description: d("reference") });
  writeNifti(join(dir, "brain.nii.gz"), mask, { description: d("brain mask") });
  for (const [m, v] of Object.entries(stacks)) writeNifti(join(dir, `${m}.nii.gz`), v, { description: d(m) });
}
