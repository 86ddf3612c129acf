// `moediff-sr figures <panel|experts|gates|losses> -o OUT.png ...`: PNG figures from volumes, an
// `enhance --explain` directory, or a training log. Engine-free: NIfTI reading and resampling are pure
// JS (src/nifti, src/volume) and drawing is pureimage, so this runs without the native addon.
// Every figure is rendered fully in memory before anything is written; the PNG is then written
// atomically, so an error leaves no output file.
import type { Command } from "commander";
import { checkOutputPath, writePngAtomic, type Canvas } from "../../figures/canvas.js";
import { makeExperts } from "../../figures/experts.js";
import { makeGates } from "../../figures/gates.js";
import { makeLosses } from "../../figures/losses.js";
import { makePanel, parseZoom, type ZoomSpec } from "../../figures/panel.js";
import { parseSliceList, type Axis } from "../../figures/slices.js";

interface CommonOptions {
  out: string;
  axis: Axis;
  slices?: number[];
}

function parseAxis(v: string): Axis {
  if (v !== "0" && v !== "1" && v !== "2") throw new Error(`--axis must be 0, 1 or 2 (voxel axis i, j or k), got '${v}'`);
  return Number(v) as Axis;
}

function parseKeys(v: string): string[] {
  const keys = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (keys.length === 0) throw new Error(`--keys expects comma-separated log keys such as loss,expert,gating, got '${v}'`);
  return keys;
}

async function save(out: string, canvas: Canvas, warnings: readonly string[] = []): Promise<void> {
  const png = await canvas.toPng();
  writePngAtomic(out, png);
  for (const w of warnings) process.stderr.write(`moediff-sr figures: warning: ${w}\n`);
  console.log(`wrote ${out} (${canvas.width} x ${canvas.height} px)`);
}

/** -o, --axis and --slices, shared by every figure kind. */
function common(cmd: Command, sliceHelp: string): Command {
  return cmd
    .requiredOption("-o, --out <file>", "output PNG file")
    .option("--axis <n>", "slice across voxel axis 0, 1 or 2 (i, j, k)", parseAxis, 2 as Axis)
    .option("--slices <list>", `comma-separated 0-based slice indices along --axis (default: ${sliceHelp})`, parseSliceList);
}

const BRAIN_SLICES = "30%, 50% and 70% of the brain extent, brain = voxels > 5% of the reference maximum";

export function registerFigures(program: Command): void {
  const figures = program
    .command("figures")
    .description("PNG figures: LR | SR | HR panels, per-expert difference maps, gating weight maps, loss curves");

  common(
    figures
      .command("panel")
      .description("rows of LR | SR | HR slices with zoomed insets (LR shown on the SR grid by nearest neighbour)")
      .requiredOption("--lr <file>", "low-resolution input volume (NIfTI); any grid")
      .requiredOption("--sr <file>", "super-resolved volume (NIfTI)")
      .option("--hr <file>", "high-resolution reference (NIfTI) on the SR grid")
      .option("--zoom <x,y,size>", "inset square: centre column, row (in the displayed slice, from its top-left) and side, in voxels", parseZoom),
    BRAIN_SLICES,
  ).action(async (o: CommonOptions & { lr: string; sr: string; hr?: string; zoom?: ZoomSpec }) => {
    checkOutputPath(o.out);
    const fig = makePanel({ lr: o.lr, sr: o.sr, axis: o.axis, ...(o.hr !== undefined ? { hr: o.hr } : {}), ...(o.slices !== undefined ? { slices: o.slices } : {}), ...(o.zoom !== undefined ? { zoom: o.zoom } : {}) });
    await save(o.out, fig.canvas);
  });

  common(
    figures
      .command("experts")
      .description("per-expert |E_k - HR| maps and |SR - HR| (the paper's Table IV) on one colour scale, with MAE per panel")
      .requiredOption("--explain <dir>", "directory written by `moediff-sr enhance --explain DIR`")
      .requiredOption("--ref <file>", "reference (HR) volume on the output grid")
      .option("--sr <file>", "enhanced volume for the |SR - HR| column (default: explain.json's output, when it exists)"),
    BRAIN_SLICES,
  ).action(async (o: CommonOptions & { explain: string; ref: string; sr?: string }) => {
    checkOutputPath(o.out);
    const fig = makeExperts({ explain: o.explain, ref: o.ref, axis: o.axis, ...(o.sr !== undefined ? { sr: o.sr } : {}), ...(o.slices !== undefined ? { slices: o.slices } : {}) });
    await save(o.out, fig.canvas);
  });

  common(
    figures
      .command("gates")
      .description("each expert's gate weight map on a fixed 0..1 scale, optionally blended over a grey background")
      .requiredOption("--explain <dir>", "directory written by `moediff-sr enhance --explain DIR`")
      .option("--background <file>", "grey background volume on the gates' grid (e.g. the SR output)"),
    `${BRAIN_SLICES} of the background (else of the explain output, else the whole axis)`,
  ).action(async (o: CommonOptions & { explain: string; background?: string }) => {
    checkOutputPath(o.out);
    const fig = makeGates({ explain: o.explain, axis: o.axis, ...(o.background !== undefined ? { background: o.background } : {}), ...(o.slices !== undefined ? { slices: o.slices } : {}) });
    await save(o.out, fig.canvas, fig.warnings);
  });

  figures
    .command("losses")
    .description("training curves versus step from RUN/log.jsonl, with held-out evaluation points as markers")
    .requiredOption("-o, --out <file>", "output PNG file")
    .requiredOption("--log <file>", "training log (JSON lines), e.g. RUN/log.jsonl")
    .option("--keys <list>", "comma-separated keys to plot (default: every loss-like numeric key)", parseKeys)
    .option("--log-y", "log-10 y axis (automatic when a subplot spans more than 2 decades)")
    .action(async (o: { out: string; log: string; keys?: string[]; logY?: boolean }) => {
      checkOutputPath(o.out);
      const fig = makeLosses({ log: o.log, ...(o.keys !== undefined ? { keys: o.keys } : {}), logY: o.logY === true });
      await save(o.out, fig.canvas, fig.warnings);
    });
}
