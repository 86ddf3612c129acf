// Binary morphology on 3-D masks (Uint8Array, 1 = inside, i fastest), with radii in world mm.
//
// Dilation and erosion by a ball of radius r mm come from the exact Euclidean distance transform
// (distance.ts), so they honour anisotropic voxels and cost the same for any radius:
//   dilate(m, r) = { x : dist(x, m) <= r },   erode(m, r) = { x in m : dist(x, not m) > r }.
// Erosion treats the outside of the volume as background (a mask touching a face erodes from it)
// unless told to ignore it; closing works in a padded volume (see close()). Connectivity for components and hole filling is 6 (face neighbours): the conservative
// choice, two regions touching only at an edge or a corner stay apart.
import type { Dims3 } from "../../volume/affine.js";
import { checkMask, squaredDistanceTransform } from "./distance.js";

type Spacing = readonly [number, number, number];

function checkRadius(r: number, what: string): void {
  if (!(Number.isFinite(r) && r >= 0)) throw new RangeError(`${what}: radius must be a finite number >= 0 mm, got ${r}`);
}

/** Voxels within r mm of the mask (the mask included). */
export function dilate(mask: Uint8Array, dims: Dims3, spacing: Spacing, r: number): Uint8Array {
  checkRadius(r, "dilate");
  const d2 = squaredDistanceTransform(mask, dims, spacing);
  const r2 = r * r;
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = (d2[i] as number) <= r2 ? 1 : 0;
  return out;
}

/** Mask voxels farther than r mm from every non-mask voxel (and, unless `ignoreOutside`, from the outside). */
export function erode(mask: Uint8Array, dims: Dims3, spacing: Spacing, r: number, ignoreOutside = false): Uint8Array {
  checkRadius(r, "erode");
  const complement = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) complement[i] = mask[i] !== 0 ? 0 : 1;
  const d2 = squaredDistanceTransform(complement, dims, spacing, { outsideIsFeature: !ignoreOutside });
  const r2 = r * r;
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = mask[i] !== 0 && (d2[i] as number) > r2 ? 1 : 0;
  return out;
}

/**
 * Closing: dilate by r, then erode by r, computed in a volume padded by r on every side so that it is
 * the closing of the mask in an unbounded, empty surrounding (a mask near a face neither leaks out to
 * the face nor erodes from it). Fills gaps and concavities narrower than ~2r.
 */
export function close(mask: Uint8Array, dims: Dims3, spacing: Spacing, r: number): Uint8Array {
  checkRadius(r, "close");
  checkMask(mask, dims, "close");
  const pad = [0, 1, 2].map((a) => Math.ceil(r / (spacing[a] as number)) + 1) as [number, number, number];
  const [nx, ny, nz] = dims;
  const big: [number, number, number] = [nx + 2 * pad[0], ny + 2 * pad[1], nz + 2 * pad[2]];
  const padded = new Uint8Array(big[0] * big[1] * big[2]);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const src = nx * (j + ny * k);
      padded.set(mask.subarray(src, src + nx), pad[0] + big[0] * (j + pad[1] + big[1] * (k + pad[2])));
    }
  }
  const closed = erode(dilate(padded, big, spacing, r), big, spacing, r);
  const out = new Uint8Array(mask.length);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const src = pad[0] + big[0] * (j + pad[1] + big[1] * (k + pad[2]));
      out.set(closed.subarray(src, src + nx), nx * (j + ny * k));
    }
  }
  return out;
}

export interface Components {
  /** Component number of each voxel (1-based), 0 outside the mask. */
  readonly labels: Int32Array;
  /** sizes[c - 1]: voxels in component c. */
  readonly sizes: number[];
}

/**
 * Flood fill over face neighbours: starting from `seeds`, every voxel n for which take(n) returns true
 * is taken (take marks it, so it returns false the next time) and its neighbours are tried in turn.
 */
function flood6(seeds: Iterable<number>, dims: Dims3, take: (n: number) => boolean, buffer?: Int32Array): void {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  // take() marks, so a voxel is pushed at most once. A caller flooding many components passes one
  // buffer for all: a fresh volume-sized stack per component made a noisy mask (100 000 specks) take minutes.
  const stack = buffer ?? new Int32Array(nxy * nz);
  let top = 0;
  const push = (n: number): void => {
    if (take(n)) stack[top++] = n;
  };
  for (const seed of seeds) push(seed);
  while (top > 0) {
    const idx = stack[--top] as number;
    const i = idx % nx;
    const j = Math.floor(idx / nx) % ny;
    const k = Math.floor(idx / nxy);
    if (i > 0) push(idx - 1);
    if (i < nx - 1) push(idx + 1);
    if (j > 0) push(idx - nx);
    if (j < ny - 1) push(idx + nx);
    if (k > 0) push(idx - nxy);
    if (k < nz - 1) push(idx + nxy);
  }
}

/** 6-connected components of the mask, numbered in scan order (the first voxel met, i fastest). */
export function connectedComponents(mask: Uint8Array, dims: Dims3): Components {
  checkMask(mask, dims, "connectedComponents");
  const labels = new Int32Array(mask.length);
  const sizes: number[] = [];
  const stack = new Int32Array(mask.length);
  for (let seed = 0; seed < mask.length; seed++) {
    if (mask[seed] === 0 || labels[seed] !== 0) continue;
    const c = sizes.length + 1;
    let size = 0;
    flood6([seed], dims, (n) => {
      if (mask[n] === 0 || labels[n] !== 0) return false;
      labels[n] = c;
      size++;
      return true;
    }, stack);
    sizes.push(size);
  }
  return { labels, sizes };
}

/** The largest 6-connected component (the first in scan order on a tie); all zero for an empty mask. */
export function largestComponent(mask: Uint8Array, dims: Dims3): Uint8Array {
  const { labels, sizes } = connectedComponents(mask, dims);
  const out = new Uint8Array(mask.length);
  if (sizes.length === 0) return out;
  let best = 0;
  for (let c = 1; c < sizes.length; c++) if ((sizes[c] as number) > (sizes[best] as number)) best = c;
  const keep = best + 1;
  for (let i = 0; i < out.length; i++) out[i] = labels[i] === keep ? 1 : 0;
  return out;
}

/** The mask with its holes filled: every voxel not 6-connected, through non-mask voxels, to a face of the volume. */
export function fillHoles(mask: Uint8Array, dims: Dims3): Uint8Array {
  checkMask(mask, dims, "fillHoles");
  const [nx, ny, nz] = dims;
  const outside = new Uint8Array(mask.length);
  const faces: number[] = [];
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        if (i === 0 || j === 0 || k === 0 || i === nx - 1 || j === ny - 1 || k === nz - 1) faces.push(i + nx * (j + ny * k));
      }
    }
  }
  flood6(faces, dims, (n) => {
    if (mask[n] !== 0 || outside[n] !== 0) return false;
    outside[n] = 1;
    return true;
  });
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = outside[i] === 0 ? 1 : 0;
  return out;
}

/** Voxels of `a` with at least one face neighbour (inside the volume) in `b`. */
export function touching6(a: Uint8Array, b: Uint8Array, dims: Dims3): Uint8Array {
  checkMask(a, dims, "touching6: a");
  checkMask(b, dims, "touching6: b");
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const out = new Uint8Array(a.length);
  for (let k = 0, idx = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, idx++) {
        if (a[idx] === 0) continue;
        if (
          (i > 0 && b[idx - 1] !== 0) ||
          (i < nx - 1 && b[idx + 1] !== 0) ||
          (j > 0 && b[idx - nx] !== 0) ||
          (j < ny - 1 && b[idx + nx] !== 0) ||
          (k > 0 && b[idx - nxy] !== 0) ||
          (k < nz - 1 && b[idx + nxy] !== 0)
        ) {
          out[idx] = 1;
        }
      }
    }
  }
  return out;
}

/** Number of nonzero voxels. */
export function countMask(mask: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) n++;
  return n;
}

/** Dice overlap 2|A and B| / (|A| + |B|) of two masks of equal length (NaN when both are empty). */
export function dice(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`dice: masks differ in size (${a.length} vs ${b.length} voxels)`);
  let both = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0;
    const y = b[i] !== 0;
    if (x) na++;
    if (y) nb++;
    if (x && y) both++;
  }
  return (2 * both) / (na + nb);
}
