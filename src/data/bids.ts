// BIDS input and derivative layout for `enhance --bids DIR` (issue 21, point 8).
//
// Inputs: every sub-<label>/[ses-<label>/]anat/*_T1w.nii[.gz] under the data set's root (BIDS 1.9,
// "Anatomy imaging data"). Outputs: the derivative data set <root>/derivatives/moediff-sr, the same
// sub-/ses-/anat/ tree, each file named from its source with the entity desc-7Tlike before the
// suffix (sub-01_ses-1_run-1_T1w -> sub-01_ses-1_run-1_desc-7Tlike_T1w), plus the derivative's
// dataset_description.json (DatasetType "derivative", GeneratedBy this tool).
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { writeFileAtomic } from "../util/atomic_write.js";

export interface BidsT1w {
  /** The source file. */
  path: string;
  /** sub-<label> and ses-<label> (null without sessions). */
  subject: string;
  session: string | null;
  /** The file name without .nii or .nii.gz, e.g. sub-01_ses-1_T1w. */
  stem: string;
  /** sub-XX[/ses-YY]/anat, relative to the data set's root. */
  relDir: string;
}

const NIFTI = /\.nii(\.gz)?$/;
const T1W = /_T1w\.nii(\.gz)?$/;
const dirs = (d: string, prefix: string): string[] =>
  readdirSync(d, { withFileTypes: true })
    .filter((e) => (e.isDirectory() || (e.isSymbolicLink() && statSync(join(d, e.name)).isDirectory())) && e.name.startsWith(prefix))
    .map((e) => e.name)
    .sort();

/** The T1-weighted images of a BIDS data set, in subject, session, file order. */
export function findBidsT1w(root: string): BidsT1w[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new Error(`--bids ${root}: not a directory; give the root of a BIDS data set (the folder with the sub-* folders)`);
  const subjects = dirs(root, "sub-");
  if (subjects.length === 0) throw new Error(`--bids ${root}: no sub-* folders; give the root of a BIDS data set`);
  const found: BidsT1w[] = [];
  for (const subject of subjects) {
    const sessions = dirs(join(root, subject), "ses-");
    for (const session of sessions.length > 0 ? sessions : [null]) {
      const anat = session === null ? join(root, subject, "anat") : join(root, subject, session, "anat");
      if (!existsSync(anat)) continue;
      for (const name of readdirSync(anat).sort()) {
        if (!T1W.test(name) || !name.startsWith(`${subject}_`)) continue;
        found.push({ path: join(anat, name), subject, session, stem: name.replace(NIFTI, ""), relDir: relative(root, anat) });
      }
    }
  }
  if (found.length === 0) throw new Error(`--bids ${root}: no sub-*/[ses-*/]anat/sub-*_T1w.nii[.gz] files found`);
  return found;
}

/** sub-01_ses-1_T1w -> sub-01_ses-1_desc-7Tlike_T1w (an existing desc entity is replaced). */
export function bidsDerivativeStem(stem: string, desc = "7Tlike"): string {
  const parts = stem.split("_");
  const suffix = parts.pop() as string;
  const entities = parts.filter((p) => !p.startsWith("desc-"));
  return [...entities, `desc-${desc}`, suffix].join("_");
}

/** The derivative's dataset_description.json (BIDS 1.9, "Derived dataset and pipeline description"). */
export function derivativeDescription(version: string, source: string): Record<string, unknown> {
  return {
    Name: "moediff-sr 7T-like enhancement",
    BIDSVersion: "1.9.0",
    DatasetType: "derivative",
    GeneratedBy: [{ Name: "moediff-sr", Version: version, Description: "3T-like to 7T-like super-resolution with a mixture-of-experts latent diffusion model (moediff-sr enhance)" }],
    SourceDatasets: [{ URL: `file://${source}` }],
  };
}

/** Writes DIR/dataset_description.json unless one is there. */
export function writeDerivativeDescription(dir: string, version: string, source: string): void {
  const path = join(dir, "dataset_description.json");
  if (existsSync(path)) return;
  writeFileAtomic(path, (w) => w(Buffer.from(`${JSON.stringify(derivativeDescription(version, source), null, 2)}\n`)));
}
