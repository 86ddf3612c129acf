// Region masks for per-region metrics, from a CSF/GM/WM label map (0 background, 1 CSF, 2 GM, 3 WM)
// and its brain mask. Regions may overlap, so each is its own binary mask:
//   brain              the brain mask
//   csf, gm, wm        the tissue classes
//   ventricles         the lateral ventricles (ventricles.ts), when found
//   centrum_semiovale  deep white matter above the ventricles: WM voxels whose centre is at least
//                      `csoDistanceMm` (4 mm) from the centre of every GM voxel (exact Euclidean
//                      distance transform in world mm, anisotropic voxels honoured), and whose world
//                      z (RAS) is above the top of the lateral ventricles (or above `csoMinZ` if given)
//   cortex             GM (all of it: the cortical ribbon and the deep grey nuclei the 3-class model
//                      cannot tell apart)
//   gw_junction        WM voxels with a GM face neighbour and GM voxels with a WM face neighbour; with
//                      `junctionWidthMm` = w: WM voxels within w mm of a GM voxel and GM voxels within
//                      w mm of a WM voxel (for isotropic voxels of size s, w = s gives the face-neighbour
//                      rule back; larger w widens the band on both sides)
import { voxelSizes, type Grid } from "../../volume/affine.js";
import { checkMask, distanceTransform } from "./distance.js";
import { countMask, touching6 } from "./morphology.js";
import { findVentricles, type VentricleOptions, type VentricleResult } from "./ventricles.js";

export const REGION_NAMES = ["brain", "csf", "gm", "wm", "ventricles", "centrum_semiovale", "cortex", "gw_junction"] as const;
export type RegionName = (typeof REGION_NAMES)[number];

export interface RegionOptions {
  /** Least distance (mm) of a centrum-semiovale voxel from GM. Default 4. */
  readonly csoDistanceMm?: number;
  /** Junction width (mm); undefined = the face-neighbour rule. */
  readonly junctionWidthMm?: number;
  /** Lower world-z bound (mm) of the centrum semiovale; when set the ventricles are not searched. */
  readonly csoMinZ?: number;
  readonly ventricles?: VentricleOptions;
}

export interface RegionMasks {
  /** The masks by name, in REGION_NAMES order (ventricles absent when csoMinZ was given). */
  readonly masks: Map<RegionName, Uint8Array>;
  readonly counts: Map<RegionName, number>;
  /** The world z (mm) the centrum semiovale lies above. */
  readonly csoMinZ: number;
  readonly ventricles?: VentricleResult;
}

function checkMm(name: string, v: number | undefined, positive: boolean): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || (positive ? !(v > 0) : v < 0)) {
    throw new RangeError(`regionMasks: ${name} must be a finite number ${positive ? "> 0" : ">= 0"} (mm), got ${v}`);
  }
}

/** The region masks described in the file header. */
export function regionMasks(labels: Uint8Array, brain: Uint8Array, grid: Grid, options: RegionOptions = {}): RegionMasks {
  const { dims } = grid;
  checkMask(labels, dims, "regionMasks: labels");
  checkMask(brain, dims, "regionMasks: brain mask");
  const csoDistanceMm = options.csoDistanceMm ?? 4;
  checkMm("csoDistanceMm", csoDistanceMm, false);
  checkMm("junctionWidthMm", options.junctionWidthMm, true);
  if (options.csoMinZ !== undefined && !Number.isFinite(options.csoMinZ)) throw new RangeError(`regionMasks: csoMinZ must be a finite number (mm), got ${options.csoMinZ}`);
  const spacing = voxelSizes(grid.affine);
  const n = labels.length;
  const tissue = [1, 2, 3].map((c) => {
    const m = new Uint8Array(n);
    for (let i = 0; i < n; i++) if (labels[i] === c) m[i] = 1;
    return m;
  }) as [Uint8Array, Uint8Array, Uint8Array];
  const [csf, gm, wm] = tissue;
  const masks = new Map<RegionName, Uint8Array>();
  masks.set("brain", Uint8Array.from(brain, (v) => (v !== 0 ? 1 : 0)));
  masks.set("csf", csf);
  masks.set("gm", gm);
  masks.set("wm", wm);
  let ventricles: VentricleResult | undefined;
  let csoMinZ: number;
  if (options.csoMinZ !== undefined) {
    csoMinZ = options.csoMinZ;
  } else {
    ventricles = findVentricles(labels, brain, grid, options.ventricles);
    masks.set("ventricles", ventricles.mask);
    csoMinZ = ventricles.topZ;
  }
  const gmDistance = distanceTransform(gm, dims, spacing);
  const cso = new Uint8Array(n);
  const [nx, ny, nz] = dims;
  const a = grid.affine;
  for (let k = 0, idx = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, idx++) {
        if (wm[idx] === 0 || (gmDistance[idx] as number) < csoDistanceMm) continue;
        const z = (a[8] as number) * i + (a[9] as number) * j + (a[10] as number) * k + (a[11] as number);
        if (z > csoMinZ) cso[idx] = 1;
      }
    }
  }
  masks.set("centrum_semiovale", cso);
  masks.set("cortex", gm.slice());
  let junction: Uint8Array;
  if (options.junctionWidthMm === undefined) {
    const a1 = touching6(wm, gm, dims);
    const a2 = touching6(gm, wm, dims);
    junction = a1;
    for (let i = 0; i < n; i++) if (a2[i] !== 0) junction[i] = 1;
  } else {
    const w = options.junctionWidthMm * (1 + 1e-6); // float32 distances: w = s must include face neighbours
    const wmDistance = distanceTransform(wm, dims, spacing);
    junction = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if ((wm[i] !== 0 && (gmDistance[i] as number) <= w) || (gm[i] !== 0 && (wmDistance[i] as number) <= w)) junction[i] = 1;
    }
  }
  masks.set("gw_junction", junction);
  const counts = new Map<RegionName, number>();
  for (const [name, m] of masks) counts.set(name, countMask(m));
  return { masks, counts, csoMinZ, ...(ventricles ? { ventricles } : {}) };
}
