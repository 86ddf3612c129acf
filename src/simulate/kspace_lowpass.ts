// The resolution loss of a lower-resolution MR acquisition, simulated from a high-resolution volume:
// k-space truncation (a 3-D acquisition) or, optionally, a slice profile along one axis (2-D multi-slice).
//
// Model. The HR volume is taken as one period of a periodic signal over its field of view (as the DFT
// sees it). Along each voxel axis a (n voxels of s mm) its DFT coefficient k (frequency f = k / (n s)
// cycles/mm, |k| <= n/2) is multiplied by a weight w(|f|):
// - 3-D acquisition: w = 1 for |f| <= 1 / (2 S) (the Nyquist frequency of the LR voxel size S along that
//   axis), else 0. The kept band is symmetric (a real acquisition with an even matrix also has the
//   unpaired -N/2 line; we drop it so the image stays real). No apodisation: the Gibbs ringing of a hard
//   truncation is part of what a real LR scan looks like.
// - 2-D multi-slice (options.sliceProfile): along the slice axis, no truncation but the Fourier transform
//   of the slice profile, w = exp(-2 pi^2 sigma^2 f^2) for a Gaussian of FWHM = thickness
//   (sigma = FWHM / (2 sqrt(2 ln 2))), or sinc(thickness * f) for a rectangular profile; then sampling at
//   the slice centres (which aliases, as thick slices do). In-plane axes are truncated as above.
// The weighted spectrum is then evaluated at the voxel centres of the target grid (the LR grid from
// gridFor, which keeps the FOV centre; its FOV can be a fraction of a voxel larger than the HR one, and
// positions there wrap periodically).
//
// Implementation. The LR grid is generally not a sub-grid of the HR grid (181 x 1 mm -> 121 x 1.5 mm,
// centres on half-millimetres), so after truncation the band-limited signal must be evaluated off the HR
// grid anyway. Along one axis, "DFT, weight, evaluate the trigonometric polynomial at x" is the linear map
// with the real kernel D(x - i) = (1/n) [w0 + 2 sum_{0<k<n/2} w_k cos(2 pi k (x - i) / n) + w_{n/2} cos(pi (x - i))]
// (the last term for even n), and the weights are separable, so kspaceResample applies one real m x n
// matrix per axis with the engine's matmul in float64: exact (no interpolation), and cheaper than complex
// FFTs plus off-grid evaluation. kspaceLowpass computes the same filter on the HR grid itself with the
// engine's FFT (fftn, weights, ifftn); the tests check that the two agree.
import * as T from "../torch/index.js";
import { checkAffine, gridFor, invert, multiply, voxelSizeTriple, voxelSizes, type Grid, type Vec3 } from "../volume/affine.js";
import { checkVolume, type Volume } from "../volume/volume.js";

export type SliceProfileShape = "gaussian" | "rect";

export interface SliceProfile {
  /** The slice-select axis, a voxel axis of the HR volume: 0 (i), 1 (j) or 2 (k). */
  readonly axis: 0 | 1 | 2;
  /** "gaussian" (default; FWHM = thickness) or "rect" (width = thickness). */
  readonly shape?: SliceProfileShape;
  /** Slice thickness in mm (> 0); default the LR voxel size along `axis` (contiguous slices). */
  readonly thickness?: number;
}

/** What the acquisition does to resolution. */
export interface AcquisitionFilter {
  /** LR voxel size in mm along the volume's voxel axes i, j, k (a number for isotropic). */
  readonly voxelSize: number | Vec3;
  /** Absent: 3-D acquisition (k-space truncation on every axis). */
  readonly sliceProfile?: SliceProfile;
}

export interface KspaceOptions {
  /** Where the matmuls / FFTs run (default: the engine's default device). */
  readonly device?: T.Device;
}

const FWHM_TO_SIGMA = 1 / (2 * Math.sqrt(2 * Math.log(2)));
/** Relative slack on the cutoff so that a frequency exactly at the LR Nyquist is kept despite rounding. */
const CUTOFF_SLACK = 1e-9;

/** Checks a slice profile (unknown keys, axis, shape, thickness) or throws naming the bad value. */
export function checkSliceProfile(p: unknown, what = "sliceProfile"): SliceProfile {
  if (typeof p !== "object" || p === null || Array.isArray(p)) throw new TypeError(`${what} must be an object {axis, shape?, thickness?}, got ${JSON.stringify(p)}`);
  for (const key of Object.keys(p)) {
    if (key !== "axis" && key !== "shape" && key !== "thickness") throw new TypeError(`${what}: unknown key "${key}" (known: axis, shape, thickness)`);
  }
  const { axis, shape, thickness } = p as { axis?: unknown; shape?: unknown; thickness?: unknown };
  if (axis !== 0 && axis !== 1 && axis !== 2) throw new RangeError(`${what}.axis must be 0, 1 or 2 (voxel axis i, j or k), got ${JSON.stringify(axis)}`);
  if (shape !== undefined && shape !== "gaussian" && shape !== "rect") throw new RangeError(`${what}.shape must be "gaussian" or "rect", got ${JSON.stringify(shape)}`);
  if (thickness !== undefined && (typeof thickness !== "number" || !Number.isFinite(thickness) || thickness <= 0)) {
    throw new RangeError(`${what}.thickness must be a positive number of mm, got ${JSON.stringify(thickness)}`);
  }
  return { axis, ...(shape !== undefined ? { shape } : {}), ...(thickness !== undefined ? { thickness: thickness as number } : {}) };
}

/**
 * Weights of the DFT coefficients |k| = 0 .. floor(n/2) along one axis of n voxels of `spacing` mm,
 * for an LR voxel size `lrSize` (truncation), or for a slice profile when `profile` is given.
 */
export function frequencyWeights(n: number, spacing: number, lrSize: number, profile?: { shape: SliceProfileShape; thickness: number }): Float64Array {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`frequencyWeights: n must be a positive integer, got ${n}`);
  if (!(spacing > 0) || !(lrSize > 0)) throw new RangeError(`frequencyWeights: spacing and lrSize must be > 0, got ${spacing} and ${lrSize}`);
  const w = new Float64Array(Math.floor(n / 2) + 1);
  for (let k = 0; k < w.length; k++) {
    const f = k / (n * spacing); // cycles per mm
    if (profile === undefined) {
      w[k] = f <= (1 / (2 * lrSize)) * (1 + CUTOFF_SLACK) ? 1 : 0;
    } else if (profile.shape === "gaussian") {
      const sigma = profile.thickness * FWHM_TO_SIGMA;
      w[k] = Math.exp(-2 * Math.PI * Math.PI * sigma * sigma * f * f);
    } else {
      const x = Math.PI * profile.thickness * f;
      w[k] = x === 0 ? 1 : Math.sin(x) / x;
    }
  }
  return w;
}

/** Per-axis weights for a volume and a filter (voxel axes i, j, k). */
function axisWeights(volume: Volume, filter: AcquisitionFilter, what: string): [Float64Array, Float64Array, Float64Array] {
  const lr = voxelSizeTriple(filter.voxelSize, `${what}: voxelSize`);
  const hr = voxelSizes(volume.affine);
  const profile = filter.sliceProfile === undefined ? undefined : checkSliceProfile(filter.sliceProfile, `${what}: sliceProfile`);
  const out = [0, 1, 2].map((a) => {
    const p =
      profile !== undefined && profile.axis === a
        ? { shape: profile.shape ?? "gaussian", thickness: profile.thickness ?? (lr[a] as number) }
        : undefined;
    return frequencyWeights(volume.dims[a] as number, hr[a] as number, lr[a] as number, p);
  });
  return out as [Float64Array, Float64Array, Float64Array];
}

/**
 * The m x n real matrix (row-major; transposed to n x m when `transpose`) that maps n samples to the
 * weighted trigonometric interpolant evaluated at `positions` (continuous voxel coordinates).
 */
export function evaluationMatrix(n: number, weights: Float64Array, positions: ArrayLike<number>, transpose = false): Float64Array {
  const m = positions.length;
  const nyquist = n % 2 === 0 ? (weights[n / 2] as number) : 0;
  const kmax = Math.floor((n - 1) / 2);
  const ks: number[] = [];
  for (let k = 1; k <= kmax; k++) if ((weights[k] as number) !== 0) ks.push(k);
  const w0 = weights[0] as number;
  const out = new Float64Array(m * n);
  const omega = (2 * Math.PI) / n;
  for (let u = 0; u < m; u++) {
    const x = positions[u] as number;
    for (let i = 0; i < n; i++) {
      const d = x - i;
      let s = w0;
      for (const k of ks) s += 2 * (weights[k] as number) * Math.cos(omega * k * d);
      if (nyquist !== 0) s += nyquist * Math.cos(Math.PI * d);
      out[transpose ? i * m + u : u * n + i] = s / n;
    }
  }
  return out;
}

/**
 * Continuous voxel coordinates in `volume` of the target grid's voxel centres along each axis; throws
 * unless every target axis is parallel to the same-numbered volume axis (as gridFor makes them).
 */
function axisPositions(volume: Volume, target: Grid, what: string): [Float64Array, Float64Array, Float64Array] {
  const r = multiply(invert(volume.affine, `${what}: volume affine`), target.affine);
  for (let a = 0; a < 3; a++) {
    const row = [r[4 * a] as number, r[4 * a + 1] as number, r[4 * a + 2] as number];
    const norm = Math.hypot(...row);
    for (let b = 0; b < 3; b++) {
      if (b !== a && Math.abs(row[b] as number) > 1e-9 * norm) {
        throw new RangeError(
          `${what}: the target grid's voxel axes must be parallel to the volume's, in the same order (as gridFor makes them); ` +
            `target axis ${b} moves along volume axis ${a}. Use resample() for other grids.`,
        );
      }
    }
  }
  return [0, 1, 2].map((a) => {
    const m = target.dims[a] as number;
    const scale = r[4 * a + a] as number;
    const offset = r[4 * a + 3] as number;
    return Float64Array.from({ length: m }, (_, u) => scale * u + offset);
  }) as [Float64Array, Float64Array, Float64Array];
}

/**
 * Simulates the acquisition `filter` of `volume` and samples it on `target` (whose axes must be
 * parallel to the volume's, e.g. gridFor(volume, size)). Returns a float32 volume on the target grid.
 */
export function kspaceResample(volume: Volume, target: Grid, filter: AcquisitionFilter, options: KspaceOptions = {}): Volume {
  const what = "kspaceResample";
  checkVolume(volume, `${what}: volume`);
  checkAffine(volume.affine, `${what}: volume affine`);
  if (target.dims.length !== 3 || target.dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${what}: target dims must be 3 positive integers, got [${target.dims.join(", ")}]`);
  }
  checkAffine(target.affine, `${what}: target affine`);
  const weights = axisWeights(volume, filter, what);
  const positions = axisPositions(volume, target, what);
  const [nx, ny, nz] = volume.dims;
  const [mx, my, mz] = target.dims;
  const ax = evaluationMatrix(nx, weights[0], positions[0], true); // [nx, mx]
  const ay = evaluationMatrix(ny, weights[1], positions[1]); // [my, ny]
  const az = evaluationMatrix(nz, weights[2], positions[2]); // [mz, nz]
  const o = { dtype: "float64" as const, ...(options.device !== undefined ? { device: options.device } : {}) };
  const data = T.tidy(() => {
    // Tensor layout [z, y, x] (x fastest, as Volume.data).
    const x = T.tensor(volume.data, [nz, ny, nx], o);
    const byX = T.matmul(x.reshape(nz * ny, nx), T.tensor(ax, [nx, mx], o)).reshape(nz, ny, mx);
    const byY = T.matmul(T.tensor(ay, [my, ny], o), byX); // [nz, my, mx]
    const byZ = T.matmul(T.tensor(az, [mz, nz], o), byY.reshape(nz, my * mx)); // [mz, my * mx]
    return byZ.to("float32").cpu().data() as Float32Array;
  });
  return { data, dims: [mx, my, mz], affine: Array.from(target.affine) };
}

/** kspaceResample onto gridFor(volume, filter.voxelSize): the LR acquisition on its own grid. */
export function kspaceDownsample(volume: Volume, filter: AcquisitionFilter, options: KspaceOptions = {}): Volume {
  voxelSizeTriple(filter.voxelSize, "kspaceDownsample: voxelSize");
  return kspaceResample(volume, gridFor(volume, filter.voxelSize), filter, options);
}

/** Full-length weights along one axis in DFT order (index k -> |frequency| min(k, n - k)). */
function dftOrder(w: Float64Array, n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, k) => w[Math.min(k, n - k)] as number);
}

/**
 * The same filter applied on the volume's own grid through the engine's FFT (fftn, weights, ifftn,
 * float64): the band-limited HR volume. A reference for kspaceResample and a low-pass filter in its own right.
 */
export function kspaceLowpass(volume: Volume, filter: AcquisitionFilter, options: KspaceOptions = {}): Volume {
  const what = "kspaceLowpass";
  checkVolume(volume, `${what}: volume`);
  checkAffine(volume.affine, `${what}: volume affine`);
  const [wx, wy, wz] = axisWeights(volume, filter, what);
  const [nx, ny, nz] = volume.dims;
  const o = { dtype: "float64" as const, ...(options.device !== undefined ? { device: options.device } : {}) };
  const data = T.tidy(() => {
    const x = T.tensor(volume.data, [nz, ny, nx], o);
    const w = T.tensor(dftOrder(wz, nz), [nz, 1, 1], o)
      .mul(T.tensor(dftOrder(wy, ny), [1, ny, 1], o))
      .mul(T.tensor(dftOrder(wx, nx), [1, 1, nx], o));
    const spectrum = T.fftn(x).mul(w);
    return T.real(T.ifftn(spectrum)).to("float32").cpu().data() as Float32Array;
  });
  return { data, dims: [nx, ny, nz], affine: Array.from(volume.affine) };
}
