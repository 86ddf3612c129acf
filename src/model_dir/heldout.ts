// heldout.json: what the demo reproduces. A model directory may carry it next to card.json, written by
// the training pipeline from the data set's manifest (heldoutFromManifest below):
//
//   source       the HR volume the held-out data came from: path, SHA-256, subject id
//   acquisition  the simulated 3T acquisition of the training pair (simulateAcquisition's five
//                parameters; optionally the wmMean and sigma the simulation reported, as the data
//                set's manifest records them, which the demo then checks it reproduces)
//   slab         the held-out (test) slab: voxel indices along a RAS voxel axis of the HR volume,
//                inclusive
//   results      optional: a generic table of training-time comparisons (title, command, columns,
//                rows, notes) that the summary renders as is
//
// The reader refuses unknown keys (a typo would otherwise be silently ignored) and names every bad
// value with its key path.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { DatasetManifest } from "../data/manifest.js";
import { readJsonFile } from "../util/json_file.js";
import type { Axis } from "../data/slicing.js";
import { checkAcquisitionParams, type AcquisitionParams } from "../simulate/simulate.js";

export const HELDOUT_FILE = "heldout.json";

export interface HeldoutSource {
  /** The HR volume (NIfTI). */
  readonly path: string;
  /** Hex SHA-256 of the file the data set was built from (64 lowercase hex digits). */
  readonly sha256: string;
  readonly subject: string;
}

/** simulateAcquisition's parameters, plus what the simulation reported when the data set was built. */
export interface HeldoutAcquisition extends AcquisitionParams {
  readonly wmMean?: number;
  readonly sigma?: number;
}

export interface HeldoutSlab {
  /** RAS voxel axis the slab is cut along. */
  readonly axis: Axis;
  /** First and last HR voxel index along the axis, inclusive. */
  readonly first: number;
  readonly last: number;
}

export type ResultCell = string | number | null;

export interface HeldoutResults {
  readonly title: string;
  /** How the numbers were made (shown as a command line). */
  readonly command?: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly ResultCell[])[];
  readonly notes?: readonly string[];
}

export interface HeldoutSpec {
  readonly source: HeldoutSource;
  readonly acquisition: HeldoutAcquisition;
  readonly slab: HeldoutSlab;
  readonly results?: HeldoutResults;
}

export class HeldoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HeldoutError";
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (v === undefined ? "nothing" : (JSON.stringify(v) ?? String(v)));

/** Validates parsed heldout.json content; `where` names the file in errors. */
export function parseHeldout(json: unknown, where: string): HeldoutSpec {
  const fail = (what: string): never => {
    throw new HeldoutError(`${where}: ${what}`);
  };
  const object = (v: unknown, path: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> => {
    if (!isObj(v)) return fail(`${path} must be a JSON object, got ${show(v)}`);
    const known = [...required, ...optional];
    for (const k of Object.keys(v)) if (!known.includes(k)) fail(`${path}: unknown key "${k}" (known: ${known.join(", ")})`);
    for (const k of required) if (v[k] === undefined) fail(`${path}.${k} is missing`);
    return v;
  };
  const text = (v: unknown, path: string): string => (typeof v === "string" && v.trim() !== "" ? v : fail(`${path} must be a non-empty string, got ${show(v)}`));
  const index = (v: unknown, path: string): number => (Number.isInteger(v) && (v as number) >= 0 ? (v as number) : fail(`${path} must be a voxel index (an integer >= 0), got ${show(v)}`));

  const top = object(json, "heldout", ["source", "acquisition", "slab"], ["results"]);

  const s = object(top.source, "source", ["path", "sha256", "subject"]);
  const sha = text(s.sha256, "source.sha256");
  if (!/^[0-9a-f]{64}$/.test(sha)) fail(`source.sha256 must be 64 lowercase hex digits (sha256sum's output), got ${show(sha)}`);
  const source: HeldoutSource = { path: text(s.path, "source.path"), sha256: sha, subject: text(s.subject, "source.subject") };

  const a = object(top.acquisition, "acquisition", ["voxelSize", "snr", "bias", "gradwarp", "seed"], ["wmMean", "sigma"]);
  const { wmMean, sigma, ...params } = a;
  let checked: AcquisitionParams;
  try {
    checked = checkAcquisitionParams(params);
  } catch (e) {
    return fail(`acquisition: ${(e instanceof Error ? e.message : String(e)).replace(/^acquisition params: /, "")}`);
  }
  if (wmMean !== undefined && !(typeof wmMean === "number" && Number.isFinite(wmMean) && wmMean > 0)) fail(`acquisition.wmMean must be a positive number, got ${show(wmMean)}`);
  if (sigma !== undefined && !(typeof sigma === "number" && Number.isFinite(sigma) && sigma >= 0)) fail(`acquisition.sigma must be a number >= 0, got ${show(sigma)}`);
  const acquisition: HeldoutAcquisition = {
    ...checked,
    ...(wmMean !== undefined ? { wmMean: wmMean as number } : {}),
    ...(sigma !== undefined ? { sigma: sigma as number } : {}),
  };

  const sl = object(top.slab, "slab", ["axis", "first", "last"]);
  if (sl.axis !== "x" && sl.axis !== "y" && sl.axis !== "z") fail(`slab.axis must be "x", "y" or "z" (a RAS voxel axis), got ${show(sl.axis)}`);
  const first = index(sl.first, "slab.first");
  const last = index(sl.last, "slab.last");
  if (last < first) fail(`slab.last (${last}) must be >= slab.first (${first}): the slab is an inclusive index range`);
  const slab: HeldoutSlab = { axis: sl.axis as Axis, first, last };

  let results: HeldoutResults | undefined;
  if (top.results !== undefined) {
    const r = object(top.results, "results", ["title", "columns", "rows"], ["command", "notes"]);
    const columns = r.columns;
    if (!Array.isArray(columns) || columns.length === 0 || !columns.every((c) => typeof c === "string")) fail(`results.columns must be a non-empty list of strings, got ${show(columns)}`);
    const cols = columns as string[];
    if (!Array.isArray(r.rows)) fail(`results.rows must be a list of rows, got ${show(r.rows)}`);
    const rows = (r.rows as unknown[]).map((row, i) => {
      if (!Array.isArray(row) || row.length !== cols.length) fail(`results.rows[${i}] must be a list of ${cols.length} cells (one per column), got ${show(row)}`);
      return (row as unknown[]).map((cell, j) =>
        cell === null || typeof cell === "string" || (typeof cell === "number" && Number.isFinite(cell))
          ? (cell as ResultCell)
          : fail(`results.rows[${i}][${j}] must be a string, a finite number or null, got ${show(cell)}`),
      );
    });
    if (r.command !== undefined) text(r.command, "results.command");
    if (r.notes !== undefined && !(Array.isArray(r.notes) && r.notes.every((n) => typeof n === "string"))) fail(`results.notes must be a list of strings, got ${show(r.notes)}`);
    results = {
      title: text(r.title, "results.title"),
      columns: cols,
      rows,
      ...(r.command !== undefined ? { command: r.command as string } : {}),
      ...(r.notes !== undefined ? { notes: r.notes as string[] } : {}),
    };
  }
  return { source, acquisition, slab, ...(results !== undefined ? { results } : {}) };
}

/** Reads and validates MODEL_DIR/heldout.json. */
export function readHeldout(modelDir: string): HeldoutSpec {
  const path = join(modelDir, HELDOUT_FILE);
  if (!existsSync(path)) {
    throw new HeldoutError(
      `${modelDir} has no ${HELDOUT_FILE}, the description of the held-out data the demo reproduces (source volume, acquisition, slab); ` +
        `the training pipeline writes it from the data set's manifest (heldoutFromManifest in src/model_dir/heldout.ts)`,
    );
  }
  const json = readJsonFile(path, {
    what: "the held-out description",
    fix: "copy the model directory again, or write heldout.json from the data set's manifest (heldoutFromManifest in src/model_dir/heldout.ts)",
    error: HeldoutError,
  });
  return parseHeldout(json, path);
}

/**
 * The held-out description of a prepared data set: the first simulated pair of a subject that has a
 * test slab (split method "slabs" or "two-subjects"), that pair's acquisition, and the test slab.
 */
export function heldoutFromManifest(manifest: DatasetManifest, results?: HeldoutResults): HeldoutSpec {
  for (const assignment of manifest.split.assignments) {
    const slab = assignment.slabs?.find((x) => x.split === "test");
    if (slab === undefined) continue;
    const pair = manifest.pairs.find((p) => p.subject === assignment.subject && p.kind === "simulated" && p.acquisition !== undefined);
    if (pair === undefined || pair.acquisition === undefined) continue;
    const acq = pair.acquisition;
    const spec: HeldoutSpec = {
      source: { path: pair.hr.path, sha256: pair.hr.sha256, subject: pair.subject },
      acquisition: { voxelSize: acq.voxelSize, snr: acq.snr, bias: acq.bias, gradwarp: acq.gradwarp, seed: acq.seed, wmMean: acq.wmMean, sigma: acq.sigma },
      slab: { axis: manifest.settings.axis, first: slab.first, last: slab.last },
      ...(results !== undefined ? { results } : {}),
    };
    return parseHeldout(JSON.parse(JSON.stringify(spec)), "heldoutFromManifest");
  }
  throw new HeldoutError(
    `heldoutFromManifest: the data set has no simulated pair whose subject has a test slab (split method "${manifest.split.method}"); ` +
      "the demo needs a held-out slab of a simulated acquisition (prepare --default or --simulate with one or two subjects)",
  );
}

/** heldout.json text (2-space indentation, trailing newline). */
export function formatHeldout(spec: HeldoutSpec): string {
  return `${JSON.stringify(spec, null, 2)}\n`;
}
