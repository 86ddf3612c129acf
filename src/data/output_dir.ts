// Never a half-written output directory (a data set from prepare, a model from export): it is built in
// a hidden temporary directory next to the output (same file system, so the final rename is atomic) and
// renamed into place only when everything is written. An existing non-empty output is refused unless
// `force`; even then only a directory of the same kind (for data sets: one with a manifest.json) is
// replaced, so a mistyped -o cannot delete an unrelated tree. An existing empty directory is replaced
// silently.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, rmdirSync, statSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { MANIFEST_FILE } from "./manifest.js";

export interface StagedOutput {
  /** The final directory (absolute). */
  readonly output: string;
  /** Where to write meanwhile. */
  readonly tmp: string;
  /** Moves tmp into place (replacing an old data set when allowed). */
  commit(): void;
  /** Removes tmp and everything in it. */
  abort(): void;
}

/**
 * Checks that `output` may be written (by `checkTarget`: by default, the rule for data sets above) and
 * creates the temporary directory next to it.
 */
export function stageOutput(output: string, force: boolean, checkTarget: (out: string, force: boolean) => void = checkDataSetTarget): StagedOutput {
  const out = resolve(output);
  const parent = dirname(out);
  const name = basename(out);
  checkTarget(out, force);
  mkdirSync(parent, { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString("hex")}`;
  const tmp = join(parent, `.${name}.partial-${tag}`);
  mkdirSync(tmp);
  return {
    output: out,
    tmp,
    commit() {
      checkTarget(out, force);
      if (existsSync(out)) {
        if (readdirSync(out).length === 0) {
          rmdirSync(out);
          renameSync(tmp, out);
          return;
        }
        const old = join(parent, `.${name}.old-${tag}`);
        renameSync(out, old);
        try {
          renameSync(tmp, out);
        } catch (e) {
          renameSync(old, out);
          throw e;
        }
        rmSync(old, { recursive: true, force: true });
        return;
      }
      renameSync(tmp, out);
    },
    abort() {
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** A data set's output may be absent, empty, or (with force) a data set written by prepare. */
function checkDataSetTarget(out: string, force: boolean): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new Error(`output ${out} exists and is not a directory; choose another -o`);
  if (readdirSync(out).length === 0) return;
  if (!force) throw new Error(`output ${out} exists and is not empty; choose another -o, or pass --force to replace it`);
  if (!existsSync(join(out, MANIFEST_FILE))) {
    throw new Error(`output ${out} is not empty and holds no ${MANIFEST_FILE}: --force replaces only a data set written by moediff-sr prepare; remove the directory yourself if you mean it`);
  }
}
