// The acquisition grid of evaluate-grid: acquisition x SNR x bias. Each cell is one simulated 3T
// acquisition (simulateAcquisition) of every held-out subject:
//   acquisition  1.2, 1.6 and 2.0 mm isotropic (3-D: k-space truncation on every axis), and a 2-D axial
//                stack of 1 x 1 mm in-plane voxels and contiguous 3 mm slices along z (rectangular
//                slice profile of thickness 3 mm, no gap)
//   SNR          15, 30, 60: noise sigma = the subject's white-matter mean / SNR (Rician, on the LR grid)
//   bias         0 (none) and 0.4 (a smooth field b in [exp(-0.2), exp(0.2)], about +-20%)
// No gradient warp: it is not a grid axis.
import type { SliceProfile } from "../simulate/kspace_lowpass.js";

export interface GridAcquisition {
  /** Short name used in tables, file names and --acquisitions: "1.2", "1.6", "2.0", "1x1x3". */
  readonly key: string;
  /** For people. */
  readonly label: string;
  readonly voxelSize: readonly [number, number, number];
  readonly sliceProfile?: SliceProfile;
}

export const GRID_ACQUISITIONS: readonly GridAcquisition[] = Object.freeze([
  { key: "1.2", label: "1.2 mm isotropic", voxelSize: [1.2, 1.2, 1.2] },
  { key: "1.6", label: "1.6 mm isotropic", voxelSize: [1.6, 1.6, 1.6] },
  { key: "2.0", label: "2.0 mm isotropic", voxelSize: [2, 2, 2] },
  { key: "1x1x3", label: "1 x 1 x 3 mm axial stack", voxelSize: [1, 1, 3], sliceProfile: { axis: 2, shape: "rect", thickness: 3 } },
]);
export const GRID_SNRS: readonly number[] = Object.freeze([15, 30, 60]);
export const GRID_BIASES: readonly number[] = Object.freeze([0, 0.4]);

export interface GridCell {
  /** "1.6-snr30-bias0.4": the cell's name in results.json and in --keep-volumes paths. */
  readonly key: string;
  readonly acquisition: GridAcquisition;
  readonly snr: number;
  readonly bias: number;
}

export function cellKey(acquisition: string, snr: number, bias: number): string {
  return `${acquisition}-snr${snr}-bias${bias}`;
}

/** Every cell of the chosen axes, acquisition-major, then SNR, then bias. */
export function gridCells(acquisitions: readonly GridAcquisition[], snrs: readonly number[], biases: readonly number[]): GridCell[] {
  return acquisitions.flatMap((acquisition) => snrs.flatMap((snr) => biases.map((bias) => ({ key: cellKey(acquisition.key, snr, bias), acquisition, snr, bias }))));
}

/** The acquisitions named in a comma-separated list of keys (an error names the known keys). */
export function parseAcquisitions(list: string): GridAcquisition[] {
  const keys = list.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (keys.length === 0) throw new RangeError(`--acquisitions must name at least one of ${GRID_ACQUISITIONS.map((a) => a.key).join(", ")}`);
  return [...new Set(keys)].map((k) => {
    const a = GRID_ACQUISITIONS.find((x) => x.key === k || (k === "2" && x.key === "2.0"));
    if (a === undefined) throw new RangeError(`--acquisitions: unknown acquisition '${k}' (known: ${GRID_ACQUISITIONS.map((x) => x.key).join(", ")})`);
    return a;
  });
}

/** A comma-separated list of numbers, each checked by `ok`. */
export function parseNumberList(list: string, name: string, ok: (x: number) => boolean, what: string): number[] {
  const parts = list.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) throw new RangeError(`--${name} must list at least one number`);
  return [
    ...new Set(
      parts.map((p) => {
        const x = Number(p);
        if (!Number.isFinite(x) || !ok(x)) throw new RangeError(`--${name}: '${p}' is not ${what}`);
        return x;
      }),
    ),
  ];
}
