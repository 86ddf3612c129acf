// Potts-model smoothing of a label map by iterated conditional modes (ICM, Besag 1986).
//
// Energy of label k at a masked voxel i:
//   U_i(k) = -log L_k(y_i) + beta * #{ j in N6(i) inside the mask : l_j != k },
// where log L_k(y_i) is the class log-likelihood given by the caller (mixture.ts: prior-weighted,
// with the partial-volume components collapsed onto the classes),
// with N6 the 6 face neighbours (equal weights whatever the voxel size; design decision). Voxels are
// visited in scan order and updated in place (each takes the label of least energy given its
// neighbours' current labels); a sweep that changes nothing ends the iterations early. beta is in
// nats per disagreeing neighbour: beta = 0 leaves the maximum-likelihood labels unchanged.
import type { Dims3 } from "../../volume/affine.js";

/**
 * Smooths `labels` (full volume, 1..K inside the mask, 0 outside) in place. logLik[s * K + k] is
 * log L_k of the masked voxel index[s] (increasing indices). Returns the number of label changes per sweep.
 */
export function icmPotts(
  labels: Uint8Array,
  logLik: Float64Array,
  K: number,
  index: Int32Array,
  dims: Dims3,
  beta: number,
  iterations: number,
): number[] {
  if (!Number.isInteger(K) || K < 2 || logLik.length !== index.length * K) {
    throw new RangeError(`icmPotts: logLik must hold K = ${K} values per masked voxel (${index.length * K}), got ${logLik.length}`);
  }
  if (!(Number.isFinite(beta) && beta >= 0)) throw new RangeError(`icmPotts: beta must be a finite number >= 0, got ${beta}`);
  if (!Number.isInteger(iterations) || iterations < 0) throw new RangeError(`icmPotts: iterations must be an integer >= 0, got ${iterations}`);
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const agree = new Float64Array(K + 1);
  const changes: number[] = [];
  let neighbours = 0;
  const see = (n: number): void => {
    const l = labels[n] as number;
    if (l !== 0) {
      agree[l] = (agree[l] as number) + 1;
      neighbours++;
    }
  };
  for (let sweep = 0; sweep < iterations; sweep++) {
    let changed = 0;
    for (let s = 0; s < index.length; s++) {
      const idx = index[s] as number;
      const i = idx % nx;
      const j = Math.floor(idx / nx) % ny;
      const k = Math.floor(idx / nxy);
      agree.fill(0);
      neighbours = 0;
      if (i > 0) see(idx - 1);
      if (i < nx - 1) see(idx + 1);
      if (j > 0) see(idx - nx);
      if (j < ny - 1) see(idx + nx);
      if (k > 0) see(idx - nxy);
      if (k < nz - 1) see(idx + nxy);
      let best = 0;
      let bestU = Infinity;
      for (let c = 0; c < K; c++) {
        const u = -(logLik[s * K + c] as number) + beta * (neighbours - (agree[c + 1] as number));
        if (u < bestU) {
          bestU = u;
          best = c + 1;
        }
      }
      if (labels[idx] !== best) {
        labels[idx] = best;
        changed++;
      }
    }
    changes.push(changed);
    if (changed === 0) break;
  }
  return changes;
}
