// Reading a `moediff-sr enhance --explain DIR` directory: explain.json plus expert_E<k>.nii.gz (each
// expert's own decoded estimate on the output grid) and gate_E<k>.nii.gz (its gate weight in [0, 1]).
// Every file is checked before any is read, so a missing one is reported by name.
// A relative "output" path is tried as given (relative to the working directory), then relative to DIR.
import { existsSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { readJsonFile } from "../util/json_file.js";

export interface ExplainDir {
  readonly dir: string;
  readonly experts: readonly number[];
  readonly gating: "global" | "spatial";
  readonly axis: 0 | 1 | 2;
  readonly mode: string;
  /** The enhanced volume, when explain.json names one that exists; else null. */
  readonly output: string | null;
  /** "output" as written in explain.json. */
  readonly outputAsWritten: string | null;
  expertPath(k: number): string;
  gatePath(k: number): string;
}

const WRITTEN_BY = "written by `moediff-sr enhance --explain DIR`";

export function readExplainDir(dir: string, need: { experts: boolean; gates: boolean }): ExplainDir {
  const jsonPath = join(dir, "explain.json");
  if (!existsSync(dir)) throw new Error(`figures: --explain ${dir} does not exist (a directory ${WRITTEN_BY})`);
  if (!existsSync(jsonPath)) throw new Error(`figures: --explain ${dir} has no explain.json; is it a directory ${WRITTEN_BY}?`);
  const j = readJsonFile(jsonPath, { what: "figures: the explain description", fix: `enhance again with --explain ${dir}`, error: Error });
  const bad = (what: string): never => {
    throw new Error(`figures: ${jsonPath}: ${what}`);
  };
  if (typeof j !== "object" || j === null || Array.isArray(j)) return bad("must hold a JSON object");
  const o = j as Record<string, unknown>;
  if (o["format"] !== "moediff-sr-explain") bad(`"format" must be "moediff-sr-explain", got ${JSON.stringify(o["format"])}`);
  if (o["version"] !== 1) bad(`unsupported "version" ${JSON.stringify(o["version"])} (this build reads version 1)`);
  const experts = o["experts"];
  if (!Array.isArray(experts) || experts.length === 0 || !experts.every((k) => Number.isInteger(k) && (k as number) >= 1)) {
    bad(`"experts" must be a non-empty list of expert numbers such as [1, 2, 3], got ${JSON.stringify(experts)}`);
  }
  const gating = o["gating"];
  if (gating !== "global" && gating !== "spatial") bad(`"gating" must be "global" or "spatial", got ${JSON.stringify(gating)}`);
  const axis = o["axis"] ?? 2;
  if (axis !== 0 && axis !== 1 && axis !== 2) bad(`"axis" must be 0, 1 or 2, got ${JSON.stringify(axis)}`);
  const outRaw = o["output"];
  if (outRaw !== undefined && outRaw !== null && typeof outRaw !== "string") bad(`"output" must be a path, got ${JSON.stringify(outRaw)}`);
  const written = typeof outRaw === "string" && outRaw !== "" ? outRaw : null;
  let output: string | null = null;
  if (written !== null) {
    const candidates = isAbsolute(written) ? [written] : [resolve(written), resolve(dir, written)];
    output = candidates.find((p) => existsSync(p)) ?? null;
  }
  const ks = experts as number[];
  const expertPath = (k: number) => join(dir, `expert_E${k}.nii.gz`);
  const gatePath = (k: number) => join(dir, `gate_E${k}.nii.gz`);
  const missing: string[] = [];
  for (const k of ks) {
    if (need.experts && !existsSync(expertPath(k))) missing.push(`expert_E${k}.nii.gz`);
    if (need.gates && !existsSync(gatePath(k))) missing.push(`gate_E${k}.nii.gz`);
  }
  if (missing.length > 0) {
    throw new Error(`figures: --explain ${dir} lacks ${missing.join(", ")} (explain.json lists experts [${ks.join(", ")}]; files ${WRITTEN_BY})`);
  }
  return {
    dir,
    experts: ks,
    gating: gating as "global" | "spatial",
    axis: axis as 0 | 1 | 2,
    mode: typeof o["mode"] === "string" ? o["mode"] : "unknown",
    output,
    outputAsWritten: written,
    expertPath,
    gatePath,
  };
}
