// Held-out synthetic test subjects (evaluate-grid): new anatomies and contrasts made from a source
// exactly as prepare --randomise makes training subjects (anatomy.ts, contrast.ts, SubjectGenerator),
// but drawn from a fixed seed in their own stream namespace, "heldout-test/<i>/...". Training subjects
// draw from "randomise/<i>/..." (drawSubject), so no training subject, whatever its --seed, shares a
// stream with a test subject: the test set is never used in training.
//
// Only the anatomy and the contrast of a test subject are used; evaluate-grid chooses the acquisitions
// itself (its grid of voxel sizes, SNRs and bias strengths). The subject's drawn acquisition seed
// (acquisition.brain.seed) seeds the bias field and noise of every cell, so cells of one subject
// differ only in the parameters the grid varies.
import { RANDOMISE_DEFAULTS, type RandomiseRanges } from "./ranges.js";
import { drawSubject, type SubjectParams } from "./subject.js";

/** The fixed seed of the held-out test subjects. */
export const HELDOUT_SEED = 7_000_001;
/** Their stream namespace (training subjects use "randomise"). */
export const HELDOUT_NAMESPACE = "heldout-test";

/** Test subject `index` (0-based) of source `source`: its id is `test-NN`. */
export function drawHeldoutSubject(index: number, source = 0, ranges: RandomiseRanges = RANDOMISE_DEFAULTS): SubjectParams {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`held-out subject index must be an integer >= 0, got ${index}`);
  return drawSubject(HELDOUT_SEED, index, source, heldoutSubjectId(index), ranges, HELDOUT_NAMESPACE);
}

export function heldoutSubjectId(index: number): string {
  return `test-${String(index).padStart(2, "0")}`;
}
