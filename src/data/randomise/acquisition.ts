// Random acquisition of a randomised training subject's LR input (the HR target is never degraded):
// a 3-D acquisition with an isotropic voxel, or a 2-D multi-slice stack (fine in-plane voxels, thick
// slices along x, y or z with a Gaussian or rectangular slice profile), then Rician noise, a bias
// field and a gradient-nonlinearity warp, all through the existing simulateAcquisition. The b and g
// channels come from the simulation, exactly as for prepare's simulated pairs (pair_volumes.ts).
//
// SNR: sigma = (the subject's white-matter mean) / snr, with the WM mean measured on the remapped,
// deformed volume over the deformed WM labels and passed to the simulator (its own estimate looks at
// the brightest class, which with the scalp on, or after a contrast remap, need not be WM).
import { simulateAcquisition, type AcquisitionParams } from "../../simulate/simulate.js";
import type { SliceProfile } from "../../simulate/kspace_lowpass.js";
import type { Volume } from "../../volume/volume.js";
import { logBiasChannel } from "../channels.js";
import { normaliseIntensity } from "../normalise.js";
import type { Rng } from "../rng.js";
import { roundTo, type AcquisitionRandomRanges } from "./ranges.js";

export interface RandomAcquisition {
  readonly mode: "3d" | "2d";
  /** LR voxel size along the RAS voxel axes x, y, z, mm. */
  readonly voxelSize: readonly [number, number, number];
  /** 2-D only: the slice-select axis (0 = x, 1 = y, 2 = z), profile shape and thickness (mm). */
  readonly sliceProfile?: { readonly axis: 0 | 1 | 2; readonly shape: "gaussian" | "rect"; readonly thickness: number };
  readonly snr: number;
  readonly bias: number;
  readonly gradwarp: number;
  /** Seed of the simulation's own draws (bias field, warp, noise). */
  readonly seed: number;
}

/** The acquisition as run, with what the simulation measured. */
export interface AcquisitionResult extends RandomAcquisition {
  readonly wmMean: number;
  readonly sigma: number;
}

/** Draws one acquisition (always the same number of draws, whichever mode). */
export function drawAcquisition(rng: Rng, r: AcquisitionRandomRanges): RandomAcquisition {
  const is3d = rng.next() < r.p3d;
  const iso = roundTo(rng.uniform(r.voxel[0], r.voxel[1]), 3);
  const inPlane = roundTo(rng.uniform(r.inPlane[0], r.inPlane[1]), 3);
  const spacing = roundTo(rng.uniform(r.sliceSpacing[0], r.sliceSpacing[1]), 3);
  const ratio = rng.uniform(r.thicknessRatio[0], r.thicknessRatio[1]);
  const axis = Math.min(2, Math.floor(rng.next() * 3)) as 0 | 1 | 2;
  const shape = rng.next() < 0.5 ? "gaussian" : "rect";
  const snr = roundTo(rng.uniform(r.snr[0], r.snr[1]), 3);
  const bias = roundTo(rng.uniform(r.bias[0], r.bias[1]), 3);
  const gradwarp = roundTo(rng.uniform(r.gradwarp[0], r.gradwarp[1]), 3);
  const seed = rng.nextUint32();
  if (is3d) return { mode: "3d", voxelSize: [iso, iso, iso], snr, bias, gradwarp, seed };
  const voxelSize: [number, number, number] = [inPlane, inPlane, inPlane];
  voxelSize[axis] = spacing;
  return { mode: "2d", voxelSize, sliceProfile: { axis, shape, thickness: roundTo(spacing * ratio, 3) }, snr, bias, gradwarp, seed };
}

export interface AcquiredPair {
  /** The LR input on the HR grid, normalised. */
  readonly lr: Volume;
  /** The same before normalisation (the simulator's intensities, not clipped). */
  readonly lrRaw: Volume;
  readonly lrScale: number;
  /** b: log bias, centred on the HR brain (channels.ts). */
  readonly bias: Float32Array;
  /** g: |u| of the gradient warp, mm. */
  readonly g: Float32Array;
  readonly acquisition: AcquisitionResult;
}

/**
 * Simulates the LR input from `hr` (raw intensities, RAS) with acquisition `a`; `hrNorm` is the
 * normalised HR (for the b channel's brain), `wmMean` the white-matter level the SNR refers to.
 */
export function acquire(hr: Volume, hrNorm: Volume, a: RandomAcquisition, wmMean: number): AcquiredPair {
  const params: AcquisitionParams = { voxelSize: a.voxelSize, snr: a.snr, bias: a.bias, gradwarp: a.gradwarp, seed: a.seed };
  const profile: SliceProfile | undefined = a.sliceProfile !== undefined ? { axis: a.sliceProfile.axis, shape: a.sliceProfile.shape, thickness: a.sliceProfile.thickness } : undefined;
  const sim = simulateAcquisition(hr, params, { onHrGrid: true, wmMean, ...(profile !== undefined ? { sliceProfile: profile } : {}) });
  const lr = normaliseIntensity(sim.image, "simulated LR volume");
  return {
    lr: lr.volume,
    lrRaw: sim.image,
    lrScale: lr.scale,
    bias: logBiasChannel(sim.bias, hrNorm, "simulated bias field"),
    g: sim.g.data,
    acquisition: { ...a, wmMean: Number(sim.wmMean.toPrecision(9)), sigma: Number(sim.sigma.toPrecision(9)) },
  };
}
