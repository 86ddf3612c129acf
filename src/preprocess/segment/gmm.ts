// 1-D mixture of tissue classes fitted by EM, with a smooth multiplicative bias field estimated inside EM.
//
// Model (in the spirit of Wells et al. 1996 and Van Leemput et al. 1999, written here from the
// model, not from their code): the observed intensity x_i = B_i * y_i, where the bias-free y_i
// follows the mixture of mixture.ts (K Gaussian classes, optionally with partial-volume components
// between neighbouring classes) and log B is a low-order polynomial (bias_poly.ts). Each iteration:
//   E-step   y_i = x_i / B_i; component posteriors from the prior-weighted densities. The
//            log-likelihood sum_i log p(x_i / B_i) - log B_i (the Jacobian of y = x / B) is tracked.
//   M-step   class means from the pure-class posteriors; variances per class ("free") or one shared
//            variance ("tied", the default, see tissue.ts); all priors (pure and PV) from the
//            posteriors. The PV components have no parameters of their own (their shape follows the
//            class means and variances), so their voxels do not enter the class means: a generalised
//            EM step that keeps the pure peaks where they are.
//   Bias     given the pure-class posteriors p_ik, log x_i - log mu_k = log B_i + e with
//            var(e) ~ sigma_k^2 / mu_k^2 (first order), so log B is the weighted least-squares fit to
//            the targets r_i = sum_k p_ik q_k (log x_i - log mu_k) / w_i with weights
//            w_i = sum_k p_ik q_k, q_k = mu_k^2 / sigma_k^2. Dark, noisy classes (CSF) get little
//            weight, PV voxels none. The fit uses the voxels on a sub-lattice (about 30k samples:
//            plenty for 20 coefficients); voxels with x <= 0 are left out. The non-constant terms
//            are shrunk (`biasShrink`, see bias_poly.ts and tissue.ts). The mean of log B over the
//            mask is then set to 0 (the class means carry the scale).
// Stops when the relative change of the log-likelihood drops below `tolerance` (after >= 3
// iterations) or at `maxIterations`. Variances are floored at (1e-4 x data range)^2 so that a
// class cannot collapse onto one intensity level.
import type { Dims3 } from "../../volume/affine.js";
import { designMatrix, evalPoly, polyBasis, solveWeighted } from "./bias_poly.js";
import { PreparedMixture, type MixtureModel } from "./mixture.js";

export interface EmOptions {
  readonly maxIterations: number;
  readonly tolerance: number;
  readonly tied: boolean;
  /** Polynomial degree of log B; 0 = no bias field. */
  readonly biasDegree: number;
  /** Shrinkage of the non-constant bias terms (bias_poly.ts fitPoly). */
  readonly biasShrink: number;
  /** Called after each iteration. */
  readonly onIteration?: (iteration: number, maxIterations: number, logLikelihood: number, model: MixtureModel) => void;
}

export interface EmResult {
  readonly model: MixtureModel;
  /** log B per masked voxel (same order as the input). */
  readonly logBias: Float64Array;
  readonly iterations: number;
  readonly converged: boolean;
  /** Log-likelihood per voxel (without the constant -log(2 pi) / 2) after each iteration. */
  readonly history: number[];
}

/** Lloyd's k-means in 1-D from the given centres; a value exactly between two centres goes to the lower class. */
export function kmeans1d(x: ArrayLike<number>, start: readonly number[], maxIterations = 100): { centres: number[]; counts: number[] } {
  const K = start.length;
  let centres = [...start].sort((a, b) => a - b);
  let counts = new Array<number>(K).fill(0);
  let previous: number[] | undefined;
  for (let it = 0; it < maxIterations; it++) {
    const sums = new Float64Array(K);
    counts = new Array<number>(K).fill(0);
    const cuts = centres.slice(1).map((c, k) => (centres[k]! + c) / 2);
    for (let i = 0; i < x.length; i++) {
      const v = x[i] as number;
      let k = 0;
      while (k < K - 1 && v > (cuts[k] as number)) k++;
      sums[k] = (sums[k] as number) + v;
      counts[k]!++;
    }
    if (counts.some((c) => c === 0)) {
      throw new RangeError(`k-means left a class empty (counts ${counts.join(", ")}): the masked intensities hold fewer than ${K} distinct levels`);
    }
    const next = centres.map((_, k) => (sums[k] as number) / counts[k]!);
    if (previous !== undefined && next.every((c, k) => c === previous![k])) break;
    previous = next;
    centres = next;
  }
  return { centres, counts };
}

/** Lattice step (per axis) keeping about `target` of n masked voxels. */
function latticeStep(n: number, target: number): number {
  return Math.max(1, Math.ceil(Math.cbrt(n / target) - 1e-9));
}

/** EM for the mixture and the bias field (see the file header). `index` are the voxel indices of x, increasing. */
export function fitGmmWithBias(x: Float64Array, index: Int32Array, dims: Dims3, init: MixtureModel, o: EmOptions): EmResult {
  const N = x.length;
  const K = init.means.length;
  const [nx, ny] = dims;
  const means = [...init.means];
  const variances = [...init.variances];
  const priors = [...init.priors];
  const pvPriors = [...init.pvPriors];
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < N; i++) {
    const v = x[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const varFloor = (1e-4 * (hi - lo)) ** 2;
  // Bias-fit samples: masked voxels on the sub-lattice i, j, k = 0 mod step; their box for the basis.
  const logBias = new Float64Array(N);
  const fitBias = o.biasDegree > 0;
  const step = latticeStep(N, 30_000);
  const samplePos: number[] = [];
  const boxLo = [Infinity, Infinity, Infinity];
  const boxHi = [-Infinity, -Infinity, -Infinity];
  for (let s = 0; s < N; s++) {
    const idx = index[s] as number;
    const c = [idx % nx, Math.floor(idx / nx) % ny, Math.floor(idx / (nx * ny))];
    for (let a = 0; a < 3; a++) {
      if ((c[a] as number) < (boxLo[a] as number)) boxLo[a] = c[a] as number;
      if ((c[a] as number) > (boxHi[a] as number)) boxHi[a] = c[a] as number;
    }
    if (fitBias && c.every((v) => v % step === 0)) samplePos.push(s);
  }
  const basis = fitBias ? polyBasis(o.biasDegree, dims, boxLo, boxHi) : undefined;
  if (basis !== undefined && samplePos.length < 4 * basis.terms.length) {
    // Too few lattice samples (a small mask): use every voxel.
    samplePos.length = 0;
    for (let s = 0; s < N; s++) samplePos.push(s);
  }
  const sampleIndex = Int32Array.from(samplePos, (s) => index[s] as number);
  const design = basis !== undefined ? designMatrix(basis, dims, sampleIndex) : new Float64Array(0);
  const samplePost = new Float64Array(samplePos.length * K);
  const sampleSlot = new Int32Array(N).fill(-1);
  samplePos.forEach((s, t) => {
    sampleSlot[s] = t;
  });
  const history: number[] = [];
  let converged = false;
  let iterations = 0;
  let dens = new Float64Array(0);
  for (let it = 1; it <= o.maxIterations; it++) {
    iterations = it;
    // E-step with M-step sufficient statistics.
    const model = new PreparedMixture({ means, variances, priors, pvPriors });
    const C = model.components;
    const pure = model.pureIndex;
    if (dens.length !== C) dens = new Float64Array(C);
    const nc = new Float64Array(C);
    const s1 = new Float64Array(K);
    const s2 = new Float64Array(K);
    let ll = 0;
    for (let i = 0; i < N; i++) {
      const lb = logBias[i] as number;
      const y = lb === 0 ? (x[i] as number) : (x[i] as number) * Math.exp(-lb);
      let sum = model.densities(y, dens);
      if (!(sum > 0)) {
        // a far outlier: every density underflowed; give it to the nearest class (log-likelihood floored at -700)
        dens.fill(0);
        dens[pure[model.nearest(y)] as number] = 1;
        sum = 1;
        ll -= 700;
      } else {
        ll += Math.log(sum);
      }
      ll -= lb;
      const slot = (sampleSlot[i] as number) * K;
      const invSum = 1 / sum;
      for (let c = 0; c < C; c++) nc[c] = (nc[c] as number) + (dens[c] as number) * invSum;
      for (let k = 0; k < K; k++) {
        const p = (dens[pure[k] as number] as number) * invSum;
        s1[k] = (s1[k] as number) + p * y;
        s2[k] = (s2[k] as number) + p * y * y;
        if (slot >= 0) samplePost[slot + k] = p;
      }
    }
    ll /= N;
    history.push(ll);
    // M-step.
    let pooled = 0;
    let pureTotal = 0;
    for (let k = 0; k < K; k++) {
      const nk = Math.max(nc[pure[k] as number] as number, 1e-12);
      means[k] = (s1[k] as number) / nk;
      const ss = Math.max(0, (s2[k] as number) - nk * means[k]! * means[k]!);
      pooled += ss;
      pureTotal += nk;
      variances[k] = Math.max(ss / nk, varFloor);
      priors[k] = Math.max(nk / N, 1e-12);
    }
    for (let k = 0; k < pvPriors.length; k++) pvPriors[k] = Math.max((nc[2 * k + 1] as number) / N, 1e-12);
    if (o.tied) {
      const v = Math.max(pooled / pureTotal, varFloor);
      for (let k = 0; k < K; k++) variances[k] = v;
    }
    // Bias step.
    if (basis !== undefined) {
      const q = means.map((m, k) => (m > 0 ? (m * m) / variances[k]! : 0));
      const logMean = means.map((m) => (m > 0 ? Math.log(m) : 0));
      const r = new Float64Array(samplePos.length);
      const w = new Float64Array(samplePos.length);
      for (let t = 0; t < samplePos.length; t++) {
        const xi = x[samplePos[t] as number] as number;
        if (!(xi > 0)) continue;
        const lx = Math.log(xi);
        let wi = 0;
        let ri = 0;
        for (let k = 0; k < K; k++) {
          const pq = (samplePost[t * K + k] as number) * q[k]!;
          wi += pq;
          ri += pq * (lx - logMean[k]!);
        }
        if (wi > 0) {
          w[t] = wi;
          r[t] = ri / wi;
        }
      }
      const coef = solveWeighted(design, basis.terms.length, r, w, o.biasShrink);
      evalPoly(basis, coef, dims, index, logBias);
      let mean = 0;
      for (let i = 0; i < N; i++) mean += logBias[i] as number;
      mean /= N;
      for (let i = 0; i < N; i++) logBias[i] = (logBias[i] as number) - mean;
    }
    o.onIteration?.(it, o.maxIterations, ll, { means: [...means], variances: [...variances], priors: [...priors], pvPriors: [...pvPriors] });
    const prev = history[history.length - 2];
    if (it >= 3 && prev !== undefined && Math.abs(ll - prev) <= o.tolerance * Math.abs(ll)) {
      converged = true;
      break;
    }
  }
  return { model: { means, variances, priors, pvPriors }, logBias, iterations, converged, history };
}
