// Reading the input volumes of `prepare` with the checks that make bad input fail early and clearly:
// missing files, 4-D images where a 3-D one is expected, NaN/Inf (via readNifti), empty or constant
// volumes, and LR/HR pairs that do not overlap in world space. Also the provenance record of every
// source file (path, size, SHA-256) kept in the data-set manifest.
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { readNifti, toVolume } from "../nifti/index.js";
import { applyToPoint, invert, type Grid } from "../volume/affine.js";
import type { Volume } from "../volume/volume.js";
import { checkIntensities } from "./normalise.js";

export interface SourceFile {
  /** Absolute path as read. */
  readonly path: string;
  readonly bytes: number;
  /** Hex SHA-256 of the file's bytes. */
  readonly sha256: string;
}

/** Path, size and SHA-256 of a file. */
export function sourceFile(path: string): SourceFile {
  const abs = resolve(path);
  const hash = createHash("sha256");
  const fd = openSync(abs, "r");
  try {
    const buf = new Uint8Array(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return { path: abs, bytes: statSync(abs).size, sha256: hash.digest("hex") };
}

/** Reads a 3-D NIfTI volume (a 4-D image with one frame is accepted) and checks its intensities. */
export function readVolume(path: string, what: string, nonFinite: "error" | "zero" = "error"): Volume {
  const im = readNifti(path, { nonFinite });
  const frames = im.dims.slice(3).reduce((a, b) => a * b, 1);
  if (frames !== 1) throw new RangeError(`${what} ${path}: has ${frames} frames (dims ${im.dims.join("x")}); a 3-D volume is expected`);
  const v = toVolume(im);
  checkIntensities(v, `${what} ${path}`);
  return v;
}

/**
 * The fraction of the `mask`ed voxels of `grid` whose centres lie inside the field of view of `other`
 * (voxel coordinates within [-0.5, n - 0.5] on every axis).
 */
export function overlapFraction(grid: Grid, mask: ArrayLike<number> | null, other: Grid): number {
  const [nx, ny, nz] = grid.dims;
  const m = invert(other.affine, "overlap: affine");
  const r = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  // Voxel-to-voxel map: other voxel coords of grid voxel p = (m * grid.affine) p.
  for (let row = 0; row < 3; row++) {
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += (m[4 * row + k] as number) * (grid.affine[4 * k + c] as number);
      r[4 * row + c] = s;
    }
  }
  const lim = other.dims;
  let inside = 0;
  let total = 0;
  let q = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, q++) {
        if (mask !== null && !((mask[q] as number) > 0)) continue;
        total++;
        let ok = true;
        for (let a = 0; a < 3 && ok; a++) {
          const x = (r[4 * a] as number) * i + (r[4 * a + 1] as number) * j + (r[4 * a + 2] as number) * k + (r[4 * a + 3] as number);
          ok = x >= -0.5 && x <= (lim[a] as number) - 0.5;
        }
        if (ok) inside++;
      }
    }
  }
  return total === 0 ? 0 : inside / total;
}

/** World position (mm) of the centre of a grid's field of view. */
export function fovCentre(g: Grid): [number, number, number] {
  return applyToPoint(g.affine, [(g.dims[0] - 1) / 2, (g.dims[1] - 1) / 2, (g.dims[2] - 1) / 2]);
}
