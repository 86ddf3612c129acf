// The intensity model of the tissue EM: K pure Gaussian classes (darkest first) and, optionally, a
// partial-volume (PV) component between each pair of neighbouring classes.
//
// A PV voxel between classes a and b holds a fraction alpha ~ Uniform(0, 1) of b, so its intensity
// is N((1 - alpha) mu_a + alpha mu_b, s^2) with s^2 = (sigma_a^2 + sigma_b^2) / 2; integrating alpha out,
//   p(y | PV ab) = [Phi((y - mu_a) / s) - Phi((y - mu_b) / s)] / (mu_b - mu_a)
// (Santago and Gage 1993 use this mixed-voxel density; written here from the formula). With the PV
// components the pure classes keep their own peaks and noise level: without them, at coarse voxel
// sizes the partial-volume voxels widen the pure classes until one class takes over the others.
//
// Hard labels collapse a PV component onto the nearer pure class: a PV voxel goes to a if its
// intensity is below the midpoint (mu_a + mu_b) / 2 (alpha < 1/2) and to b otherwise. The class
// likelihood of label k is therefore
//   L_k(y) = pi_k N(y | mu_k, sigma_k^2) + sum over the PV components next to k of pi_pv p(y | pv) [y on k's side],
// used for the maximum a posteriori labels and by the MRF.
// All densities here omit the common factor 1 / sqrt(2 pi).

export interface MixtureModel {
  /** Pure-class means, increasing. */
  readonly means: number[];
  readonly variances: number[];
  /** Pure-class priors. */
  readonly priors: number[];
  /** Priors of the K - 1 PV components between classes k and k + 1; empty without PV. */
  readonly pvPriors: number[];
}

const SQRT_2PI = Math.sqrt(2 * Math.PI);

/** The standard normal CDF, from erf by Abramowitz and Stegun 7.1.26 (absolute error < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Number of components: K pure plus K - 1 PV when the model has PV priors. */
export function componentCount(m: MixtureModel): number {
  return m.means.length + m.pvPriors.length;
}

/**
 * A model with its per-component constants computed once, for evaluating many intensities.
 * Component order: class 0, PV 0-1, class 1, PV 1-2, class 2, ... (without PV just the classes).
 */
export class PreparedMixture {
  readonly K: number;
  readonly components: number;
  readonly pv: boolean;
  /** Index of pure class k among the components. */
  readonly pureIndex: Int32Array;
  readonly #mu: Float64Array;
  readonly #half: Float64Array; // 0.5 / variance
  readonly #weight: Float64Array; // prior / sigma
  readonly #pvScale: Float64Array; // pvPrior sqrt(2 pi) / (mu_b - mu_a), 0 if the classes are not ordered
  readonly #pvSigma: Float64Array;
  readonly #mid: Float64Array;

  constructor(m: MixtureModel) {
    const K = m.means.length;
    this.K = K;
    this.pv = m.pvPriors.length > 0;
    if (this.pv && m.pvPriors.length !== K - 1) throw new RangeError(`mixture: ${K} classes need ${K - 1} PV priors, got ${m.pvPriors.length}`);
    this.components = K + m.pvPriors.length;
    this.pureIndex = Int32Array.from({ length: K }, (_, k) => (this.pv ? 2 * k : k));
    this.#mu = Float64Array.from(m.means);
    this.#half = Float64Array.from(m.variances, (v) => 0.5 / v);
    this.#weight = Float64Array.from(m.priors, (p, k) => p / Math.sqrt(m.variances[k]!));
    this.#pvScale = Float64Array.from(m.pvPriors, (p, k) => {
      const width = m.means[k + 1]! - m.means[k]!;
      return width > 0 ? (p * SQRT_2PI) / width : 0;
    });
    this.#pvSigma = Float64Array.from(m.pvPriors, (_, k) => Math.sqrt(0.5 * (m.variances[k]! + m.variances[k + 1]!)));
    this.#mid = Float64Array.from(m.pvPriors, (_, k) => 0.5 * (m.means[k]! + m.means[k + 1]!));
  }

  /** Prior-weighted component densities at y into out; returns their sum. */
  densities(y: number, out: Float64Array): number {
    const K = this.K;
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const d = y - (this.#mu[k] as number);
      const g = (this.#weight[k] as number) * Math.exp(-d * d * (this.#half[k] as number));
      if (!this.pv) {
        out[k] = g;
        sum += g;
        continue;
      }
      out[2 * k] = g;
      sum += g;
      if (k < K - 1) {
        const scale = this.#pvScale[k] as number;
        const s = this.#pvSigma[k] as number;
        const p = scale > 0 ? scale * (normalCdf((y - (this.#mu[k] as number)) / s) - normalCdf((y - (this.#mu[k + 1] as number)) / s)) : 0;
        out[2 * k + 1] = p;
        sum += p;
      }
    }
    return sum;
  }

  /** The nearest pure class to y (ties to the lower one). */
  nearest(y: number): number {
    let best = 0;
    for (let k = 1; k < this.K; k++) if (Math.abs(y - (this.#mu[k] as number)) < Math.abs(y - (this.#mu[best] as number))) best = k;
    return best;
  }

  /**
   * log L_k(y) for each class into out (see the file header); `scratch` holds `components` values.
   * Far outliers whose densities all underflow get 0 for the nearest class and -Infinity elsewhere.
   */
  classLogLikelihoods(y: number, out: Float64Array, scratch: Float64Array): void {
    const sum = this.densities(y, scratch);
    const K = this.K;
    if (!(sum > 0)) {
      const near = this.nearest(y);
      for (let k = 0; k < K; k++) out[k] = k === near ? 0 : -Infinity;
      return;
    }
    for (let k = 0; k < K; k++) {
      if (!this.pv) {
        out[k] = Math.log(scratch[k] as number);
        continue;
      }
      let l = scratch[2 * k] as number;
      if (k > 0 && y >= (this.#mid[k - 1] as number)) l += scratch[2 * k - 1] as number;
      if (k < K - 1 && y < (this.#mid[k] as number)) l += scratch[2 * k + 1] as number;
      out[k] = Math.log(l);
    }
  }
}
