// The ranges every randomised training subject is drawn from (prepare --randomise), with their
// defaults and their checks. docs/randomisation.md says why each default is what it is.
//
// anatomy      rotation +-15 deg about each axis, scaling 1 +- 0.10 per axis, shear +-0.05 (xy, xz, yz),
//              left-right flip with probability 0.5, elastic displacement: control points every 32 mm
//              with N(0, sd^2) offsets (clipped at 3 sd), sd uniform in 0..2 mm per subject
// contrast     (intensities relative to the source's white-matter mean, WM = 1)
//              GM/WM 0.55..0.85, CSF/GM 0.10..0.60, per-class spread 0.5..1.5 x the source's,
//              non-brain tissue gain 0.5..1.5, gamma exp(U(-0.3, 0.3)) = 0.74..1.35,
//              tissue probabilities: labels blurred with a Gaussian of sd 0.75 mm
// acquisition  3-D with probability 0.5: isotropic voxel 1.0..2.2 mm; otherwise 2-D multi-slice:
//              in-plane 1.0..1.3 mm, slice spacing 2.0..4.0 mm along x, y or z, slice thickness
//              0.8..1.0 x the spacing, Gaussian or rectangular profile; SNR 10..60, bias 0..0.5,
//              gradient warp 0..1 mm
// slices       16 per orientation (x, y, z) and skull variant, one from each of 16 equal parts of
//              the kept slice range (0 = every kept slice)

/** lo:hi, inclusive. */
export type Range = readonly [number, number];

export interface AnatomyRanges {
  /** Largest |rotation| about each world axis, degrees. */
  readonly rotationDeg: number;
  /** Largest |scale - 1| per axis. */
  readonly scaling: number;
  /** Largest |shear| per shear term. */
  readonly shear: number;
  /** Probability of a left-right flip. */
  readonly flipProbability: number;
  /** Per-subject sd of the elastic control-point offsets, mm. */
  readonly elasticSd: Range;
  /** Spacing of the elastic control points, mm. */
  readonly elasticSpacing: number;
}

export interface ContrastRanges {
  /** GM mean / WM mean. */
  readonly gmToWm: Range;
  /** CSF mean / GM mean. */
  readonly csfToGm: Range;
  /** Within-class spread as a multiple of the source's, per class. */
  readonly spread: Range;
  /** Multiplier of non-brain tissue (scalp, skull, muscle, fat). */
  readonly nonBrain: Range;
  /** ln(gamma) is uniform in this range. */
  readonly logGamma: Range;
  /** Gaussian sd (mm) that turns hard labels into partial-volume tissue probabilities. */
  readonly blurMm: number;
}

export interface AcquisitionRandomRanges {
  /** Probability of a 3-D acquisition (else 2-D multi-slice). */
  readonly p3d: number;
  /** 3-D: isotropic voxel size, mm. */
  readonly voxel: Range;
  /** 2-D: in-plane voxel size, mm. */
  readonly inPlane: Range;
  /** 2-D: slice spacing, mm. */
  readonly sliceSpacing: Range;
  /** 2-D: slice thickness / spacing. */
  readonly thicknessRatio: Range;
  readonly snr: Range;
  readonly bias: Range;
  readonly gradwarp: Range;
}

export interface RandomiseRanges {
  readonly anatomy: AnatomyRanges;
  readonly contrast: ContrastRanges;
  readonly acquisition: AcquisitionRandomRanges;
}

const f = <T extends object>(o: T): Readonly<T> => Object.freeze(o);

export const RANDOMISE_DEFAULTS: RandomiseRanges = f({
  anatomy: f({ rotationDeg: 15, scaling: 0.1, shear: 0.05, flipProbability: 0.5, elasticSd: f([0, 2] as const), elasticSpacing: 32 }),
  contrast: f({
    gmToWm: f([0.55, 0.85] as const),
    csfToGm: f([0.1, 0.6] as const),
    spread: f([0.5, 1.5] as const),
    nonBrain: f([0.5, 1.5] as const),
    logGamma: f([-0.3, 0.3] as const),
    blurMm: 0.75,
  }),
  acquisition: f({
    p3d: 0.5,
    voxel: f([1.0, 2.2] as const),
    inPlane: f([1.0, 1.3] as const),
    sliceSpacing: f([2.0, 4.0] as const),
    thicknessRatio: f([0.8, 1.0] as const),
    snr: f([10, 60] as const),
    bias: f([0, 0.5] as const),
    gradwarp: f([0, 1.0] as const),
  }),
});

/** prepare's randomise options, resolved. */
export interface ResolvedRandomise {
  readonly subjects: number;
  readonly slicesPerView: number;
  /** Per source HR volume: its skull-stripped companion on the same grid, or null. */
  readonly stripped: readonly (string | null)[];
  readonly ranges: RandomiseRanges;
}

/** Default slices per orientation and skull variant of each randomised subject. */
export const RANDOMISE_SLICES_PER_VIEW = 16;
/** Fewest randomised subjects: whole subjects go to train, val and test. */
export const MIN_RANDOMISE_SUBJECTS = 3;

function range(name: string, r: Range, lo: number, hi: number): Range {
  if (!Array.isArray(r) || r.length !== 2 || r.some((x) => typeof x !== "number" || !Number.isFinite(x))) {
    throw new RangeError(`randomise: ${name} must be two finite numbers [lo, hi], got ${JSON.stringify(r)}`);
  }
  if (r[0] > r[1]) throw new RangeError(`randomise: ${name} range ${r[0]}:${r[1]} has lo > hi`);
  if (r[0] < lo || r[1] > hi) throw new RangeError(`randomise: ${name} range ${r[0]}:${r[1]} must lie within ${lo}:${hi}`);
  return [r[0], r[1]];
}

function scalar(name: string, x: number, lo: number, hi: number): number {
  if (typeof x !== "number" || !(x >= lo && x <= hi)) throw new RangeError(`randomise: ${name} must be a number in ${lo}..${hi}, got ${JSON.stringify(x)}`);
  return x;
}

/**
 * The ranges with `acquisition` (the prepare options --voxel, --snr, --bias, --gradwarp, when given)
 * replacing the defaults, checked. Contrast ranges must keep CSF < GM < WM.
 */
export function resolveRandomiseRanges(acquisition: Partial<Pick<AcquisitionRandomRanges, "voxel" | "snr" | "bias" | "gradwarp">> = {}, base: RandomiseRanges = RANDOMISE_DEFAULTS): RandomiseRanges {
  const an = base.anatomy;
  const co = base.contrast;
  const ac = { ...base.acquisition, ...Object.fromEntries(Object.entries(acquisition).filter(([, v]) => v !== undefined)) } as AcquisitionRandomRanges;
  return {
    anatomy: {
      rotationDeg: scalar("rotationDeg", an.rotationDeg, 0, 180),
      scaling: scalar("scaling", an.scaling, 0, 0.5),
      shear: scalar("shear", an.shear, 0, 0.5),
      flipProbability: scalar("flipProbability", an.flipProbability, 0, 1),
      elasticSd: range("elasticSd", an.elasticSd, 0, 10),
      elasticSpacing: scalar("elasticSpacing", an.elasticSpacing, 4, 1000),
    },
    contrast: {
      gmToWm: range("gmToWm", co.gmToWm, 0.01, 0.99),
      csfToGm: range("csfToGm", co.csfToGm, 0, 0.99),
      spread: range("spread", co.spread, 0, 10),
      nonBrain: range("nonBrain", co.nonBrain, 0, 10),
      logGamma: range("logGamma", co.logGamma, -2, 2),
      blurMm: scalar("blurMm", co.blurMm, 0, 10),
    },
    acquisition: {
      p3d: scalar("p3d", ac.p3d, 0, 1),
      voxel: range("voxel size", ac.voxel, 1e-3, 100),
      inPlane: range("in-plane voxel size", ac.inPlane, 1e-3, 100),
      sliceSpacing: range("slice spacing", ac.sliceSpacing, 1e-3, 100),
      thicknessRatio: range("thickness ratio", ac.thicknessRatio, 1e-3, 10),
      snr: range("SNR", ac.snr, 1e-3, 1e6),
      bias: range("bias strength", ac.bias, 0, 10),
      gradwarp: range("gradwarp", ac.gradwarp, 0, 100),
    },
  };
}

/** x rounded to `d` decimals, so the manifest shows exactly the value used. */
export function roundTo(x: number, d: number): number {
  const s = 10 ** d;
  return Math.round(x * s) / s;
}
