// The record `enhance` writes beside its output (OUT.nii.gz -> OUT.json), so that a result can be traced:
// which tool and model made it (the model directory, its card's version, the SHA-256 of each file the
// model hash covers and the 12-digit hash itself, src/model_dir/hash.ts), from which input (its path
// and the SHA-256 of its bytes on disk), with which sampler settings and onto which grid, and what the
// input checks found (src/inference/trust.ts). No timestamps: the same run writes the same bytes.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.js";
import { MODEL_HASH_FILES, modelHash } from "../model_dir/hash.js";
import type { ModelCard } from "../model_dir/card.js";
import type { EnhanceSettings } from "./pipeline.js";
import type { TrustReport } from "./trust.js";

export const SIDECAR_FORMAT = "moediff-sr-enhance-record";

/** OUT.nii.gz or OUT.nii -> OUT.json (same directory). */
export function sidecarPath(output: string): string {
  return join(dirname(output), `${basename(output).replace(/\.nii(\.gz)?$/i, "")}.json`);
}

/** SHA-256 (hex) of a file's bytes. */
export function fileSha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export interface SidecarInput {
  readonly tool: { readonly name: "moediff-sr"; readonly version: string; readonly command: "enhance" };
  readonly input: { readonly path: string; readonly volumeIndex: number | null; readonly dims: readonly number[]; readonly voxelSize: readonly number[] };
  readonly output: { readonly path: string; readonly dims: readonly number[]; readonly voxelSize: readonly number[] };
  readonly modelDir: string;
  /** modelFiles(modelDir), taken when the model was loaded (a directory replaced later must not be credited). */
  readonly modelFiles: ModelFiles;
  readonly card: ModelCard;
  readonly formulation: string;
  readonly sampler: { readonly description: string; readonly axes: readonly string[]; readonly settings: EnhanceSettings };
  readonly target: { readonly voxelSize: readonly number[] | null; readonly like: string | null };
  readonly trust: TrustReport;
}

export interface Sidecar {
  readonly format: typeof SIDECAR_FORMAT;
  readonly version: 1;
  readonly tool: SidecarInput["tool"];
  readonly input: SidecarInput["input"] & { readonly sha256: string };
  readonly output: SidecarInput["output"] & { readonly sha256: string };
  readonly model: {
    readonly dir: string;
    /** modelHash(dir): the first 12 hex digits of the SHA-256 of `files` concatenated in order. */
    readonly hash: string;
    readonly cardVersion: number;
    readonly formulation: string;
    /** SHA-256 of each file the hash covers, in the hash's order. */
    readonly files: readonly { readonly file: string; readonly sha256: string }[];
    /** From the card: where the model was exported from, when it was. */
    readonly exportedFrom: string | null;
  };
  readonly sampler: SidecarInput["sampler"];
  readonly target: SidecarInput["target"];
  readonly checks: {
    readonly warnings: readonly string[];
    readonly unchecked: string | null;
    readonly items: TrustReport["checks"];
    readonly measured: TrustReport["measured"];
  };
}

export interface ModelFiles {
  readonly hash: string;
  readonly files: readonly { readonly file: string; readonly sha256: string }[];
}

/** The model directory's hash and the SHA-256 of each file it covers (call it when the model is loaded). */
export function modelFiles(dir: string): ModelFiles {
  return { hash: modelHash(dir), files: MODEL_HASH_FILES.map((file) => ({ file, sha256: fileSha256(join(dir, file)) })) };
}

/** The record of one enhance run (input and output files must exist: their bytes are hashed). */
export function makeSidecar(s: SidecarInput): Sidecar {
  const exportedFrom = s.card.export?.from;
  return {
    format: SIDECAR_FORMAT,
    version: 1,
    tool: s.tool,
    input: { ...s.input, path: resolve(s.input.path), sha256: fileSha256(s.input.path) },
    output: { ...s.output, path: resolve(s.output.path), sha256: fileSha256(s.output.path) },
    model: {
      dir: resolve(s.modelDir),
      hash: s.modelFiles.hash,
      cardVersion: s.card.version,
      formulation: s.formulation,
      files: s.modelFiles.files,
      exportedFrom: typeof exportedFrom === "string" ? exportedFrom : null,
    },
    sampler: s.sampler,
    target: s.target,
    checks: { warnings: s.trust.warnings, unchecked: s.trust.unchecked, items: s.trust.checks, measured: s.trust.measured },
  };
}

/** Writes the record atomically to `path`. */
export function writeSidecar(path: string, sidecar: Sidecar): void {
  writeFileAtomic(path, (w) => w(Buffer.from(`${JSON.stringify(sidecar, null, 2)}\n`)));
}
