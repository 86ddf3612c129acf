// Test helper: the inputs and full-width backbone weights that test/fixtures/make_lpips_fixtures.py
// defines by formula, rebuilt bit for bit, and its goldens (test/fixtures/lpips_golden.json).
//   u_i = h_i / 2^32 - 0.5, h_i = ((i + 1 + 7919 k) * 2654435761) mod 2^32   (hash_uniform)
//   conv weight number k = u * sqrt(24 / fan_in), bias = u * 0.2; images 1.8 u; all float32.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as T from "../../src/torch/index.js";

export const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/", import.meta.url));

export interface PairGolden {
  shape: [number, number, number, number];
  k0: number;
  k1: number;
  perLayer: number[][];
  lpips: number[];
  widths?: number[];
}

export interface LpipsGolden {
  vggTiny: PairGolden;
  alexTiny: PairGolden;
  vggFormula: PairGolden;
  alexFormula: PairGolden;
  volume: {
    dims: [number, number, number];
    refK: number;
    predK: number;
    skippedSlice: number;
    axis: 0 | 1 | 2;
    dataRange: number;
    slices: { index: number; lpips: number }[];
    mean: number;
  };
}

export function loadLpipsGolden(): LpipsGolden {
  return JSON.parse(readFileSync(`${FIXTURES}lpips_golden.json`, "utf8")) as LpipsGolden;
}

/** hash_uniform(k, n) in float64 (exact). */
export function hashUniform(k: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (Math.imul(i + 1 + 7919 * k, 2654435761 | 0) >>> 0) / 4294967296 - 0.5;
  return out;
}

function formulaWeight(k: number, shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const scale = shape.length === 4 ? Math.sqrt(24 / ((shape[1] as number) * (shape[2] as number) * (shape[3] as number))) : 0.2;
  const out = new Float32Array(n);
  const m = 2654435761 | 0;
  for (let i = 0; i < n; i++) out[i] = ((Math.imul(i + 1 + 7919 * k, m) >>> 0) / 4294967296 - 0.5) * scale;
  return out;
}

const VGG_WIDTHS = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512];
const VGG_INDICES = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];
const ALEX = [
  { index: 0, out: 64, kernel: 11 },
  { index: 3, out: 192, kernel: 5 },
  { index: 6, out: 384, kernel: 3 },
  { index: 8, out: 256, kernel: 3 },
  { index: 10, out: 256, kernel: 3 },
];

/** The formula backbone of full width ("vgg": torchvision VGG-16 features, "alex": AlexNet) as tensors the caller disposes. */
export function formulaBackbone(net: "vgg" | "alex", rename: (key: string) => string = (k) => k): Map<string, T.Tensor> {
  const convs =
    net === "vgg" ? VGG_INDICES.map((index, c) => ({ index, out: VGG_WIDTHS[c] as number, kernel: 3 })) : ALEX;
  const out = new Map<string, T.Tensor>();
  let cin = 3;
  let k = 0;
  for (const c of convs) {
    const w = [c.out, cin, c.kernel, c.kernel];
    out.set(rename(`features.${c.index}.weight`), T.tensor(formulaWeight(k++, w), w));
    out.set(rename(`features.${c.index}.bias`), T.tensor(formulaWeight(k++, [c.out]), [c.out]));
    cin = c.out;
  }
  return out;
}

/** The golden's image pair: x0 = 1.8 u(k0); x1 = [1.8 u(k1) for image 0, x0[1] + 0.2 u(k1 + 1)], float32. */
export function goldenPair(g: PairGolden): { x0: Float32Array; x1: Float32Array } {
  const [b, c, h, w] = g.shape;
  const per = c * h * w;
  const x0 = Float32Array.from(hashUniform(g.k0, b * per), (u) => 1.8 * u);
  const x1 = new Float32Array(b * per);
  x1.set(Float32Array.from(hashUniform(g.k1, per), (u) => 1.8 * u), 0);
  const noise = hashUniform(g.k1 + 1, per);
  for (let i = 0; i < per; i++) x1[per + i] = (x0[per + i] as number) + 0.2 * (noise[i] as number);
  return { x0, x1 };
}

/** The golden volume (dims [nx, ny, nz], i fastest): ref = 100 (u + 0.5) with slice k = 2 zeroed, pred = ref + 8 u'. */
export function goldenVolume(v: LpipsGolden["volume"]): { pred: Float32Array; ref: Float32Array } {
  const [nx, ny, nz] = v.dims;
  const n = nx * ny * nz;
  const ref = Float32Array.from(hashUniform(v.refK, n), (u) => 100 * (u + 0.5));
  ref.fill(0, v.skippedSlice * nx * ny, (v.skippedSlice + 1) * nx * ny);
  const noise = hashUniform(v.predK, n);
  const pred = Float32Array.from(ref, (r, i) => r + 8 * (noise[i] as number));
  return { pred, ref };
}
