// MoEDiff-SR (paper Fig. 2): the condition encoder E2 (multi-scale patch embedding + Swin) turns the
// 3T slice y into tokens z_c; the gating network G weighs K experts; each expert is a conditional
// latent denoiser with its own noise schedule. The autoencoder (E1, D) is separate and frozen
// (src/models/vqvae/); this module works on its latents.
//
// State-dict keys: condition_encoder.*, gating.*, experts.<i>.* (i in the order of config.experts).
import * as T from "../../torch/index.js";
import { ConditionEncoder } from "../condition/swin.js";
import { GatingNetwork, upsampleGateMaps, type GatingOutput } from "../gating.js";
import { createExpert, type Expert, type ExpertKind } from "../experts/index.js";
import { NoiseSchedule } from "../../diffusion/noise_schedules.js";
import { ShiftSchedule } from "../../diffusion/shift_schedule.js";
import type { MoEDiffModelConfig } from "./config.js";

type Tensor = T.Tensor;

export class MoEDiffSR extends T.nn.Module {
  readonly config: MoEDiffModelConfig;
  readonly kinds: readonly ExpertKind[];
  readonly conditionEncoder: ConditionEncoder;
  readonly gating: GatingNetwork;
  readonly experts: readonly Expert[];
  /** One noise schedule per expert, in the order of `kinds` (T from config.timesteps[kind - 1]). */
  readonly schedules: readonly NoiseSchedule[];
  /** One residual-shifting chain per expert (formulation "resshift"; length from config.shift.timesteps[kind - 1]). */
  readonly shiftSchedules: readonly ShiftSchedule[];

  /**
   * @param latentChannels C of the autoencoder's latent (z0 and the condition latent).
   * @param conditionChannels channels of the condition slice y (3: the slice and its two neighbours).
   */
  constructor(
    config: MoEDiffModelConfig,
    readonly latentChannels: number,
    readonly conditionChannels = 3,
    options: T.nn.LayerOptions = {},
  ) {
    super();
    this.config = structuredClone(config);
    this.kinds = config.experts.map((k) => k as ExpertKind);
    const c = config.condition;
    this.conditionEncoder = this.registerModule(
      "condition_encoder",
      new ConditionEncoder(
        {
          inChannels: conditionChannels,
          dim: c.dim,
          patchSizes: [...c.patchSizes],
          depth: c.depth,
          numHeads: c.numHeads,
          windowSize: c.windowSize,
          mlpRatio: c.mlpRatio,
          globalDepth: c.globalDepth,
          absolutePosition: c.absolutePosition,
        },
        options,
      ),
    );
    const g = config.gating;
    this.gating = this.registerModule(
      "gating",
      new GatingNetwork(
        { dim: c.dim, numExperts: this.kinds.length, gamma: g.gamma, usageDecay: g.usageDecay, mode: g.mode, hidden: g.hidden, temperature: g.temperature },
        options,
      ),
    );
    const list = this.registerModule("experts", new T.nn.ModuleList());
    this.experts = this.kinds.map((kind) => {
      const e = createExpert(
        kind,
        {
          latentChannels,
          condChannels: latentChannels,
          baseChannels: config.expert.baseChannels,
          tokenDim: c.dim,
          timeEmbedDim: config.expert.timeEmbedDim,
          numHeads: config.expert.numHeads,
        },
        options,
      );
      list.push(e);
      return e;
    });
    this.schedules = this.kinds.map((kind) => new NoiseSchedule({ numTimesteps: config.timesteps[kind - 1]!, kind: config.schedule }));
    const sh = config.shift;
    this.shiftSchedules = this.kinds.map((kind) => new ShiftSchedule({ numTimesteps: sh.timesteps[kind - 1]!, kappa: sh.kappa, etaMin: sh.etaMin, etaMax: sh.etaMax, power: sh.power }));
  }

  get formulation(): "paper" | "resshift" {
    return this.config.formulation;
  }

  get numExperts(): number {
    return this.kinds.length;
  }

  /** z_c = E2(y) (Eq. 1). */
  encodeCondition(y: Tensor): { zc: Tensor; grids: [number, number][] } {
    return this.conditionEncoder.forward(y);
  }

  /** The gating network's output (Eq. 2-4) without touching the usage EMA. */
  route(zc: Tensor, grids: [number, number][]): GatingOutput {
    return this.gating.forward(zc, { grids, updateUsage: false });
  }

  /**
   * The weights that enter Eq. 9 and Eq. 13 and the experts' inputs: [B, K] (global) or [B, K, h, w]
   * (spatial, upsampled to the latent grid); uniform 1/K during the warm-up.
   */
  usedGates(route: GatingOutput, latentSize: readonly [number, number], uniform: boolean): Tensor {
    const [b, k] = route.weights.shape as [number, number];
    if (uniform) return T.full([b, k], 1 / k, { dtype: route.weights.dtype, device: route.weights.device });
    if (route.maps !== undefined) return upsampleGateMaps(route.maps, latentSize);
    return route.weights.clone();
  }

  /** Expert i's gate as an input map [B, 1, h, w] (detached: the gate learns from Eq. 16). */
  gateMap(gates: Tensor, i: number, latentSize: readonly [number, number]): Tensor {
    return T.tidy(() => {
      const [h, w] = latentSize;
      if (gates.ndim === 4) return gates.narrow(1, i, 1).detach().contiguous();
      const b = gates.size(0);
      return gates.narrow(1, i, 1).detach().reshape(b, 1, 1, 1).expand(b, 1, h, w).contiguous();
    });
  }

  /**
   * The experts' diffusion target x0 for a clean latent z0 (config.model.target): z0 itself, or
   * residualScale * (z0 - condLatent). Throws if a residual model's scale was never set.
   */
  toTarget(z0: Tensor, condLatent: Tensor): Tensor {
    if (this.config.target === "latent") return z0.clone();
    const s = this.residualScale();
    return T.tidy(() => z0.sub(condLatent).mul(s));
  }

  /** The clean latent z0 for a diffusion target x0 (the inverse of toTarget). */
  fromTarget(x0: Tensor, condLatent: Tensor): Tensor {
    if (this.config.target === "latent") return x0.clone();
    const s = this.residualScale();
    return T.tidy(() => condLatent.add(x0.div(s)));
  }

  private residualScale(): number {
    const s = this.config.residualScale;
    if (!(s > 0)) throw new RangeError("MoEDiffSR: model.target is 'residual' but model.residualScale is 0 (training sets it; was this config written by `moediff-sr train`?)");
    return s;
  }

  /** Parameter counts per component, for the CLI and the closing notes. */
  parameterCounts(): Record<string, number> {
    const out: Record<string, number> = {
      condition_encoder: this.conditionEncoder.numParameters(),
      gating: this.gating.numParameters(),
    };
    this.experts.forEach((e, i) => {
      out[`expert_E${this.kinds[i]}`] = e.numParameters();
    });
    out.total = this.numParameters();
    return out;
  }
}
