// Test helpers for the data-set builder: a small brain-like phantom (an ellipsoid "head" of CSF-like
// intensity around a GM shell around a WM core, zero background) and NIfTI files of it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeNifti } from "../../src/nifti/index.js";
import type { Mat4, Volume } from "../../src/volume/volume.js";

export type Dims = readonly [number, number, number];

/** A phantom on `dims` with 1 mm voxels centred at the origin (or the given affine). */
export function phantom(dims: Dims = [24, 28, 20], affine?: Mat4, scale = 1): Volume {
  const [nx, ny, nz] = dims;
  const a: Mat4 = affine ?? [1, 0, 0, -(nx - 1) / 2, 0, 1, 0, -(ny - 1) / 2, 0, 0, 1, -(nz - 1) / 2, 0, 0, 0, 1];
  const data = new Float32Array(nx * ny * nz);
  const [rx, ry, rz] = [0.42 * nx, 0.42 * ny, 0.45 * nz];
  let q = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, q++) {
        const x = (i - (nx - 1) / 2) / rx;
        const y = (j - (ny - 1) / 2) / ry;
        const z = (k - (nz - 1) / 2) / rz;
        const r = Math.sqrt(x * x + y * y + z * z);
        // A little texture so slices differ.
        const t = 4 * Math.sin(0.9 * i + 0.5 * j) * Math.cos(0.7 * k);
        data[q] = scale * (r < 0.55 ? 100 + t : r < 0.8 ? 65 + t : r < 1 ? 25 : 0);
      }
    }
  }
  return { data, dims: [nx, ny, nz], affine: Array.from(a) };
}

export function writeVolume(path: string, v: Volume): string {
  writeNifti(path, v, { dtype: "float32" });
  return path;
}

/** A fresh temporary directory and a function removing it. */
export function tempDir(prefix = "moediff-data-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
