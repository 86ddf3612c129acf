// `moediff-sr model-info --model DIR`: parameters and FLOPs of one forward pass of
// each component (VQ encoder, condition encoder, gating, each expert, VQ decoder)
// at the model's slice size, and the FLOPs of one full enhancement in joint and
// asynchronous mode. FLOPs are counted from the layers that run (src/torch/flops.ts,
// src/models/accounting.ts), not estimated.
//
// Defaults: the slice size and the slice count of the card's reference volume
// (card.json); DDIM with 50 steps; asynchronous steps per expert
// max(1, round(steps T_i / max_j T_j)) as the sampler takes them; one tile per slice.
import type { Command } from "commander";
import * as T from "../../torch/index.js";
import { componentFlops, enhancementFlops, expertTimesteps, type ComponentCost, type EnhancementFlops } from "../../models/accounting.js";
import { asyncStepCounts } from "../../diffusion/async_steps.js";
import type { MoEDiffSR } from "../../models/moediff/moediff.js";
import type { VQVAE } from "../../models/vqvae/index.js";
import { loadModelDir } from "../../model_dir/load.js";
import { positiveInt } from "../option_parsers.js";
import { parseDeviceOption } from "../device_option.js";

/** The counting convention, printed with every table. */
export const FLOP_CONVENTION =
  "FLOPs = 2 x MACs of convolutions, linear layers and matrix products (incl. attention), counted from the layers that run " +
  "(batch 1); elementwise ops, norms, activations and softmax are not counted (their output elements are shown separately).";

export interface ModelInfoOptions {
  height: number;
  width: number;
  /** DDIM steps of the joint chain. */
  steps: number;
  /** Steps per expert in asynchronous mode; default asyncStepCounts(steps, T_i). */
  asyncSteps?: readonly number[];
  /** Slices of the enhanced volume; null: figures per slice. */
  slices: number | null;
  tilesPerSlice: number;
  device?: T.Device;
}

export interface ModelInfo {
  slice: { height: number; width: number };
  latent: { height: number; width: number; channels: number };
  components: ComponentCost[];
  parameters: number;
  enhancement: EnhancementFlops & {
    slices: number | null;
    tilesPerSlice: number;
    tiles: number;
    sampler: "ddim";
    steps: number;
    asyncSteps: Record<string, number>;
  };
  convention: string;
}

/** Counts the components and the enhancement totals of a model and its autoencoder. */
export function modelInfo(parts: { model: MoEDiffSR; vqvae: VQVAE }, o: ModelInfoOptions): ModelInfo {
  const { model, vqvae } = parts;
  const components = componentFlops(parts, { height: o.height, width: o.width, ...(o.device === undefined ? {} : { device: o.device }) });
  const asyncSteps = o.asyncSteps ?? asyncStepCounts(o.steps, expertTimesteps(model));
  if (asyncSteps.length !== model.numExperts) {
    throw new RangeError(`--async-steps needs one count per expert (${model.kinds.map((k) => `E${k}`).join(", ")}), got [${asyncSteps.join(", ")}]`);
  }
  const tiles = (o.slices ?? 1) * o.tilesPerSlice;
  const totals = enhancementFlops(components, { tiles, jointSteps: o.steps, asyncSteps });
  const f = vqvae.downsampleFactor;
  return {
    slice: { height: o.height, width: o.width },
    latent: { height: o.height / f, width: o.width / f, channels: model.latentChannels },
    components,
    parameters: components.reduce((a, c) => a + c.parameters, 0),
    enhancement: {
      ...totals,
      slices: o.slices,
      tilesPerSlice: o.tilesPerSlice,
      tiles,
      sampler: "ddim",
      steps: o.steps,
      asyncSteps: Object.fromEntries(model.kinds.map((k, i) => [`E${k}`, asyncSteps[i] as number])),
    },
    convention: FLOP_CONVENTION,
  };
}

const thousands = (n: number): string => Math.round(n).toLocaleString("en-US");
const giga = (n: number): string => (n / 1e9).toFixed(n < 1e7 ? 4 : 3);

/** The human-readable report. */
export function formatModelInfo(info: ModelInfo, title: string): string {
  const rows = info.components.map((c) => [c.name, thousands(c.parameters), giga(c.flops), (c.otherElements / 1e6).toFixed(2)]);
  const header = ["component", "parameters", "GFLOPs/forward", "other Melem"];
  const all = [header, ...rows, ["total", thousands(info.parameters), "", ""]];
  const widths = header.map((_, j) => Math.max(...all.map((r) => (r[j] as string).length)));
  const line = (r: string[]): string => r.map((c, j) => (j === 0 ? c.padEnd(widths[j] as number) : c.padStart(widths[j] as number))).join("  ");
  const e = info.enhancement;
  const scope = e.slices === null ? `per slice (${e.tilesPerSlice} tile(s))` : `${e.slices} slices x ${e.tilesPerSlice} tile(s) = ${e.tiles} tiles`;
  const steps = Object.entries(e.asyncSteps)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return [
    `${title}: slice ${info.slice.height}x${info.slice.width}, latent ${info.latent.channels}x${info.latent.height}x${info.latent.width}`,
    "",
    line(header),
    ...rows.map(line),
    line(all[all.length - 1] as string[]),
    "",
    `One enhancement, ${scope}; DDIM ${e.steps} steps (asynchronous: ${steps}):`,
    `  joint          ${giga(e.joint)} GFLOPs`,
    `  asynchronous   ${giga(e.async)} GFLOPs`,
    `  saved          ${(100 * e.saved).toFixed(1)} %`,
    "",
    info.convention,
  ].join("\n");
}

/** "13,50,25" -> [13, 50, 25] (integers >= 0; 0 skips the expert). */
export function parseStepList(v: string): number[] {
  const parts = v.split(",").map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new Error(`--async-steps expects comma-separated integers >= 0 (one per expert), got '${v}'`);
  return parts.map(Number);
}

interface CliOptions {
  model: string;
  height?: number;
  width?: number;
  steps: number;
  asyncSteps?: number[];
  slices?: number;
  tilesPerSlice: number;
  json?: boolean;
  device: string;
}

export function registerModelInfo(program: Command): void {
  program
    .command("model-info")
    .description("parameters and FLOPs per forward pass of each component, and of one enhancement in joint and asynchronous mode")
    .requiredOption("--model <dir>", "a trained model directory (moediff-sr train)")
    .option("--height <n>", "slice height (default: the model's slice size)", positiveInt("height"))
    .option("--width <n>", "slice width (default: the model's slice size)", positiveInt("width"))
    .option("--steps <n>", "DDIM steps of the joint chain", positiveInt("steps"), 50)
    .option("--async-steps <list>", "steps per expert in asynchronous mode, e.g. 13,50,25 (0 = skipped)", parseStepList)
    .option("--slices <n>", "slices of the enhanced volume (default: the card's reference volume)", positiveInt("slices"))
    .option("--tiles-per-slice <n>", "tiles per slice", positiveInt("tiles-per-slice"), 1)
    .option("--json", "print JSON")
    .option("--device <device>", "cpu, cuda or cuda:N", parseDeviceOption, "cpu")
    .action((opts: CliOptions) => {
      const device = opts.device as T.Device;
      const loaded = loadModelDir(opts.model, { device });
      try {
        const card = loaded.card as { slice: { height: number; width: number }; reference?: { slices?: number } };
        const info = modelInfo(loaded, {
          height: opts.height ?? card.slice.height,
          width: opts.width ?? card.slice.width,
          steps: opts.steps,
          ...(opts.asyncSteps === undefined ? {} : { asyncSteps: opts.asyncSteps }),
          slices: opts.slices ?? card.reference?.slices ?? null,
          tilesPerSlice: opts.tilesPerSlice,
          device,
        });
        console.log(opts.json === true ? JSON.stringify({ model: opts.model, device, ...info }) : formatModelInfo(info, `model-info ${opts.model}`));
      } finally {
        loaded.dispose();
      }
    });
}
