// The files `enhance --explain DIR` writes (and the viewer's enhance jobs and the demo): each expert's own
// estimate (expert_E<k>.nii.gz), its gate weights (gate_E<k>.nii.gz), and explain.json saying how they
// were made, read by `moediff-sr figures` and `moediff-sr view`. Every file is written atomically.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeNifti } from "../nifti/index.js";
import type { Axis } from "../data/slicing.js";
import type { Volume } from "../volume/volume.js";
import { writeFileAtomic } from "../util/atomic_write.js";
import type { EnhanceResult } from "./enhance.js";
import type { EnhanceSettings, MoEDiffSRPipeline } from "./pipeline.js";

/** How the explain volumes were made (explain.json, less its format, version and output path). */
export interface ExplainMeta {
  readonly experts: readonly number[];
  readonly gating: string;
  /** The slice axis as a voxel axis, or "all" for the average over the three. */
  readonly axis: 0 | 1 | 2 | "all";
  readonly mode: string;
  readonly sampler: string;
  /** DDIM steps; null for DDPM. */
  readonly steps: number | null;
  readonly seed: number;
}

export function explainMeta(pipe: MoEDiffSRPipeline, o: Pick<EnhanceSettings, "mode" | "sampler" | "steps" | "seed">, axes: readonly Axis[]): ExplainMeta {
  return {
    experts: [...pipe.model.kinds],
    gating: pipe.config.model.gating.mode,
    axis: axes.length === 1 ? ({ x: 0, y: 1, z: 2 } as const)[axes[0] as Axis] : "all",
    mode: o.mode,
    sampler: o.sampler,
    steps: o.sampler === "ddim" ? o.steps : null,
    seed: o.seed,
  };
}

/** The explain directory's files: [name, volume, description] per volume, and explain.json's text. */
export function explainFiles(meta: ExplainMeta, output: string, experts: readonly Volume[], gates: readonly Volume[]): { volumes: [string, Volume, string][]; json: string } {
  const volumes: [string, Volume, string][] = meta.experts.flatMap((kind, i): [string, Volume, string][] => [
    [`expert_E${kind}.nii.gz`, experts[i] as Volume, `moediff-sr expert E${kind} estimate`],
    [`gate_E${kind}.nii.gz`, gates[i] as Volume, `moediff-sr gate weight of E${kind}`],
  ]);
  const { experts: kinds, gating, axis, ...how } = meta;
  const json = { format: "moediff-sr-explain", version: 1, experts: [...kinds], gating, axis, output: resolve(output), ...how };
  return { volumes, json: `${JSON.stringify(json, null, 2)}\n` };
}

/** Writes the explain directory of `r`, the enhancement written to `output` (its path is recorded in explain.json). */
export function writeExplain(dir: string, output: string, r: EnhanceResult, pipe: MoEDiffSRPipeline): void {
  if (r.experts === undefined || r.gates === undefined) throw new RangeError("writeExplain: the enhancement was run without explain");
  mkdirSync(dir, { recursive: true });
  const files = explainFiles(explainMeta(pipe, r.options, r.stats.axes), output, r.experts, r.gates);
  for (const [name, v, description] of files.volumes) writeNifti(join(dir, name), v, { description });
  writeFileAtomic(join(dir, "explain.json"), (w) => w(Buffer.from(files.json)));
}
