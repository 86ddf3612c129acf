// The rigid transform as a JSON document (register --write-transform, and the per-pair record of
// prepare --register), and resampling the moving image with it onto the fixed grid.
//
// JSON layout (format "moediff-sr-rigid", version 1):
//   convention        text: matrix maps a FIXED world point (mm, RAS) to the MOVING world point
//   matrix, inverse   4x4 as 4 rows of 4 numbers (row-major); inverse maps moving -> fixed
//   centre_mm         rotation centre (centre of the fixed field of view)
//   rotation_deg      [x, y, z] angles in degrees, R = Rz Ry Rx (x applied first)
//   translation_mm    [x, y, z]
//   metric, init, levels [{shrink, smoothing_mm, samples, iterations, converged, final_cost, seconds}],
//   iterations (total), final_cost (of the last level), overlap {before, after}, seconds,
//   and optionally the moving and fixed file names.
import { writeFileAtomic } from "../../util/atomic_write.js";
import { readJsonFile } from "../../util/json_file.js";
import { multiply, invert, type Grid } from "../../volume/affine.js";
import { resample, type Interpolation } from "../../volume/resample.js";
import type { Volume } from "../../volume/volume.js";
import type { RegistrationResult } from "./register.js";

export const TRANSFORM_FORMAT = "moediff-sr-rigid";
export const TRANSFORM_VERSION = 1;

export interface TransformDocument {
  readonly format: typeof TRANSFORM_FORMAT;
  readonly version: number;
  readonly convention: string;
  readonly moving?: string;
  readonly fixed?: string;
  readonly matrix: number[][];
  readonly inverse: number[][];
  readonly centre_mm: number[];
  readonly rotation_deg: number[];
  readonly rotation_order: string;
  readonly translation_mm: number[];
  readonly metric: string;
  readonly init: string;
  readonly levels: Array<{ shrink: number; smoothing_mm: number; samples: number; iterations: number; converged: boolean; final_cost: number; seconds: number }>;
  readonly iterations: number;
  readonly final_cost: number;
  readonly overlap: { before: number; after: number };
  readonly seconds: number;
}

const CONVENTION = "matrix maps a point of the FIXED image's world space (mm, RAS as NIfTI) to the MOVING image's world point: [x_moving, 1] = matrix [x_fixed, 1]; inverse maps moving to fixed";

const rows = (m: readonly number[]): number[][] => [0, 1, 2, 3].map((r) => m.slice(4 * r, 4 * r + 4));
const round = (x: number, digits = 9): number => Number(x.toPrecision(digits));
const deg = (rad: number): number => (rad * 180) / Math.PI;

/** The JSON document of a registration result. */
export function transformDocument(r: RegistrationResult, files: { moving?: string; fixed?: string } = {}): TransformDocument {
  const last = r.levels[r.levels.length - 1];
  return {
    format: TRANSFORM_FORMAT,
    version: TRANSFORM_VERSION,
    convention: CONVENTION,
    ...(files.moving !== undefined ? { moving: files.moving } : {}),
    ...(files.fixed !== undefined ? { fixed: files.fixed } : {}),
    matrix: rows(r.matrix.map((x) => round(x))),
    inverse: rows(r.inverse.map((x) => round(x))),
    centre_mm: r.centre.map((x) => round(x)),
    rotation_deg: r.parameters.angles.map((a) => round(deg(a), 7)),
    rotation_order: "R = Rz Ry Rx (rotation about x first); T(p) = R (p - centre) + centre + translation",
    translation_mm: r.parameters.translation.map((x) => round(x, 7)),
    metric: r.metric,
    init: r.init,
    levels: r.levels.map((l) => ({
      shrink: l.shrink,
      smoothing_mm: round(l.smoothingMm, 6),
      samples: l.samples,
      iterations: l.iterations,
      converged: l.converged,
      final_cost: round(l.finalCost, 8),
      seconds: round(l.seconds, 4),
    })),
    iterations: r.levels.reduce((a, l) => a + l.iterations, 0),
    final_cost: round(last?.finalCost ?? Number.NaN, 8),
    overlap: { before: round(r.overlap.before, 4), after: round(r.overlap.after, 4) },
    seconds: round(r.seconds, 4),
  };
}

/** JSON with 2-space indents, arrays of numbers on one line (so each matrix row is one line). */
function formatJson(value: unknown, indent = ""): string {
  if (Array.isArray(value)) {
    if (value.every((x) => x === null || typeof x !== "object")) return `[${value.map((x) => JSON.stringify(x)).join(", ")}]`;
    const inner = indent + "  ";
    return `[\n${value.map((x) => inner + formatJson(x, inner)).join(",\n")}\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return "{}";
    const inner = indent + "  ";
    return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${formatJson(x, inner)}`).join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** Writes the document atomically (newline at the end). */
export function writeTransform(path: string, doc: TransformDocument): void {
  const bytes = new TextEncoder().encode(formatJson(doc) + "\n");
  writeFileAtomic(path, (write) => write(bytes));
}

/** Reads a transform file and returns its 4x4 matrix (fixed world -> moving world, row-major). */
export function readTransformMatrix(path: string): number[] {
  const doc = readJsonFile(path, { what: "the transform file", fix: "write it again with `moediff-sr register --write-transform FILE`", error: Error });
  const d = doc as Partial<TransformDocument> | null;
  if (d === null || typeof d !== "object" || d.format !== TRANSFORM_FORMAT) throw new Error(`transform ${path}: not a ${TRANSFORM_FORMAT} file (write one with moediff-sr register --write-transform)`);
  if (d.version !== TRANSFORM_VERSION) throw new Error(`transform ${path}: version ${JSON.stringify(d.version)}, this program reads version ${TRANSFORM_VERSION}`);
  const m = d.matrix;
  if (!Array.isArray(m) || m.length !== 4 || m.some((r) => !Array.isArray(r) || r.length !== 4 || r.some((x) => typeof x !== "number" || !Number.isFinite(x)))) {
    throw new Error(`transform ${path}: matrix must be 4 rows of 4 finite numbers`);
  }
  return m.flat();
}

/**
 * The moving volume resampled onto the fixed grid through T (fixed world -> moving world): output
 * voxel p holds moving(T(A_fixed p)); outside the moving field of view 0. The output has the fixed
 * grid's dims and affine.
 */
export function resampleMoving(moving: Volume, fixedGrid: Grid, matrix: readonly number[], interpolation: Interpolation = "bspline"): Volume {
  // resample() samples the source at inv(source affine) * target affine * p; with source affine
  // inv(T) A_m that is inv(A_m) T A_f p.
  const affine = multiply(invert(matrix, "transform"), moving.affine);
  affine.splice(12, 4, 0, 0, 0, 1); // exact last row (rounding in the inverse must not fail checkAffine)
  return resample({ data: moving.data, dims: moving.dims, affine }, fixedGrid, { interpolation, fill: 0 });
}
