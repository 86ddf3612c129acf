// Brain mask of a T1-weighted volume.
//
// Skull-stripped or not ("auto" decides, the caller may say):
//   background = the zero voxels 6-connected to a face of the volume; support = everything else.
//   Skull-stripped when the background covers >= 20% of the volume AND the median intensity of the
//   support's outer layer (support voxels with a background face neighbour) is >= 0.2 x the 98th
//   percentile of the support. A stripped brain's edge is tissue (cortex / CSF partial volume: ratio
//   0.64, 0.57 and 0.31 on Colin27 ch2bet, ch2better and the INIA19 brain); an unstripped head
//   whose background was zeroed has noise or air at its edge (0.13 on Colin27 ch2, 0.18 at 2 mm).
//   A head masked tightly at the skin (bright scalp at the edge) would pass as stripped: force the
//   method with --skull-stripped no then.
//
// Skull-stripped: the mask is the support with holes filled.
//
// Otherwise a simple threshold-and-morphology extraction (design decision; the issue asks for "a
// documented method"):
//   1. Head: Otsu's threshold over all voxels; the largest 6-connected component above it, holes filled.
//   2. Brain threshold: the lowest cut of the optimal 4-class split of the head's intensities
//      (multi-level Otsu; in a T1w head the classes are roughly dark = CSF, bone, partial volume;
//      GM; WM; bright = fat, marrow, vessels). Voxels of the head at or above it are brain-tissue
//      candidates.
//   3. Erode the candidates by `erodeMm` (2 mm) to cut the thin bridges (dura, vessels, optic
//      nerves) joining brain and scalp, keep the largest component, dilate it back by the same
//      radius within the candidates.
//   4. Close by `closeMm` (10 mm) so that sulcal CSF and the interhemispheric fissure are inside (as
//      in a BET-like surface mask), fill holes (ventricles).
// On Colin27 ch2 against the filled support of ch2bet: Dice 0.975 at 1 mm and at 2 mm (tests).
// Limits: it assumes T1 contrast with dark CSF/bone and a dark layer of several mm between brain
// and scalp; it is not a robust brain extractor. Thin dark gaps (atrophy-free young brains at low
// resolution, fat-suppressed sequences where fat is not the brightest class, strong bias fields,
// images cropped through the brain) can leak into the scalp or cut off tissue. Check the mask
// (--write-mask) and supply a better one with --mask when it fails.
import { checkVolume, dataRange, type Volume } from "../../volume/volume.js";
import { voxelSizes } from "../../volume/affine.js";
import { percentile } from "../../util/percentile.js";
import { close, countMask, dilate, erode, fillHoles, largestComponent, touching6 } from "./morphology.js";
import { multiOtsu } from "../../volume/otsu.js";

export const SKULL_STRIP_MIN_BACKGROUND = 0.2;
export const SKULL_STRIP_MIN_EDGE_RATIO = 0.2;

export interface SkullStripCheck {
  readonly skullStripped: boolean;
  /** Fraction of the volume in the zero background connected to the faces. */
  readonly backgroundFraction: number;
  /** Median intensity of the support's outer layer / 98th percentile of the support (NaN without background). */
  readonly edgeRatio: number;
}

export interface BrainMaskOptions {
  /** "auto" (default) detects it; true / false force a method. */
  readonly skullStripped?: "auto" | boolean;
  /** Erosion radius (mm) cutting brain-scalp bridges. Default 2. */
  readonly erodeMm?: number;
  /** Closing radius (mm). Default 10. */
  readonly closeMm?: number;
  /** Replaces the brain threshold of step 2. */
  readonly brainThreshold?: number;
}

export interface BrainMaskResult {
  readonly mask: Uint8Array;
  readonly voxels: number;
  readonly method: "support" | "threshold";
  readonly check: SkullStripCheck;
  /** Threshold method only. */
  readonly headThreshold?: number;
  readonly brainThreshold?: number;
}

/** Throws naming the first non-finite voxel. */
export function checkFinite(volume: Volume, what: string): void {
  let bad = 0;
  let first = -1;
  for (let i = 0; i < volume.data.length; i++) {
    if (!Number.isFinite(volume.data[i] as number)) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad > 0) {
    throw new RangeError(
      `${what}: ${bad} voxels are NaN or Inf (the first at voxel index ${first}); a label map cannot be computed on them: ` +
        `fix the image, or read it with --non-finite zero to set them to 0`,
    );
  }
}

/** Decides whether `volume` is already skull-stripped (see the file header). */
export function detectSkullStripped(volume: Volume): SkullStripCheck {
  checkVolume(volume, "detectSkullStripped: volume");
  const { data, dims } = volume;
  const nonzero = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) nonzero[i] = data[i] !== 0 ? 1 : 0;
  const support = fillHoles(nonzero, dims);
  const background = new Uint8Array(data.length);
  let nb = 0;
  for (let i = 0; i < data.length; i++) {
    if (support[i] === 0) {
      background[i] = 1;
      nb++;
    }
  }
  const backgroundFraction = nb / data.length;
  if (nb === 0 || nb === data.length) return { skullStripped: false, backgroundFraction, edgeRatio: Number.NaN };
  const edge = touching6(support, background, dims);
  const edgeValues: number[] = [];
  const supportValues = new Float32Array(data.length - nb);
  for (let i = 0, w = 0; i < data.length; i++) {
    if (support[i] === 0) continue;
    supportValues[w++] = data[i] as number;
    if (edge[i] !== 0) edgeValues.push(data[i] as number);
  }
  const p98 = percentile(supportValues, 98);
  const edgeRatio = p98 > 0 ? percentile(edgeValues, 50) / p98 : Number.NaN;
  return {
    skullStripped: backgroundFraction >= SKULL_STRIP_MIN_BACKGROUND && edgeRatio >= SKULL_STRIP_MIN_EDGE_RATIO,
    backgroundFraction,
    edgeRatio,
  };
}

/** The brain mask of a T1w volume (see the file header). Throws if it comes out empty. */
export function brainMask(volume: Volume, options: BrainMaskOptions = {}): BrainMaskResult {
  checkVolume(volume, "brainMask: volume");
  checkFinite(volume, "brainMask: volume");
  const erodeMm = options.erodeMm ?? 2;
  const closeMm = options.closeMm ?? 10;
  for (const [name, v] of [["erodeMm", erodeMm], ["closeMm", closeMm]] as const) {
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`brainMask: ${name} must be a number >= 0 (mm), got ${v}`);
  }
  const { data, dims } = volume;
  const [lo, hi] = dataRange(data);
  if (lo === hi) throw new RangeError(`brainMask: the image is constant (every voxel is ${lo}): there is no head or brain to find`);
  const check = detectSkullStripped(volume);
  const stripped = options.skullStripped === undefined || options.skullStripped === "auto" ? check.skullStripped : options.skullStripped;
  if (stripped) {
    const nonzero = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i++) nonzero[i] = data[i] !== 0 ? 1 : 0;
    const mask = fillHoles(nonzero, dims);
    const voxels = countMask(mask);
    if (voxels === 0) throw new RangeError("brainMask: the image is all zero: no brain to mask");
    return { mask, voxels, method: "support", check };
  }
  const spacing = voxelSizes(volume.affine);
  const headThreshold = multiOtsu(data, 2, { what: "brainMask (head threshold)" }).thresholds[0] as number;
  const above = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) above[i] = (data[i] as number) >= headThreshold ? 1 : 0;
  const head = fillHoles(largestComponent(above, dims), dims);
  const brainThreshold =
    options.brainThreshold ?? (multiOtsu(data, 4, { select: (i) => head[i] !== 0, what: "brainMask (brain threshold in the head)" }).thresholds[0] as number);
  if (!Number.isFinite(brainThreshold)) throw new RangeError(`brainMask: brainThreshold must be a finite number, got ${brainThreshold}`);
  const candidate = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) candidate[i] = head[i] !== 0 && (data[i] as number) >= brainThreshold ? 1 : 0;
  const core = largestComponent(erode(candidate, dims, spacing, erodeMm), dims);
  if (countMask(core) === 0) {
    throw new RangeError(
      `brainMask: no brain tissue left after thresholding at ${brainThreshold.toPrecision(4)} and eroding by ${erodeMm} mm: ` +
        "the image may not be a T1-weighted head; supply a brain mask with --mask (or adjust --brain-threshold / --erode)",
    );
  }
  const grown = dilate(core, dims, spacing, erodeMm);
  for (let i = 0; i < grown.length; i++) if (candidate[i] === 0) grown[i] = 0;
  const mask = fillHoles(close(grown, dims, spacing, closeMm), dims);
  return { mask, voxels: countMask(mask), method: "threshold", check, headThreshold, brainThreshold };
}
