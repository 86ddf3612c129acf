// Resampling a volume onto another grid through the affines: target voxel p samples the source at
// continuous voxel coordinates inverse(source.affine) * target.affine * p.
//
// Field of view: a source axis of n voxels covers voxel coordinates [-0.5, n - 0.5] (the outer faces
// of the boundary voxels, as ITK does). Samples outside it on any axis get `fill`. Inside it:
// - nearest: the voxel whose centre is nearest, floor(x + 0.5): an exact half goes to the higher index.
// - trilinear: linear between the two neighbouring centres; between the outermost centre and the FOV
//   face (half a voxel) the edge value is held. A linear function is reproduced exactly (to float32
//   rounding of the output) between the outermost voxel centres.
// - bspline: cubic B-spline with prefiltering (see bspline.ts), mirror boundary. Passes through the
//   data at voxel centres. Linear (indeed cubic) functions are reproduced only where the boundary is
//   far: the mirror bends a ramp near the faces, with an influence decaying as 0.268^d at d voxels
//   (about 1e-4 of the slope per voxel at d = 6). May over/undershoot at edges; not for label images.
//
// Two code paths give the same results to float rounding: when every target axis maps onto a single
// source axis (scaling, flips, permutations, shifts) three 1-D passes with per-axis weight tables and
// float32 intermediates; otherwise a per-voxel path through the full affine, without per-voxel allocation.
import { checkAffine, gridFor, invert, multiply, type Dims3, type Grid, type Vec3 } from "./affine.js";
import { cubicWeights, mirrorIndex, prefilterBSpline } from "./bspline.js";
import { checkVolume, type Volume } from "./volume.js";

export type Interpolation = "nearest" | "trilinear" | "bspline";

export interface ResampleOptions {
  /** Default "trilinear". */
  readonly interpolation?: Interpolation;
  /** Value for target voxels outside the source field of view. Default 0. */
  readonly fill?: number;
  /**
   * "auto" (default) uses the per-axis passes when each target axis maps onto a single source axis;
   * "general" forces the per-voxel affine path (for tests and benchmarks; results agree to float rounding).
   */
  readonly path?: "auto" | "general";
}

const KNOWN_OPTIONS = new Set(["interpolation", "fill", "path"]);
/** Tolerance (voxels) on the field-of-view faces, so that round-off does not decide inside/outside. */
const EDGE_EPS = 1e-6;

/** Kernel codes; TAPS[kind] is the support per axis. */
const NEAREST = 0;
const TRILINEAR = 1;
const BSPLINE = 2;
const TAPS = [1, 2, 4] as const;

function resolveOptions(options: ResampleOptions): { kind: 0 | 1 | 2; fill: number; general: boolean } {
  if (typeof options !== "object" || options === null) throw new TypeError("resample: options must be an object");
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`resample: unknown option "${key}" (known: ${[...KNOWN_OPTIONS].join(", ")})`);
  }
  const interpolation = options.interpolation ?? "trilinear";
  let kind: 0 | 1 | 2;
  switch (interpolation) {
    case "nearest":
      kind = NEAREST;
      break;
    case "trilinear":
      kind = TRILINEAR;
      break;
    case "bspline":
      kind = BSPLINE;
      break;
    default:
      throw new RangeError(`resample: interpolation must be "nearest", "trilinear" or "bspline", got ${JSON.stringify(interpolation)}`);
  }
  const fill = options.fill ?? 0;
  if (typeof fill !== "number") throw new TypeError(`resample: fill must be a number, got ${JSON.stringify(fill)}`);
  const path = options.path ?? "auto";
  if (path !== "auto" && path !== "general") throw new RangeError(`resample: path must be "auto" or "general", got ${JSON.stringify(path)}`);
  return { kind, fill, general: path === "general" };
}

function checkGrid(g: Grid, what: string): void {
  if (g.dims.length !== 3 || g.dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${what}: dims must be 3 positive integers, got [${g.dims.join(", ")}]`);
  }
  checkAffine(g.affine, `${what} affine`);
}

/**
 * Writes the taps of one axis for continuous source coordinate x (axis of n voxels, index stride
 * `stride`) into idx/w at pos; returns false when x is outside the field of view.
 */
function axisTaps(kind: number, x: number, n: number, stride: number, idx: Int32Array, w: Float64Array, pos: number): boolean {
  if (!(x >= -0.5 - EDGE_EPS && x <= n - 0.5 + EDGE_EPS)) return false;
  if (kind === NEAREST) {
    let i = Math.floor(x + 0.5);
    if (i < 0) i = 0;
    else if (i > n - 1) i = n - 1;
    idx[pos] = i * stride;
    w[pos] = 1;
  } else if (kind === TRILINEAR) {
    const xc = x < 0 ? 0 : x > n - 1 ? n - 1 : x;
    let i0 = Math.floor(xc);
    if (i0 > n - 2) i0 = n >= 2 ? n - 2 : 0;
    const f = xc - i0;
    const i1 = i0 + 1 < n ? i0 + 1 : i0;
    idx[pos] = i0 * stride;
    idx[pos + 1] = i1 * stride;
    w[pos] = 1 - f;
    w[pos + 1] = f;
  } else {
    const i = Math.floor(x);
    cubicWeights(x - i, w, pos);
    idx[pos] = mirrorIndex(i - 1, n) * stride;
    idx[pos + 1] = mirrorIndex(i, n) * stride;
    idx[pos + 2] = mirrorIndex(i + 1, n) * stride;
    idx[pos + 3] = mirrorIndex(i + 2, n) * stride;
  }
  return true;
}

/** Resamples `volume` onto `target` (dims and affine). Returns a new volume with the target's dims and affine. */
export function resample(volume: Volume, target: Grid, options: ResampleOptions = {}): Volume {
  checkVolume(volume, "resample: source volume");
  checkAffine(volume.affine, "resample: source affine");
  checkGrid(target, "resample: target");
  const { kind, fill, general } = resolveOptions(options);
  // Source voxel coordinates of target voxel p: R * p.
  const r = multiply(invert(volume.affine, "resample: source affine"), target.affine);
  const src = kind === BSPLINE ? prefilterBSpline(volume).coefficients : volume.data;
  const dims: [number, number, number] = [target.dims[0], target.dims[1], target.dims[2]];
  const out = new Float32Array(dims[0] * dims[1] * dims[2]);
  const axisMap = general ? null : separableAxes(r);
  if (axisMap) resampleSeparable(src, volume.dims, r, axisMap, dims, kind, fill, out);
  else resampleGeneral(src, volume.dims, r, dims, kind, fill, out);
  return { data: out, dims, affine: Array.from(target.affine) };
}

/** resample() onto gridFor(volume, voxelSize): same field of view, new voxel size (see gridFor for the convention). */
export function resampleToVoxelSize(volume: Volume, voxelSize: number | Vec3, options: ResampleOptions = {}): Volume {
  return resample(volume, gridFor(volume, voxelSize), options);
}

/** resample() onto the grid (dims and affine) of `reference`; its data are not used. */
export function resampleLike(volume: Volume, reference: Grid, options: ResampleOptions = {}): Volume {
  return resample(volume, { dims: reference.dims, affine: reference.affine }, options);
}

/**
 * If every target axis maps onto exactly one source axis (rows of R's 3x3 part have a single
 * non-negligible entry, in distinct columns), returns sourceAxis[targetAxis]; otherwise null.
 */
function separableAxes(r: readonly number[]): [number, number, number] | null {
  const map: number[] = [-1, -1, -1];
  for (let a = 0; a < 3; a++) {
    const row = [r[4 * a] as number, r[4 * a + 1] as number, r[4 * a + 2] as number];
    const norm = Math.hypot(...row);
    const nonzero = row.flatMap((v, b) => (Math.abs(v) > 1e-12 * norm ? [b] : []));
    if (nonzero.length !== 1) return null;
    const b = nonzero[0] as number;
    if (map[b] !== -1) return null;
    map[b] = a;
  }
  return [map[0] as number, map[1] as number, map[2] as number];
}

/** Per-axis interpolation table: for each of m output positions, T source indices and weights, and validity. */
interface AxisTable {
  readonly m: number;
  readonly idx: Int32Array;
  readonly w: Float64Array;
  readonly valid: Uint8Array;
}

/**
 * Axis-aligned case: three 1-D passes, one per source axis (T taps per output instead of T^3), with
 * float32 intermediates in source axis order, then one copy into target axis order that writes `fill`
 * outside the field of view.
 */
function resampleSeparable(
  src: Float32Array,
  sdims: Dims3,
  r: readonly number[],
  sourceAxisOf: readonly [number, number, number],
  dims: Dims3,
  kind: 0 | 1 | 2,
  fill: number,
  out: Float32Array,
): void {
  const T = TAPS[kind];
  const tableOf: AxisTable[] = [0, 1, 2].map((b) => {
    const a = sourceAxisOf[b] as number;
    const m = dims[b] as number;
    const scale = r[4 * a + b] as number;
    const offset = r[4 * a + 3] as number;
    const idx = new Int32Array(m * T);
    const w = new Float64Array(m * T);
    const valid = new Uint8Array(m);
    for (let u = 0; u < m; u++) valid[u] = axisTaps(kind, scale * u + offset, sdims[a] as number, 1, idx, w, u * T) ? 1 : 0;
    return { m, idx, w, valid };
  });
  const [tx, ty, tz] = tableOf as [AxisTable, AxisTable, AxisTable];
  if (T === 1) {
    // Nearest: a gather through the index tables.
    const sstride = [1, sdims[0], sdims[0] * sdims[1]];
    const offsets = tableOf.map((t, b) => t.idx.map((i) => i * (sstride[sourceAxisOf[b] as number] as number))) as Offsets;
    writeTargetOrder(out, src, dims, offsets, [tx.valid, ty.valid, tz.valid], fill);
    return;
  }
  // Contract source axes 0, 1, 2 in turn; the intermediate keeps source axis order.
  let cur = src;
  const cdims: [number, number, number] = [sdims[0], sdims[1], sdims[2]];
  for (let a = 0; a < 3; a++) {
    const table = tableOf[sourceAxisOf.indexOf(a)] as AxisTable;
    cur = contractAxis(cur, cdims, a, table, T);
    cdims[a] = table.m;
  }
  // Copy into target order: target axis b walks intermediate axis sourceAxisOf[b].
  const cstride = [1, cdims[0], cdims[0] * cdims[1]];
  const offsets = dims.map((m, b) => Int32Array.from({ length: m }, (_, u) => u * (cstride[sourceAxisOf[b] as number] as number))) as Offsets;
  writeTargetOrder(out, cur, dims, offsets, [tx.valid, ty.valid, tz.valid], fill);
}

type Offsets = [Int32Array, Int32Array, Int32Array];

/** out[i, j, k] = source[ox[i] + oy[j] + oz[k]] where all three axes are valid, else fill. */
function writeTargetOrder(
  out: Float32Array,
  source: Float32Array,
  dims: Dims3,
  [ox, oy, oz]: Offsets,
  [vx, vy, vz]: [Uint8Array, Uint8Array, Uint8Array],
  fill: number,
): void {
  const [mx, my, mz] = dims;
  for (let k = 0; k < mz; k++) {
    for (let j = 0; j < my; j++) {
      const row = mx * (j + my * k);
      if (!vz[k] || !vy[j]) {
        out.fill(fill, row, row + mx);
        continue;
      }
      const base = (oy[j] as number) + (oz[k] as number);
      for (let i = 0; i < mx; i++) out[row + i] = vx[i] ? (source[base + (ox[i] as number)] as number) : fill;
    }
  }
}

function contractAxis(x: Float32Array, d: Dims3, axis: number, table: AxisTable, T: number): Float32Array {
  const n = d[axis] as number;
  const m = table.m;
  const inner = axis === 0 ? 1 : axis === 1 ? d[0] : d[0] * d[1];
  const outer = axis === 0 ? d[1] * d[2] : axis === 1 ? d[2] : 1;
  const { idx, w } = table;
  const y = new Float32Array(inner * m * outer);
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const xo = o * n;
      const yo = o * m;
      for (let u = 0; u < m; u++) {
        let s = 0;
        for (let t = u * T, e = t + T; t < e; t++) s += (w[t] as number) * (x[xo + (idx[t] as number)] as number);
        y[yo + u] = s;
      }
    }
    return y;
  }
  for (let o = 0; o < outer; o++) {
    const xo = o * n * inner;
    const yo = o * m * inner;
    for (let u = 0; u < m; u++) {
      const yr = yo + u * inner;
      for (let t = u * T, e = t + T; t < e; t++) {
        const wt = w[t] as number;
        if (wt === 0) continue;
        const xr = xo + (idx[t] as number) * inner;
        for (let q = 0; q < inner; q++) y[yr + q] = (y[yr + q] as number) + wt * (x[xr + q] as number);
      }
    }
  }
  return y;
}

function resampleGeneral(src: Float32Array, sdims: Dims3, r: readonly number[], dims: Dims3, kind: 0 | 1 | 2, fill: number, out: Float32Array): void {
  const T = TAPS[kind];
  const [nx, ny, nz] = sdims;
  const [mx, my, mz] = dims;
  const ix = new Int32Array(T);
  const iy = new Int32Array(T);
  const iz = new Int32Array(T);
  const wx = new Float64Array(T);
  const wy = new Float64Array(T);
  const wz = new Float64Array(T);
  const [r00, r01, r02, r03] = [r[0] as number, r[1] as number, r[2] as number, r[3] as number];
  const [r10, r11, r12, r13] = [r[4] as number, r[5] as number, r[6] as number, r[7] as number];
  const [r20, r21, r22, r23] = [r[8] as number, r[9] as number, r[10] as number, r[11] as number];
  const slab = nx * ny;
  for (let k = 0; k < mz; k++) {
    for (let j = 0; j < my; j++) {
      const bx = r01 * j + r02 * k + r03;
      const by = r11 * j + r12 * k + r13;
      const bz = r21 * j + r22 * k + r23;
      const row = mx * (j + my * k);
      for (let i = 0; i < mx; i++) {
        if (
          !axisTaps(kind, bx + r00 * i, nx, 1, ix, wx, 0) ||
          !axisTaps(kind, by + r10 * i, ny, nx, iy, wy, 0) ||
          !axisTaps(kind, bz + r20 * i, nz, slab, iz, wz, 0)
        ) {
          out[row + i] = fill;
          continue;
        }
        let s = 0;
        for (let c2 = 0; c2 < T; c2++) {
          const oz = iz[c2] as number;
          const wzc = wz[c2] as number;
          for (let c1 = 0; c1 < T; c1++) {
            const oyz = oz + (iy[c1] as number);
            let inner = 0;
            for (let c0 = 0; c0 < T; c0++) inner += (wx[c0] as number) * (src[oyz + (ix[c0] as number)] as number);
            s += wzc * (wy[c1] as number) * inner;
          }
        }
        out[row + i] = s;
      }
    }
  }
}
