// The multi-resolution pyramid of `register`: Gaussian smoothing on the engine, the fixed image's
// sample points per level and the moving image per level.
//
// Design (the spec leaves these open):
// - Smoothing is isotropic in mm: a level's sigma is given in fixed-image voxels and converted with
//   the geometric mean of the fixed voxel sizes; each image is then smoothed with sigma_mm divided by
//   its own voxel size along each voxel axis (separable 1-D Gaussians, radius ceil(3 sigma), edges
//   replicated).
// - Shrinking applies to the fixed image only: a level with shrink factor f samples the smoothed fixed
//   image at every f-th voxel along each axis (the strided grid centred in the field of view). The
//   moving image is smoothed but kept at its own resolution: it is only ever interpolated, so its size
//   does not change the cost of an iteration.
// - When a level has more points than `maxSamples` (e.g. 7.1 M at 1 mm), a fixed random subset of
//   `maxSamples` points is used for the whole level (seeded, so runs are reproducible; sorted in
//   memory order for cache-friendly interpolation). The subset does not change between iterations,
//   so the cost stays a smooth, deterministic function of the parameters.
import * as T from "../../torch/index.js";
import { applyToPoint, voxelSizes, type Vec3 } from "../../volume/affine.js";
import type { Volume } from "../../volume/volume.js";
import { Random } from "../../util/random.js";

/** Device and dtype of the engine tensors (defaults: the engine's). */
export interface Placement {
  readonly device?: T.Device;
  readonly dtype?: T.DType;
}

/** A volume as a [1, 1, nz, ny, nx] tensor (x = i fastest, as grid_sample's W axis). */
export function volumeTensor(v: Volume, o: Placement = {}): T.Tensor {
  const [nx, ny, nz] = v.dims;
  return T.tensor(v.data, [1, 1, nz, ny, nx], { dtype: o.dtype ?? T.getDefaultDType(), ...(o.device !== undefined ? { device: o.device } : {}) });
}

/** A normalised 1-D Gaussian of standard deviation `sigma` (voxels), radius ceil(3 sigma). */
export function gaussianKernel(sigma: number): number[] {
  if (!(sigma > 0) || !Number.isFinite(sigma)) throw new RangeError(`gaussianKernel: sigma must be a positive number of voxels, got ${sigma}`);
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const s = k.reduce((a, b) => a + b, 0);
  return k.map((x) => x / s);
}

/**
 * Separable Gaussian smoothing of x [1, 1, D, H, W] with sigmas in voxels along (x = W, y = H, z = D);
 * an axis with sigma 0 is left alone. Edges are replicated.
 */
export function gaussianSmooth(x: T.Tensor, sigmaVoxels: Vec3): T.Tensor {
  if (x.ndim !== 5 || x.shape[0] !== 1 || x.shape[1] !== 1) throw new RangeError(`gaussianSmooth: x must be [1, 1, D, H, W], got [${x.shape.join(", ")}]`);
  return T.tidy(() => {
    let y = x;
    // Axis a of (x, y, z) is tensor dim 4 - a.
    for (let a = 0; a < 3; a++) {
      const sigma = sigmaVoxels[a] as number;
      if (sigma === 0) continue;
      const k = gaussianKernel(sigma);
      const r = (k.length - 1) / 2;
      const shape = [1, 1, 1, 1, 1];
      shape[4 - a] = k.length;
      const weight = T.tensor(k, shape, { dtype: x.dtype, device: x.device });
      const pad = [0, 0, 0, 0, 0, 0];
      pad[2 * a] = r;
      pad[2 * a + 1] = r;
      y = T.F.conv3d(T.pad(y, pad, "replicate"), weight);
    }
    return y === x ? x.clone() : y;
  });
}

/** The geometric mean voxel size (mm) of an affine. */
export function meanVoxelSize(affine: readonly number[]): number {
  const s = voxelSizes(affine);
  return Math.cbrt(s[0] * s[1] * s[2]);
}

/** Sigma in mm converted to voxels of `v` along each of its axes. */
export function sigmaInVoxels(v: Volume, sigmaMm: number): [number, number, number] {
  const s = voxelSizes(v.affine);
  return [sigmaMm / s[0], sigmaMm / s[1], sigmaMm / s[2]];
}

/** The fixed image at one level: sample points (world mm minus the rotation centre) and values. */
export interface FixedLevel {
  /** [N, 3] world coordinates of the sample points minus the rotation centre (mm). */
  readonly points: T.Tensor;
  /** [N] smoothed fixed intensities there. */
  readonly values: T.Tensor;
  readonly count: number;
  /** Points on the strided grid before subsampling. */
  readonly gridCount: number;
  dispose(): void;
}

/** Strided voxel indices along an axis of n voxels with step f, centred in the field of view. */
function strided(n: number, f: number): number[] {
  const count = Math.floor((n - 1) / f) + 1;
  const offset = Math.floor((n - 1 - f * (count - 1)) / 2);
  return Array.from({ length: count }, (_, i) => offset + f * i);
}

export interface FixedLevelOptions extends Placement {
  readonly shrink: number;
  readonly sigmaMm: number;
  readonly maxSamples: number;
  readonly seed: number;
  readonly centre: Vec3;
}

/** Builds the fixed image's sample points and values for one level (see the top of this file). */
export function fixedLevel(fixed: Volume, o: FixedLevelOptions): FixedLevel {
  const [nx, ny, nz] = fixed.dims;
  const smoothed = T.tidy(() => {
    const x = volumeTensor(fixed, o);
    return o.sigmaMm > 0 ? gaussianSmooth(x, sigmaInVoxels(fixed, o.sigmaMm)) : x;
  });
  const data = T.tidy(() => smoothed.to("float32").cpu().data() as Float32Array);
  smoothed.dispose();
  const [is, js, ks] = [strided(nx, o.shrink), strided(ny, o.shrink), strided(nz, o.shrink)];
  const gridCount = is.length * js.length * ks.length;
  let chosen: Int32Array;
  if (gridCount <= o.maxSamples) {
    chosen = new Int32Array(gridCount);
    for (let q = 0; q < gridCount; q++) chosen[q] = q;
  } else {
    // Partial Fisher-Yates: the first maxSamples entries become a uniform random subset.
    const all = new Int32Array(gridCount);
    for (let q = 0; q < gridCount; q++) all[q] = q;
    const rng = new Random(o.seed, `register-samples-${o.shrink}`);
    for (let q = 0; q < o.maxSamples; q++) {
      const r = rng.integer(q, gridCount - 1);
      const t = all[q] as number;
      all[q] = all[r] as number;
      all[r] = t;
    }
    chosen = all.slice(0, o.maxSamples).sort();
  }
  const n = chosen.length;
  const pts = new Float64Array(3 * n);
  const vals = new Float64Array(n);
  const a = fixed.affine;
  for (let s = 0; s < n; s++) {
    const q = chosen[s] as number;
    const ii = q % is.length;
    const jj = Math.floor(q / is.length) % js.length;
    const kk = Math.floor(q / (is.length * js.length));
    const [i, j, k] = [is[ii] as number, js[jj] as number, ks[kk] as number];
    const p = applyToPoint(a, [i, j, k]);
    for (let c = 0; c < 3; c++) pts[3 * s + c] = (p[c] as number) - (o.centre[c] as number);
    vals[s] = data[i + nx * (j + ny * k)] as number;
  }
  const opts = { dtype: o.dtype ?? T.getDefaultDType(), ...(o.device !== undefined ? { device: o.device } : {}) };
  const points = T.tensor(pts, [n, 3], opts);
  const values = T.tensor(vals, [n], opts);
  return {
    points,
    values,
    count: n,
    gridCount,
    dispose: () => {
      points.dispose();
      values.dispose();
    },
  };
}

/** The moving image at one level: smoothed, at its own resolution, with its intensity range. */
export interface MovingLevel {
  /** [1, 1, nz, ny, nx]. */
  readonly image: T.Tensor;
  readonly min: number;
  readonly max: number;
  dispose(): void;
}

export function movingLevel(moving: Volume, sigmaMm: number, o: Placement = {}): MovingLevel {
  const image = T.tidy(() => {
    const x = volumeTensor(moving, o);
    return sigmaMm > 0 ? gaussianSmooth(x, sigmaInVoxels(moving, sigmaMm)) : x;
  });
  const [min, max] = T.tidy(() => [image.amin().item(), image.amax().item()]);
  return { image, min: min as number, max: max as number, dispose: () => image.dispose() };
}

/** Intensity moments of the positive voxels in world mm: total weight, centre of mass, mean of |p|^2. */
export interface Moments {
  readonly mass: number;
  readonly centre: [number, number, number];
  readonly meanSquare: number;
}

/** Moments of the positive voxels (mass 0 and the origin when there are none). */
export function intensityMoments(v: Volume): Moments {
  const [nx, ny, nz] = v.dims;
  const a = v.affine;
  let w = 0;
  const s = [0, 0, 0];
  let s2 = 0;
  let q = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, q++) {
        const x = v.data[q] as number;
        if (!(x > 0)) continue;
        w += x;
        let r2 = 0;
        for (let r = 0; r < 3; r++) {
          const p = (a[4 * r] as number) * i + (a[4 * r + 1] as number) * j + (a[4 * r + 2] as number) * k + (a[4 * r + 3] as number);
          s[r] = (s[r] as number) + x * p;
          r2 += p * p;
        }
        s2 += x * r2;
      }
    }
  }
  if (w === 0) return { mass: 0, centre: [0, 0, 0], meanSquare: 0 };
  return { mass: w, centre: [(s[0] as number) / w, (s[1] as number) / w, (s[2] as number) / w], meanSquare: s2 / w };
}

/** The RMS distance (mm) of the intensity from `centre`, from its moments. */
export function radiusOfGyration(m: Moments, centre: Vec3): number {
  const c = m.centre;
  const d2 = m.meanSquare - 2 * (c[0] * centre[0] + c[1] * centre[1] + c[2] * centre[2]) + (centre[0] ** 2 + centre[1] ** 2 + centre[2] ** 2);
  return Math.sqrt(Math.max(0, d2));
}

/** The centre of a volume's field of view (world mm). */
export function fovCentre(v: { dims: readonly [number, number, number]; affine: readonly number[] }): [number, number, number] {
  return applyToPoint(v.affine, [(v.dims[0] - 1) / 2, (v.dims[1] - 1) / 2, (v.dims[2] - 1) / 2]);
}
