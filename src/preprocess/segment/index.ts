// `segment`: brain mask -> CSF/GM/WM labels -> region masks, for a T1-weighted volume. Engine-free.
// See brain_mask.ts, tissue.ts (with gmm.ts, bias_poly.ts, mrf.ts) and regions.ts (with
// ventricles.ts) for the methods and their design decisions.
import { checkVolume, type Volume } from "../../volume/volume.js";
import { brainMask, checkFinite, type BrainMaskOptions, type SkullStripCheck } from "./brain_mask.js";
import { countMask } from "./morphology.js";
import { regionMasks, type RegionMasks, type RegionOptions } from "./regions.js";
import { segmentTissues, type TissueOptions, type TissueResult } from "./tissue.js";

export { brainMask, detectSkullStripped, type BrainMaskOptions, type BrainMaskResult, type SkullStripCheck } from "./brain_mask.js";
export { segmentTissues, TISSUE_DEFAULTS, TISSUE_LABEL_NAMES, TISSUE_NAMES, type TissueOptions, type TissueResult } from "./tissue.js";
export { regionMasks, REGION_NAMES, type RegionMasks, type RegionName, type RegionOptions } from "./regions.js";
export { findVentricles, VENTRICLE_DEFAULTS, type VentricleOptions, type VentricleResult } from "./ventricles.js";
export { distanceTransform } from "./distance.js";
export { PreparedMixture, normalCdf, type MixtureModel } from "./mixture.js";
export { dice, countMask, fillHoles, largestComponent, connectedComponents, dilate, erode, close } from "./morphology.js";

export interface SegmentOptions extends TissueOptions {
  /** A brain mask on the image's grid (nonzero = brain); replaces the automatic one. */
  readonly mask?: ArrayLike<number>;
  readonly brainMask?: BrainMaskOptions;
  /** Region options; false skips the regions. */
  readonly regions?: RegionOptions | false;
}

export interface SegmentResult {
  readonly brain: Uint8Array;
  readonly brainVoxels: number;
  /** "supplied" (options.mask), "support" (skull-stripped input) or "threshold" (brain extraction). */
  readonly brainMethod: "supplied" | "support" | "threshold";
  readonly skullCheck?: SkullStripCheck;
  readonly brainThreshold?: number;
  readonly tissue: TissueResult;
  readonly regions?: RegionMasks;
}

/** Brain mask, tissue classes and region masks of a T1w volume. */
export function segment(volume: Volume, options: SegmentOptions = {}): SegmentResult {
  checkVolume(volume, "segment: volume");
  checkFinite(volume, "segment: image");
  let brain: Uint8Array;
  let brainMethod: SegmentResult["brainMethod"];
  let skullCheck: SkullStripCheck | undefined;
  let brainThreshold: number | undefined;
  if (options.mask !== undefined) {
    const m = options.mask;
    if (m.length !== volume.data.length) {
      throw new RangeError(`segment: the mask has ${m.length} voxels, the image ${volume.data.length} (dims [${volume.dims.join(", ")}]); put the mask on the image's grid`);
    }
    brain = new Uint8Array(m.length);
    for (let i = 0; i < m.length; i++) {
      const v = m[i] as number;
      brain[i] = v !== 0 && !Number.isNaN(v) ? 1 : 0;
    }
    if (countMask(brain) === 0) throw new RangeError("segment: the supplied mask is empty (no nonzero voxel): check the file, or that it belongs to this image");
    brainMethod = "supplied";
  } else {
    const b = brainMask(volume, options.brainMask);
    brain = b.mask;
    brainMethod = b.method;
    skullCheck = b.check;
    brainThreshold = b.brainThreshold;
  }
  const tissue = segmentTissues(volume, brain, options);
  const regions = options.regions === false ? undefined : regionMasks(tissue.labels, brain, volume, options.regions ?? {});
  return {
    brain,
    brainVoxels: countMask(brain),
    brainMethod,
    ...(skullCheck ? { skullCheck } : {}),
    ...(brainThreshold !== undefined ? { brainThreshold } : {}),
    tissue,
    ...(regions ? { regions } : {}),
  };
}
