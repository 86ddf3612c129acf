// The record of one `moediff-sr demo` run: what metrics.json holds and what the summaries render.
// Paths are relative to the output directory, so the directory can be moved or shared as a whole.
import type { HeldoutAcquisition, HeldoutResults, HeldoutSlab } from "../model_dir/heldout.js";
import type { ModelFacts } from "./model_facts.js";
import type { ScopeScores } from "./score.js";
import type { LatentDiagnostics } from "./latent_diagnostics.js";
import type { Specialisation } from "./specialisation.js";

export const DEMO_REPORT_FORMAT = "moediff-sr-demo";

export interface GridFacts {
  readonly dims: readonly [number, number, number];
  readonly voxelSize: readonly [number, number, number];
}

export interface DemoReport {
  readonly format: typeof DEMO_REPORT_FORMAT;
  /** 2: the autoencoder-only row, brain-first tables, latent diagnostics, LPIPS. */
  readonly version: 2;
  /** "slab": only the held-out slab was enhanced; "whole": the whole volume (--whole). */
  readonly mode: "slab" | "whole";
  readonly model: ModelFacts;
  readonly heldout: {
    readonly source: { readonly path: string; readonly subject: string; readonly sha256: string; readonly sha256Expected: string; readonly sha256Matches: boolean };
    readonly acquisition: HeldoutAcquisition;
    readonly slab: HeldoutSlab;
    /** The HR grid (RAS) of the source, and the simulated acquisition's LR grid. */
    readonly hrGrid: GridFacts;
    readonly lrGrid: GridFacts;
    /** What the simulation estimated, and whether it matches what the data set recorded (when it did). */
    readonly simulation: { readonly wmMean: number; readonly sigma: number; readonly reproducesRecord: boolean | null };
    /** LR slices kept along the slab axis (slab mode: the slab's context; whole: all). */
    readonly lrSlices: readonly [number, number];
    readonly results?: HeldoutResults;
  };
  readonly enhance: {
    readonly sampler: string;
    readonly steps: number;
    readonly eta: number;
    readonly start: number;
    readonly mode: string;
    readonly seed: number;
    readonly batch: number;
    readonly device: string;
    readonly snapToCodebook: boolean;
    readonly axis: string;
    /** The grid enhanced, as HR slice indices along the slab axis (slab mode: the slab and one context slice each side). */
    readonly slices: readonly [number, number];
    /** The input's normalisation divisor (99.5th percentile of its foreground on the enhanced grid). */
    readonly inputScale: number;
    /** The divisor the training data's LR was normalised with: the whole LR volume on the HR grid (prepare). */
    readonly wholeVolumeScale: number;
    readonly slicesRun: number;
    readonly tilesRun: number;
    readonly evaluations: readonly number[];
    readonly seconds: number;
  };
  readonly regions: { readonly method: "segment" | "brain-mask" | "none"; readonly names: readonly string[]; readonly note: string | null };
  /** The "autoencoder only" row: the same pipeline and grid with steps 0. */
  readonly autoencoder: { readonly seconds: number };
  /** rho and cos on the slab (latent_diagnostics.ts), or why they were not measured. */
  readonly latent: { readonly measured: LatentDiagnostics | null; readonly note: string | null };
  /** Per region: each expert's gate and own-estimate PSNR beside the mixture's (null: no explain volumes). */
  readonly specialisation: Specialisation | null;
  /** The LPIPS network, when weights were given. */
  readonly lpips: { readonly net: string; readonly backbone: string; readonly linear: string } | null;
  readonly evaluations: readonly ScopeScores[];
  readonly figures: { readonly panel: string; readonly experts: string; readonly gates: string; readonly slices: readonly number[] };
  readonly files: readonly string[];
  /** Seconds per stage, and the total. */
  readonly timings: Readonly<Record<string, number>>;
  readonly warnings: readonly string[];
}

/** JSON text of a report; non-finite numbers become "Infinity", "-Infinity" or "NaN" (as evaluate --json). */
export function reportJson(r: DemoReport): string {
  return `${JSON.stringify(r, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2)}\n`;
}
