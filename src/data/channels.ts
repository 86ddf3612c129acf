// The b and g channels that accompany the HR target (paper Fig. 1: x with its bias field correction b
// and gradient-nonlinearity correction g), on the HR grid.
//
// b: the LOG of the multiplicative bias field, centred on the brain:
//      b = ln(field) - median over HR brain voxels of ln(field)
//    so 0 means "no bias", a missing bias map (zeros) means the same thing, and an arbitrary global
//    scale of a scanner's bias file (HCP's BiasField is relative) does not matter. Voxels where the
//    field is <= 0 (outside a masked bias file) get 0. Brain voxels: normalised HR > BRAIN_LEVEL.
// g: the magnitude |u| (mm) of the gradient-nonlinearity displacement field: from the simulation's
//    displacement map, or from a real distortion file. A real gdc file with 3 frames is an FSL relative
//    warp in mm (HCP's *_gdc_warp, FSL convertwarp --relout; also `gradunwarp --write-warp`): its frames
//    are FSL's scaled-voxel axes, which src/preprocess/gradunwarp/fsl_warp.ts turns into world
//    displacements; those are resampled onto the HR grid (trilinear) and their magnitude taken. A 3-D
//    file is taken to be |u| in mm already (`gradunwarp --write-map`). 0 means "no distortion", so a
//    missing file gives zeros.
import { readNifti, toVolume } from "../nifti/index.js";
import { resampleLike } from "../volume/resample.js";
import { fieldOnGrid, fromFslWarp } from "../preprocess/gradunwarp/fsl_warp.js";
import { displacementMagnitude as fieldMagnitude } from "../preprocess/gradunwarp/displacement.js";
import type { Grid } from "../volume/affine.js";
import type { Volume } from "../volume/volume.js";
import { BRAIN_LEVEL } from "./brain_fraction.js";
import { percentile } from "../util/percentile.js";

/** The b channel from a multiplicative bias field on the HR grid (see the top of this file). */
export function logBiasChannel(field: Volume, hrNormalised: Volume, what = "bias field"): Float32Array {
  const f = field.data;
  const h = hrNormalised.data;
  if (f.length !== h.length) throw new RangeError(`${what}: ${f.length} voxels, the HR grid has ${h.length}`);
  const logs = new Float32Array(f.length);
  const lv = Math.fround(BRAIN_LEVEL);
  let inBrain = 0;
  for (let i = 0; i < f.length; i++) {
    const x = f[i] as number;
    if (!Number.isFinite(x)) throw new RangeError(`${what}: voxel ${i} is ${x}; the bias field must be finite`);
    logs[i] = x > 0 ? Math.log(x) : 0;
    if ((h[i] as number) > lv && x > 0) inBrain++;
  }
  if (inBrain === 0) throw new RangeError(`${what}: the field is not positive anywhere in the brain; is it a bias field (a multiplicative map around 1)?`);
  const brain = new Float32Array(inBrain);
  for (let i = 0, j = 0; i < f.length; i++) if ((h[i] as number) > lv && (f[i] as number) > 0) brain[j++] = logs[i] as number;
  const median = percentile(brain, 50);
  for (let i = 0; i < f.length; i++) if ((f[i] as number) > 0) logs[i] = (logs[i] as number) - median;
  return logs;
}

/** Reads a bias-field file and resamples it onto the HR grid (trilinear; outside its FOV: 0 = no information). */
export function readBiasField(path: string, hrGrid: Grid): Volume {
  const im = readNifti(path);
  const frames = im.dims[3] ?? 1;
  if (frames !== 1) throw new RangeError(`bias file ${path}: has ${frames} frames; a bias field is one 3-D map`);
  return resampleLike(toVolume(im), hrGrid, { interpolation: "trilinear", fill: 0 });
}

/** Reads a gradient-distortion file (3-frame relative warp in mm, or a 3-D |u| map) and returns |u| on the HR grid. */
export function readGdcMagnitude(path: string, hrGrid: Grid): Float32Array {
  const im = readNifti(path);
  const frames = im.dims[3] ?? 1;
  if (frames === 1) {
    const g = resampleLike(toVolume(im), hrGrid, { interpolation: "trilinear", fill: 0 });
    for (let i = 0; i < g.data.length; i++) {
      if ((g.data[i] as number) < 0) throw new RangeError(`gdc file ${path}: a 3-D gdc map is taken as |u| in mm and must be >= 0, got ${g.data[i]}`);
    }
    return g.data;
  }
  if (frames !== 3) throw new RangeError(`gdc file ${path}: has ${frames} frames; expected a 3-frame FSL relative warp (mm) or a 3-D |u| map`);
  const first = toVolume(im, 0);
  const warp = new Float32Array(3 * first.data.length);
  for (let f = 0; f < 3; f++) warp.set(f === 0 ? first.data : toVolume(im, f).data, f * first.data.length);
  const field = fromFslWarp({ dims: first.dims, affine: first.affine }, warp, `gdc file ${path}`);
  return fieldMagnitude(fieldOnGrid(field, hrGrid, false));
}
