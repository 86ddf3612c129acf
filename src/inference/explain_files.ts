// The files `enhance --explain DIR` writes (and the viewer's enhance jobs): each expert's own estimate
// (expert_E<k>.nii.gz), its gate weights (gate_E<k>.nii.gz), and explain.json saying how they were made,
// read by `moediff-sr figures` and `moediff-sr view`. Every file is written atomically.
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeNifti } from "../nifti/index.js";
import type { Axis } from "../data/slicing.js";
import { writeFileAtomic } from "../util/atomic_write.js";
import type { EnhanceResult } from "./enhance.js";
import type { MoEDiffSRPipeline } from "./pipeline.js";

/** Writes the explain directory of `r`, the enhancement written to `output` (its path is recorded in explain.json). */
export function writeExplain(dir: string, output: string, r: EnhanceResult, pipe: MoEDiffSRPipeline): void {
  const kinds = pipe.model.kinds;
  const gating = pipe.config.model.gating.mode;
  const o = r.options;
  const axes = r.stats.axes;
  mkdirSync(dir, { recursive: true });
  kinds.forEach((kind, i) => {
    writeNifti(join(dir, `expert_E${kind}.nii.gz`), r.experts?.[i] as NonNullable<EnhanceResult["experts"]>[number], { description: `moediff-sr expert E${kind} estimate` });
    writeNifti(join(dir, `gate_E${kind}.nii.gz`), r.gates?.[i] as NonNullable<EnhanceResult["gates"]>[number], { description: `moediff-sr gate weight of E${kind}` });
  });
  const meta = {
    format: "moediff-sr-explain",
    version: 1,
    experts: [...kinds],
    gating,
    axis: axes.length === 1 ? ({ x: 0, y: 1, z: 2 } as const)[axes[0] as Axis] : "all",
    output: resolve(output),
    mode: o.mode,
    sampler: o.sampler,
    steps: o.sampler === "ddim" ? o.steps : null,
    seed: o.seed,
  };
  writeFileAtomic(join(dir, "explain.json"), (w) => w(Buffer.from(`${JSON.stringify(meta, null, 2)}\n`)));
}
