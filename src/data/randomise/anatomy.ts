// Random anatomy of a randomised training subject: one backward map from the output grid to the
// source volume, applied to every volume of the subject (both skull variants and the labels), so HR
// targets, the volumes the LR inputs are simulated from, and the labels stay in register.
//
// The map. The output voxel at world position y (mm) shows the source at
//     x(y) = c + L (y - c) + u(y),      L = R * H * S * F
// where c is the centre of the source's brain mask (rotations pivot on the brain, not on the corner of
// the field of view), R = Rz Ry Rx (angles about the world x, y, z axes), H the shear
//     [1 hxy hxz; 0 1 hyz; 0 0 1], S = diag(scale), F = diag(-1, 1, 1) when flipped (left-right, about c)
// and u a smooth elastic displacement (mm): offsets drawn N(0, sd^2) (clipped at 3 sd) at control
// points every `spacing` mm over the output grid, interpolated with the cubic B-spline basis (an
// approximating spline: C2-smooth, |u| never above the largest offset). The spline is separable, so
// the field is built one output slice at a time from two small precomputed passes; no full-size field
// is kept. The output grid is the source grid; samples outside the source field of view read 0.
// Values are sampled with cubic B-splines (negative overshoot clipped to 0), labels with nearest neighbour.
import { Random } from "../../util/random.js";
import { invert, multiply, voxelSizes, type Grid, type Vec3 } from "../../volume/affine.js";
import { BSplineSampler, cubicWeights, prefilterBSpline } from "../../volume/bspline.js";
import type { Volume } from "../../volume/volume.js";
import type { Rng } from "../rng.js";
import { roundTo, type AnatomyRanges } from "./ranges.js";

/** The drawn anatomy of one subject: everything needed to rebuild its map on a given grid. */
export interface AnatomyParams {
  /** Angles about the world x, y, z axes, degrees (R = Rz Ry Rx). */
  readonly rotationDeg: readonly [number, number, number];
  /** Scale factors along x, y, z. */
  readonly scale: readonly [number, number, number];
  /** Shear terms hxy, hxz, hyz. */
  readonly shear: readonly [number, number, number];
  /** Left-right flip about the brain centre. */
  readonly flip: boolean;
  /** Elastic displacement: offset sd (mm), control-point spacing (mm) and the seed of the offsets. */
  readonly elastic: { readonly sd: number; readonly spacing: number; readonly seed: number };
}

/** Draws the anatomy of one subject from `rng` (always the same number of draws). */
export function drawAnatomy(rng: Rng, r: AnatomyRanges): AnatomyParams {
  const sym = (m: number): number => rng.uniform(-m, m);
  const rotationDeg = [sym(r.rotationDeg), sym(r.rotationDeg), sym(r.rotationDeg)].map((x) => roundTo(x, 3)) as unknown as [number, number, number];
  const scale = [0, 1, 2].map(() => roundTo(1 + sym(r.scaling), 4)) as unknown as [number, number, number];
  const shear = [0, 1, 2].map(() => roundTo(sym(r.shear), 4)) as unknown as [number, number, number];
  const flip = rng.next() < r.flipProbability;
  const sd = roundTo(rng.uniform(r.elasticSd[0], r.elasticSd[1]), 3);
  const seed = rng.nextUint32();
  return { rotationDeg, scale, shear, flip, elastic: { sd, spacing: r.elasticSpacing, seed } };
}

/** The 3x3 matrix L = R H S F of the map, row-major. */
export function linearPart(p: AnatomyParams): number[] {
  const [ax, ay, az] = p.rotationDeg.map((d) => (d * Math.PI) / 180) as [number, number, number];
  const rx = [1, 0, 0, 0, Math.cos(ax), -Math.sin(ax), 0, Math.sin(ax), Math.cos(ax)];
  const ry = [Math.cos(ay), 0, Math.sin(ay), 0, 1, 0, -Math.sin(ay), 0, Math.cos(ay)];
  const rz = [Math.cos(az), -Math.sin(az), 0, Math.sin(az), Math.cos(az), 0, 0, 0, 1];
  const [hxy, hxz, hyz] = p.shear;
  const h = [1, hxy, hxz, 0, 1, hyz, 0, 0, 1];
  const s = [(p.flip ? -1 : 1) * p.scale[0], 0, 0, 0, p.scale[1], 0, 0, 0, p.scale[2]];
  return [rz, ry, rx, h, s].reduce((a, b) => mul3(a, b));
}

function mul3(a: readonly number[], b: readonly number[]): number[] {
  const o = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) o[3 * r + c] = (o[3 * r + c] as number) + (a[3 * r + k] as number) * (b[3 * k + c] as number);
  return o;
}

/** The backward map of one subject on one grid (see the top of this file). */
export class Deformation {
  readonly grid: Grid;
  readonly params: AnatomyParams;
  readonly centre: Vec3;
  /** Largest |u| over the output voxels, mm. */
  readonly maxDisplacementMm: number;
  /** Output voxel -> source voxel, without u (4x4 row-major). */
  readonly #m: number[];
  /** World mm -> source voxel units (3x3 of the inverse affine). */
  readonly #w: number[];
  /** The elastic field after the x and y passes: [component][cz][j][i]. */
  readonly #xy: Float64Array[];
  readonly #cz: number;
  readonly #zIdx: Int32Array;
  readonly #zW: Float64Array;

  constructor(params: AnatomyParams, grid: Grid, centre: Vec3) {
    this.grid = grid;
    this.params = params;
    this.centre = centre;
    const l = linearPart(params);
    const [cx, cy, cz] = centre;
    // World map y -> c + L (y - c) as a 4x4.
    const lin4 = [
      l[0], l[1], l[2], 0,
      l[3], l[4], l[5], 0,
      l[6], l[7], l[8], 0,
      0, 0, 0, 1,
    ] as number[];
    const t = (a: number, b: number, c: number): number[] => [1, 0, 0, a, 0, 1, 0, b, 0, 0, 1, c, 0, 0, 0, 1];
    const inv = invert(grid.affine, "randomise: grid affine");
    this.#m = multiply(inv, multiply(t(cx, cy, cz), multiply(lin4, multiply(t(-cx, -cy, -cz), grid.affine))));
    this.#w = [inv[0], inv[1], inv[2], inv[4], inv[5], inv[6], inv[8], inv[9], inv[10]] as number[];

    // Elastic control points: per axis, spacing h voxels, n_c = floor((n - 1) / h) + 4 points, voxel i
    // at spline coordinate t = i / h + 1 (so its four taps floor(t) - 1 .. floor(t) + 2 exist).
    const [nx, ny, nz] = grid.dims;
    const vs = voxelSizes(grid.affine);
    const taps = (n: number, size: number): { count: number; idx: Int32Array; w: Float64Array } => {
      const h = params.elastic.spacing / size;
      const count = Math.floor((n - 1) / h) + 4;
      const idx = new Int32Array(n);
      const w = new Float64Array(4 * n);
      for (let i = 0; i < n; i++) {
        const tt = i / h + 1;
        const fl = Math.floor(tt);
        idx[i] = fl - 1;
        cubicWeights(tt - fl, w, 4 * i);
      }
      return { count, idx, w };
    };
    const tx = taps(nx, vs[0]);
    const ty = taps(ny, vs[1]);
    const tz = taps(nz, vs[2]);
    this.#cz = tz.count;
    this.#zIdx = tz.idx;
    this.#zW = tz.w;
    const rng = new Random(params.elastic.seed, "elastic");
    const sd = params.elastic.sd;
    const nc = tx.count * ty.count * tz.count;
    this.#xy = [0, 1, 2].map(() => {
      const coarse = new Float64Array(nc);
      for (let q = 0; q < nc; q++) coarse[q] = sd > 0 ? Math.max(-3 * sd, Math.min(3 * sd, rng.normal(0, sd))) : 0;
      // x pass: [cz][cy][i]
      const px = new Float64Array(tz.count * ty.count * nx);
      for (let row = 0; row < tz.count * ty.count; row++) {
        for (let i = 0; i < nx; i++) {
          const a = (tx.idx[i] as number) + row * tx.count;
          let s = 0;
          for (let k = 0; k < 4; k++) s += (tx.w[4 * i + k] as number) * (coarse[a + k] as number);
          px[row * nx + i] = s;
        }
      }
      // y pass: [cz][j][i]
      const pxy = new Float64Array(tz.count * ny * nx);
      for (let c = 0; c < tz.count; c++) {
        for (let j = 0; j < ny; j++) {
          const b = ty.idx[j] as number;
          const o = (c * ny + j) * nx;
          for (let k = 0; k < 4; k++) {
            const wk = ty.w[4 * j + k] as number;
            const src = (c * ty.count + b + k) * nx;
            for (let i = 0; i < nx; i++) pxy[o + i] = (pxy[o + i] as number) + wk * (px[src + i] as number);
          }
        }
      }
      return pxy;
    });
    let maxU = 0;
    const plane = [new Float64Array(nx * ny), new Float64Array(nx * ny), new Float64Array(nx * ny)] as const;
    for (let k = 0; k < nz; k++) {
      this.#plane(k, plane);
      for (let q = 0; q < nx * ny; q++) maxU = Math.max(maxU, Math.hypot(plane[0][q] as number, plane[1][q] as number, plane[2][q] as number));
    }
    this.maxDisplacementMm = maxU;
  }

  /** The elastic displacement (world mm, components x, y, z) of output slice k, into out[c][j * nx + i]. */
  #plane(k: number, out: readonly [Float64Array, Float64Array, Float64Array]): void {
    const [nx, ny] = this.grid.dims;
    const hw = nx * ny;
    const c0 = this.#zIdx[k] as number;
    for (let comp = 0; comp < 3; comp++) {
      const o = out[comp] as Float64Array;
      const src = this.#xy[comp] as Float64Array;
      o.fill(0);
      for (let t = 0; t < 4; t++) {
        const w = this.#zW[4 * k + t] as number;
        const base = (c0 + t) * hw;
        for (let q = 0; q < hw; q++) o[q] = (o[q] as number) + w * (src[base + q] as number);
      }
    }
  }

  /** The elastic displacement (world mm) at output voxel (i, j, k). */
  displacement(i: number, j: number, k: number): [number, number, number] {
    const [nx, ny] = this.grid.dims;
    const plane = [new Float64Array(nx * ny), new Float64Array(nx * ny), new Float64Array(nx * ny)] as const;
    this.#plane(k, plane);
    const q = j * nx + i;
    return [plane[0][q] as number, plane[1][q] as number, plane[2][q] as number];
  }

  /** The continuous source voxel coordinates that output voxel (i, j, k) shows. */
  sourceVoxel(i: number, j: number, k: number): [number, number, number] {
    const u = this.displacement(i, j, k);
    return this.#toSource(i, j, k, u[0], u[1], u[2]);
  }

  #toSource(i: number, j: number, k: number, ux: number, uy: number, uz: number): [number, number, number] {
    const m = this.#m;
    const w = this.#w;
    const r = (row: number): number =>
      (m[4 * row] as number) * i + (m[4 * row + 1] as number) * j + (m[4 * row + 2] as number) * k + (m[4 * row + 3] as number) +
      (w[3 * row] as number) * ux + (w[3 * row + 1] as number) * uy + (w[3 * row + 2] as number) * uz;
    return [r(0), r(1), r(2)];
  }

  /** Visits every output voxel (index q, i fastest) with the source voxel coordinates it shows. */
  #forEach(visit: (q: number, x: number, y: number, z: number) => void): void {
    const [nx, ny, nz] = this.grid.dims;
    const plane = [new Float64Array(nx * ny), new Float64Array(nx * ny), new Float64Array(nx * ny)] as const;
    const m = this.#m;
    const w = this.#w;
    const [m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11] = m as [number, number, number, number, number, number, number, number, number, number, number, number];
    const [w0, w1, w2, w3, w4, w5, w6, w7, w8] = w as [number, number, number, number, number, number, number, number, number];
    let q = 0;
    for (let k = 0; k < nz; k++) {
      this.#plane(k, plane);
      const [px, py, pz] = plane;
      for (let j = 0, p = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++, p++, q++) {
          const ux = px[p] as number;
          const uy = py[p] as number;
          const uz = pz[p] as number;
          visit(
            q,
            m0 * i + m1 * j + m2 * k + m3 + w0 * ux + w1 * uy + w2 * uz,
            m4 * i + m5 * j + m6 * k + m7 + w3 * ux + w4 * uy + w5 * uz,
            m8 * i + m9 * j + m10 * k + m11 + w6 * ux + w7 * uy + w8 * uz,
          );
        }
      }
    }
  }

  /** The map applied to a volume on the grid: cubic B-spline, negative overshoot clipped, 0 outside. */
  apply(v: Volume): Volume {
    this.#check(v.dims, "Deformation.apply");
    const [nx, ny, nz] = v.dims;
    const sampler = new BSplineSampler(prefilterBSpline(v));
    const out = new Float32Array(v.data.length);
    const inside = (x: number, n: number): boolean => x >= -0.5 && x <= n - 0.5;
    this.#forEach((q, x, y, z) => {
      if (!(inside(x, nx) && inside(y, ny) && inside(z, nz))) return;
      const s = sampler.at(x, y, z);
      out[q] = s > 0 ? s : 0;
    });
    return { data: out, dims: v.dims, affine: v.affine };
  }

  /** The map applied to a label image on the grid: nearest neighbour, 0 outside. */
  applyLabels(labels: Uint8Array): Uint8Array {
    const [nx, ny, nz] = this.grid.dims;
    if (labels.length !== nx * ny * nz) throw new RangeError(`Deformation.applyLabels: ${labels.length} labels, the grid has ${nx * ny * nz} voxels`);
    const out = new Uint8Array(labels.length);
    this.#forEach((q, x, y, z) => {
      const i = Math.floor(x + 0.5);
      const j = Math.floor(y + 0.5);
      const k = Math.floor(z + 0.5);
      if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) return;
      out[q] = labels[i + nx * (j + ny * k)] as number;
    });
    return out;
  }

  #check(dims: readonly [number, number, number], what: string): void {
    const g = this.grid.dims;
    if (dims[0] !== g[0] || dims[1] !== g[1] || dims[2] !== g[2]) throw new RangeError(`${what}: volume dims [${dims.join(", ")}] differ from the grid [${g.join(", ")}]`);
  }
}
