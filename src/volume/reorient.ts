// Axis orientation codes and exact reorientation (permuting and flipping voxel axes, no interpolation).
//
// Code convention (nibabel's aff2axcodes, FreeSurfer, MRtrix): letter c names the world direction in
// which voxel axis c INCREASES. "RAS": i runs towards the Right, j Anterior, k Superior; "LPI": i runs
// towards the Left, j Posterior, k Inferior. (ITK/DICOM "RAI"-style codes name where axes come FROM and
// are the opposite letters.) World space is RAS+ as in NIfTI.
import { checkAffine, multiply, type Grid } from "./affine.js";
import { checkVolume, type Mat4, type Volume } from "./volume.js";

const LETTERS: readonly (readonly [string, string])[] = [
  ["R", "L"],
  ["A", "P"],
  ["S", "I"],
];

const PERMUTATIONS: readonly (readonly [number, number, number])[] = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];

/** For each voxel axis c: the world axis it is closest to (0 = x/R-L, 1 = y/A-P, 2 = z/S-I) and the sign. */
export interface AxisOrientation {
  readonly worldAxis: readonly [number, number, number];
  readonly sign: readonly [1 | -1, 1 | -1, 1 | -1];
}

/**
 * The world axis assignment of the voxel axes: among the 6 permutations, the one maximising the sum of
 * |cosine| between each voxel axis (column of the affine) and its world axis; exact ties go to the
 * first permutation in lexicographic order. Throws for a zero column.
 */
export function axisOrientation(affine: Mat4): AxisOrientation {
  checkAffine(affine, "orientation: affine");
  const cos: number[][] = [[], [], []]; // cos[world][voxel]
  for (let c = 0; c < 3; c++) {
    const norm = Math.hypot(affine[c] as number, affine[4 + c] as number, affine[8 + c] as number);
    if (!(norm > 0)) throw new RangeError(`orientation: affine column ${c} is zero, voxel axis ${c} has no direction`);
    for (let r = 0; r < 3; r++) (cos[r] as number[])[c] = (affine[4 * r + c] as number) / norm;
  }
  const at = (r: number, c: number): number => (cos[r] as number[])[c] as number;
  let best = PERMUTATIONS[0] as readonly [number, number, number];
  let bestScore = -1;
  for (const p of PERMUTATIONS) {
    const score = Math.abs(at(p[0], 0)) + Math.abs(at(p[1], 1)) + Math.abs(at(p[2], 2));
    if (score > bestScore) {
      bestScore = score;
      best = p;
    }
  }
  const sign = [0, 1, 2].map((c) => (at(best[c] as number, c) < 0 ? -1 : 1)) as [1 | -1, 1 | -1, 1 | -1];
  return { worldAxis: [best[0], best[1], best[2]], sign };
}

/** Orientation code of an affine's voxel axes, e.g. "RAS", "LPI", "LAS", "PIR" (see the convention above). */
export function orientationCode(affine: Mat4): string {
  const { worldAxis, sign } = axisOrientation(affine);
  return [0, 1, 2].map((c) => (LETTERS[worldAxis[c] as number] as readonly [string, string])[sign[c] === 1 ? 0 : 1]).join("");
}

/** Parses a 3-letter code into world axis and sign per voxel axis; throws naming a bad code. */
function parseCode(code: string): AxisOrientation {
  const bad = (): never => {
    throw new RangeError(`reorient: orientation code must be 3 letters, one from each of R/L, A/P, S/I, got ${JSON.stringify(code)}`);
  };
  if (typeof code !== "string" || code.length !== 3) bad();
  const worldAxis: number[] = [];
  const sign: (1 | -1)[] = [];
  for (const ch of code.toUpperCase()) {
    const w = LETTERS.findIndex((pair) => pair.includes(ch));
    if (w < 0 || worldAxis.includes(w)) bad();
    worldAxis.push(w);
    sign.push((LETTERS[w] as readonly [string, string])[0] === ch ? 1 : -1);
  }
  return { worldAxis: worldAxis as unknown as [number, number, number], sign: sign as [1 | -1, 1 | -1, 1 | -1] };
}

/**
 * Permutes and flips voxel axes (exactly, no interpolation) so the voxel axes point as close as possible
 * to the directions of `code` (default "RAS"), and updates the affine so every voxel keeps its world
 * position. Oblique affines keep their obliquity: only the order and direction of the axes change.
 * Returns a new volume; the input is not modified.
 */
interface ReorientPlan {
  dims: [number, number, number];
  affine: Mat4;
  /** Input index of output voxel (0, 0, 0), and the input index step per output axis. */
  start: number;
  step: [number, number, number];
}

function reorientPlan(grid: Grid, code: string): ReorientPlan {
  const want = parseCode(code);
  const have = axisOrientation(grid.affine);
  const inStride = [1, grid.dims[0], grid.dims[0] * grid.dims[1]];
  const dims: [number, number, number] = [1, 1, 1];
  // P maps output voxel coordinates to input voxel coordinates: in_c = flip ? n_c - 1 - u_r : u_r.
  const p = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  const step: [number, number, number] = [0, 0, 0];
  let start = 0;
  for (let r = 0; r < 3; r++) {
    const c = have.worldAxis.indexOf(want.worldAxis[r] as number);
    const n = grid.dims[c] as number;
    const flip = have.sign[c] !== want.sign[r];
    dims[r] = n;
    p[4 * c + r] = flip ? -1 : 1;
    if (flip) {
      p[4 * c + 3] = n - 1;
      start += (n - 1) * (inStride[c] as number);
    }
    step[r] = (flip ? -1 : 1) * (inStride[c] as number);
  }
  return { dims, affine: multiply(grid.affine, p), start, step };
}

/** The grid reorient() puts a volume on `grid` onto (no data is touched). */
export function reorientGrid(grid: Grid, code = "RAS"): Grid {
  const { dims, affine } = reorientPlan(grid, code);
  return { dims, affine };
}

export function reorient(volume: Volume, code = "RAS"): Volume {
  checkVolume(volume, "reorient: volume");
  const { dims, affine, start, step } = reorientPlan(volume, code);
  const [mx, my, mz] = dims;
  const [s0, s1, s2] = step as [number, number, number];
  const data = new Float32Array(mx * my * mz);
  const src = volume.data;
  let o = 0;
  for (let k = 0; k < mz; k++) {
    for (let j = 0; j < my; j++) {
      let q = start + j * s1 + k * s2;
      for (let i = 0; i < mx; i++, q += s0) data[o++] = src[q] as number;
    }
  }
  return { data, dims, affine };
}

/** reorient(volume, "RAS"). */
export function reorientToRAS(volume: Volume): Volume {
  return reorient(volume, "RAS");
}
