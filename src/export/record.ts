// What an export records about itself (card.json's "export" entry, src/model_dir/card.ts): where the
// model came from, each network's stored precision and the float16 check that chose it; and the
// training wall time read back from a run's log for MODEL_CARD.md.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface ExportTolerance {
  /** Largest allowed change of a slice's PSNR against its HR slice, dB. */
  readonly psnrDb: number;
  /** Largest allowed absolute change of an output pixel (normalised intensities, 1 = the 99.5th percentile). */
  readonly maxAbs: number;
}

export const EXPORT_TOLERANCE: ExportTolerance = Object.freeze({ psnrDb: 0.01, maxAbs: 0.01 });

export type Network = "moe" | "vqvae";
export const WEIGHT_FILES: Readonly<Record<Network, string>> = { moe: "model.safetensors", vqvae: join("vqvae", "model.safetensors") };

export interface PrecisionCheck {
  /** Which networks were float16 in this trial. */
  readonly float16: readonly Network[];
  readonly maxAbs: number;
  readonly psnrDelta: number;
  readonly pass: boolean;
}

export interface WeightRecord {
  readonly dtype: "float16" | "float32";
  readonly bytes: number;
  readonly float32Bytes: number;
  /** Tensors kept in float32 in a float16 file because float16 cannot hold their values. */
  readonly keptFloat32: readonly string[];
}

export interface ExportRecord {
  readonly from: string;
  readonly weights: Readonly<Record<Network, WeightRecord>>;
  readonly check: {
    readonly slices: readonly number[];
    readonly seed: number;
    readonly sampler: string;
    readonly tolerance: ExportTolerance;
    readonly trials: readonly PrecisionCheck[];
  };
}

/** Wall time of a training log (log.jsonl): the last `time` of each sitting (time restarts at 0 on resume), summed. */
export function wallTimeFromLog(path: string): { seconds: number; steps: number; sittings: number } | null {
  if (!existsSync(path)) return null;
  let seconds = 0;
  let sittings = 0;
  let prev = -1;
  let steps = 0;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    let r: { step?: unknown; time?: unknown };
    try {
      r = JSON.parse(line) as { step?: unknown; time?: unknown };
    } catch {
      continue;
    }
    if (typeof r.step === "number") steps = Math.max(steps, r.step);
    if (typeof r.time !== "number") continue;
    if (r.time < prev || prev < 0) {
      if (prev >= 0) seconds += prev;
      sittings++;
    }
    prev = r.time;
  }
  if (prev < 0) return null;
  return { seconds: seconds + prev, steps, sittings };
}
