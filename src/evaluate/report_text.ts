// The two ways `moediff-sr evaluate` prints an EvaluateReport (src/evaluate/evaluate.ts): JSON (non-finite
// numbers as the strings "Infinity", "-Infinity", "NaN") and a human-readable table. The table leads
// with the brain (the --regions mask named "brain", else --mask; SPEC section 6: a black background must
// never carry a claim), then the whole grid, then the other regions; columns PSNR, SSIM, HFEN (and
// LPIPS when computed) before RMSE.
import { fmt } from "../util/format.js";
import { brainRegionOf, type EvaluateReport } from "./evaluate.js";

/** JSON text of a report; non-finite numbers become "Infinity", "-Infinity" or "NaN". */
export function reportToJson(r: EvaluateReport): string {
  return JSON.stringify(r, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v));
}

const num = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : Number.isNaN(v) ? "n/a" : v > 0 ? "inf" : "-inf");

/** The human-readable table. */
export function formatReport(r: EvaluateReport): string {
  const out: string[] = [
    `pred        ${r.pred}`,
    `ref         ${r.ref}`,
    `grid        ${r.dims.join(" x ")}, voxel ${r.voxelSize.map(fmt).join(" x ")} mm${r.resampled.length > 0 ? ` (resampled onto it: ${r.resampled.join(", ")})` : ""}`,
    `data range  ${fmt(r.dataRange)} (${r.dataRangeSource === "option" ? "--data-range" : "reference max - min"})`,
    ...(r.planar === true ? ["SSIM, HFEN  2-D, in the i-j plane of each slice (--planar)"] : []),
    "",
  ];
  const header = `${"".padEnd(22)}${"PSNR dB".padStart(9)}${"SSIM".padStart(9)}${"HFEN".padStart(9)}${"RMSE".padStart(12)}${"voxels".padStart(11)}`;
  const row = (name: string, s: { psnr: number; ssim: number; rmse: number; hfen: number }, last = ""): string =>
    `${name.slice(0, 21).padEnd(22)}${num(s.psnr, 3).padStart(9)}${num(s.ssim, 4).padStart(9)}${num(s.hfen, 4).padStart(9)}${(Number.isFinite(s.rmse) ? fmt(s.rmse) : "n/a").padStart(12)}${last.padStart(11)}`;
  const lp = r.lpips;
  const lpipsCell = (v: number | undefined): string => (lp === undefined ? "" : (v === undefined ? "" : num(v, 4)).padStart(9));
  const brain = brainRegionOf(r.regions);
  if (brain !== undefined) {
    out.push(`brain first: ${brain.set === "mask" ? "the --mask region" : "the --regions mask 'brain'"}; then the whole grid (background included), then the other regions`);
  } else {
    out.push("no brain mask given (--regions DIR with brain.nii.gz, or --mask): whole-grid figures only, which a zero background inflates");
  }
  out.push(`${header}${lp !== undefined ? "LPIPS".padStart(9) : ""}`);
  if (brain !== undefined) out.push(`${row(brain.set === "mask" ? `${brain.name} (brain)` : brain.name, brain, String(brain.voxels))}${lpipsCell(lp?.brain?.value)}`);
  out.push(`${row("volume", r.volume, String(r.volume.voxels))}${lpipsCell(lp?.value)}`);
  for (const g of r.regions) if (g !== brain) out.push(row(g.name, g, String(g.voxels)));
  if (r.regionsSkipped !== undefined) out.push(`(empty on this grid, skipped: ${r.regionsSkipped.join(", ")})`);
  if (r.regions.some((g) => g.ssimVoxels === 0)) out.push("(SSIM n/a: the region has no voxel in the SSIM map's interior, 5 voxels from the border)");
  if (lp !== undefined) {
    if (lp.brain !== undefined) {
      out.push(
        "",
        `LPIPS brain ${num(lp.brain.value, 6)} (${lp.brain.region}: outside it both images set to the reference minimum; mean over ${lp.brain.slicesUsed} slices with brain` +
          `${lp.brain.slicesSkipped > 0 ? `, ${lp.brain.slicesSkipped} without skipped` : ""})`,
      );
    }
    out.push(
      ...(lp.brain === undefined ? [""] : []),
      `LPIPS       ${num(lp.value, 6)} (${lp.net} v${lp.version}; mean over ${lp.slicesUsed} slices across axis ${lp.axis}` +
        `${lp.slicesSkipped > 0 ? `, ${lp.slicesSkipped} with a constant reference skipped` : ""})`,
    );
  }
  if (r.slices !== undefined) {
    const bySlice = new Map((lp?.slices ?? []).map((s) => [s.index, s.lpips]));
    const withLpips = lp?.slices !== undefined && lp.axis === r.slices.axis;
    const lpipsCol = (index: number): string => (withLpips ? (bySlice.has(index) ? num(bySlice.get(index) as number, 4) : "n/a").padStart(11) : "");
    out.push("", `per slice across axis ${r.slices.axis} (2-D SSIM and HFEN${withLpips ? "; LPIPS n/a: constant reference" : ""}):`);
    out.push(withLpips ? `${header.replace("voxels", "").trimEnd()}${"LPIPS".padStart(11)}` : header.replace("voxels", "").trimEnd());
    for (const s of r.slices.metrics) out.push(withLpips ? `${row(`slice ${s.index}`, s).trimEnd()}${lpipsCol(s.index)}` : row(`slice ${s.index}`, s).trimEnd());
  }
  return out.join("\n");
}

