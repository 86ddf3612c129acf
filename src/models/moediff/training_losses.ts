// One joint-training evaluation of MoEDiff-SR (paper II.C-D), written out as the sequence it is:
//   1. z_c = E2(y) (Eq. 1); gating weights G (Eq. 2-4), uniform during the warm-up
//   2. per expert i: its own t_i and noise, z_t(i) (Eq. 5); eps_hat = E_i(z_t(i), t_i, cond, z_c, G_i);
//      z0_hat(i) (Eq. 8); L_diffusion(i) (Eq. 7); L_task(i) (Eq. 10 / 11 / 12), optionally weighted by
//      alphaBar of the sample's timestep (losses.taskWeighting; see config.ts)
//   3. L_E = sum_i G_i (L_diffusion(i) + L_task(i)) (Eq. 6, 13)
//   4. L_gating (Eq. 14-16) from the gating network's own probabilities
//   5. L_total = L_E + w L_gating with w from the EMA variance (Eq. 17, 18)
// With config.model.target = "residual" the experts diffuse x0 = s (z0 - condition latent) instead of z0:
// Eq. 5, 7, 8 act on x0; Eq. 10-12 compare z0 with the estimate mapped back to a latent; Eq. 14-16 see
// the x0 estimates (the shared condition latent would otherwise make every pair of estimates alike).
// During the uniform warm-up the experts and Eq. 13 see 1/K, while the gating network still learns
// from Eq. 16 (its targets G* come from the experts' estimates) — our reading of "the gating
// probabilities were fixed to a uniform distribution". The usage EMA c (Eq. 4) is updated with the
// weights actually used, in training only.
import * as T from "../../torch/index.js";
import { diffusionLoss } from "../../losses/diffusion.js";
import { taskLossE1, type FeatureExtractor } from "../../losses/task_e1.js";
import { taskLossE2 } from "../../losses/task_e2.js";
import { taskLossE3 } from "../../losses/task_e3.js";
import { expertLoss } from "../../losses/expert_loss.js";
import { gatingLoss } from "../../losses/gating_loss.js";
import { totalLoss, type TotalLossResult } from "../../losses/total.js";
import type { UncertaintyWeight } from "../../losses/uncertainty_weight.js";
import type { MoEDiffLossConfig } from "./config.js";
import type { MoEDiffSR } from "./moediff.js";

type Tensor = T.Tensor;

export interface MoELatents {
  /** z0 = scaled latent of [x, g, b] from the frozen encoder [B, C, h, w]. */
  z0: Tensor;
  /** The 3T slice's latent through the same frozen encoder [B, C, h, w]. */
  condLatent: Tensor;
  /** The 3T condition slice y [B, 3, H, W] (the slice and its two neighbours). */
  y: Tensor;
}

export interface MoELossOptions {
  uniformGating: boolean;
  generator?: T.Generator;
  phi: FeatureExtractor;
  losses: MoEDiffLossConfig;
  weighting: UncertaintyWeight | number;
  training: boolean;
}

export interface MoELossResult extends TotalLossResult {
  /** Batch mean of the gating network's own probabilities (before any warm-up override), [K]. */
  routedMean: number[];
  /** The usage EMA c after this step, [K]. */
  usage: number[];
  /** Formulation "resshift": the mixture's own loss |sum_i G_i x0_hat(i) - x0|^2 (shift_losses.ts). */
  mix?: number;
  /** Formulation "resshift" with losses.routingBalance > 0: L_route (routing_balance.ts), unweighted. */
  balance?: number;
}

export function moeTrainingLosses(model: MoEDiffSR, lat: MoELatents, o: MoELossOptions): MoELossResult {
  const { z0, condLatent, y } = lat;
  if (z0.ndim !== 4 || z0.size(1) !== model.latentChannels) {
    throw new RangeError(`moeTrainingLosses: z0 must be [B, ${model.latentChannels}, h, w], got [${z0.shape.join(", ")}]`);
  }
  if (condLatent.shape.join(",") !== z0.shape.join(",")) {
    throw new RangeError(`moeTrainingLosses: the condition latent [${condLatent.shape.join(", ")}] must match z0 [${z0.shape.join(", ")}]`);
  }
  const b = z0.size(0);
  const size: [number, number] = [z0.size(2), z0.size(3)];
  const k = model.numExperts;
  const clip = o.losses.z0HatClip;
  // 1. condition tokens and routing (Eq. 1-4)
  const { zc, grids } = model.encodeCondition(y);
  const route = model.route(zc, grids);
  const gates = model.usedGates(route, size, o.uniformGating);
  // 2. every expert on its own schedule
  const diffusion: Tensor[] = [];
  const task: Tensor[] = [];
  const x0Hats: Tensor[] = [];
  const x0 = model.toTarget(z0, condLatent); // z0, or the scaled residual (config.model.target)
  model.experts.forEach((expert, i) => {
    const schedule = model.schedules[i]!;
    const t = schedule.sampleTimesteps(b, { ...(o.generator === undefined ? {} : { generator: o.generator }), device: z0.device });
    const eps = T.randn(z0.shape, { dtype: z0.dtype, device: z0.device, ...(o.generator === undefined ? {} : { generator: o.generator }) });
    const zt = schedule.addNoise(x0, eps, t); // Eq. 5
    const epsHat = expert.forward({ zt, t, cond: condLatent, tokens: zc, gate: model.gateMap(gates, i, size) });
    diffusion.push(diffusionLoss(epsHat, eps, { perSample: true })); // Eq. 7
    const raw = schedule.predictZ0(zt, t, epsHat); // Eq. 8
    const x0Hat = clip > 0 ? raw.clamp(-clip, clip) : raw;
    x0Hats.push(x0Hat);
    const z0Hat = model.fromTarget(x0Hat, condLatent);
    let taskLoss: Tensor;
    switch (model.kinds[i]) {
      case 1:
        taskLoss = taskLossE1(z0, z0Hat, o.phi, { perSample: true }).loss; // Eq. 10
        break;
      case 2:
        taskLoss = taskLossE2(z0, z0Hat, { fourier: o.losses.fourier, perSample: true }).loss; // Eq. 11
        break;
      case 3:
        taskLoss = taskLossE3(z0, z0Hat, { mode: o.losses.stft, perSample: true }).loss; // Eq. 12
        break;
      default:
        throw new Error(`moeTrainingLosses: unknown expert kind ${String(model.kinds[i])}`);
    }
    if (o.losses.taskWeighting === "alphaBar") {
      const ab = (t.toArray() as number[]).map((ti) => schedule.alphaBar(ti));
      taskLoss = taskLoss.mul(T.tensor(ab, [b], { dtype: taskLoss.dtype, device: taskLoss.device }));
    }
    task.push(taskLoss);
  });
  // 3. Eq. 6 and 13
  const expert = expertLoss({ diffusion, task, gates }, { detachGateInExpertLoss: o.losses.detachGateInExpertLoss });
  // 4. Eq. 14-16, on the network's own probabilities (spatial maps upsampled to the latent grid)
  let gating = null;
  if (k > 1) {
    const probs = route.maps === undefined ? route.weights : o.uniformGating ? model.usedGates(route, size, false) : gates;
    gating = gatingLoss({ z0Hats: x0Hats, z0: x0, gates: probs }, { diversity: o.losses.diversity, diversityFloor: o.losses.diversityFloor, temperatureFloor: o.losses.temperatureFloor });
  }
  // 5. Eq. 17-18
  const result = totalLoss({ expert, gating, weighting: o.weighting, training: o.training });
  if (o.training) model.gating.updateUsage(gates.detach());
  const routedMean = T.tidy(() => route.weights.detach().mean(0).toArray() as number[]);
  const usage = T.tidy(() => model.gating.usage.toArray() as number[]);
  return { ...result, routedMean, usage };
}
