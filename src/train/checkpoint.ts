// Training checkpoints: a directory holding safetensors files (one per tensor group: "model", "ema",
// "optimizer", ...) and `state.json` (step, config, optimiser/scheduler metadata, generator states,
// anything JSON). Written atomically as a whole: the files go to a fresh temporary directory beside
// the target, which then replaces the target by rename; a crash leaves either the old checkpoint or
// the new one, never a mixture.
//
// Nothing damaged is written or read back: tensors holding NaN or Inf are refused on save (the last
// good checkpoint stays) and on load, and state.json records the SHA-256 of every tensor file, checked
// when the checkpoint is opened (a file changed after it was written is named).
//
// A process killed while writing leaves `.checkpoint.PID.HEX.tmp` (and, between the two renames,
// `.checkpoint.PID.HEX.old` with no checkpoint/): recoverCheckpoint, called by every trainer before it
// looks for a checkpoint, removes the first and renames the second back (src/util/debris.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createHash, randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import * as T from "../torch/index.js";
import { JsonFileError, readJsonFile } from "../util/json_file.js";
import { describeNonFinite, firstNonFinite } from "../model_dir/finite_weights.js";
import { clearDebris, clearDebrisOnce } from "../util/debris.js";

export const CHECKPOINT_FORMAT = "moediff-sr-checkpoint";
export const CHECKPOINT_VERSION = 1;

export class CheckpointError extends Error {
  constructor(
    readonly dir: string,
    message: string,
  ) {
    super(`checkpoint ${dir}: ${message}`);
    this.name = "CheckpointError";
  }
}

export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** What was being trained, e.g. "moediff" or "vqvae". */
  kind: string;
  /** SHA-256 (hex) of each tensor file, by file name (absent in checkpoints from before it was kept). */
  files?: Record<string, string>;
  [key: string]: unknown;
}

/** What to do about a damaged checkpoint `dir`. */
const START_AGAIN = (dir: string): string => `move ${dir} away and train again without --resume`;

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Writes the checkpoint directory `dir` atomically. Tensor groups become `<group>.safetensors`. */
export function saveCheckpoint(dir: string, state: Omit<CheckpointState, "format" | "version" | "files">, groups: Record<string, T.io.TensorDict>): void {
  for (const [name, tensors] of Object.entries(groups)) {
    const bad = firstNonFinite(tensors);
    if (bad !== null) throw new CheckpointError(dir, `not written: ${describeNonFinite(`${name}.safetensors`, bad)}; the previous checkpoint is kept`);
  }
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  clearDebrisOnce(parent);
  const tmp = join(parent, `.${basename(dir)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const old = join(parent, `.${basename(dir)}.${process.pid}.${randomBytes(4).toString("hex")}.old`);
  try {
    mkdirSync(tmp);
    const files: Record<string, string> = {};
    for (const [name, tensors] of Object.entries(groups)) {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new CheckpointError(dir, `tensor group name '${name}' must be lower-case letters, digits and _`);
      const file = `${name}.safetensors`;
      T.io.saveFile(join(tmp, file), tensors);
      files[file] = sha256(join(tmp, file));
    }
    const full: CheckpointState = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, ...state, files } as CheckpointState;
    writeFileSync(join(tmp, "state.json"), `${JSON.stringify(full, null, 1)}\n`);
    if (existsSync(dir)) renameSync(dir, old);
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (existsSync(old) && !existsSync(dir)) renameSync(old, dir);
    throw e instanceof CheckpointError ? e : new CheckpointError(dir, `could not be written: ${e instanceof Error ? e.message : String(e)}`);
  }
  rmSync(old, { recursive: true, force: true });
}

/**
 * Clears what writes cut short left beside the checkpoint directory `dir` (by processes no longer
 * running): temporary files and directories are removed, and a checkpoint left half-renamed (the
 * previous one moved aside, the new one not yet in place) is renamed back. Says what it recovered.
 */
export function recoverCheckpoint(dir: string, say: (line: string) => void = () => {}): void {
  for (const a of clearDebris(dirname(dir))) {
    if (a.action === "restored" && a.target === dir) say(`recovered ${dir} from ${basename(a.path)} (a checkpoint write was cut short)`);
  }
}

/**
 * Whether the run in `outDir` has finished: its checkpoint reached `totalSteps` and metrics.json, which
 * every trainer writes last, exists. A finished run's --resume does nothing.
 */
export function finished(ck: LoadedCheckpoint, outDir: string, totalSteps: number): boolean {
  return typeof ck.state.step === "number" && ck.state.step >= totalSteps && existsSync(join(outDir, "metrics.json"));
}

export interface LoadedCheckpoint {
  dir: string;
  state: CheckpointState;
  /** The tensor groups present. */
  groups: string[];
  /** Loads one tensor group (the caller owns and disposes the tensors). */
  tensors(group: string, options?: { device?: T.Device }): Map<string, T.Tensor>;
}

/**
 * Opens a checkpoint directory written by saveCheckpoint; checks its format, if given its kind, and
 * each tensor file against the SHA-256 in state.json. Loaded tensors are checked to be finite.
 */
export function loadCheckpoint(dir: string, expectKind?: string): LoadedCheckpoint {
  if (!existsSync(dir)) throw new CheckpointError(dir, "does not exist");
  const statePath = join(dir, "state.json");
  if (!existsSync(statePath)) throw new CheckpointError(dir, "has no state.json; it is not a moediff-sr checkpoint (or was not completely written)");
  let state: CheckpointState;
  try {
    state = readJsonFile(statePath, { what: "the checkpoint state", fix: "the checkpoint is damaged: delete the checkpoint directory and train without --resume" }) as CheckpointState;
  } catch (e) {
    throw new CheckpointError(dir, `state.json ${e instanceof JsonFileError ? e.problem : String(e)}`);
  }
  if (state === null || typeof state !== "object" || state.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(dir, `state.json is not a moediff-sr checkpoint (format ${JSON.stringify((state as { format?: unknown } | null)?.format)})`);
  }
  if (state.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(dir, `has format version ${String(state.version)}; this moediff-sr reads version ${CHECKPOINT_VERSION}`);
  }
  if (expectKind !== undefined && state.kind !== expectKind) {
    throw new CheckpointError(dir, `holds a '${String(state.kind)}' model, expected '${expectKind}'`);
  }
  if (state.files !== undefined) {
    if (state.files === null || typeof state.files !== "object") throw new CheckpointError(dir, `state.json's "files" is not an object of SHA-256 sums; ${START_AGAIN(dir)}`);
    for (const [file, sum] of Object.entries(state.files)) {
      const path = join(dir, file);
      if (!existsSync(path)) throw new CheckpointError(dir, `${file} is missing (state.json lists it); ${START_AGAIN(dir)}`);
      if (sha256(path) !== sum) {
        throw new CheckpointError(dir, `${file} does not match the SHA-256 recorded in state.json (it was changed or damaged after it was written); ${START_AGAIN(dir)}`);
      }
    }
  }
  const groups = readdirSync(dir)
    .filter((f) => f.endsWith(".safetensors"))
    .map((f) => f.slice(0, -".safetensors".length))
    .sort();
  return {
    dir,
    state,
    groups,
    tensors(group, options = {}) {
      if (!groups.includes(group)) throw new CheckpointError(dir, `has no '${group}' tensors (it has: ${groups.join(", ") || "none"})`);
      const file = `${group}.safetensors`;
      const tensors = T.io.loadFile(join(dir, file), options.device === undefined ? {} : { device: options.device }).tensors;
      const bad = firstNonFinite(tensors);
      if (bad !== null) {
        disposeAll(tensors);
        throw new CheckpointError(dir, `${describeNonFinite(file, bad)}; ${START_AGAIN(dir)}`);
      }
      return tensors;
    },
  };
}

/** Disposes every tensor of a loaded group. */
export function disposeAll(tensors: ReadonlyMap<string, T.Tensor> | Record<string, T.Tensor>): void {
  for (const t of tensors instanceof Map ? tensors.values() : Object.values(tensors)) t.dispose();
}

/** Bytes of a uint8 tensor as hex (generator states in state.json). */
export function bytesToHex(t: T.Tensor): string {
  return Buffer.from(t.bytes()).toString("hex");
}

/** The inverse of bytesToHex: a uint8 tensor. */
export function hexToBytes(hex: string): T.Tensor {
  const b = Buffer.from(hex, "hex");
  return T.fromBytes(new Uint8Array(b.buffer, b.byteOffset, b.length), [b.length], "uint8");
}
