// Which volumes `moediff-sr enhance` reads and where each result goes (issue 21, point 8):
//   enhance IN -o OUT.nii.gz                  one volume (as always)
//   enhance IN1 IN2 ... -o DIR                several: DIR/<each input's file name>, .nii.gz
//   enhance --list FILE -o DIR                one path per line (# comments and blank lines ignored;
//                                             relative paths are relative to the list's directory)
//   enhance --bids ROOT [-o DERIV]            every sub-*/[ses-*/]anat/*_T1w.nii[.gz]; results in
//                                             DERIV (default ROOT/derivatives/moediff-sr) as
//                                             sub-XX/[ses-YY/]anat/<source>_desc-7Tlike_T1w.nii.gz
// Two inputs that would write the same output are refused before anything is computed.
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { bidsDerivativeStem, findBidsT1w } from "../data/bids.js";

export interface EnhanceJob {
  input: string;
  output: string;
  /** Short name for messages: the BIDS stem or the input's file name. */
  label: string;
}

export interface EnhancePlan {
  jobs: EnhanceJob[];
  /** One input and -o a file: the command's single-volume form. */
  single: boolean;
  /** --bids: the derivative data set's root (for dataset_description.json). */
  derivatives: string | null;
}

export interface PlanInput {
  inputs: readonly string[];
  output?: string;
  list?: string;
  bids?: string;
}

const NIFTI = /\.nii(\.gz)?$/i;

/** The paths a list file names, in order. */
export function readInputList(file: string): string[] {
  if (!existsSync(file)) throw new Error(`--list ${file} does not exist; give a text file with one input volume per line`);
  const base = dirname(resolve(file));
  const paths = readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => (isAbsolute(l) ? l : join(base, l)));
  if (paths.length === 0) throw new Error(`--list ${file} names no input (one path per line; # starts a comment)`);
  return paths;
}

/** "t1.nii" or "t1.nii.gz" -> "t1.nii.gz"; any other name gets .nii.gz appended. */
const niftiGz = (name: string): string => `${name.replace(NIFTI, "")}.nii.gz`;

export function planEnhanceJobs(p: PlanInput): EnhancePlan {
  if (p.bids !== undefined) {
    if (p.inputs.length > 0 || p.list !== undefined) throw new Error("--bids finds its own inputs: give no input files and no --list with it");
    const root = resolve(p.bids);
    const derivatives = resolve(p.output ?? join(root, "derivatives", "moediff-sr"));
    const jobs = findBidsT1w(root).map((t) => ({
      input: t.path,
      output: join(derivatives, t.relDir, `${bidsDerivativeStem(t.stem)}${t.path.endsWith(".gz") ? ".nii.gz" : ".nii"}`),
      label: t.stem,
    }));
    return { jobs, single: false, derivatives };
  }
  const inputs = [...p.inputs, ...(p.list === undefined ? [] : readInputList(p.list))];
  if (inputs.length === 0) throw new Error("no input: give a volume (enhance IN -o OUT.nii.gz), several with -o DIR, --list FILE or --bids DIR");
  if (p.output === undefined) throw new Error("-o is required: the output file (one input) or directory (several inputs, --list)");
  const outIsDir = p.output.endsWith("/") || (existsSync(p.output) && statSync(p.output).isDirectory());
  if (inputs.length === 1 && p.list === undefined && !outIsDir) return { jobs: [{ input: inputs[0] as string, output: p.output, label: basename(inputs[0] as string) }], single: true, derivatives: null };
  if (!outIsDir && NIFTI.test(p.output)) {
    throw new Error(`-o ${p.output} names a file, but ${inputs.length} inputs were given: name a directory for their results (each keeps its file name)`);
  }
  const jobs = inputs.map((input) => ({ input, output: join(p.output as string, niftiGz(basename(input))), label: basename(input) }));
  const seen = new Map<string, string>();
  for (const j of jobs) {
    const other = seen.get(resolve(j.output));
    if (other !== undefined) throw new Error(`${other} and ${j.input} would both be written to ${j.output}; rename one, or enhance them into different directories`);
    if (resolve(j.output) === resolve(j.input)) throw new Error(`${j.input} would be overwritten by its result; choose another -o directory`);
    seen.set(resolve(j.output), j.input);
  }
  return { jobs, single: false, derivatives: null };
}
