// Model accounting: parameters and FLOPs per forward pass of each component of
// MoEDiff-SR, counted from the layers that actually run (T.flops.countFlops: one
// real forward pass per component, batch 1, random inputs, no-grad, eval mode),
// and the FLOPs of one full enhancement in joint and asynchronous mode.
//
// Components (one forward pass each, at an H x W slice, latent h x w = H/f x W/f):
//   vq_encoder         the condition slice through the VQ encoder and quantiser (encodeLatent)
//   condition_encoder  z_c = E2(y) (Eq. 1): multi-scale patch embedding + Swin
//   gating             the gating weights (Eq. 2-4) and, in spatial mode, their upsampling to h x w
//   expert_E<k>        one denoiser evaluation of expert k
//   vq_decoder         decodeLatent of one latent
// An enhancement, per tile (design decision: what is counted once and what per step):
//   vq_encoder + condition_encoder + gating once, each expert once per sampling step,
//   vq_decoder once (with `explain`, once more per expert that ran, for its own image).
// The sampler's own arithmetic (Eq. 8, Eq. 9, the DDIM/DDPM update) is elementwise and not counted.
import * as T from "../torch/index.js";
import type { MoEDiffSR } from "./moediff/moediff.js";
import type { VQVAE } from "./vqvae/index.js";

export interface ComponentCost {
  name: string;
  parameters: number;
  /** Multiply-accumulates of one forward pass (batch 1). */
  macs: number;
  /** 2 x macs. */
  flops: number;
  byOp: Record<string, T.flops.OpCount>;
  /** Output elements of the ops not counted as MACs (norms, activations, elementwise), for information. */
  otherElements: number;
}

export interface ComponentFlopsOptions {
  /** Slice height and width in voxels (the model's slice size). */
  height: number;
  width: number;
  /** Where the inputs are made; default: the device of the model's parameters. */
  device?: T.Device;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** The slice sizes must be multiples of this: the condition encoder's patch sizes and 4 latent cells (two stride-2 levels in every expert). */
export function sliceMultiple(parts: { model: MoEDiffSR; vqvae: VQVAE }): number {
  const a = parts.model.conditionEncoder.patchEmbed.multiple;
  const b = 4 * parts.vqvae.downsampleFactor;
  return (a * b) / gcd(a, b);
}

/** T_i of each expert of the model, in expert order (config.timesteps[kind - 1]). */
export function expertTimesteps(model: MoEDiffSR): number[] {
  return model.kinds.map((k) => model.config.timesteps[k - 1] as number);
}

function cost(name: string, parameters: number, report: T.flops.FlopReport): ComponentCost {
  return { name, parameters, macs: report.macs, flops: report.flops, byOp: report.byOp, otherElements: report.otherElements };
}

/**
 * Counts each component's parameters and FLOPs of one forward pass (batch 1) at an
 * H x W slice. Runs every component once on random inputs; the counts do not
 * depend on the weights. Both networks are put in eval mode for the count and
 * their modes are restored afterwards.
 */
export function componentFlops(parts: { model: MoEDiffSR; vqvae: VQVAE }, o: ComponentFlopsOptions): ComponentCost[] {
  const { model, vqvae } = parts;
  const { height, width } = o;
  const multiple = sliceMultiple(parts);
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1 || height % multiple !== 0 || width % multiple !== 0) {
    throw new RangeError(
      `componentFlops: height and width must be positive multiples of ${multiple} (the condition encoder's patch sizes ` +
        `${model.conditionEncoder.patchEmbed.patchSizes.join(", ")} and 4 latent cells of the autoencoder's factor ${vqvae.downsampleFactor}), got ${height}x${width}`,
    );
  }
  if (model.latentChannels !== vqvae.config.embedDim) {
    throw new RangeError(`componentFlops: the model works on ${model.latentChannels}-channel latents but the autoencoder makes ${vqvae.config.embedDim}-channel ones; they were not trained together`);
  }
  const first = model.parameters()[0];
  if (first === undefined) throw new RangeError("componentFlops: the model has no parameters");
  const opts = { dtype: first.dtype, device: o.device ?? first.device };
  const h = height / vqvae.downsampleFactor;
  const w = width / vqvae.downsampleFactor;
  const modules = [...model.modules(), ...vqvae.modules()];
  const modes = modules.map((m) => m.training);
  model.eval();
  vqvae.eval();
  const generator = new T.Generator({ seed: 0, device: opts.device });
  try {
    return T.noGrad(() =>
      T.tidy(() => {
        const out: ComponentCost[] = [];
        const x = T.randn([1, vqvae.config.inChannels, height, width], { ...opts, generator });
        const enc = T.flops.countFlops(() => vqvae.encodeLatent(x));
        out.push(cost("vq_encoder", vqvae.encoder.numParameters() + vqvae.quantize.numParameters(), enc.report));
        const y = T.randn([1, model.conditionChannels, height, width], { ...opts, generator });
        const cond = T.flops.countFlops(() => model.encodeCondition(y));
        out.push(cost("condition_encoder", model.conditionEncoder.numParameters(), cond.report));
        const { zc, grids } = cond.result;
        const gating = T.flops.countFlops(() => model.usedGates(model.route(zc, grids), [h, w], false));
        out.push(cost("gating", model.gating.numParameters(), gating.report));
        const timesteps = expertTimesteps(model);
        model.experts.forEach((expert, i) => {
          const zt = T.randn([1, model.latentChannels, h, w], { ...opts, generator });
          const t = T.full([1], (timesteps[i] as number) - 1, { dtype: "int64", device: opts.device });
          const gate = model.gateMap(gating.result, i, [h, w]);
          const r = T.flops.countFlops(() => expert.forward({ zt, t, cond: enc.result, tokens: zc, gate }));
          out.push(cost(`expert_E${model.kinds[i]}`, expert.numParameters(), r.report));
        });
        const z = T.randn([1, model.latentChannels, h, w], { ...opts, generator });
        const dec = T.flops.countFlops(() => vqvae.decodeLatent(z, { lr: y })); // y: an LR-conditioned decoder reads the condition
        out.push(cost("vq_decoder", vqvae.decoder.numParameters(), dec.report));
        return out;
      }),
    );
  } finally {
    generator.dispose();
    modules.forEach((m, i) => {
      m.training = modes[i] as boolean;
    });
  }
}

export interface EnhancementOptions {
  /** Tiles (slices x tiles per slice) in the enhancement. */
  tiles: number;
  /** Sampling steps of every expert in joint mode. */
  jointSteps: number;
  /** Sampling steps of each expert in asynchronous mode, in the order of the expert costs; 0 = skipped. */
  asyncSteps: readonly number[];
  /** Also decode each expert's own estimate (enhance --explain). */
  explain?: boolean;
}

export interface EnhancementFlops {
  joint: number;
  async: number;
  /** 1 - async / joint. */
  saved: number;
}

/** FLOPs of one enhancement of `tiles` tiles in joint and asynchronous mode, from componentFlops' costs. */
export function enhancementFlops(costs: readonly ComponentCost[], o: EnhancementOptions): EnhancementFlops {
  const get = (name: string): number => {
    const c = costs.find((x) => x.name === name);
    if (c === undefined) throw new RangeError(`enhancementFlops: no '${name}' among the costs (${costs.map((x) => x.name).join(", ")})`);
    return c.flops;
  };
  const experts = costs.filter((c) => c.name.startsWith("expert_"));
  if (experts.length === 0) throw new RangeError("enhancementFlops: the costs hold no expert");
  if (!(Number.isInteger(o.tiles) && o.tiles >= 1)) throw new RangeError(`enhancementFlops: tiles must be a positive integer, got ${o.tiles}`);
  if (!(Number.isInteger(o.jointSteps) && o.jointSteps >= 1)) throw new RangeError(`enhancementFlops: jointSteps must be a positive integer, got ${o.jointSteps}`);
  if (o.asyncSteps.length !== experts.length || o.asyncSteps.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new RangeError(
      `enhancementFlops: asyncSteps must hold one integer >= 0 per expert (${experts.map((e) => e.name).join(", ")}), got [${o.asyncSteps.join(", ")}]`,
    );
  }
  const decoder = get("vq_decoder");
  const once = get("vq_encoder") + get("condition_encoder") + get("gating") + decoder;
  const explained = (steps: readonly number[]): number => (o.explain === true ? steps.filter((n) => n > 0).length * decoder : 0);
  const perTile = (steps: readonly number[]): number => once + experts.reduce((a, e, i) => a + e.flops * (steps[i] as number), 0) + explained(steps);
  const jointSteps = experts.map(() => o.jointSteps);
  const joint = o.tiles * perTile(jointSteps);
  const async = o.tiles * perTile(o.asyncSteps);
  return { joint, async, saved: 1 - async / joint };
}
