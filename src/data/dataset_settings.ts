// What every data-set manifest records of how it was made (prepare.ts and randomise/build.ts), in one
// key order, and the check both run before writing one: no split may be empty.
import { BRAIN_LEVEL } from "./brain_fraction.js";
import { NORMALISE_PERCENTILE } from "./normalise.js";
import type { DatasetSettings } from "./manifest.js";
import { SPLITS, type SplitName } from "./split.js";

type Common = Pick<DatasetSettings, "axis" | "height" | "width" | "seed" | "shardSize" | "minBrain" | "slabGap">;

/** The settings shared by every generator, with the constants they were made with. */
export function commonSettings(o: Common): Omit<DatasetSettings, "pairsPerVolume" | "ranges"> {
  return {
    axis: o.axis,
    height: o.height,
    width: o.width,
    seed: o.seed,
    shardSize: o.shardSize,
    minBrain: o.minBrain,
    brainLevel: BRAIN_LEVEL,
    normalisePercentile: NORMALISE_PERCENTILE,
    slabGap: o.slabGap,
  };
}

/** Throws when a split received no slice; `more` says what to give instead. */
export function checkSplitsFilled(counts: Readonly<Record<SplitName, number>>, more: string): void {
  for (const s of SPLITS) {
    if (counts[s] === 0) throw new RangeError(`the ${s} split is empty: no slice with enough brain went to it (lower --min-brain, or give ${more})`);
  }
}
