// The metrics goldens (test/fixtures/metrics_golden.json, from make_metrics_golden.py with scipy)
// and the label rule that script uses, shared by the metrics and evaluate tests.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Dims3 } from "../../src/metrics/volume_metrics.js";

export interface Scores {
  mse: number;
  psnr: number;
  ssim: number;
  hfen: number;
  voxels?: number;
}

export interface Golden {
  dims: [number, number, number];
  pred: number[];
  ref: number[];
  dataRange: number;
  volume: Scores;
  masked: Scores;
  labels: Record<string, Scores>;
  slices: Record<string, Scores[]>;
}

export function loadGolden(): Golden {
  return JSON.parse(readFileSync(fileURLToPath(new URL("../../../test/fixtures/metrics_golden.json", import.meta.url)), "utf8")) as Golden;
}

/** The label rule of make_metrics_golden.py: inside (i-8)^2 + (j-7)^2 + (k-6)^2 <= 10, label 1 where i < 8, else 2. */
export function goldenLabels(dims: Dims3): Uint8Array {
  const [nx, ny, nz] = dims;
  const out = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) if ((i - 8) ** 2 + (j - 7) ** 2 + (k - 6) ** 2 <= 10) out[i + nx * (j + ny * k)] = i < 8 ? 1 : 2;
  return out;
}
