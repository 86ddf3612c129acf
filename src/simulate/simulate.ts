// Simulated 3T-like acquisition of a high-resolution volume: the "simulated pairs" of SPEC section 3.
//
// Order of operations (geometry first, then what the receive chain does, then sampling and noise):
// 1. gradient nonlinearity: warp the HR volume by a smooth displacement field (gradwarp_sim.ts; skipped
//    when params.gradwarp = 0);
// 2. coil sensitivity: multiply by a smooth bias field b (bias_field.ts; skipped when params.bias = 0);
// 3. resolution: k-space truncation to the LR voxel size, or a slice profile along one axis, sampled
//    on the LR grid gridFor(hr, voxelSize), which keeps the FOV centre (kspace_lowpass.ts);
// 4. Rician noise on the LR grid with sigma = (mean white-matter intensity of the INPUT HR volume) / snr
//    (white_matter.ts; rician.ts). The WM level is taken before bias and warp, so the SNR means the
//    same thing whatever the bias strength;
// 5. optionally back onto the HR grid with cubic B-splines (HR voxels beyond the LR FOV, possible only
//    when the LR voxel is over twice the HR one, read 0).
// The maps (b, g = |u| in mm, det of the warp Jacobian, the displacement components) are the analytic
// fields evaluated on the output grid. Every random draw comes from `seed`, through separate streams
// ("gradwarp", "bias", "noise"), so the same seed gives the same bytes, and changing one parameter does
// not change the others' draws (e.g. the noise realisation does not depend on the bias strength).
import type * as T from "../torch/index.js";
import { Random, checkSeed } from "../util/random.js";
import { checkAffine, gridFor, voxelSizeTriple, type Grid } from "../volume/affine.js";
import { applyBiasField, biasFieldOnGrid, randomBiasField, type BiasField } from "./bias_field.js";
import { gradwarpMaps, randomGradwarpField, warpVolume, type GradwarpField } from "./gradwarp.js";
import { checkSliceProfile, kspaceResample, type SliceProfile } from "./kspace_lowpass.js";
import { resample } from "../volume/resample.js";
import { ricianNoise } from "./rician.js";
import { checkVolume, type Volume } from "../volume/volume.js";
import { whiteMatterMean } from "./white_matter.js";

export interface AcquisitionParams {
  /** LR voxel size, mm (> 0), along the HR volume's voxel axes. */
  voxelSize: number | readonly [number, number, number];
  /** Mean WM intensity / noise sigma; Infinity = no noise; must be > 0. */
  snr: number;
  /** Bias strength s >= 0 (0 = none): b in [exp(-s/2), exp(s/2)]. */
  bias: number;
  /** Max displacement in mm >= 0 (0 = none). */
  gradwarp: number;
  /** Integer 0..2^32-1; same seed -> identical bytes. */
  seed: number;
}

export interface SimulateOptions {
  /** Resample the result back onto the HR grid (cubic B-spline). Default false: the LR grid. */
  onHrGrid?: boolean;
  /** The WM intensity the SNR refers to, instead of estimating it from the HR volume. */
  wmMean?: number;
  /** 2-D multi-slice acquisition with this slice profile; default a 3-D acquisition (k-space truncation on every axis). */
  sliceProfile?: SliceProfile;
  /** Device for the k-space matmuls (default: the engine's default device). */
  device?: T.Device;
}

export interface SimulationResult {
  /** Simulated acquisition: LR grid, or the HR grid when onHrGrid. */
  image: Volume;
  /** b on the same grid as image. */
  bias: Volume;
  /** Gradient-nonlinearity map on the same grid: displacement magnitude |u| in mm (zeros when gradwarp = 0). */
  g: Volume;
  /** det of the warp Jacobian on the same grid (ones when gradwarp = 0). */
  jacobian: Volume;
  /** World-space x/y/z displacement (mm) on the same grid. */
  displacement: readonly [Volume, Volume, Volume];
  /** The WM intensity used for sigma: given, or estimated from the HR input; NaN when not needed (snr = Infinity) and not given. */
  wmMean: number;
  /** Noise sigma: wmMean / snr (0 when snr = Infinity). */
  sigma: number;
  params: AcquisitionParams;
  /** Whether wmMean was estimated (false: given in options, or not needed). */
  wmEstimated: boolean;
  /** The LR acquisition grid (gridFor(hr, voxelSize)), whether or not the image is on it. */
  lrGrid: Grid;
  /** The fields drawn, to evaluate on other grids. */
  biasField: BiasField;
  gradwarpField: GradwarpField;
}

const PARAM_KEYS = ["voxelSize", "snr", "bias", "gradwarp", "seed"] as const;
const OPTION_KEYS = new Set(["onHrGrid", "wmMean", "sliceProfile", "device"]);

function show(v: unknown): string {
  return typeof v === "number" ? String(v) : JSON.stringify(v) ?? String(v);
}

/** Validates acquisition parameters (all five required, no others); throws naming the bad value. */
export function checkAcquisitionParams(p: unknown): AcquisitionParams {
  if (typeof p !== "object" || p === null || Array.isArray(p)) throw new TypeError(`acquisition params must be an object {${PARAM_KEYS.join(", ")}}, got ${show(p)}`);
  const o = p as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!(PARAM_KEYS as readonly string[]).includes(key)) throw new TypeError(`acquisition params: unknown key "${key}" (known: ${PARAM_KEYS.join(", ")})`);
  }
  for (const key of PARAM_KEYS) if (o[key] === undefined) throw new TypeError(`acquisition params: "${key}" is missing`);
  const v = o.voxelSize;
  if (!(typeof v === "number" || (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number")))) {
    throw new RangeError(`acquisition params: voxelSize must be a positive number of mm or 3 of them, got ${show(v)}`);
  }
  const voxel = voxelSizeTriple(v as number | readonly [number, number, number], "acquisition params: voxelSize");
  const { snr, bias, gradwarp, seed } = o;
  if (typeof snr !== "number" || Number.isNaN(snr) || snr <= 0) {
    throw new RangeError(`acquisition params: snr must be a positive number (Infinity for no noise), got ${show(snr)}`);
  }
  if (typeof bias !== "number" || !Number.isFinite(bias) || bias < 0) {
    throw new RangeError(`acquisition params: bias must be a finite number >= 0 (0 for none), got ${show(bias)}`);
  }
  if (typeof gradwarp !== "number" || !Number.isFinite(gradwarp) || gradwarp < 0) {
    throw new RangeError(`acquisition params: gradwarp must be a finite number of mm >= 0 (0 for none), got ${show(gradwarp)}`);
  }
  checkSeed(seed, "acquisition params: seed");
  return { voxelSize: typeof v === "number" ? v : voxel, snr, bias, gradwarp, seed: seed as number };
}

function checkOptions(options: SimulateOptions): void {
  if (typeof options !== "object" || options === null) throw new TypeError("simulateAcquisition: options must be an object");
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`simulateAcquisition: unknown option "${key}" (known: ${[...OPTION_KEYS].join(", ")})`);
  }
  if (options.onHrGrid !== undefined && typeof options.onHrGrid !== "boolean") {
    throw new TypeError(`simulateAcquisition: onHrGrid must be true or false, got ${show(options.onHrGrid)}`);
  }
  const wm = options.wmMean;
  if (wm !== undefined && (typeof wm !== "number" || !Number.isFinite(wm) || wm <= 0)) {
    throw new RangeError(`simulateAcquisition: wmMean must be a positive finite intensity, got ${show(wm)}`);
  }
  if (options.sliceProfile !== undefined) checkSliceProfile(options.sliceProfile, "simulateAcquisition: sliceProfile");
}

export function simulateAcquisition(hr: Volume, params: AcquisitionParams, options: SimulateOptions = {}): SimulationResult {
  const p = checkAcquisitionParams(params);
  checkOptions(options);
  checkVolume(hr, "simulateAcquisition: HR volume");
  checkAffine(hr.affine, "simulateAcquisition: HR volume affine");
  const hrGrid: Grid = { dims: [hr.dims[0], hr.dims[1], hr.dims[2]], affine: Array.from(hr.affine) };

  // The SNR's reference level, from the input as given.
  let wmMean = Number.NaN;
  let wmEstimated = false;
  if (options.wmMean !== undefined) wmMean = options.wmMean;
  else if (Number.isFinite(p.snr)) {
    wmMean = whiteMatterMean(hr);
    wmEstimated = true;
  }
  const sigma = Number.isFinite(p.snr) ? wmMean / p.snr : 0;

  // 1. Geometry.
  const gradwarpField = randomGradwarpField(hrGrid, p.gradwarp, new Random(p.seed, "gradwarp"));
  const warped = p.gradwarp > 0 ? warpVolume(hr, gradwarpField) : hr;
  // 2. Coil.
  const biasField = randomBiasField(hrGrid, p.bias, new Random(p.seed, "bias"));
  const biased = p.bias > 0 ? applyBiasField(warped, biasField) : warped;
  // 3. Resolution, on the LR grid.
  const lrGrid = gridFor(hr, p.voxelSize);
  const lr = kspaceResample(biased, lrGrid, {
    voxelSize: p.voxelSize,
    ...(options.sliceProfile !== undefined ? { sliceProfile: options.sliceProfile } : {}),
  }, options.device !== undefined ? { device: options.device } : {});
  // 4. Noise (in place on our own LR data).
  ricianNoise(lr.data, sigma, new Random(p.seed, "noise"), lr.data);
  // 5. Output grid.
  const onHr = options.onHrGrid === true;
  const image = onHr ? resample(lr, hrGrid, { interpolation: "bspline", fill: 0 }) : lr;
  const grid: Grid = onHr ? hrGrid : lrGrid;

  const maps = gradwarpMaps(gradwarpField, grid);
  return {
    image,
    bias: biasFieldOnGrid(biasField, grid),
    g: maps.magnitude,
    jacobian: maps.jacobian,
    displacement: maps.displacement,
    wmMean,
    sigma,
    params: p,
    wmEstimated,
    lrGrid,
    biasField,
    gradwarpField,
  };
}
