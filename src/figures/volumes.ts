// Loading the volumes a figure shows and checking that they share a grid (pure JS, no tensor engine).
import { existsSync } from "node:fs";
import { readNifti, toVolume } from "../nifti/index.js";
import type { Volume } from "../volume/volume.js";

/** Tolerance (mm) on affine entries for "the same grid", as in `evaluate`. */
export const GRID_TOL = 1e-4;

/** Reads a 3-D NIfTI volume; `what` names it in errors ("--sr", "expert E2"). NaN/Inf voxels are an error. */
export function loadVolume(path: string, what: string): Volume {
  if (!existsSync(path)) throw new Error(`figures: ${what} ${path} does not exist`);
  const im = readNifti(path);
  const frames = im.dims[3] ?? 1;
  if (frames !== 1) throw new RangeError(`figures: ${what} ${path} has ${frames} frames; figures show 3-D volumes: extract one frame first`);
  return toVolume(im);
}

/** Why two grids differ, or null when dims match and affines agree to GRID_TOL. */
export function gridDifference(a: Volume, b: Volume): string | null {
  if (a.dims.join(",") !== b.dims.join(",")) return `dims [${a.dims.join(", ")}] vs [${b.dims.join(", ")}]`;
  let worst = 0;
  for (let i = 0; i < 16; i++) worst = Math.max(worst, Math.abs(a.affine[i]! - b.affine[i]!));
  return worst > GRID_TOL ? `affines differ by up to ${Number(worst.toPrecision(4))} mm` : null;
}

/** Throws unless `v` (named `what`, from `path`) is on the grid of `ref` (named `refWhat`). */
export function requireSameGrid(v: Volume, what: string, path: string, ref: Volume, refWhat: string): void {
  const diff = gridDifference(v, ref);
  if (diff !== null) {
    throw new RangeError(
      `figures: ${what} ${path} is not on the grid of ${refWhat} (${diff}); they must share a grid (same dims, affines equal to ${GRID_TOL} mm): resample one onto the other first`,
    );
  }
}
