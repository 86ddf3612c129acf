// MODEL_CARD.md: the human-readable model card of an exported model directory (src/export/export_model.ts
// writes it): intended use, the data and its simulated degradation, the recipe, the held-out results
// and the known limits. The results table is rendered brain first (src/demo/results_layout.ts), also when
// heldout.json holds a table recorded before that layout.
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { DatasetManifest } from "../data/manifest.js";
import { resolveStoredMoEDiffConfig } from "../models/moediff/config.js";
import type { VqvaeRunConfig } from "../models/vqvae/run_config.js";
import { readModelCard } from "../model_dir/card.js";
import type { HeldoutResults, HeldoutSpec } from "../model_dir/heldout.js";
import { brainFirst } from "../demo/results_layout.js";
import { renderMarkdown, type Block, type Text } from "../util/document.js";
import { WEIGHT_FILES, type ExportRecord, type wallTimeFromLog } from "./record.js";

export interface CardInput {
  readonly dir: string;
  readonly manifest: DatasetManifest;
  readonly heldout: HeldoutSpec;
  readonly record: ExportRecord;
  readonly logs: readonly { readonly label: string; readonly time: ReturnType<typeof wallTimeFromLog> }[];
  readonly command?: string;
  readonly configs?: readonly string[];
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;
const duration = (s: number): string => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${(s / 60).toFixed(1)} min`);
const range = (r: readonly [number, number] | undefined, unit: string): string => (r === undefined ? "n/a" : r[0] === r[1] ? `${r[0]}${unit}` : `${r[0]}–${r[1]}${unit}`);

/** The human-readable model card (Markdown) of an export directory. */
export function modelCardMarkdown(c: CardInput): string {
  const raw = JSON.parse(readFileSync(join(c.dir, "config.json"), "utf8")) as { preset: string };
  const cfg = resolveStoredMoEDiffConfig(raw);
  const vq = JSON.parse(readFileSync(join(c.dir, "vqvae", "config.json"), "utf8")) as VqvaeRunConfig;
  const card = readModelCard(c.dir);
  const m = c.manifest;
  const h = c.heldout;
  const w = c.record.weights;
  const blocks: Block[] = [
    { kind: "heading", level: 1, text: "MoEDiff-SR default model" },
    {
      kind: "paragraph",
      text: [
        "The model ",
        { code: "moediff-sr enhance" },
        ` uses when no --model is given: a mixture-of-experts latent diffusion model (experts ${cfg.model.experts.map((k) => `E${k}`).join(", ")}) that turns a 3T-like T1-weighted volume into a 7T-like one on a ${card.voxelSize.join("×")} mm grid, slice by slice along ${card.slice.axis}.`,
      ],
    },
    { kind: "heading", level: 2, text: "Intended use" },
    {
      kind: "list",
      items: [
        ["Research on super-resolution of T1-weighted brain MRI, and a working example of the MoEDiff-SR method (", { code: "moediff-sr demo" }, " reproduces the held-out comparison below)."],
        "Input: a skull-stripped T1-weighted brain volume (the training source, Colin27's ch2bet, is brain-extracted); any NIfTI grid, resampled to the training voxel size.",
        "Research use only, not for diagnosis or any clinical decision.",
      ],
    },
    { kind: "heading", level: 2, text: "Files" },
    {
      kind: "table",
      header: ["file", "stored as", "size", "float32 size"],
      align: ["left", "left", "right", "right"],
      rows: [
        [WEIGHT_FILES.moe, w.moe.dtype, mb(w.moe.bytes), mb(w.moe.float32Bytes)],
        [WEIGHT_FILES.vqvae, w.vqvae.dtype, mb(w.vqvae.bytes), mb(w.vqvae.float32Bytes)],
        ["config.json, vqvae/config.json", "JSON", "", ""],
        ["card.json", "JSON: what enhance needs to know about the training data, and this export's record", "", ""],
        ["heldout.json", "JSON: the held-out data the demo reproduces, with the table below", "", ""],
      ],
    },
    { kind: "heading", level: 2, text: "Training data" },
    { kind: "list", items: dataItems(m, h) },
    { kind: "heading", level: 2, text: "Recipe" },
    {
      kind: "list",
      items: [
        ...(c.command !== undefined ? [["Command: ", { code: c.command }] as Text] : []),
        `VQ-VAE: preset ${vq.preset}, codebook ${vq.model.codebookSize} entries, ${vq.model.embedDim} latent channels, base channels ${vq.model.baseChannels}, channel multipliers ${JSON.stringify(vq.model.channelMult)}; ${vq.training.steps} steps of batch ${vq.training.batchSize}, learning rate ${vq.training.lr}.`,
        `MoEDiff-SR: preset ${cfg.preset}; experts ${cfg.model.experts.map((k) => `E${k}`).join(", ")} with T = ${cfg.model.timesteps.join(", ")} (${cfg.model.schedule} schedules); ${cfg.model.gating.mode} gating; diffusion target ${cfg.model.target}; ${cfg.training.steps} steps of batch ${cfg.training.batchSize}, learning rate ${cfg.training.lr}, seed ${cfg.training.seed}; encoder inputs: b ${cfg.inputs.useBias ? "on" : "off"}, g ${cfg.inputs.useGradwarp ? "on" : "off"}.`,
        `Sampling defaults: DDIM ${cfg.sampling.steps} steps, start ${cfg.sampling.start}, codebook snap ${cfg.sampling.snapToCodebook ? "on" : "off"}.`,
        ...c.logs.map((l) => (l.time === null ? `${l.label}: no training log` : `${l.label}: ${l.time.steps} steps in ${duration(l.time.seconds)} of training wall time (${l.time.sittings} sitting${l.time.sittings === 1 ? "" : "s"}, from its log.jsonl).`)),
      ],
    },
  ];
  for (const path of c.configs ?? []) {
    if (!existsSync(path)) continue;
    const shown = [basename(dirname(dirname(path))), basename(dirname(path)), basename(path)].join("/"); // configs/default/NAME.json
    blocks.push({ kind: "paragraph", text: [{ code: shown }, ":"] }, { kind: "code", text: readFileSync(path, "utf8").trimEnd() });
  }
  blocks.push(...heldoutResultsBlocks(h.results));
  const ck = c.record.check;
  blocks.push(
    { kind: "heading", level: 2, text: "Precision of the weights" },
    {
      kind: "paragraph",
      text: `Each network is stored as float16 only if that changes the output of ${ck.slices.length} test slices (${ck.sampler}, seed ${ck.seed}) by less than ${ck.tolerance.psnrDb} dB of PSNR and ${ck.tolerance.maxAbs} in any pixel (normalised intensities) against the float32 weights; float16 files are loaded into the float32 model.`,
    },
    {
      kind: "table",
      header: ["float16", "max |change|", "PSNR change dB", "within tolerance"],
      align: ["left", "right", "right", "left"],
      rows: ck.trials.map((t) => [t.float16.join(" + "), t.maxAbs.toExponential(2), t.psnrDelta.toExponential(2), t.pass ? "yes" : "no"]),
    },
    { kind: "paragraph", text: `Stored: MoE ${w.moe.dtype} (${mb(w.moe.bytes)}), VQ-VAE ${w.vqvae.dtype} (${mb(w.vqvae.bytes)}).` },
    { kind: "heading", level: 2, text: "Known limits" },
    {
      kind: "list",
      items: [
        `One subject: trained on ${[...new Set(m.pairs.map((p) => p.subject))].join(", ")} only; the held-out slab is other slices of the same brain, so the numbers say nothing yet about other subjects, scanners or contrasts.`,
        "Simulated degradation: the 3T-like inputs are simulated from the HR volume (k-space truncation, Rician noise, bias field, gradient warp), not acquired; real 3T scans differ.",
        "The reference is the 1 mm Colin27 volume, not a 7T acquisition: a 7T-like output here means agreement with that volume.",
        "A diffusion model can produce plausible detail that is not in the data; compare with the input and the baselines.",
        "Research use only, not for diagnosis or any clinical decision.",
      ],
    },
    { kind: "heading", level: 2, text: "Licence" },
    {
      kind: "list",
      items: [
        "Code and these weights: the licence of the moediff-sr repository (MIT, package.json).",
        "Training data: the Colin27 T1 template (ch2bet.nii.gz, Holmes et al. 1998, Montreal Neurological Institute) as distributed in the Debian package mricron-data; its terms are in /usr/share/doc/mricron-data/copyright (BSD-3-clause for the package, Copyright 2006-2010 Chris Rorden).",
      ],
    },
  );
  return renderMarkdown(blocks);
}

/** The "Held-out results" section: the table brain first, how it was made, its notes. */
export function heldoutResultsBlocks(results: HeldoutResults | undefined): Block[] {
  const blocks: Block[] = [{ kind: "heading", level: 2, text: "Held-out results" }];
  if (results === undefined) return [...blocks, { kind: "paragraph", text: "Not evaluated yet (scripts/evaluate-default.mjs writes the table)." }];
  const r = brainFirst(results);
  blocks.push(
    { kind: "paragraph", text: r.title },
    {
      kind: "paragraph",
      text: "Brain-masked figures first (inside the reference's brain mask; PSNR with the data range of the reference, max − min), then the whole grid, whose zero background flatters any method that keeps it black.",
    },
    { kind: "table", header: [...r.columns], align: r.columns.map((_, i) => (i === 0 ? "left" : "right")), rows: r.rows.map((row) => row.map((x) => (x === null ? "n/a" : String(x)))) },
  );
  if (r.command !== undefined) blocks.push({ kind: "paragraph", text: ["Made by ", { code: r.command }, "."] });
  if (r.notes !== undefined && r.notes.length > 0) blocks.push({ kind: "list", items: [...r.notes] });
  return blocks;
}

function dataItems(m: DatasetManifest, h: HeldoutSpec): Text[] {
  const st = m.settings;
  const items: Text[] = [
    `Source: ${m.source.kind === "simulate" ? "simulated 3T-like acquisitions of HR volumes" : "paired LR/HR volumes"} (${m.generator}, data-set version ${m.version}).`,
  ];
  for (const p of m.pairs) {
    const a = p.acquisition;
    items.push(
      `Pair ${p.id}: subject ${p.subject}, HR ${p.hr.path} (SHA-256 ${p.hr.sha256})` +
        (a !== undefined ? `; simulated acquisition: voxel ${a.voxelSize} mm, SNR ${a.snr}, bias strength ${a.bias}, gradient warp ${a.gradwarp} mm, seed ${a.seed} (white-matter mean ${a.wmMean.toFixed(2)}, noise sigma ${a.sigma.toFixed(3)})` : "") +
        `; b ${p.channels.bias}, g ${p.channels.g}; normalisation divisors HR ${p.scale.hr}, LR ${Number(p.scale.lr.toPrecision(6))}.`,
    );
  }
  if (st.ranges !== undefined) {
    items.push(`Acquisition parameters drawn per pair (seed ${st.seed}, ${st.pairsPerVolume ?? 1} per volume): voxel ${range(st.ranges.voxel, " mm")}, SNR ${range(st.ranges.snr, "")}, bias ${range(st.ranges.bias, "")}, warp ${range(st.ranges.gradwarp, " mm")}.`);
  }
  items.push(
    `Slices: ${st.height}×${st.width} along ${st.axis} (RAS), slices with at least ${100 * st.minBrain}% brain kept, intensities divided by the ${st.normalisePercentile}th percentile of the foreground and clipped to [0, 1].`,
    `Split (${m.split.method}, gap ${m.split.gap} slices): ${Object.entries(m.counts).map(([k, v]) => `${k} ${v}`).join(", ")} slices; held-out (test) slab ${h.slab.axis} ${h.slab.first}–${h.slab.last} of ${h.source.subject}.`,
  );
  return items;
}
