// Does each expert take its own part of the brain? (issue 19 point 5; the paper's Table IV.)
// Per region of the reference (brain, cortex, centrum semiovale, grey-white junction, ...): each
// expert's mean gate weight and the spatial standard deviation of its gate map, and the PSNR of each
// expert's own estimate (its own chain, from the --explain volumes) beside the mixture's, all on the
// same voxels. PSNR uses the reference's data range over the whole grid, as the demo's region rows.
//
//   spread_i = max over {cortex, centrum semiovale, grey-white junction} of mean gate_i
//            - min over the same regions                          (the "routes by anatomy" figure)
import type { Volume } from "../volume/volume.js";

/** The regions the spread is taken over (the paper's three: cortex, deep white matter, the junction). */
export const ANATOMY_REGIONS: readonly string[] = ["cortex", "centrum_semiovale", "gw_junction"];

export interface RegionSpecialisation {
  region: string;
  voxels: number;
  /** Mean gate weight per expert over the region's voxels. */
  gateMean: number[];
  /** Standard deviation of each expert's gate over the region's voxels. */
  gateStd: number[];
  /** PSNR dB of each expert's own estimate over the region's voxels. */
  expertPsnr: number[];
  /** PSNR dB of the mixture (the enhanced output) over the same voxels. */
  mixturePsnr: number;
}

export interface Specialisation {
  /** Expert names in order (E1, E2, E3, or those the model has). */
  experts: string[];
  /** Data range of the reference (max - min over the grid). */
  dataRange: number;
  regions: RegionSpecialisation[];
  /** Per expert: max - min of its mean gate over ANATOMY_REGIONS (null when fewer than two are present). */
  spread: (number | null)[];
}

const psnr = (sse: number, n: number, range: number): number => (n === 0 ? Number.NaN : sse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((range * range) / (sse / n)));

/** Every volume on the reference's grid; masks as voxel arrays of that grid (non-zero = inside). */
export function specialisation(o: {
  reference: Volume;
  mixture: Volume;
  experts: readonly { name: string; gate: Volume; estimate: Volume }[];
  masks: ReadonlyMap<string, Uint8Array>;
}): Specialisation {
  const n = o.reference.data.length;
  const check = (what: string, v: { length: number }): void => {
    if (v.length !== n) throw new RangeError(`specialisation: ${what} has ${v.length} voxels, the reference ${n}; put every volume on the reference's grid`);
  };
  check("the mixture", o.mixture.data);
  for (const e of o.experts) {
    check(`${e.name}'s gate`, e.gate.data);
    check(`${e.name}'s estimate`, e.estimate.data);
  }
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const x of o.reference.data) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const range = hi - lo;
  const ref = o.reference.data;
  const regions: RegionSpecialisation[] = [];
  for (const [region, mask] of o.masks) {
    check(`region ${region}`, mask);
    let count = 0;
    let mixSse = 0;
    const k = o.experts.length;
    const gSum = new Float64Array(k);
    const gSq = new Float64Array(k);
    const sse = new Float64Array(k);
    for (let v = 0; v < n; v++) {
      if (mask[v] === 0) continue;
      count++;
      const r = ref[v] as number;
      mixSse += ((o.mixture.data[v] as number) - r) ** 2;
      for (let i = 0; i < k; i++) {
        const e = o.experts[i]!;
        const g = e.gate.data[v] as number;
        gSum[i]! += g;
        gSq[i]! += g * g;
        sse[i]! += ((e.estimate.data[v] as number) - r) ** 2;
      }
    }
    if (count === 0) continue;
    const gateMean = [...gSum].map((s) => s / count);
    regions.push({
      region,
      voxels: count,
      gateMean,
      gateStd: [...gSq].map((s, i) => Math.sqrt(Math.max(0, s / count - (gateMean[i] as number) ** 2))),
      expertPsnr: [...sse].map((s) => psnr(s, count, range)),
      mixturePsnr: psnr(mixSse, count, range),
    });
  }
  const anatomy = regions.filter((r) => ANATOMY_REGIONS.includes(r.region));
  const spread = o.experts.map((_, i) => {
    if (anatomy.length < 2) return null;
    const means = anatomy.map((r) => r.gateMean[i] as number);
    return Math.max(...means) - Math.min(...means);
  });
  return { experts: o.experts.map((e) => e.name), dataRange: range, regions, spread };
}

const f = (x: number, d: number): string => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const label = (region: string): string => region.replace(/_/g, " ");

/** The table a summary shows: one row per region. */
export function specialisationTable(s: Specialisation): { header: string[]; rows: string[][]; spread: string } {
  const header = ["region", "voxels", ...s.experts.map((e) => `gate ${e} mean ± sd`), ...s.experts.map((e) => `${e} alone PSNR dB`), "mixture PSNR dB"];
  const rows = s.regions.map((r) => [
    label(r.region),
    String(r.voxels),
    ...r.gateMean.map((m, i) => `${f(m, 3)} ± ${f(r.gateStd[i] as number, 3)}`),
    ...r.expertPsnr.map((p) => f(p, 2)),
    f(r.mixturePsnr, 2),
  ]);
  const spread = s.spread.some((x) => x !== null)
    ? `Spread of each expert's mean gate over ${ANATOMY_REGIONS.map(label).join(", ")} (max − min): ${s.experts.map((e, i) => `${e} ${s.spread[i] === null ? "n/a" : f(s.spread[i] as number, 3)}`).join(", ")}.`
    : "The anatomical regions were not segmented: no spread.";
  return { header, rows, spread };
}
