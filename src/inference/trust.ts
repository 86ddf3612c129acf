// Is this input like what the model was trained on? `enhance` measures the input (on its own grid,
// after reorientation to RAS, before any resampling) and compares it with what the model card records
// about its training inputs (card.json trainingData, src/model_dir/card.ts). Each item outside the
// trained range gives one warning line; the model still runs (a warning is not a refusal).
//
//   voxel size     the input's voxel edges against the training LR voxels [lo, hi], with 25% slack
//                  either way; and its anisotropy (longest / shortest edge) against the training's
//                  largest, with 25% slack. A model trained on 1.6 mm isotropic inputs has never seen
//                  a 3 mm or a 1 x 1 x 3 mm stack.
//   SNR            estimated from the image: sigma = 1.4826 MAD(r) / sqrt(7/6), r = x - (mean of its 6
//                  neighbours) over the voxels of the white-matter class (below) whose 6 neighbours
//                  are white matter too: a robust estimator of independent voxel noise that smooth
//                  signal hardly moves; SNR = the class mean / sigma, as the simulation defines it.
//                  On simulated Colin27 inputs it reads 16, 27-29, 44-47 for true SNRs 15, 30, 60 (it
//                  underestimates high SNRs: texture inside white matter counts as noise). Warned when
//                  below lo / 1.5 or above hi x 1.5 of the training SNRs.
//   contrast       T1-weighted means CSF < GM < WM. A three-class intensity clustering (multi-level
//                  Otsu) inside a brain mask, and the depth of each voxel below the mask's surface
//                  (distance transform, mm): white matter is most of the tissue deeper than DEEP_MM
//                  (15 mm; cortex and sulci lie above, the ventricles are small), so the class holding
//                  most deep voxels is white matter, and in a T1-like image it is the brightest. When
//                  it is the darkest or the middle one, the input is not T1-like (T2, FLAIR, PD, an
//                  inverted image). On Colin27 (1 mm, simulated 1.6 and 2 mm, with and without skull)
//                  the brightest class holds 51-59% of the deep voxels; on the inverted images the
//                  darkest holds 52-59%, and on a FLAIR-like remap the middle one 80%. The mask: the
//                  foreground (voxels above the lowest cut of a 4-class Otsu split, the largest
//                  component, holes filled); when that is over HEAD_ML (a head with its skull, not a
//                  brain) the T1 brain extraction of `segment` (src/preprocess/segment/brain_mask.ts).
//   field of view  the input's extent along R, A and S against the training volumes': under 0.6 x the
//                  smallest (a slab, a partial brain) or over 1.5 x the largest (head and neck).
//   orientation    the angle between the input's voxel axes and the world axes (obliquity) against the
//                  training's (its grids' obliquity plus the anatomy's random rotation), with 10
//                  degrees of slack: slices along z then cut the brain at angles never seen.
// An item the card does not record is not checked; enhance says so once, in one line.
import type { Volume } from "../volume/volume.js";
import { voxelSizes } from "../volume/affine.js";
import { reorient } from "../volume/reorient.js";
import { multiOtsu } from "../volume/otsu.js";
import { brainMask, distanceTransform, fillHoles, largestComponent } from "../preprocess/segment/index.js";
import { obliquityDeg, type ModelCard, type TrainingData } from "../model_dir/card.js";

/** Foreground larger than this (ml) is a head with its skull, not a brain. */
export const HEAD_ML = 2200;
export const VOXEL_SLACK = 1.25;
export const SNR_SLACK = 1.5;
export const FOV_SMALL = 0.6;
export const FOV_LARGE = 1.5;
export const ORIENTATION_SLACK_DEG = 10;
/** Depth (mm below the brain mask's surface) beyond which tissue is mostly white matter. */
export const DEEP_MM = 15;

export const TRUST_ITEMS = ["voxel size", "SNR", "contrast", "field of view", "orientation"] as const;
export type TrustItem = (typeof TRUST_ITEMS)[number];

export interface TissueMeasures {
  /** How the brain mask was found. */
  readonly maskFrom: "foreground" | "brain extraction";
  readonly maskMl: number;
  /** Intensity classes, darkest first: mean intensity, voxels, mean depth below the mask surface (mm). */
  readonly classMeans: readonly [number, number, number];
  readonly classVoxels: readonly [number, number, number];
  readonly classDepthMm: readonly [number, number, number];
  /** Each class's share of the voxels deeper than DEEP_MM. */
  readonly deepShare: readonly [number, number, number];
  /** The class holding most deep voxels (0 darkest .. 2 brightest): white matter. */
  readonly whiteMatter: 0 | 1 | 2;
  /** White matter is the brightest class. */
  readonly t1Like: boolean;
}

export interface InputMeasures {
  /** Voxel edges along R, A, S, mm. */
  readonly voxelSize: readonly [number, number, number];
  readonly anisotropy: number;
  /** Extent along R, A, S, mm. */
  readonly fieldOfViewMm: readonly [number, number, number];
  readonly obliqueDeg: number;
  /** null with the reason when no brain mask or classes could be found. */
  readonly tissue: TissueMeasures | { readonly error: string };
  readonly noise: { readonly sigma: number; readonly snr: number; readonly voxels: number } | { readonly error: string };
}

export interface TrustCheck {
  readonly item: TrustItem;
  readonly status: "ok" | "warning" | "unchecked";
  /** One line: what was measured and, for a warning, against what. */
  readonly message: string;
}

export interface TrustReport {
  readonly measured: InputMeasures;
  readonly checks: readonly TrustCheck[];
  /** The warning lines (status "warning"). */
  readonly warnings: readonly string[];
  /** One line naming the items the card does not record, or null. */
  readonly unchecked: string | null;
}

const f = (x: number, d = 2): string => String(Number(x.toFixed(d)));
const mm = (v: readonly number[]): string => v.map((x) => f(x)).join(" x ");
const CLASS = ["darkest", "middle", "brightest"] as const;

function median(values: Float64Array): number {
  values.sort();
  const n = values.length;
  return n % 2 === 1 ? (values[n >> 1] as number) : ((values[(n >> 1) - 1] as number) + (values[n >> 1] as number)) / 2;
}

/** The brain mask for the tissue classes (see the top of this file). */
function tissueMask(v: Volume): { mask: Uint8Array; from: TissueMeasures["maskFrom"] } {
  const low = multiOtsu(v.data, 4, { what: "input check (foreground)" }).thresholds[0] as number;
  const fg = fillHoles(largestComponent(Uint8Array.from(v.data, (x) => (x >= low ? 1 : 0)), v.dims), v.dims);
  const [sx, sy, sz] = voxelSizes(v.affine);
  let n = 0;
  for (const x of fg) n += x;
  if ((n * sx * sy * sz) / 1000 <= HEAD_ML) return { mask: fg, from: "foreground" };
  return { mask: brainMask(v, { skullStripped: false }).mask, from: "brain extraction" };
}

function measureTissue(v: Volume): { tissue: TissueMeasures; classes: Int8Array } {
  const { mask, from } = tissueMask(v);
  const { data, dims } = v;
  const split = multiOtsu(data, 3, { select: (i) => mask[i] !== 0, what: "input check (tissue classes)" });
  const [t1, t2] = split.thresholds as [number, number];
  const classes = new Int8Array(data.length).fill(-1);
  const outside = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    if (mask[i] === 0) outside[i] = 1;
    else classes[i] = (data[i] as number) < t1 ? 0 : (data[i] as number) < t2 ? 1 : 2;
  }
  const spacing = voxelSizes(v.affine);
  const depth = distanceTransform(outside, dims, spacing, { outsideIsFeature: true });
  const sum = [0, 0, 0];
  const depthSum = [0, 0, 0];
  const deep = [0, 0, 0];
  const count = [0, 0, 0];
  for (let i = 0; i < data.length; i++) {
    const c = classes[i] as number;
    if (c < 0) continue;
    sum[c]! += data[i] as number;
    depthSum[c]! += depth[i] as number;
    if ((depth[i] as number) >= DEEP_MM) deep[c]!++;
    count[c]!++;
  }
  if (count.some((c) => c === 0)) throw new RangeError("fewer than three intensity classes inside the brain mask");
  const deepTotal = deep.reduce((a, b) => a + b, 0);
  if (deepTotal === 0) throw new RangeError(`no brain tissue deeper than ${DEEP_MM} mm below the mask's surface (a slab, or not a brain?)`);
  const whiteMatter = deep.indexOf(Math.max(...deep)) as 0 | 1 | 2;
  const ml = (spacing[0] * spacing[1] * spacing[2]) / 1000;
  return {
    tissue: {
      maskFrom: from,
      maskMl: Number((count.reduce((a, b) => a + b, 0) * ml).toFixed(1)),
      classMeans: sum.map((s, c) => Number((s / count[c]!).toPrecision(6))) as unknown as [number, number, number],
      classVoxels: count as unknown as [number, number, number],
      classDepthMm: depthSum.map((d, c) => Number((d / count[c]!).toFixed(2))) as unknown as [number, number, number],
      deepShare: deep.map((d) => Number((d / deepTotal).toFixed(3))) as unknown as [number, number, number],
      whiteMatter,
      t1Like: whiteMatter === 2,
    },
    classes,
  };
}

/** Noise sigma and SNR from the interior of the white-matter class (see the top of this file). */
function measureNoise(v: Volume, classes: Int8Array, wm: number, wmMean: number): InputMeasures["noise"] {
  const [nx, ny, nz] = v.dims;
  const steps = [1, nx, nx * ny];
  const r: number[] = [];
  for (let k = 1; k < nz - 1; k++) {
    for (let j = 1; j < ny - 1; j++) {
      for (let i = 1; i < nx - 1; i++) {
        const q = i + nx * (j + ny * k);
        if (classes[q] !== wm) continue;
        let s = 0;
        let inside = true;
        for (const d of steps) {
          if (classes[q + d] !== wm || classes[q - d] !== wm) {
            inside = false;
            break;
          }
          s += (v.data[q + d] as number) + (v.data[q - d] as number);
        }
        if (inside) r.push((v.data[q] as number) - s / 6);
      }
    }
  }
  if (r.length < 1000) return { error: `only ${r.length} white-matter voxels with white-matter neighbours (at least 1000 needed)` };
  const res = Float64Array.from(r);
  const centre = median(res.slice());
  const sigma = (1.4826 * median(Float64Array.from(res, (x) => Math.abs(x - centre)))) / Math.sqrt(7 / 6);
  if (!(sigma > 0)) return { error: "no noise measurable (the white matter is constant)" };
  return { sigma: Number(sigma.toPrecision(6)), snr: Number((wmMean / sigma).toPrecision(4)), voxels: r.length };
}

/** Measures what the checks compare (see the top of this file). Engine-free; a few seconds at 1 mm. */
export function measureInput(input: Volume): InputMeasures {
  const ras = reorient(input, "RAS");
  const voxelSize = voxelSizes(ras.affine);
  const fieldOfViewMm = [0, 1, 2].map((a) => Number((ras.dims[a]! * voxelSize[a]!).toFixed(2))) as [number, number, number];
  let tissue: InputMeasures["tissue"];
  let noise: InputMeasures["noise"];
  try {
    const t = measureTissue(ras);
    tissue = t.tissue;
    noise = measureNoise(ras, t.classes, t.tissue.whiteMatter, t.tissue.classMeans[t.tissue.whiteMatter]);
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    tissue = { error };
    noise = { error: `no tissue classes: ${error}` };
  }
  return {
    voxelSize: voxelSize.map((x) => Number(x.toFixed(4))) as [number, number, number],
    anisotropy: Number((Math.max(...voxelSize) / Math.min(...voxelSize)).toFixed(3)),
    fieldOfViewMm,
    obliqueDeg: Number(obliquityDeg(input.affine).toFixed(2)),
    tissue,
    noise,
  };
}

type Check = (m: InputMeasures, t: TrainingData) => TrustCheck | null;

const CHECKS: Readonly<Record<TrustItem, Check>> = {
  "voxel size": (m, t) => {
    if (t.lrVoxelSize === undefined) return null;
    const [lo, hi] = t.lrVoxelSize;
    const small = Math.min(...m.voxelSize);
    const big = Math.max(...m.voxelSize);
    const maxAniso = t.lrAnisotropy ?? 1;
    const problems: string[] = [];
    if (big > hi * VOXEL_SLACK || small < lo / VOXEL_SLACK) problems.push(`outside the training inputs' ${f(lo)}–${f(hi)} mm`);
    if (t.lrAnisotropy !== undefined && m.anisotropy > maxAniso * VOXEL_SLACK) {
      problems.push(`anisotropic (${f(m.anisotropy, 1)}:1), the training inputs ${maxAniso <= 1.0001 ? "isotropic" : `at most ${f(maxAniso, 1)}:1`}`);
    }
    const what = `input voxel ${mm(m.voxelSize)} mm`;
    return problems.length === 0
      ? { item: "voxel size", status: "ok", message: `${what}, near the training inputs' ${f(lo)}–${f(hi)} mm` }
      : { item: "voxel size", status: "warning", message: `${what} is ${problems.join(" and ")}: the model never saw such an input` };
  },
  SNR: (m, t) => {
    if (t.snr === undefined) return null;
    const [lo, hi] = t.snr;
    if ("error" in m.noise) return { item: "SNR", status: "unchecked", message: `SNR not estimated: ${m.noise.error}` };
    const what = `estimated SNR ${f(m.noise.snr, 1)} (white-matter mean / noise sigma ${f(m.noise.sigma, 3)})`;
    return m.noise.snr < lo / SNR_SLACK || m.noise.snr > hi * SNR_SLACK
      ? { item: "SNR", status: "warning", message: `${what} is outside the training inputs' SNR ${f(lo, 1)}–${f(hi, 1)}: ${m.noise.snr < lo ? "noisier" : "cleaner"} than anything the model saw` }
      : { item: "SNR", status: "ok", message: `${what}, near the training inputs' ${f(lo, 1)}–${f(hi, 1)}` };
  },
  contrast: (m, t) => {
    if (t.contrast === undefined) return null;
    if ("error" in m.tissue) return { item: "contrast", status: "unchecked", message: `contrast not checked: ${m.tissue.error}` };
    const x = m.tissue;
    const what = `tissue classes ${x.classMeans.map((v) => f(v, 1)).join(" < ")} hold ${x.deepShare.map((v) => `${Math.round(100 * v)}%`).join(", ")} of the tissue deeper than ${DEEP_MM} mm`;
    return x.t1Like
      ? { item: "contrast", status: "ok", message: `T1-like: white matter (most deep tissue) is the brightest class; ${what}` }
      : {
          item: "contrast",
          status: "warning",
          message: `the input does not look T1-weighted: white matter (most deep tissue) is the ${CLASS[x.whiteMatter]} of three intensity classes, not the brightest (T2, FLAIR or PD?; ${what}); the model was trained on T1-weighted images`,
        };
  },
  "field of view": (m, t) => {
    const fov = t.fieldOfViewMm;
    if (fov === undefined) return null;
    const axes = ["R-L", "A-P", "S-I"];
    const small = axes.filter((_, a) => m.fieldOfViewMm[a]! < FOV_SMALL * fov.min[a]!);
    const large = axes.filter((_, a) => m.fieldOfViewMm[a]! > FOV_LARGE * fov.max[a]!);
    const what = `field of view ${mm(m.fieldOfViewMm)} mm (R-L x A-P x S-I)`;
    const trained = `the training volumes' ${mm(fov.min)}${fov.max.some((v, a) => v !== fov.min[a]) ? ` to ${mm(fov.max)}` : ""} mm`;
    if (small.length === 0 && large.length === 0) return { item: "field of view", status: "ok", message: `${what}, like ${trained}` };
    const parts = [
      ...(small.length > 0 ? [`under ${FOV_SMALL} x ${trained} along ${small.join(", ")} (a slab or part of the brain?)`] : []),
      ...(large.length > 0 ? [`over ${FOV_LARGE} x ${trained} along ${large.join(", ")} (head and neck, or more?)`] : []),
    ];
    return { item: "field of view", status: "warning", message: `${what} is ${parts.join(" and ")}` };
  },
  orientation: (m, t) => {
    if (t.orientationDeg === undefined) return null;
    const limit = t.orientationDeg + ORIENTATION_SLACK_DEG;
    const what = `the input's voxel axes are ${f(m.obliqueDeg, 1)}° off the world axes`;
    return m.obliqueDeg > limit
      ? { item: "orientation", status: "warning", message: `${what}; the brain lay within ${f(t.orientationDeg, 1)}° of them in training: slices will cut it at angles the model never saw` }
      : { item: "orientation", status: "ok", message: `${what} (training: up to ${f(t.orientationDeg, 1)}°)` };
  },
};

/** The checks of `m` against the card (see the top of this file). */
export function checkInput(m: InputMeasures, card: ModelCard): TrustReport {
  const t = card.trainingData ?? {};
  const checks: TrustCheck[] = [];
  const missing: TrustItem[] = [];
  for (const item of TRUST_ITEMS) {
    const c = CHECKS[item](m, t);
    if (c === null) missing.push(item);
    else checks.push(c);
  }
  const unchecked =
    missing.length === 0
      ? null
      : card.trainingData === undefined
        ? `the model card does not record its training inputs (an older card): ${missing.join(", ")} not checked`
        : `the model card does not record the training inputs' ${missing.join(", ")}: not checked`;
  for (const item of missing) checks.push({ item, status: "unchecked", message: "not recorded on the model card" });
  return { measured: m, checks, warnings: checks.filter((c) => c.status === "warning").map((c) => c.message), unchecked };
}

/** measureInput then checkInput. */
export function assessInput(input: Volume, card: ModelCard): TrustReport {
  return checkInput(measureInput(input), card);
}
