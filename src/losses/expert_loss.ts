// The gated expert loss (paper Eq. 6 and Eq. 13):
// L_Ei = L_diffusion(i) + L_task(i)   (Eq. 6)
// L_E  = sum_i G_i * L_Ei             (Eq. 13)
//
// Decisions where the paper is vague:
// - G is per sample: each sample's expert losses are weighted by that sample's
//   gating weights, then averaged over the batch, so the losses must be given
//   per sample ([B], the losses' `perSample: true`). With spatial gating
//   ([B, K, h, w] maps) the spatial mean of each map is the sample's weight
//   (the task losses of Eq. 10-12 are not all per-pixel, so a per-pixel
//   weighting is not available for every term).
// - Gradient into G through Eq. 13 (`detachGateInExpertLoss`, default true: no
//   gradient). With gradient, the gating network lowers L_E by moving weight to
//   whichever expert has the smallest loss value, and the experts' task losses
//   are on different scales (perceptual features, Sobel/FFT, multi-scale STFT),
//   so it would learn the scale of the losses rather than the anatomy. The
//   paper gives the gating its own supervision (Eq. 14-16, "to guide the gating
//   network toward accurate expert assignments"); Eq. 13 then only weights how
//   strongly each expert learns from each sample. Set false for the literal
//   end-to-end gradient.
import * as T from "../torch/index.js";
import type { Tensor } from "../torch/index.js";
import { fmt } from "./common.js";

export interface ExpertLossInput {
  /** L_diffusion(i) per expert, each [B] (Eq. 7 with perSample). */
  diffusion: readonly Tensor[];
  /** L_task(i) per expert, each [B]; omit to train on the diffusion losses only (ablation). */
  task?: readonly Tensor[];
  /** Gating weights G: [B, K] or spatial maps [B, K, h, w]. */
  gates: Tensor;
}

export interface ExpertLossOptions {
  /** Stop the gradient of Eq. 13 into the gating weights (default true; see the header). */
  detachGateInExpertLoss?: boolean;
}

export interface ExpertLossResult {
  /** L_E (Eq. 13), a scalar. */
  loss: Tensor;
  /** Batch mean of L_Ei per expert, [K], detached (for logging). */
  perExpert: Tensor;
  /** Batch mean of L_diffusion(i), [K], detached. */
  diffusion: Tensor;
  /** Batch mean of L_task(i), [K], detached (zeros without task losses). */
  task: Tensor;
  /** The per-sample weights actually used, [B, K], detached. */
  weights: Tensor;
}

/** Per-sample gating weights [B, K] from global weights or spatial maps (their spatial mean). */
export function perSampleGates(gates: Tensor, batch: number, k: number, what = "perSampleGates"): Tensor {
  const s = gates.shape;
  if (gates.ndim === 2 && s[0] === batch && s[1] === k) return gates.clone();
  if (gates.ndim === 4 && s[0] === batch && s[1] === k) return gates.mean([2, 3]);
  throw new RangeError(`${what}: gates must be [B, K] = [${batch}, ${k}] or [B, K, h, w], got ${fmt(s)}`);
}

function checkPerSample(list: readonly Tensor[], name: string, k: number, batch: number): void {
  if (list.length !== k) throw new RangeError(`expertLoss: ${name} has ${list.length} entries, expected one per expert (${k})`);
  list.forEach((t, i) => {
    if (t.ndim !== 1 || t.size(0) !== batch) {
      throw new RangeError(`expertLoss: ${name}[${i}] must be a per-sample loss [B] = [${batch}] (compute it with perSample: true), got ${fmt(t.shape)}`);
    }
  });
}

/** Eq. 6 and Eq. 13. */
export function expertLoss(input: ExpertLossInput, o: ExpertLossOptions = {}): ExpertLossResult {
  const k = input.diffusion.length;
  if (k === 0) throw new RangeError("expertLoss: no experts (diffusion is empty)");
  const first = input.diffusion[0] as Tensor;
  if (first.ndim !== 1) throw new RangeError(`expertLoss: diffusion[0] must be a per-sample loss [B] (compute it with perSample: true), got ${fmt(first.shape)}`);
  const batch = first.size(0);
  checkPerSample(input.diffusion, "diffusion", k, batch);
  if (input.task !== undefined) checkPerSample(input.task, "task", k, batch);
  const detachGate = o.detachGateInExpertLoss ?? true;
  return T.tidy(() => {
    let g = perSampleGates(input.gates, batch, k, "expertLoss");
    if (detachGate) g = g.detach();
    const diff = T.stack(input.diffusion, 1); // [B, K]
    const task = input.task === undefined ? T.zerosLike(diff) : T.stack(input.task, 1);
    const perExpert = diff.add(task); // Eq. 6
    const loss = g.mul(perExpert).sum(1).mean(); // Eq. 13, averaged over the batch
    return {
      loss,
      perExpert: perExpert.detach().mean(0),
      diffusion: diff.detach().mean(0),
      task: task.detach().mean(0),
      weights: g.detach(),
    };
  });
}
