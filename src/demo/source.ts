// The HR source volume of the held-out data (Colin27 for the default model): read, checked against the
// SHA-256 the data set recorded, and reoriented to RAS as `prepare` does (the slab indices and the
// simulation refer to the RAS grid). A missing file gets the install hint; a different file only a
// warning (the demo still runs, but its LR is then not the data set's held-out LR).
import { existsSync } from "node:fs";
import { sourceFile, readVolume } from "../data/sources.js";
import { reorient } from "../volume/reorient.js";
import type { Volume } from "../volume/volume.js";
import type { HeldoutSource } from "../model_dir/heldout.js";

export interface LoadedSource {
  /** The volume reoriented to RAS (raw intensities). */
  readonly ras: Volume;
  readonly sha256: string;
  readonly sha256Matches: boolean;
  readonly warnings: readonly string[];
}

/** Where Debian/Ubuntu's mricron-data package puts its templates. */
const MRICRON_DIR = "/usr/share/mricron/";

export function loadSource(src: HeldoutSource): LoadedSource {
  if (!existsSync(src.path)) {
    const hint = src.path.startsWith(MRICRON_DIR)
      ? "it comes with the Debian/Ubuntu package mricron-data: sudo apt-get install mricron-data (scripts/setup.sh installs it when run as root)"
      : "restore the file, or point heldout.json's source.path at it";
    throw new Error(`the held-out source volume ${src.path} (subject ${src.subject}) does not exist; ${hint}`);
  }
  const { sha256 } = sourceFile(src.path);
  const warnings: string[] = [];
  const matches = sha256 === src.sha256;
  if (!matches) {
    warnings.push(
      `${src.path} has SHA-256 ${sha256}, not the ${src.sha256} the model's data set was built from: ` +
        "the simulated acquisition will not be the data set's held-out one (and the slab may hold training anatomy)",
    );
  }
  const raw = readVolume(src.path, "held-out source volume");
  return { ras: reorient(raw, "RAS"), sha256, sha256Matches: matches, warnings };
}
