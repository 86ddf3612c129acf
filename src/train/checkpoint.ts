// Training checkpoints: a directory holding safetensors files (one per tensor group: "model", "ema",
// "optimizer", ...) and `state.json` (step, config, optimiser/scheduler metadata, generator states,
// anything JSON). Written atomically as a whole: the files go to a fresh temporary directory beside
// the target, which then replaces the target by rename; a crash leaves either the old checkpoint or
// the new one, never a mixture.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import * as T from "../torch/index.js";
import { JsonFileError, readJsonFile } from "../util/json_file.js";

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
  [key: string]: unknown;
}

/** Writes the checkpoint directory `dir` atomically. Tensor groups become `<group>.safetensors`. */
export function saveCheckpoint(dir: string, state: Omit<CheckpointState, "format" | "version">, groups: Record<string, T.io.TensorDict>): void {
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dir)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const old = join(parent, `.${basename(dir)}.${process.pid}.${randomBytes(4).toString("hex")}.old`);
  try {
    mkdirSync(tmp);
    for (const [name, tensors] of Object.entries(groups)) {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new CheckpointError(dir, `tensor group name '${name}' must be lower-case letters, digits and _`);
      T.io.saveFile(join(tmp, `${name}.safetensors`), tensors);
    }
    const full: CheckpointState = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, ...state } as CheckpointState;
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

export interface LoadedCheckpoint {
  dir: string;
  state: CheckpointState;
  /** The tensor groups present. */
  groups: string[];
  /** Loads one tensor group (the caller owns and disposes the tensors). */
  tensors(group: string, options?: { device?: T.Device }): Map<string, T.Tensor>;
}

/** Opens a checkpoint directory written by saveCheckpoint; checks its format and, if given, its kind. */
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
      return T.io.loadFile(join(dir, `${group}.safetensors`), options.device === undefined ? {} : { device: options.device }).tensors;
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
