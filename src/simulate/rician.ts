// Rician noise: the magnitude of a complex signal with independent Gaussian noise on its real and
// imaginary channels, m = sqrt((s + n1)^2 + n2^2), n1, n2 ~ N(0, sigma^2).
//
// The simulated signal s is real (phase 0), so without noise (sigma = 0) the result is |s|: a magnitude
// image, in which the negative lobes of Gibbs ringing fold over to positive values as in a real scan.
// Draws come from a seeded Random in voxel order (n1 then n2 for each voxel), so the same seed gives
// the same bytes. At high SNR m ~ s + n1 (Gaussian, std sigma); where s = 0 it is Rayleigh with mean
// sigma sqrt(pi / 2).
import { Random } from "../util/random.js";
import { checkVolume, type Volume } from "../volume/volume.js";

function checkSigma(sigma: number, what: string): void {
  if (typeof sigma !== "number" || !Number.isFinite(sigma) || sigma < 0) {
    throw new RangeError(`${what}: sigma must be a finite number >= 0, got ${sigma}`);
  }
}

/** Rician-noisy magnitudes of `signal` (written to `out`, which may be `signal` itself when float32). */
export function ricianNoise(
  signal: Float32Array | Float64Array,
  sigma: number,
  rng: Random,
  out: Float32Array = new Float32Array(signal.length),
): Float32Array {
  checkSigma(sigma, "ricianNoise");
  if (out.length !== signal.length) throw new RangeError(`ricianNoise: out has ${out.length} values, signal ${signal.length}`);
  for (let i = 0; i < signal.length; i++) {
    const s = signal[i] as number;
    if (sigma === 0) {
      out[i] = Math.abs(s);
      continue;
    }
    const re = s + sigma * rng.normal();
    const im = sigma * rng.normal();
    out[i] = Math.sqrt(re * re + im * im);
  }
  return out;
}

/** A new volume: `volume` with Rician noise of the given sigma, drawn from `seed` (or a Random). */
export function addRicianNoise(volume: Volume, sigma: number, seed: number | Random): Volume {
  checkVolume(volume, "addRicianNoise: volume");
  const rng = typeof seed === "number" ? new Random(seed, "noise") : seed;
  return { data: ricianNoise(volume.data, sigma, rng), dims: [volume.dims[0], volume.dims[1], volume.dims[2]], affine: Array.from(volume.affine) };
}
