// Rigid registration of a moving volume to a fixed one: 6 parameters (rigid.ts) optimised with Adam,
// coarse to fine (pyramid.ts), on NCC or Mattes mutual information (metrics.ts), with gradients taken
// by the engine's autograd through grid_sample of the moving image at T(fixed sample points).
//
// Per iteration: T's matrix is built from the parameters, the fixed points are mapped to the moving
// image's normalised grid coordinates in one [N, 3] x [3, 3] product, the moving image is sampled
// (trilinear, align_corners: voxel centres at -1 and 1), points outside the moving image's voxel
// centres get weight 0, and the cost's gradient drives one Adam step.
//
// Design decisions (the spec leaves them open):
// - Parameters are optimised in mm: the rotations are scaled by the fixed image's radius of gyration r
//   about the rotation centre (parameter = angle * r, the arc length at r), so one Adam step size fits
//   all six. The step size starts at learningRate * level spacing (fixed voxel size x shrink factor)
//   and decays along a cosine to 2% of that over the level.
// - A level ends after its iterations or when the relative slope of the cost over the last
//   convergenceWindow iterations falls below `convergence`; the parameters with the lowest cost seen
//   in the level (the same sample points throughout, so costs compare) start the next level.
// - Overlap: the volumes must overlap in world space as given: at least minOverlap of the fixed field of
//   view inside the moving one (registration corrects misalignment, not different coordinate spaces).
//   If an iteration leaves less than that inside, the registration has diverged and stops with an error.
// - Initialisation (before the first level): com aligns the intensity-weighted centres of mass of the
//   positive voxels, geometry aligns the centres of the fields of view, none starts from identity.
import * as T from "../../torch/index.js";
import { checkAffine, invert, voxelSizes, type Vec3 } from "../../volume/affine.js";
import { checkVolume, dataRange, type Volume } from "../../volume/volume.js";
import { mattesCost, nccCost, binPositions, parzenTaps, type ParzenTaps } from "./metrics.js";
import { resolveRegisterOptions, type RegisterOptions, type ResolvedRegisterOptions } from "./options.js";
import { fixedLevel, fovCentre, intensityMoments, meanVoxelSize, movingLevel, radiusOfGyration, type FixedLevel, type MovingLevel } from "./pyramid.js";
import { rigidMatrix, rotationMatrixTensor, type RigidParameters } from "./rigid.js";

export interface LevelRecord {
  readonly shrink: number;
  /** Gaussian sigma (mm) applied to both images at this level. */
  readonly smoothingMm: number;
  readonly samples: number;
  /** Iterations run (<= the level's maximum). */
  readonly iterations: number;
  readonly converged: boolean;
  /** The cost at the parameters kept from this level. */
  readonly finalCost: number;
  readonly seconds: number;
}

export interface RegistrationResult {
  readonly metric: ResolvedRegisterOptions["metric"];
  readonly init: ResolvedRegisterOptions["init"];
  /** Rotation centre: the centre of the fixed field of view (world mm). */
  readonly centre: Vec3;
  readonly initial: RigidParameters;
  readonly parameters: RigidParameters;
  /** 4x4 row-major: fixed world point -> moving world point. */
  readonly matrix: number[];
  /** 4x4 row-major: moving world point -> fixed world point. */
  readonly inverse: number[];
  readonly levels: readonly LevelRecord[];
  /** Fraction of the fixed field of view inside the moving one, as given and after registration. */
  readonly overlap: { readonly before: number; readonly after: number };
  readonly seconds: number;
}

/** Message of the error for volumes that do not overlap (as given). */
export const NO_OVERLAP = "the volumes do not overlap: check they are of the same subject/space";

/**
 * Fraction of the fixed field of view (sampled on a grid of about 32^3 voxel centres) whose points,
 * mapped by `matrix` (fixed world -> moving world), fall inside the moving field of view (voxel
 * coordinates within [-0.5, n - 0.5]).
 */
export function fovOverlap(fixed: { dims: readonly [number, number, number]; affine: readonly number[] }, moving: { dims: readonly [number, number, number]; affine: readonly number[] }, matrix: readonly number[]): number {
  // moving voxel = inv(A_m) * matrix * A_f * fixed voxel
  const toMoving = mul4(invert(moving.affine, "moving affine"), mul4(matrix, fixed.affine));
  const step = fixed.dims.map((n) => Math.max(1, Math.floor(n / 32)));
  let inside = 0;
  let total = 0;
  for (let k = 0; k < fixed.dims[2]; k += step[2] as number) {
    for (let j = 0; j < fixed.dims[1]; j += step[1] as number) {
      for (let i = 0; i < fixed.dims[0]; i += step[0] as number) {
        total++;
        let ok = true;
        for (let r = 0; r < 3 && ok; r++) {
          const v = (toMoving[4 * r] as number) * i + (toMoving[4 * r + 1] as number) * j + (toMoving[4 * r + 2] as number) * k + (toMoving[4 * r + 3] as number);
          ok = v >= -0.5 && v <= (moving.dims[r] as number) - 0.5;
        }
        if (ok) inside++;
      }
    }
  }
  return inside / total;
}

function mul4(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(16).fill(0);
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) for (let k = 0; k < 4; k++) out[4 * r + c] = (out[4 * r + c] as number) + (a[4 * r + k] as number) * (b[4 * k + c] as number);
  return out;
}

function checkInput(v: Volume, what: string): void {
  checkVolume(v, `register: ${what} volume`);
  checkAffine(v.affine, `register: ${what} affine`);
  if (v.dims.some((n) => n < 4)) throw new RangeError(`register: the ${what} volume must have at least 4 voxels along each axis (3-D volumes), got [${v.dims.join(", ")}]`);
  const [lo, hi] = dataRange(v.data);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`register: the ${what} volume has non-finite values; read it with nonFinite "zero" or fix the file`);
  if (lo === hi) throw new RangeError(`register: the ${what} volume is constant (every voxel is ${lo}); there is nothing to align`);
}

/** The transform's pieces that do not change during a level, as tensors. */
export interface Geometry {
  /** diag(2 / (n - 1)) * inv(A_m)[:3, :3]: moving world -> normalised grid coordinates (linear part). */
  readonly k: T.Tensor;
  /** diag(2 / (n - 1)) * inv(A_m)[:3, 3] - 1. */
  readonly kb: T.Tensor;
  /** The rotation centre. */
  readonly c: T.Tensor;
  dispose(): void;
}

/** The constant tensors of T for a moving volume (see Geometry). */
export function movingGeometry(moving: Volume, centre: Vec3, o: Pick<ResolvedRegisterOptions, "dtype" | "device">): Geometry {
  const inv = invert(moving.affine, "register: moving affine");
  const kData: number[] = [];
  const kbData: number[] = [];
  for (let r = 0; r < 3; r++) {
    const s = 2 / ((moving.dims[r] as number) - 1);
    for (let c = 0; c < 3; c++) kData.push(s * (inv[4 * r + c] as number));
    kbData.push(s * (inv[4 * r + 3] as number) - 1);
  }
  const opts = { dtype: o.dtype, device: o.device };
  const k = T.tensor(kData, [3, 3], opts);
  const kb = T.tensor(kbData, [3], opts);
  const c = T.tensor([...centre], [3], opts);
  return { k, kb, c, dispose: () => [k, kb, c].forEach((t) => t.dispose()) };
}

/** The cost and the overlap fraction of the sample points at parameters theta (see costFunction). */
export interface CostValue {
  readonly cost: T.Tensor;
  readonly overlap: T.Tensor;
}

/**
 * The cost as a function of theta = [alpha r, beta r, gamma r, tx, ty, tz] (mm) for one level; the
 * returned tensors belong to the caller's tidy() scope. Exposed for the gradient tests.
 */
export function costFunction(
  fl: FixedLevel,
  ml: MovingLevel,
  geo: Geometry,
  radius: number,
  o: Pick<ResolvedRegisterOptions, "metric" | "bins" | "dtype">,
  fixedTaps: ParzenTaps | null,
): (theta: T.Tensor) => CostValue {
  const n = fl.count;
  return (theta) => {
    const angles = theta.narrow(0, 0, 3).div(radius);
    const t = theta.narrow(0, 3, 3);
    const m = geo.k.matmul(rotationMatrixTensor(angles));
    const b = geo.k.matmul(t.add(geo.c)).add(geo.kb);
    const grid = fl.points.matmul(m.transpose(0, 1)).add(b);
    const w = T.noGrad(() => grid.abs().amax(1).le(1 + 1e-6).to(o.dtype));
    const sampled = T.F.gridSample(ml.image, grid.reshape(1, 1, 1, n, 3), { mode: "bilinear", paddingMode: "border", alignCorners: true }).reshape(n);
    const cost =
      o.metric === "ncc" ? nccCost(fl.values, sampled, w) : mattesCost(fixedTaps as ParzenTaps, sampled, w, { bins: o.bins, movingRange: [ml.min, ml.max] });
    return { cost, overlap: w.mean() };
  };
}

/** Relative slope of the last `window` costs (least squares), |slope| / max(|mean|, 1e-12). */
function relativeSlope(costs: readonly number[], window: number): number {
  const y = costs.slice(-window);
  const n = y.length;
  const mx = (n - 1) / 2;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  y.forEach((v, i) => {
    sxy += (i - mx) * (v - my);
    sxx += (i - mx) ** 2;
  });
  return Math.abs(sxy / sxx) / Math.max(Math.abs(my), 1e-12);
}

/** Initial parameters (translation only) for the chosen initialisation. */
function initialParameters(moving: Volume, fixed: Volume, o: ResolvedRegisterOptions, movingCom: Vec3 | null, fixedCom: Vec3 | null): RigidParameters {
  const zero: Vec3 = [0, 0, 0];
  switch (o.init) {
    case "none":
      return { angles: zero, translation: zero };
    case "geometry": {
      const cm = fovCentre(moving);
      const cf = fovCentre(fixed);
      return { angles: zero, translation: [cm[0] - cf[0], cm[1] - cf[1], cm[2] - cf[2]] };
    }
    case "com": {
      if (movingCom === null || fixedCom === null) {
        throw new RangeError(`register: init "com" needs positive intensities in both volumes (the ${movingCom === null ? "moving" : "fixed"} one has none); use init "geometry" or "none"`);
      }
      return { angles: zero, translation: [movingCom[0] - fixedCom[0], movingCom[1] - fixedCom[1], movingCom[2] - fixedCom[2]] };
    }
  }
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/**
 * Registers `moving` to `fixed` rigidly. Returns T (fixed world -> moving world) and a record of
 * the levels. Throws a clear error for volumes that do not overlap or a diverging optimisation.
 */
export function registerRigid(moving: Volume, fixed: Volume, options: RegisterOptions = {}): RegistrationResult {
  const t0 = Date.now();
  const o = resolveRegisterOptions(options);
  checkInput(moving, "moving");
  checkInput(fixed, "fixed");
  const identity = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  const before = fovOverlap(fixed, moving, identity);
  if (before < o.minOverlap) {
    throw new RangeError(`register: ${NO_OVERLAP} (only ${pct(before)} of the fixed field of view lies inside the moving one in world space, at least ${pct(o.minOverlap)} needed)`);
  }
  const centre = fovCentre(fixed);
  const fixedMoments = intensityMoments(fixed);
  const movingMoments = intensityMoments(moving);
  // Radius for scaling the rotations: of the fixed intensity, or of its field of view when it has no positive voxel.
  const sizes = voxelSizes(fixed.affine);
  const fovHalf = fixed.dims.map((n, a) => ((n - 1) / 2) * (sizes[a] as number));
  const radius = fixedMoments.mass > 0 ? radiusOfGyration(fixedMoments, centre) : Math.hypot(...fovHalf) / Math.sqrt(3);
  const initial = initialParameters(moving, fixed, o, movingMoments.mass > 0 ? movingMoments.centre : null, fixedMoments.mass > 0 ? fixedMoments.centre : null);
  let theta = [...initial.angles.map((a) => a * radius), ...initial.translation];
  const voxel = meanVoxelSize(fixed.affine);
  const levels: LevelRecord[] = [];
  o.levels.forEach((shrink, li) => {
    const tl = Date.now();
    const sigmaMm = (o.smoothing[li] as number) * voxel;
    const iterations = o.iterations[li] as number;
    const place = { device: o.device, dtype: o.dtype };
    let fl: FixedLevel | null = null;
    let ml: MovingLevel | null = null;
    let geo: Geometry | null = null;
    let fixedTaps: ParzenTaps | null = null;
    let param: T.Tensor | null = null;
    let opt: T.optim.Adam | null = null;
    try {
      fl = fixedLevel(fixed, { ...place, shrink, sigmaMm, maxSamples: o.maxSamples, seed: o.seed, centre });
      ml = movingLevel(moving, sigmaMm, place);
      geo = movingGeometry(moving, centre, o);
      if (o.metric === "mi") {
        const values = fl.values;
        fixedTaps = T.tidy(() => parzenTaps(binPositions(values, values.amin().item(), values.amax().item(), o.bins)));
      }
      const cost = costFunction(fl, ml, geo, radius, o, fixedTaps);
      param = T.tensor(theta, [6], { ...place, requiresGrad: true });
      const lr0 = o.learningRate * voxel * shrink;
      opt = new T.optim.Adam([param], { lr: lr0 });
      const group = opt.paramGroups[0] as { lr: number };
      const costs: number[] = [];
      let best = { cost: Infinity, theta };
      let converged = false;
      let it = 0;
      const p = param;
      while (it < iterations) {
        it++;
        const phase = iterations > 1 ? (it - 1) / (iterations - 1) : 0;
        group.lr = lr0 * (0.02 + 0.98 * 0.5 * (1 + Math.cos(Math.PI * phase)));
        const [c, overlap, now] = T.tidy(() => {
          const v = cost(p);
          v.cost.backward();
          return [v.cost.item(), v.overlap.item(), T.noGrad(() => p.toArray())];
        });
        if (!Number.isFinite(c)) throw new Error(`register: the cost became ${c} at level ${li + 1} iteration ${it}; the images may have no usable contrast in their overlap`);
        if (overlap < o.minOverlap) {
          throw new Error(
            `register: the registration diverged at level ${li + 1} (shrink ${shrink}) iteration ${it}: only ${pct(overlap)} of the fixed sample points lie inside the moving image ` +
              `(at least ${pct(o.minOverlap)} needed); try another init (none, geometry) or metric, or more smoothing`,
          );
        }
        if (c < best.cost) best = { cost: c, theta: now };
        costs.push(c);
        o.onProgress?.({ level: li, levels: o.levels.length, shrink, iteration: it, iterations, cost: c });
        if (it >= o.convergenceWindow && o.convergence > 0 && relativeSlope(costs, o.convergenceWindow) < o.convergence) {
          converged = true;
          break;
        }
        opt.step();
        opt.zeroGrad();
      }
      theta = best.theta;
      levels.push({ shrink, smoothingMm: sigmaMm, samples: fl.count, iterations: it, converged, finalCost: best.cost, seconds: (Date.now() - tl) / 1000 });
    } finally {
      opt?.dispose();
      param?.dispose();
      fixedTaps?.index.dispose();
      fixedTaps?.weight.dispose();
      geo?.dispose();
      ml?.dispose();
      fl?.dispose();
    }
  });
  const parameters: RigidParameters = {
    angles: [(theta[0] as number) / radius, (theta[1] as number) / radius, (theta[2] as number) / radius],
    translation: [theta[3] as number, theta[4] as number, theta[5] as number],
  };
  const matrix = rigidMatrix(parameters, centre);
  return {
    metric: o.metric,
    init: o.init,
    centre,
    initial,
    parameters,
    matrix,
    inverse: invert(matrix, "register: transform"),
    levels,
    overlap: { before, after: fovOverlap(fixed, moving, matrix) },
    seconds: (Date.now() - t0) / 1000,
  };
}
