// The benchmark's input for `npm run bench` (bench/all.ts): a simulated 3T acquisition of Colin27, and
// the slab of it the short runs enhance.
//
// Design decisions:
// - HR: Colin27 (ch2bet, the default data source; defaultHrSource names the package if missing),
//   reoriented to RAS as prepare does.
// - Acquisition: the model directory's heldout.json (the held-out acquisition its data set simulated,
//   what `moediff-sr demo` reproduces) when there is one; otherwise the middle of prepare's default
//   ranges (voxel, SNR, bias, warp) with seed 1, so a run without heldout.json is still a typical 3T-like
//   input. The recorded white-matter level is not imposed: the simulation estimates it, as the demo does.
// - Slab: `count` consecutive HR slices along the card's axis, centred in the volume (the middle of the
//   head: every slice has brain, so each is a full-cost slice). It is enhanced like the demo enhances its
//   slab: onto the HR grid's slab (enhance --like), from the LR slices whose B-spline support reaches it
//   (src/demo/slab.ts), divided by the whole LR volume's normalisation scale so it is scaled as the
//   whole volume would be.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { HeldoutSpec } from "../src/model_dir/heldout.js";
import type { ModelCard } from "../src/model_dir/card.js";
import type { HrSource } from "../src/data/pair_volumes.js";
import { PREPARE_DEFAULTS } from "../src/data/prepare_options.js";
import type { AcquisitionParams } from "../src/simulate/simulate.js";
import type { Grid } from "../src/volume/affine.js";
import type { Volume } from "../src/volume/volume.js";
import { cropGrid, cropVolume, lrRangeFor, type Dim } from "../src/demo/slab.js";

export interface BenchAcquisition {
  params: AcquisitionParams;
  /** Where the parameters came from. */
  source: "heldout.json" | "prepare defaults";
}

const mid = (r: readonly [number, number]): number => (r[0] + r[1]) / 2;

/** The acquisition to simulate: heldout.json's, else the middle of prepare's default ranges, seed 1. */
export function benchAcquisition(heldout: HeldoutSpec | null): BenchAcquisition {
  if (heldout !== null) {
    const a = heldout.acquisition;
    return { params: { voxelSize: a.voxelSize, snr: a.snr, bias: a.bias, gradwarp: a.gradwarp, seed: a.seed }, source: "heldout.json" };
  }
  const r = PREPARE_DEFAULTS.ranges;
  return { params: { voxelSize: mid(r.voxel), snr: mid(r.snr), bias: mid(r.bias), gradwarp: mid(r.gradwarp), seed: 1 }, source: "prepare defaults" };
}

/** `count` consecutive slice indices centred in 0..n-1: [first, last], inclusive. */
export function centredSlab(n: number, count: number): [number, number] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`centredSlab: count must be a positive integer, got ${count}`);
  if (!Number.isInteger(n) || count > n) throw new RangeError(`centredSlab: ${count} slices asked of a volume with ${n} along the slab axis`);
  const first = Math.floor((n - count) / 2);
  return [first, first + count - 1];
}

export interface SlabInput {
  /** The LR slices the slab needs (LR grid). */
  lr: Volume;
  /** The HR grid's slab (enhance --like). */
  like: Grid;
  first: number;
  last: number;
}

/** The slab's LR input and target grid: HR slices first..last along `dim` of hrGrid, from the LR volume `lr`. */
export function slabInput(lr: Volume, hrGrid: Grid, dim: Dim, first: number, last: number): SlabInput {
  const like = cropGrid(hrGrid, dim, first, last);
  const lrGrid: Grid = { dims: [lr.dims[0], lr.dims[1], lr.dims[2]], affine: Array.from(lr.affine) };
  const [l0, l1] = lrRangeFor(lrGrid, like, dim);
  return { lr: cropVolume(lr, dim, l0, l1), like, first, last };
}

export interface BenchInput {
  /** The HR source (Colin27's ch2bet) and the acquisition simulated from it. */
  hrPath: string;
  acquisition: BenchAcquisition;
  hr: HrSource;
  /** The simulated LR volume (LR grid) and the HR grid (RAS). */
  lr: Volume;
  hrGrid: Grid;
  slab: SlabInput;
  /** The whole acquisition's divisor (enhance's inputScale for the slab). */
  wholeScale: number;
}

/**
 * The benchmarks' input for a model directory: its heldout.json acquisition of Colin27 (or prepare's
 * defaults), simulated, and `slices` HR slices in the middle of the head along the card's axis.
 */
export async function benchInput(modelDir: string, card: ModelCard, slices: number): Promise<BenchInput> {
  const { HELDOUT_FILE, readHeldout } = await import("../src/model_dir/heldout.js");
  const { defaultHrSource } = await import("../src/data/prepare_options.js");
  const { loadHr } = await import("../src/data/pair_volumes.js");
  const { simulateAcquisition } = await import("../src/simulate/simulate.js");
  const { acquisitionScale } = await import("../src/inference/enhance.js");
  const { axisDim } = await import("../src/model_dir/card.js");
  const hrPath = defaultHrSource();
  const acquisition = benchAcquisition(existsSync(join(modelDir, HELDOUT_FILE)) ? readHeldout(modelDir) : null);
  const hr = loadHr(hrPath, "error");
  const lr = simulateAcquisition(hr.ras, acquisition.params).image;
  const hrGrid: Grid = { dims: [hr.ras.dims[0], hr.ras.dims[1], hr.ras.dims[2]], affine: Array.from(hr.ras.affine) };
  const dim = axisDim(card.slice.axis) as Dim;
  const [first, last] = centredSlab(hr.ras.dims[dim], slices);
  return { hrPath, acquisition, hr, lr, hrGrid, slab: slabInput(lr, hrGrid, dim, first, last), wholeScale: acquisitionScale(lr, hrGrid, card, "simulated LR volume") };
}
