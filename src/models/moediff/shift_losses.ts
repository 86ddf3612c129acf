// One joint-training evaluation of MoEDiff-SR in the "resshift" formulation (config.model.formulation;
// SPEC 4 "Decided in turn 2"). The sequence, with the paper's equations where they still apply:
//   1. z_c = E2(y) (Eq. 1); the gating network's per-token probabilities (Eq. 2-4, spatial) or
//      per-sample weights (global); the weights used are uniform during the warm-up
//   2. ONE level and ONE noise draw per sample, shared by every expert: u drawn from the finest chain's
//      levels, x_t = (1 - eta(u)) x0 + kappa sqrt(eta(u)) eps on the residual target x0 (the chain's
//      Eq. 5; shift_schedule.ts); each expert sees x_t with its own time label and predicts x0
//      (preconditioned: x0_hat = c_skip x_t + c_out F, shift_schedule.ts)
//   3. L_E (Eq. 6, 13 per pixel): sum_i G_i(p) |x0_hat(i)(p) - x0(p)|^2 averaged over pixels (the Eq. 7
//      term, on x0), plus each expert's own task loss (Eq. 10 / 11 / 12 on the latents) weighted by its
//      mean gate per sample; G detached here (the gate learns from 4 and 5), and floored by
//      losses.expertFloor f: (1 - f) G_i + f / K
//   4. L_gating per token (Eq. 14-16; token_gating_loss.ts) from the shared-level estimates
//   5. L_mix: |sum_i G_i x0_hat(i) - x0|^2 (Eq. 9 in a loss), G the network's own probabilities with
//      gradient, the estimates detached: the gate learns what the mixture needs
//   6. L_route (routing_balance.ts), weighted by losses.routingBalance: confident per-token routing
//      with even expert shares of the head's tokens (foreground-weighted), so the gate cannot give
//      every token the same weights
//   7. L_total = L_E + L_mix + b L_route + w L_gating (Eq. 17-18; L_mix and L_route are reported on
//      their own and enter with L_E)
// Time labels: every expert gets round(1000 u) (the same level for everyone, on the scale the sinusoidal
// embedding was made for); an expert's own chain length decides the levels it is sampled at.
import * as T from "../../torch/index.js";
import { taskLossE1 } from "../../losses/task_e1.js";
import { taskLossE2 } from "../../losses/task_e2.js";
import { taskLossE3 } from "../../losses/task_e3.js";
import { gatingLoss } from "../../losses/gating_loss.js";
import { tokenGatingLoss } from "../../losses/token_gating_loss.js";
import { totalLoss } from "../../losses/total.js";
import { foregroundWeights, routingBalanceLoss } from "../../losses/routing_balance.js";
import type { ExpertLossResult } from "../../losses/expert_loss.js";
import type { MoELatents, MoELossOptions, MoELossResult } from "./training_losses.js";
import type { MoEDiffSR } from "./moediff.js";
import type { ShiftSchedule } from "../../diffusion/shift_schedule.js";

type Tensor = T.Tensor;

/** The chain with the most levels (the finest grid; the first on ties). */
export function finestShiftSchedule(schedules: readonly ShiftSchedule[]): ShiftSchedule {
  return schedules.reduce((a, s) => (s.numTimesteps > a.numTimesteps ? s : a), schedules[0] as ShiftSchedule);
}

/** The time label an expert sees at fraction u of the chain (shared by all experts). */
export const shiftTimeLabel = (u: number): number => Math.round(1000 * u);

/** Gates [B, K] or [B, K, h, w] as [B, K, h|1, w|1] for per-pixel weighting. */
const asMaps = (g: Tensor): Tensor => (g.ndim === 4 ? g : g.unsqueeze(-1).unsqueeze(-1));

export function moeShiftLosses(model: MoEDiffSR, lat: MoELatents, o: MoELossOptions): MoELossResult {
  const { z0, condLatent, y } = lat;
  if (z0.ndim !== 4 || z0.size(1) !== model.latentChannels) {
    throw new RangeError(`moeShiftLosses: z0 must be [B, ${model.latentChannels}, h, w], got [${z0.shape.join(", ")}]`);
  }
  if (condLatent.shape.join(",") !== z0.shape.join(",")) {
    throw new RangeError(`moeShiftLosses: the condition latent [${condLatent.shape.join(", ")}] must match z0 [${z0.shape.join(", ")}]`);
  }
  const b = z0.size(0);
  const size: [number, number] = [z0.size(2), z0.size(3)];
  const k = model.numExperts;
  const gen = o.generator === undefined ? {} : { generator: o.generator };
  // 1. condition tokens and routing
  const { zc, grids } = model.encodeCondition(y);
  // losses.detachGatingInput: the gate's losses stop at the tokens and leave the encoder to the experts
  const route = model.route(o.losses.detachGatingInput ? zc.detach() : zc, grids);
  const gates = model.usedGates(route, size, o.uniformGating);
  const own = model.usedGates(route, size, false); // the network's own probabilities, with gradient
  // 2. one level and one draw per sample
  const x0 = model.toTarget(z0, condLatent);
  const finest = finestShiftSchedule(model.shiftSchedules);
  const levels = finest.sampleTimesteps(b, { ...gen, device: z0.device }).toArray() as number[];
  const u = levels.map((t) => t / (finest.numTimesteps - 1));
  const eps = T.randn(z0.shape, { dtype: z0.dtype, device: z0.device, ...gen });
  const xt = finest.addNoise(x0, eps, levels);
  const labels = T.tensor(u.map(shiftTimeLabel), [b], { dtype: "int64", device: z0.device });
  const x0Hats = model.experts.map((expert, i) => finest.precondition(xt, expert.forward({ zt: xt, t: labels, cond: condLatent, tokens: zc, gate: model.gateMap(gates, i, size) }), levels));
  // 3. Eq. 13 per pixel on the x0 error, plus the task losses per sample
  const err = T.cat(x0Hats.map((xh) => xh.sub(x0).square().mean(1, true)), 1); // [B, K, h, w]
  // expertFloor f: each expert's weight (1 - f) G_i(p) + f / K (config.ts)
  const floor = o.losses.expertFloor;
  const used = floor > 0 ? asMaps(gates).detach().mul(1 - floor).add(floor / k) : asMaps(gates).detach();
  const gatedErr = err.mul(used).sum(1).mean([1, 2]); // [B]
  const perSampleGate = used.mean([2, 3]); // [B, K]
  const task = x0Hats.map((xh, i) => {
    const z0Hat = model.fromTarget(xh, condLatent);
    switch (model.kinds[i]) {
      case 1:
        return taskLossE1(z0, z0Hat, o.phi, { perSample: true }).loss; // Eq. 10
      case 2:
        return taskLossE2(z0, z0Hat, { fourier: o.losses.fourier, perSample: true }).loss; // Eq. 11
      case 3:
        return taskLossE3(z0, z0Hat, { mode: o.losses.stft, perSample: true }).loss; // Eq. 12
      default:
        throw new Error(`moeShiftLosses: unknown expert kind ${String(model.kinds[i])}`);
    }
  });
  const taskStack = T.stack(task, 1); // [B, K]
  const diffPerExpert = err.mean([2, 3]); // [B, K]
  // 5. the mixture's own loss: trains the gate
  const mixMap = T.stack(x0Hats.map((xh) => xh.detach()), 1).mul(asMaps(own).unsqueeze(2)).sum(1); // [B, C, h, w]
  const mix = mixMap.sub(x0).square().mean();
  // 6. routing information, on the network's own probabilities
  const balanceWeight = k > 1 ? o.losses.routingBalance : 0;
  const balance =
    balanceWeight > 0
      ? route.maps !== undefined
        ? routingBalanceLoss(route.maps, foregroundWeights(y, [route.maps.size(2), route.maps.size(3)]))
        : routingBalanceLoss(route.weights, foregroundWeights(y, [1, 1]).reshape(-1))
      : null;
  let lE = gatedErr.add(perSampleGate.mul(taskStack).sum(1)).mean().add(mix);
  if (balance !== null) lE = lE.add(balance.mul(balanceWeight));
  const expert: ExpertLossResult = {
    loss: lE,
    perExpert: diffPerExpert.add(taskStack).detach().mean(0),
    diffusion: diffPerExpert.detach().mean(0),
    task: taskStack.detach().mean(0),
    weights: perSampleGate,
  };
  // 4. Eq. 14-16 at the shared level: per token (spatial), per sample (global)
  let gating = null;
  if (k > 1) {
    const lossOptions = { diversity: o.losses.diversity, diversityFloor: o.losses.diversityFloor, temperatureFloor: o.losses.temperatureFloor };
    gating =
      route.maps !== undefined
        ? tokenGatingLoss({ x0Hats, x0, probs: route.maps }, lossOptions)
        : gatingLoss({ z0Hats: x0Hats, z0: x0, gates: route.weights }, lossOptions);
  }
  // 7. Eq. 17-18
  const result = totalLoss({ expert, gating, weighting: o.weighting, training: o.training });
  if (o.training) model.gating.updateUsage(gates.detach());
  const routedMean = T.tidy(() => route.weights.detach().mean(0).toArray() as number[]);
  const usage = T.tidy(() => model.gating.usage.toArray() as number[]);
  const mixValue = mix.item();
  const balanceValue = balance === null ? undefined : balance.item();
  return { ...result, routedMean, usage, mix: mixValue, ...(balanceValue === undefined ? {} : { balance: balanceValue }) };
}
