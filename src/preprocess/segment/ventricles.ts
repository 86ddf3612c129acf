// The lateral ventricles in a CSF/GM/WM label map, to bound the centrum semiovale from below.
//
// Method (design decision; the issue only says "above the lateral ventricles"):
// 1. Core CSF: CSF voxels farther than `erodeMm` (2 mm) from any non-CSF voxel. The erosion cuts
//    the thin CSF bridges (partial-volume voxels, the choroid fissure, the septum region) that join the
//    ventricles to the cisterns and the interhemispheric fissure. The radius must reach at least one
//    voxel (with 2 mm voxels a 1.5 mm radius erodes nothing and the fissure stays attached).
// 2. Deep: core CSF at least `minDepthMm` (10 mm) inside the brain mask (distance to the mask's
//    outside). Sulcal CSF near the surface is shallower.
// 3. 6-connected components; candidates are those whose world centroid lies within
//    `centreRadiusMm` (40 mm) of the brain mask's centroid ("near the centre"). The ventricles are the
//    largest candidate and every candidate with at least `minFraction` (50%) of its voxels (the two
//    lateral ventricles may be separate components; smaller midline cisterns are left out); the largest must hold >= `minVolumeMl` (0.2 mL).
// 4. The selected cores are grown back by `erodeMm` plus the largest voxel size, within CSF.
// topZ is the highest world z (RAS, mm) of a ventricle voxel centre. On Colin27 (MNI space) it is
// about +30 mm. Throws when no component qualifies, pointing to the explicit bound (--cso-min-z).
import { applyToPoint, voxelSizes, type Grid } from "../../volume/affine.js";
import { distanceTransform } from "./distance.js";
import { connectedComponents, erode } from "./morphology.js";

export interface VentricleOptions {
  readonly erodeMm?: number;
  readonly minDepthMm?: number;
  readonly centreRadiusMm?: number;
  readonly minFraction?: number;
  readonly minVolumeMl?: number;
}

export const VENTRICLE_DEFAULTS = Object.freeze({ erodeMm: 2, minDepthMm: 10, centreRadiusMm: 40, minFraction: 0.5, minVolumeMl: 0.2 });

export interface VentricleComponent {
  readonly voxels: number;
  /** World centroid (mm) of the core component. */
  readonly centroid: [number, number, number];
}

export interface VentricleResult {
  readonly mask: Uint8Array;
  readonly voxels: number;
  /** Highest world z (mm) of a ventricle voxel. */
  readonly topZ: number;
  /** The selected core components, largest first. */
  readonly components: VentricleComponent[];
}

/** World centroid of the voxels with pick(idx) true, and their count. */
function centroidOf(grid: Grid, pick: (idx: number) => boolean): { c: [number, number, number]; n: number } {
  const [nx, ny, nz] = grid.dims;
  let si = 0;
  let sj = 0;
  let sk = 0;
  let n = 0;
  for (let k = 0, idx = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, idx++) {
        if (!pick(idx)) continue;
        si += i;
        sj += j;
        sk += k;
        n++;
      }
    }
  }
  return { c: applyToPoint(grid.affine, [si / n, sj / n, sk / n]), n };
}

/** Finds the lateral ventricles (see the file header). labels: 0 background, 1 CSF, 2 GM, 3 WM. */
export function findVentricles(labels: Uint8Array, brain: Uint8Array, grid: Grid, options: VentricleOptions = {}): VentricleResult {
  const o = { ...VENTRICLE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as typeof VENTRICLE_DEFAULTS;
  for (const [k, v] of Object.entries(o)) {
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`findVentricles: ${k} must be a number >= 0, got ${v}`);
  }
  const { dims } = grid;
  const spacing = voxelSizes(grid.affine);
  const voxelMl = (spacing[0] * spacing[1] * spacing[2]) / 1000;
  const csf = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) csf[i] = labels[i] === 1 ? 1 : 0;
  const outside = new Uint8Array(brain.length);
  for (let i = 0; i < brain.length; i++) outside[i] = brain[i] === 0 ? 1 : 0;
  const depth = distanceTransform(outside, dims, spacing, { outsideIsFeature: true });
  const core = erode(csf, dims, spacing, o.erodeMm);
  for (let i = 0; i < core.length; i++) if ((depth[i] as number) < o.minDepthMm) core[i] = 0;
  const { labels: comp, sizes } = connectedComponents(core, dims);
  const brainCentre = centroidOf(grid, (i) => brain[i] !== 0).c;
  // Per-component world centroids in one pass.
  const [nx, ny, nz] = dims;
  const sums = new Float64Array(3 * sizes.length);
  for (let k = 0, idx = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, idx++) {
        const c = comp[idx] as number;
        if (c === 0) continue;
        sums[3 * (c - 1)] = (sums[3 * (c - 1)] as number) + i;
        sums[3 * (c - 1) + 1] = (sums[3 * (c - 1) + 1] as number) + j;
        sums[3 * (c - 1) + 2] = (sums[3 * (c - 1) + 2] as number) + k;
      }
    }
  }
  const candidates: (VentricleComponent & { id: number })[] = [];
  sizes.forEach((size, c) => {
    const centroid = applyToPoint(grid.affine, [(sums[3 * c] as number) / size, (sums[3 * c + 1] as number) / size, (sums[3 * c + 2] as number) / size]);
    const dist = Math.hypot(centroid[0] - brainCentre[0], centroid[1] - brainCentre[1], centroid[2] - brainCentre[2]);
    if (dist <= o.centreRadiusMm) candidates.push({ id: c + 1, voxels: size, centroid });
  });
  candidates.sort((a, b) => b.voxels - a.voxels);
  const largest = candidates[0];
  if (largest === undefined || largest.voxels * voxelMl < o.minVolumeMl) {
    throw new RangeError(
      `findVentricles: no lateral ventricles found (no CSF component >= ${o.minVolumeMl} mL lying >= ${o.minDepthMm} mm deep and within ` +
        `${o.centreRadiusMm} mm of the brain's centre${largest ? `; the largest has ${(largest.voxels * voxelMl).toFixed(3)} mL` : ""}); ` +
        "give the centrum semiovale's lower bound explicitly with --cso-min-z MM (world z, RAS)",
    );
  }
  const selected = candidates.filter((c) => c.voxels >= o.minFraction * largest.voxels);
  const keep = new Set(selected.map((c) => c.id));
  const seed = new Uint8Array(labels.length);
  for (let i = 0; i < seed.length; i++) seed[i] = keep.has(comp[i] as number) ? 1 : 0;
  const reach = o.erodeMm + Math.max(...spacing);
  const dist = distanceTransform(seed, dims, spacing);
  const mask = new Uint8Array(labels.length);
  let voxels = 0;
  let topZ = -Infinity;
  const a = grid.affine;
  for (let k = 0, idx = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, idx++) {
        if (csf[idx] === 0 || (dist[idx] as number) > reach) continue;
        mask[idx] = 1;
        voxels++;
        const z = (a[8] as number) * i + (a[9] as number) * j + (a[10] as number) * k + (a[11] as number);
        if (z > topZ) topZ = z;
      }
    }
  }
  return { mask, voxels, topZ, components: selected.map(({ voxels: v, centroid }) => ({ voxels: v, centroid })) };
}
