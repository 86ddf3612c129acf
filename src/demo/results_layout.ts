// The column layout of the comparison table (results_table.ts makes it, heldout.json stores it, the
// demo's summary and MODEL_CARD.md render it), brain first (SPEC section 6: "every table leads with
// brain-masked figures ... whole-image figures second; a black background must never carry a claim"):
//
//   method | brain PSNR dB | brain SSIM | brain HFEN | [brain LPIPS] | Δ brain PSNR vs B-spline dB |
//            PSNR dB | SSIM | SSIM 2-D | HFEN | [LPIPS] | ρ latent | cos latent
//
// brain = inside the reference's brain mask; PSNR with the data range of the reference (max − min over
// the slab); the Δ is the brain PSNR's; ρ and cos describe where the sampler moved the latent
// (latent_diagnostics.ts), empty for rows that are not latent diffusion models. LPIPS columns only
// when LPIPS weights were given.
//
// brainFirst() turns a table recorded before this layout (whole-image columns first, the Δ on the
// whole-image PSNR) into it, so an older heldout.json still renders brain first: its brain Δ comes from
// the rounded brain PSNR cells (within 0.01 dB), and cells it never recorded say "not recorded".
import type { HeldoutResults, ResultCell } from "../model_dir/heldout.js";

export const COLUMN = Object.freeze({
  method: "method",
  brainPsnr: "brain PSNR dB",
  brainSsim: "brain SSIM",
  brainHfen: "brain HFEN",
  brainLpips: "brain LPIPS",
  delta: "Δ brain PSNR vs B-spline dB",
  psnr: "PSNR dB",
  ssim: "SSIM",
  ssim2d: "SSIM 2-D",
  hfen: "HFEN",
  lpips: "LPIPS",
  rho: "ρ latent",
  cos: "cos latent",
});

export type ColumnKey = keyof typeof COLUMN;

/** The row label of the baseline the Δ is taken against. */
export const BSPLINE_LABEL = "cubic B-spline";
/** A cell the table's maker did not measure. */
export const NOT_RECORDED = "not recorded";

/** The columns in order, with or without the LPIPS pair. */
export function columnKeys(o: { lpips: boolean }): ColumnKey[] {
  return (Object.keys(COLUMN) as ColumnKey[]).filter((k) => o.lpips || (k !== "lpips" && k !== "brainLpips"));
}

export function resultColumns(o: { lpips: boolean }): string[] {
  return columnKeys(o).map((k) => COLUMN[k]);
}

/** Whether a table already leads with the brain (its first column after the label is a brain column). */
export function isBrainFirst(r: HeldoutResults): boolean {
  return r.columns[1]?.startsWith("brain ") === true;
}

/** Names older tables used for the same columns. */
const OLD_NAMES: Readonly<Record<string, ColumnKey>> = {
  "brain PSNR dB": "brainPsnr",
  "brain PSNR": "brainPsnr",
  "brain SSIM": "brainSsim",
  "brain HFEN": "brainHfen",
  "brain LPIPS": "brainLpips",
  "PSNR dB": "psnr",
  PSNR: "psnr",
  SSIM: "ssim",
  "SSIM 2-D": "ssim2d",
  HFEN: "hfen",
  LPIPS: "lpips",
};
/** The old Δ, on the whole-image PSNR: dropped (the brain Δ replaces it). */
const OLD_WHOLE_DELTA = /^Δ PSNR vs B-spline/;

const round2 = (v: number): number => Math.round(v * 100) / 100;

/** A row with no numbers: [label, status, "", "", ...] (results_table.ts writes "not trained", "failed"). */
function statusOf(row: readonly ResultCell[]): string | null {
  const s = row[1];
  return typeof s === "string" && s !== "" && Number.isNaN(Number(s)) && row.slice(2).every((c) => c === "" || c === null) ? s : null;
}

/** `r` with its columns brain first (see the header); a table already brain first is returned as is. */
export function brainFirst(r: HeldoutResults): HeldoutResults {
  if (isBrainFirst(r)) return r;
  const where = new Map<ColumnKey, number>();
  const unknown: number[] = [];
  r.columns.forEach((name, i) => {
    if (i === 0) return;
    const k = OLD_NAMES[name];
    if (k !== undefined && !where.has(k)) where.set(k, i);
    else if (!OLD_WHOLE_DELTA.test(name)) unknown.push(i);
  });
  if (!where.has("brainPsnr")) return r; // no brain figures to lead with: leave it as recorded
  const lpips = where.has("lpips") || where.has("brainLpips");
  const keys = columnKeys({ lpips }).filter((k) => k !== "rho" && k !== "cos");
  const bsplineRow = r.rows.find((row) => row[0] === BSPLINE_LABEL);
  const bsplineBrain = bsplineRow?.[where.get("brainPsnr") as number];
  const rows = r.rows.map((row): ResultCell[] => {
    const status = statusOf(row);
    if (status !== null) return [row[0] ?? "", status, ...new Array<ResultCell>(keys.length - 2 + unknown.length).fill("")];
    const cells = keys.map((k): ResultCell => {
      if (k === "method") return row[0] ?? "";
      if (k === "delta") {
        const b = row[where.get("brainPsnr") as number];
        return typeof b === "number" && typeof bsplineBrain === "number" ? round2(b - bsplineBrain) : null;
      }
      const i = where.get(k);
      return i === undefined ? NOT_RECORDED : (row[i] ?? null);
    });
    return [...cells, ...unknown.map((i) => row[i] ?? null)];
  });
  return {
    ...r,
    columns: [...keys.map((k) => COLUMN[k]), ...unknown.map((i) => r.columns[i] as string)],
    rows,
    notes: [
      ...(r.notes ?? []),
      `Columns put brain first from a table recorded before brain-first reporting: Δ brain PSNR vs B-spline from its rounded brain PSNR values (within 0.01 dB); "${NOT_RECORDED}": not measured when the table was made.`,
    ],
  };
}
