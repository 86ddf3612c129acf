// The four volumes behind every slice of one pair, all on the (RAS-reoriented) HR grid:
// normalised HR, normalised LR (simulated, or a real LR scan resampled onto the HR grid with cubic
// B-splines), b (log bias) and g (|u| in mm), see channels.ts.
//
// A real LR must overlap its HR in world space: at least MIN_OVERLAP (50%) of the HR brain voxels
// (normalised HR > BRAIN_LEVEL) must lie inside the LR field of view, otherwise the pair is refused
// (the images are probably not in the same space: co-register them first). Without `register`, LR and
// HR are taken to be aligned in world coordinates; with it, the LR (moving) is first registered rigidly
// to the HR (fixed, RAS-reoriented, raw intensities) and resampled through that transform; the transform
// is returned for the pair's record (no timings, so the manifest stays reproducible).
import { orientationCode } from "../nifti/index.js";
import { registerRigid, type RegistrationResult } from "../preprocess/register/register.js";
import type { RegisterOptions } from "../preprocess/register/options.js";
import { resampleMoving } from "../preprocess/register/transform_file.js";
import { reorient } from "../volume/reorient.js";
import { resampleLike } from "../volume/resample.js";
import { simulateAcquisition, type AcquisitionParams } from "../simulate/simulate.js";
import type { Volume } from "../volume/volume.js";
import { BRAIN_LEVEL } from "./brain_fraction.js";
import { logBiasChannel, readBiasField, readGdcMagnitude } from "./channels.js";
import type { AcquisitionRecord, PairRegistration } from "./manifest.js";
import { normaliseIntensity } from "./normalise.js";
import type { PairEntry } from "./pairs_manifest.js";
import { overlapFraction, readVolume, sourceFile, type SourceFile } from "./sources.js";

/** Minimum fraction of HR brain voxels inside the LR field of view. */
export const MIN_OVERLAP = 0.5;

export interface HrSource {
  readonly file: SourceFile;
  /** The HR volume reoriented to RAS (raw intensities). */
  readonly ras: Volume;
  /** The same, normalised. */
  readonly norm: Volume;
  readonly scale: number;
  readonly originalOrientation: string;
}

export interface PairVolumes {
  readonly lr: Volume;
  readonly lrScale: number;
  readonly bias: Float32Array;
  readonly g: Float32Array;
  readonly channels: { readonly bias: "simulated" | "file" | "zero"; readonly g: "simulated" | "file" | "zero" };
  readonly acquisition?: AcquisitionRecord;
  readonly lrFile?: SourceFile;
  readonly biasFile?: SourceFile;
  readonly gdcFile?: SourceFile;
  readonly overlap?: number;
  readonly registration?: PairRegistration;
}

export function loadHr(path: string, nonFinite: "error" | "zero"): HrSource {
  const raw = readVolume(path, "HR volume", nonFinite);
  const ras = reorient(raw, "RAS");
  const n = normaliseIntensity(ras, `HR volume ${path}`);
  return { file: sourceFile(path), ras, norm: n.volume, scale: n.scale, originalOrientation: orientationCode(raw.affine) };
}

export function simulatedPair(hr: HrSource, params: AcquisitionParams): PairVolumes {
  const sim = simulateAcquisition(hr.ras, params, { onHrGrid: true });
  const lr = normaliseIntensity(sim.image, "simulated LR volume");
  const voxel = typeof params.voxelSize === "number" ? params.voxelSize : params.voxelSize[0];
  return {
    lr: lr.volume,
    lrScale: lr.scale,
    bias: logBiasChannel(sim.bias, hr.norm, "simulated bias field"),
    g: sim.g.data,
    channels: { bias: "simulated", g: "simulated" },
    acquisition: { voxelSize: voxel, snr: params.snr, bias: params.bias, gradwarp: params.gradwarp, seed: params.seed, wmMean: sim.wmMean, sigma: sim.sigma },
  };
}

const r9 = (x: number): number => Number(x.toPrecision(9));
const rows = (m: readonly number[]): number[][] => [0, 1, 2, 3].map((r) => m.slice(4 * r, 4 * r + 4).map(r9));

/** Registers the LR (moving) to the HR grid's volume (fixed); returns the transform and its record. */
function registerPair(lr: Volume, hr: HrSource, options: RegisterOptions, what: string): { matrix: number[]; record: PairRegistration } {
  let r: RegistrationResult;
  try {
    r = registerRigid(lr, hr.ras, options);
  } catch (err) {
    throw new Error(`${what}: registering the LR volume to the HR volume failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const record: PairRegistration = {
    metric: r.metric,
    init: r.init,
    matrix: rows(r.matrix),
    inverse: rows(r.inverse),
    rotationDeg: r.parameters.angles.map((a) => r9((a * 180) / Math.PI)),
    translationMm: r.parameters.translation.map(r9),
    levels: r.levels.map((l) => ({ shrink: l.shrink, iterations: l.iterations, finalCost: r9(l.finalCost) })),
    overlapAfter: Math.round(r.overlap.after * 1000) / 1000,
  };
  return { matrix: r.matrix, record };
}

/** A real pair; with `register` (options for registerRigid) the LR is rigidly registered to the HR first. */
export function realPair(hr: HrSource, e: PairEntry, nonFinite: "error" | "zero", register: RegisterOptions | null = null): PairVolumes {
  const what = `${e.where} (subject ${e.subject})`;
  const lrRaw = readVolume(e.lr, `${what}: LR volume`, nonFinite);
  const overlap = overlapFraction(hr.norm, maskOf(hr.norm), lrRaw);
  if (overlap < MIN_OVERLAP) {
    throw new RangeError(
      `${what}: the LR volume ${e.lr} covers only ${(100 * overlap).toFixed(1)}% of the HR brain ${e.hr} in world space ` +
        `(at least ${100 * MIN_OVERLAP}% needed); they are not in the same space: co-register LR to HR first`,
    );
  }
  const reg = register === null ? null : registerPair(lrRaw, hr, register, what);
  const onHr = reg === null ? resampleLike(lrRaw, hr.ras, { interpolation: "bspline", fill: 0 }) : resampleMoving(lrRaw, hr.ras, reg.matrix, "bspline");
  const lr = normaliseIntensity(onHr, `${what}: LR volume ${e.lr} on the HR grid`);
  const zeros = (): Float32Array => new Float32Array(hr.ras.data.length);
  return {
    lr: lr.volume,
    lrScale: lr.scale,
    bias: e.bias === undefined ? zeros() : logBiasChannel(readBiasField(e.bias, hr.ras), hr.norm, `${what}: bias file ${e.bias}`),
    g: e.gdc === undefined ? zeros() : readGdcMagnitude(e.gdc, hr.ras),
    channels: { bias: e.bias === undefined ? "zero" : "file", g: e.gdc === undefined ? "zero" : "file" },
    lrFile: sourceFile(e.lr),
    ...(e.bias !== undefined ? { biasFile: sourceFile(e.bias) } : {}),
    ...(e.gdc !== undefined ? { gdcFile: sourceFile(e.gdc) } : {}),
    overlap,
    ...(reg !== null ? { registration: reg.record } : {}),
  };
}

function maskOf(norm: Volume): Uint8Array {
  const m = new Uint8Array(norm.data.length);
  const lv = Math.fround(BRAIN_LEVEL);
  for (let i = 0; i < m.length; i++) m[i] = (norm.data[i] as number) > lv ? 1 : 0;
  return m;
}
