// Test helper: the VGG-16 weights that test/fixtures/make_perceptual_fixtures.py
// defines by formula (vgg_formula_weight), rebuilt bit for bit, so the golden
// outputs for layers up to relu3_3 need no 7 MB weight fixture.
//   h = ((i + 1 + 7919 k) * 2654435761) mod 2^32, u = h / 2^32 - 0.5,
//   weight = u * sqrt(24 / fan_in), bias = u * 0.2, rounded to float32,
// with k the key's position in the state dict (features.0.weight = 0, features.0.bias = 1, ...).
import * as T from "../../../src/torch/index.js";

const CFG: (number | "M")[] = [64, 64, "M", 128, 128, "M", 256, 256, 256];

/** [key, shape] for features.* up to relu3_3, in state-dict order. */
export function vggKeysUpToRelu33(): [string, number[]][] {
  const out: [string, number[]][] = [];
  let index = 0;
  let cin = 3;
  for (const v of CFG) {
    if (v === "M") {
      index += 1;
      continue;
    }
    out.push([`features.${index}.weight`, [v, cin, 3, 3]], [`features.${index}.bias`, [v]]);
    cin = v;
    index += 2;
  }
  return out;
}

export function formulaWeight(k: number, shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const scale = shape.length === 4 ? Math.sqrt(24 / ((shape[1] as number) * (shape[2] as number) * (shape[3] as number))) : 0.2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const h = Math.imul(i + 1 + 7919 * k, 2654435761 | 0) >>> 0;
    out[i] = (h / 4294967296 - 0.5) * scale;
  }
  return out;
}

/** The formula state dict (keys renamed by `rename`), as tensors the caller disposes. */
export function formulaStateDict(rename: (key: string) => string = (k) => k): Map<string, T.Tensor> {
  const out = new Map<string, T.Tensor>();
  vggKeysUpToRelu33().forEach(([key, shape], k) => out.set(rename(key), T.tensor(formulaWeight(k, shape), shape)));
  return out;
}
