// `npm run bench preprocess [-- --mi]`: the preprocessing commands on Colin27 (ch2bet, 1 mm), with the
// figures the README and issue 6 report. One JSON line per measurement, and a summary object last.
// - bias-correct: a synthetic field from the simulator (strengths 0.4 and 1.0, seeds 1-3) times
//   Colin27; correlation of the estimated log field with the true one inside the brain, raw and of the
//   change (estimate on the biased image minus on the clean one: Colin27 has its own smooth
//   inhomogeneity), white-matter CV clean / biased / corrected, seconds.
// - gradunwarp: field + unwarp with the realistic synthetic coil of the tests, seconds.
// - register: Colin27 against a copy moved by 5, 3, 2 degrees and (4, -6, 3) mm (exactly, through its
//   affine), and against a 3T-like simulation (1.6 mm, SNR 20, bias 0.3) moved the same way; error =
//   max over brain voxels of |T_est(p) - T_true(p)| (mm) and the rotation angle between them (deg).
//   NCC; with --mi also Mattes MI.
// - segment: ch2bet and ch2; class fractions, % of the JHU superior corona radiata in WM, seconds.
import { fileURLToPath } from "node:url";
import { readNifti, toVolume } from "../src/nifti/index.js";
import { applyToPoint, multiply } from "../src/volume/affine.js";
import { biasFieldOnGrid, randomBiasField } from "../src/simulate/bias_field.js";
import { resampleLike } from "../src/volume/resample.js";
import { simulateAcquisition } from "../src/simulate/simulate.js";
import { estimateWhiteMatter } from "../src/simulate/white_matter.js";
import type { Volume } from "../src/volume/volume.js";
import { Random } from "../src/util/random.js";
import { n4BiasCorrection } from "../src/preprocess/n4/n4.js";
import { readGradFile } from "../src/preprocess/gradunwarp/grad_file.js";
import { coefficientDisplacement } from "../src/preprocess/gradunwarp/displacement.js";
import { unwarpVolume } from "../src/preprocess/gradunwarp/unwarp.js";
import { fovCentre } from "../src/preprocess/register/pyramid.js";
import { registerRigid } from "../src/preprocess/register/register.js";
import { linearPart, rigidMatrix, rotationDistance } from "../src/preprocess/register/rigid.js";
import { segment } from "../src/preprocess/segment/index.js";

const TEMPLATES = "/usr/share/mricron/templates";
const COIL = fileURLToPath(new URL("../../test/fixtures/gdc_realistic.grad", import.meta.url));
const DEG = Math.PI / 180;
const mi = process.argv.includes("--mi");
const read = (name: string): Volume => toVolume(readNifti(`${TEMPLATES}/${name}`));
const round = (x: number, d = 4): number => Number(x.toFixed(d));
const emit = (o: object): void => console.log(JSON.stringify(o));
function timed<R>(fn: () => R): [R, number] {
  const t0 = performance.now();
  const r = fn();
  return [r, round((performance.now() - t0) / 1000, 1)];
}

function correlation(x: ArrayLike<number>, y: ArrayLike<number>, mask: Uint8Array): number {
  let n = 0, sx = 0, sy = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) (n++, (sx += x[i]!), (sy += y[i]!));
  const [mx, my] = [sx / n, sy / n];
  let xx = 0, yy = 0, xy = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    xx += (x[i]! - mx) ** 2;
    yy += (y[i]! - my) ** 2;
    xy += (x[i]! - mx) * (y[i]! - my);
  }
  return xy / Math.sqrt(xx * yy);
}

function cv(data: ArrayLike<number>, mask: Uint8Array): number {
  let n = 0, s = 0, q = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) (n++, (s += data[i]!), (q += data[i]! ** 2));
  const mean = s / n;
  return Math.sqrt(q / n - mean * mean) / mean;
}

const colin = read("ch2bet.nii.gz");
const brain = Uint8Array.from(colin.data, (x) => (x > 0 ? 1 : 0));
const summary: Record<string, number> = {};

// bias-correct
{
  const [, gm, wm] = estimateWhiteMatter(colin).classMeans as [number, number, number];
  const wmMask = Uint8Array.from(colin.data, (x) => (x > (gm + wm) / 2 ? 1 : 0));
  const clean = n4BiasCorrection(colin);
  const raw: number[] = [];
  for (const strength of [0.4, 1.0]) {
    for (const seed of [1, 2, 3]) {
      const field = biasFieldOnGrid(randomBiasField(colin, strength, new Random(seed, "bias")), colin);
      const trueLog = Float64Array.from(field.data, Math.log);
      const biased: Volume = { ...colin, data: colin.data.map((x, i) => x * field.data[i]!) };
      const [r, seconds] = timed(() => n4BiasCorrection(biased));
      const change = r.logField.map((x, i) => x - clean.logField[i]!);
      const corrRaw = correlation(r.logField, trueLog, brain);
      raw.push(corrRaw);
      emit({ step: "bias-correct", strength, seed, corrRaw: round(corrRaw), corrChange: round(correlation(change, trueLog, brain)), wmCvClean: round(cv(colin.data, wmMask)), wmCvBiased: round(cv(biased.data, wmMask)), wmCvCorrected: round(cv(r.corrected.data, wmMask)), seconds });
      summary[`n4_s${strength}_seed${seed}_s`] = seconds;
    }
  }
}

// gradunwarp
{
  const [field, fieldSeconds] = timed(() => coefficientDisplacement(readGradFile(COIL), colin, { jacobian: true }));
  const [, unwarpSeconds] = timed(() => unwarpVolume(colin, field));
  let maxU = 0;
  for (let i = 0; i < brain.length; i++) if (brain[i]) maxU = Math.max(maxU, Math.hypot(field.ux[i]!, field.uy[i]!, field.uz[i]!));
  emit({ step: "gradunwarp", coil: "test/fixtures/gdc_realistic.grad", maxDisplacementInBrainMm: round(maxU, 3), fieldSeconds, unwarpSeconds });
}

// register
{
  const truth = rigidMatrix({ angles: [5 * DEG, 3 * DEG, 2 * DEG], translation: [4, -6, 3] }, fovCentre(colin));
  const moved = (v: Volume): Volume => ({ ...v, affine: multiply(truth, v.affine) });
  const lr = simulateAcquisition(colin, { voxelSize: 1.6, snr: 20, bias: 0.3, gradwarp: 0, seed: 7 }).image;
  const errors = (estimate: readonly number[]): { mm: number; deg: number } => {
    let mm = 0;
    const [nx, ny] = colin.dims;
    for (let q = 0; q < brain.length; q++) {
      if (!brain[q]) continue;
      const p = applyToPoint(colin.affine, [q % nx, Math.floor(q / nx) % ny, Math.floor(q / (nx * ny))]);
      const a = applyToPoint(estimate, p);
      const b = applyToPoint(truth, p);
      mm = Math.max(mm, Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]));
    }
    return { mm: round(mm), deg: round(rotationDistance(linearPart(estimate), linearPart(truth)) / DEG) };
  };
  for (const metric of mi ? (["ncc", "mi"] as const) : (["ncc"] as const)) {
    for (const [name, moving] of [["moved copy 1 mm", moved(colin)], ["3T-like 1.6 mm moved", moved(lr)]] as const) {
      const [r, seconds] = timed(() => registerRigid(moving, colin, { metric }));
      const e = errors(r.matrix);
      emit({ step: "register", metric, moving: name, maxErrorMm: e.mm, rotationErrorDeg: e.deg, iterations: r.levels.map((l) => l.iterations), seconds });
      summary[`register_${metric}_${name.startsWith("3T") ? "3t" : "copy"}_mm`] = e.mm;
      summary[`register_${metric}_${name.startsWith("3T") ? "3t" : "copy"}_s`] = seconds;
    }
  }
}

// segment
{
  const jhu = read("JHU-WhiteMatter-labels-1mm.nii.gz");
  const corona = resampleLike(jhu, colin, { interpolation: "nearest" }); // labels 25, 26: superior corona radiata R, L
  for (const name of ["ch2bet.nii.gz", "ch2.nii.gz"]) {
    const t1 = name === "ch2bet.nii.gz" ? colin : read(name);
    const [r, seconds] = timed(() => segment(t1));
    const counts = [0, 0, 0, 0];
    for (const l of r.tissue.labels) counts[l]!++;
    let inCorona = 0, coronaWm = 0;
    corona.data.forEach((v, i) => {
      if (v === 25 || v === 26) (inCorona++, r.tissue.labels[i] === 3 && coronaWm++);
    });
    const total = counts[1]! + counts[2]! + counts[3]!;
    emit({ step: "segment", input: name, brainMethod: r.brainMethod, csf: round(counts[1]! / total), gm: round(counts[2]! / total), wm: round(counts[3]! / total), coronaInWm: round(coronaWm / inCorona), centrumSemiovale: r.regions?.counts.get("centrum_semiovale") ?? 0, seconds });
    summary[`segment_${name.split(".")[0]}_s`] = seconds;
  }
}
console.log(JSON.stringify(summary));
