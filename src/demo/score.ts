// Scoring the demo's outputs: every method's NIfTI file against the reference file through
// `moediff-sr evaluate`'s own function (runEvaluate), so the numbers are exactly what
// `moediff-sr evaluate --pred OUT/<method>.nii.gz --ref OUT/reference.nii.gz --regions OUT/regions --per-slice`
// prints: PSNR, SSIM (3-D), RMSE, HFEN over the whole grid and per region mask (the brain mask is the
// region "brain"), plus the 2-D metrics of every slice across the slab axis.
// Added here: the mean of the per-slice 2-D SSIM, because on a slab a few slices thick the 3-D SSIM
// averages only voxels 5 or more slices from the slab's faces (scikit-image's crop), i.e. its middle.
// A slab thinner than the 11-voxel SSIM window has no 3-D SSIM at all, and evaluate refuses it; then
// the same library functions give everything else with the same definitions (MSE, RMSE and PSNR over
// the grid or the region, HFEN with the LoG of the whole grid summed over the region, the per-slice
// 2-D metrics) and the 3-D SSIM is NaN ("n/a") with a note.
// With LPIPS weights (scoreScope's `lpips`), LPIPS of the whole grid and inside the brain mask, as
// evaluate --lpips-* computes them (evaluate.ts).
import { basename } from "node:path";
import { readNifti, toVolume } from "../nifti/index.js";
import { brainLpips, regionMaskFiles, runEvaluate, type EvaluateReport, type LpipsNetName, type LpipsScorer } from "../evaluate/evaluate.js";
import type { RegionMetrics, VolumeScores } from "../metrics/regions.js";
import { hfen, kernelRadius, mse, perSliceMetrics, psnrFromMse, type SliceMetrics } from "../metrics/volume_metrics.js";
import { dataRange as minMax, type Volume } from "../volume/volume.js";
import { voxelSizes } from "../volume/affine.js";

/** evaluate's 3-D SSIM window (sigma 1.5, truncated at 3.5 sigma): 11 voxels. */
export const SSIM_WINDOW = 2 * kernelRadius(1.5, 3.5) + 1;

/** The methods compared, in table order, with the file each is written to (OUT/<key>.nii.gz). */
export const METHODS = [
  { key: "input", label: "input (nearest)", description: "the LR acquisition placed on the HR grid by nearest neighbour: each HR voxel shows the LR voxel it lies in (no new information)" },
  { key: "trilinear", label: "trilinear", description: "trilinear interpolation of the LR acquisition" },
  { key: "bspline", label: "cubic B-spline", description: "prefiltered cubic B-spline interpolation of the LR acquisition (it passes through the LR samples)" },
  {
    key: "autoencoder",
    label: "autoencoder only",
    description: "the model's VQ-VAE alone, no diffusion step: the 3T latent every chain starts from, decoded (decode(encode(LR)), moediff-sr enhance --steps 0)",
  },
  { key: "enhanced", label: "MoEDiff-SR", description: "the model's output, as moediff-sr enhance makes it" },
] as const;

export type MethodKey = (typeof METHODS)[number]["key"];

export interface MethodScores {
  readonly method: MethodKey;
  readonly file: string;
  readonly volume: VolumeScores;
  readonly regions: readonly RegionMetrics[];
  /** Means over the slices across the slab axis of the 2-D metrics (slices with a NaN value left out). */
  readonly sliceMeans: { readonly psnr: number; readonly ssim: number; readonly hfen: number; readonly slices: number };
  readonly perSlice: readonly SliceMetrics[];
  /** With LPIPS weights: LPIPS of the whole grid and inside the brain mask (null without one). */
  readonly lpips?: { readonly value: number; readonly brain: number | null };
}

/** LPIPS weights for scoreScope, as evaluate takes them (--lpips-backbone, --lpips-linear, --lpips-net). */
export interface ScopeLpips {
  readonly scorer: LpipsScorer;
  readonly backbone: string;
  readonly linear: string;
}

export interface ScopeOptions {
  /** Called after each method is scored. */
  readonly onMethod?: (done: number, total: number) => void;
  /** LPIPS weights: LPIPS of the whole grid and inside the brain mask too. */
  readonly lpips?: ScopeLpips;
}

export const lpipsOptions = (l: ScopeLpips): { lpipsBackbone: string; lpipsLinear: string; lpipsNet: LpipsNetName } => ({ lpipsBackbone: l.backbone, lpipsLinear: l.linear, lpipsNet: l.scorer.net });

export interface ScopeScores {
  /** "slab": the held-out slab; "volume": the whole volume (with --whole; it includes training slices). */
  readonly scope: "slab" | "volume";
  readonly reference: string;
  readonly regionsDir: string | null;
  readonly dims: readonly [number, number, number];
  readonly voxelSize: readonly [number, number, number];
  readonly dataRange: number;
  /** Region masks that were empty on this grid. */
  readonly regionsSkipped: readonly string[];
  /** Why a metric is missing (a grid thinner than the SSIM window), or null. */
  readonly note: string | null;
  readonly methods: readonly MethodScores[];
}

function meanFinite(values: readonly number[]): number {
  const ok = values.filter((v) => Number.isFinite(v));
  return ok.length === 0 ? Number.NaN : ok.reduce((a, b) => a + b, 0) / ok.length;
}

/** Scores the files `files[method]` against `reference` (same grid), per region of `regionsDir` if given. */
export function scoreScope(
  scope: ScopeScores["scope"],
  reference: string,
  files: Readonly<Record<MethodKey, string>>,
  regionsDir: string | null,
  axis: 0 | 1 | 2,
  o: ScopeOptions = {},
): ScopeScores {
  const { onMethod, lpips } = o;
  const refDims = readNifti(reference).dims;
  if (Math.min(refDims[0] ?? 0, refDims[1] ?? 0, refDims[2] ?? 0) < SSIM_WINDOW) return scoreThinScope(scope, reference, files, regionsDir, axis, o);
  let first: EvaluateReport | null = null;
  const methods: MethodScores[] = [];
  for (const [i, m] of METHODS.entries()) {
    const r = runEvaluate(
      { pred: files[m.key], ref: reference, perSlice: true, axis, ...(regionsDir !== null ? { regions: regionsDir } : {}), ...(lpips !== undefined ? lpipsOptions(lpips) : {}) },
      lpips?.scorer,
    );
    first ??= r;
    const slices = r.slices?.metrics ?? [];
    methods.push({
      method: m.key,
      file: files[m.key],
      volume: r.volume,
      regions: r.regions.map(({ set: _set, ...rest }) => rest),
      sliceMeans: {
        psnr: meanFinite(slices.map((s) => s.psnr)),
        ssim: meanFinite(slices.map((s) => s.ssim)),
        hfen: meanFinite(slices.map((s) => s.hfen)),
        slices: slices.length,
      },
      perSlice: slices,
      ...(r.lpips !== undefined ? { lpips: { value: r.lpips.value, brain: r.lpips.brain?.region === "brain" ? r.lpips.brain.value : null } } : {}),
    });
    onMethod?.(i + 1, METHODS.length);
  }
  const r = first as EvaluateReport;
  return {
    scope,
    reference,
    regionsDir,
    dims: r.dims,
    voxelSize: r.voxelSize,
    dataRange: r.dataRange,
    regionsSkipped: r.regionsSkipped ?? [],
    note: null,
    methods,
  };
}

const load = (path: string): Volume => toVolume(readNifti(path));

/** scoreScope for a grid thinner than the SSIM window (see the header). */
function scoreThinScope(
  scope: ScopeScores["scope"],
  reference: string,
  files: Readonly<Record<MethodKey, string>>,
  regionsDir: string | null,
  axis: 0 | 1 | 2,
  o: ScopeOptions = {},
): ScopeScores {
  const { onMethod, lpips } = o;
  const ref = load(reference);
  const [lo, hi] = minMax(ref.data);
  const range = hi - lo;
  if (!(range > 0)) throw new RangeError(`the reference ${reference} is constant; it cannot be scored`);
  const regions: { name: string; mask: Uint8Array; voxels: number }[] = [];
  const skipped: string[] = [];
  for (const file of regionsDir === null ? [] : regionMaskFiles(regionsDir)) {
    const m = load(file);
    if (m.dims.join() !== ref.dims.join()) throw new RangeError(`region mask ${file} is not on the reference grid`);
    const mask = Uint8Array.from(m.data, (x) => (x !== 0 && !Number.isNaN(x) ? 1 : 0));
    const voxels = mask.reduce((a, x) => a + x, 0);
    const name = basename(file).replace(/\.nii(\.gz)?$/, "");
    if (voxels === 0) skipped.push(name);
    else regions.push({ name, mask, voxels });
  }
  const methods = METHODS.map((m, i): MethodScores => {
    const pred = load(files[m.key]);
    if (pred.dims.join() !== ref.dims.join()) throw new RangeError(`${files[m.key]} is not on the reference grid`);
    const scores = (mask?: Uint8Array) => {
      const e = mse(pred.data, ref.data, mask);
      return { mse: e, rmse: Math.sqrt(e), psnr: psnrFromMse(e, range), ssim: Number.NaN, hfen: hfen(pred.data, ref.data, ref.dims, mask !== undefined ? { mask } : {}) };
    };
    const slices = perSliceMetrics(pred.data, ref.data, ref.dims, range, axis);
    const brain = regions.find((g) => g.name === "brain");
    const lp =
      lpips === undefined
        ? undefined
        : {
            value: lpips.scorer.score(pred.data, ref.data, ref.dims, { axis, low: lo, range }).mean,
            brain: brain === undefined ? null : brainLpips(lpips.scorer, pred.data, ref.data, ref.dims, brain.mask, { axis, low: lo, range }).mean,
          };
    onMethod?.(i + 1, METHODS.length);
    return {
      method: m.key,
      file: files[m.key],
      volume: { ...scores(), voxels: ref.data.length },
      regions: regions.map((g) => ({ name: g.name, label: 1, voxels: g.voxels, ...scores(g.mask), ssimVoxels: 0 })),
      sliceMeans: {
        psnr: meanFinite(slices.map((x) => x.psnr)),
        ssim: meanFinite(slices.map((x) => x.ssim)),
        hfen: meanFinite(slices.map((x) => x.hfen)),
        slices: slices.length,
      },
      perSlice: slices,
      ...(lp !== undefined ? { lpips: lp } : {}),
    };
  });
  return {
    scope,
    reference,
    regionsDir,
    dims: [ref.dims[0], ref.dims[1], ref.dims[2]],
    voxelSize: voxelSizes(ref.affine),
    dataRange: range,
    regionsSkipped: skipped,
    note: `the grid (${ref.dims.join("x")}) is thinner than the ${SSIM_WINDOW}-voxel window of the 3-D SSIM, which is therefore n/a (moediff-sr evaluate refuses such a grid); the 2-D SSIM of every slice is given`,
    methods,
  };
}
