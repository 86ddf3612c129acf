// The manifest of real LR/HR pairs for `prepare --pairs`: CSV (comma), TSV (tab) or JSON.
//
// Columns / keys: subject, lr, hr (required); bias, gdc (optional; "gdc_warp" is accepted for gdc).
//   CSV/TSV: a header row naming the columns (any order, case-insensitive), one pair per row; fields
//            may be double-quoted ("" inside quotes is a quote); blank lines and lines starting with
//            # are ignored.
//   JSON:    an array of objects, or {"pairs": [...]}, with string values.
// Relative paths are relative to the manifest's directory. Several rows may share a subject
// (sessions); they are kept together by the split.
// Problems are collected and reported together, each with its row: unknown or missing columns,
// empty values, malformed subject ids, the same LR file in two rows (duplicate rows), one file under
// two subject ids (it would leak across the split), files that do not exist.
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import { describeJsonSyntaxError } from "../util/json_file.js";
import { DICOM_ADVICE, dicomKind } from "../nifti/dicom.js";

export interface PairEntry {
  readonly subject: string;
  /** Absolute paths. */
  readonly lr: string;
  readonly hr: string;
  readonly bias?: string;
  readonly gdc?: string;
  /** Where the row came from, for messages: "line 3" or "entry 2". */
  readonly where: string;
}

export class PairsManifestError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    const shown = problems.slice(0, 12);
    const more = problems.length > shown.length ? `\n  ... and ${problems.length - shown.length} more` : "";
    super(`pairs manifest ${source}: ${problems.length === 1 ? shown[0] : `${problems.length} problems:\n  ${shown.join("\n  ")}${more}`}`);
    this.name = "PairsManifestError";
  }
}

const REQUIRED = ["subject", "lr", "hr"] as const;
const OPTIONAL = ["bias", "gdc"] as const;
const ALIASES: Readonly<Record<string, string>> = { gdc_warp: "gdc" };
const KNOWN = [...REQUIRED, ...OPTIONAL];
const SUBJECT_RE = /^[A-Za-z0-9._-]+$/;

type Row = { fields: Map<string, string>; where: string };

/** Splits one CSV/TSV line into fields (quotes as in RFC 4180, within a line). */
function splitLine(line: string, sep: string, where: string, problems: string[]): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    while (line[i] === " " || (sep !== "\t" && line[i] === "\t")) i++;
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) {
          problems.push(`${where}: unterminated quoted field`);
          return null;
        }
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      while (i < line.length && line[i] !== sep) {
        if (line[i] !== " " && line[i] !== "\t") {
          problems.push(`${where}: text after a closing quote`);
          return null;
        }
        i++;
      }
    } else {
      const j = line.indexOf(sep, i);
      field = (j < 0 ? line.slice(i) : line.slice(i, j)).trim();
      i = j < 0 ? line.length : j;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++; // the separator
  }
}

/** Row-level problems go to `problems`; problems with the columns themselves to `fatal` (no row check is meaningful then). */
function parseDelimited(text: string, sep: string, problems: string[], fatal: string[]): Row[] {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  let header: string[] | null = null;
  const rows: Row[] = [];
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n] as string;
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const where = `line ${n + 1}`;
    const fields = splitLine(line, sep, where, problems);
    if (fields === null) continue;
    if (header === null) {
      header = fields.map((f) => {
        const k = f.trim().toLowerCase();
        return ALIASES[k] ?? k;
      });
      checkColumns(header, where, fatal);
      continue;
    }
    if (fields.length !== header.length) {
      problems.push(`${where}: ${fields.length} fields, but the header has ${header.length} columns (${header.join(", ")})`);
      continue;
    }
    rows.push({ fields: new Map(header.map((h, i) => [h, fields[i] as string])), where });
  }
  if (header === null) fatal.push(`no header row: the first line must name the columns ${REQUIRED.join(", ")} (optional: ${OPTIONAL.join(", ")})`);
  return rows;
}

function checkColumns(names: readonly string[], where: string, problems: string[]): void {
  for (const k of names) {
    if (!KNOWN.includes(k as (typeof KNOWN)[number])) problems.push(`${where}: unknown column ${JSON.stringify(k)} (known: ${KNOWN.join(", ")}; gdc_warp is accepted for gdc)`);
  }
  const dup = names.find((k, i) => names.indexOf(k) !== i);
  if (dup !== undefined) problems.push(`${where}: column ${JSON.stringify(dup)} appears twice`);
  const missing = REQUIRED.filter((k) => !names.includes(k));
  if (missing.length > 0) problems.push(`${where}: missing required column${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (have: ${names.join(", ") || "none"})`);
}

function parseJson(text: string, problems: string[], fatal: string[]): Row[] {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    fatal.push(`not valid JSON (${describeJsonSyntaxError(e instanceof Error ? e.message : String(e), text)}); fix it, or write the manifest as .csv/.tsv`);
    return [];
  }
  if (root !== null && typeof root === "object" && !Array.isArray(root)) {
    const keys = Object.keys(root);
    if (keys.length !== 1 || keys[0] !== "pairs") {
      fatal.push(`a JSON manifest must be an array of pairs or an object {"pairs": [...]}, got an object with keys ${keys.join(", ") || "(none)"}`);
      return [];
    }
    root = (root as { pairs: unknown }).pairs;
  }
  if (!Array.isArray(root)) {
    fatal.push(`a JSON manifest must be an array of pairs or an object {"pairs": [...]}`);
    return [];
  }
  const rows: Row[] = [];
  root.forEach((entry: unknown, n) => {
    const where = `entry ${n + 1}`;
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
      problems.push(`${where}: must be an object with keys ${REQUIRED.join(", ")}`);
      return;
    }
    const fields = new Map<string, string>();
    const names: string[] = [];
    const before = problems.length;
    for (const [k0, v] of Object.entries(entry)) {
      const k = ALIASES[k0.toLowerCase()] ?? k0.toLowerCase();
      names.push(k);
      if (typeof v !== "string") {
        problems.push(`${where}: ${k0} must be a string (a path or id), got ${JSON.stringify(v)}`);
        continue;
      }
      fields.set(k, v.trim());
    }
    checkColumns(names, where, problems);
    if (problems.length === before) rows.push({ fields, where });
  });
  return rows;
}

/** Parses manifest text; `baseDir` resolves relative paths. Does not touch the files. */
export function parsePairsManifest(text: string, format: "csv" | "tsv" | "json", source: string, baseDir: string): PairEntry[] {
  const problems: string[] = [];
  const fatal: string[] = [];
  const rows = format === "json" ? parseJson(text, problems, fatal) : parseDelimited(text, format === "csv" ? "," : "\t", problems, fatal);
  if (fatal.length > 0) throw new PairsManifestError(source, [...fatal, ...byRow(problems)]);
  if (rows.length === 0 && problems.length === 0) throw new PairsManifestError(source, ["no pairs: the manifest lists no rows"]);
  const entries: PairEntry[] = [];
  const byLr = new Map<string, string>();
  const subjectOf = new Map<string, { subject: string; where: string }>();
  for (const { fields, where } of rows) {
    const get = (k: string): string | undefined => {
      const v = fields.get(k);
      return v === undefined || v === "" ? undefined : v;
    };
    const subject = get("subject");
    let ok = true;
    for (const k of REQUIRED) {
      if (get(k) === undefined) {
        problems.push(`${where}: ${k} is empty`);
        ok = false;
      }
    }
    if (subject !== undefined && !SUBJECT_RE.test(subject)) {
      problems.push(`${where}: subject id ${JSON.stringify(subject)} may hold only letters, digits, '.', '_' and '-'`);
      ok = false;
    }
    if (!ok || subject === undefined) continue;
    const path = (k: string): string | undefined => {
      const v = get(k);
      return v === undefined ? undefined : isAbsolute(v) ? v : resolve(baseDir, v);
    };
    const e: PairEntry = {
      subject,
      lr: path("lr") as string,
      hr: path("hr") as string,
      ...(get("bias") !== undefined ? { bias: path("bias") as string } : {}),
      ...(get("gdc") !== undefined ? { gdc: path("gdc") as string } : {}),
      where,
    };
    const prev = byLr.get(e.lr);
    if (prev !== undefined) problems.push(`${where}: duplicate row: the LR file ${get("lr")} is already paired in ${prev}`);
    byLr.set(e.lr, where);
    for (const f of [e.lr, e.hr, e.bias, e.gdc]) {
      if (f === undefined) continue;
      const owner = subjectOf.get(f);
      if (owner !== undefined && owner.subject !== subject) {
        problems.push(`${where}: ${f} is listed for subject ${subject} and, in ${owner.where}, for subject ${owner.subject}; one file must belong to one subject`);
      } else if (owner === undefined) subjectOf.set(f, { subject, where });
    }
    entries.push(e);
  }
  if (problems.length > 0) throw new PairsManifestError(source, byRow(problems));
  return entries;
}

/** Problems sorted by their row ("line 7: ..." / "entry 2: ..."), stable. */
function byRow(problems: readonly string[]): string[] {
  const row = (p: string): number => Number(/^(?:line|entry) (\d+):/.exec(p)?.[1] ?? 0);
  return problems.map((p, i) => [p, i] as const).sort((a, b) => row(a[0]) - row(b[0]) || a[1] - b[1]).map(([p]) => p);
}

/** Throws listing every file of the entries that does not exist or is not a regular file. */
export function checkPairFiles(entries: readonly PairEntry[], source: string): void {
  const problems: string[] = [];
  for (const e of entries) {
    for (const k of ["lr", "hr", "bias", "gdc"] as const) {
      const f = e[k];
      if (f === undefined) continue;
      const dicom = existsSync(f) ? dicomKind(f) : null;
      if (!existsSync(f)) problems.push(`${e.where}: ${k} file ${f} does not exist`);
      else if (dicom !== null) problems.push(`${e.where}: ${k} file ${f} is ${dicom}; ${DICOM_ADVICE}`);
      else if (!statSync(f).isFile()) problems.push(`${e.where}: ${k} file ${f} is not a regular file`);
    }
  }
  if (problems.length > 0) throw new PairsManifestError(source, problems);
}

/** Reads, parses and checks a manifest file (format by extension: .csv, .tsv, .json). */
export function readPairsManifest(path: string): PairEntry[] {
  const ext = extname(path).toLowerCase();
  const format = ext === ".json" ? "json" : ext === ".tsv" ? "tsv" : ext === ".csv" ? "csv" : null;
  if (format === null) throw new PairsManifestError(path, [`unknown manifest format ${JSON.stringify(ext)}: name it .csv, .tsv or .json`]);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = e !== null && typeof e === "object" && "code" in e ? String(e.code) : "";
    throw new PairsManifestError(path, [code === "ENOENT" ? "the file does not exist" : `cannot read it: ${e instanceof Error ? e.message : String(e)}`]);
  }
  const entries = parsePairsManifest(text, format, path, dirname(resolve(path)));
  checkPairFiles(entries, path);
  return entries;
}

/** The entries of the given subjects; throws naming ids that are not in the manifest. */
export function selectSubjects(entries: readonly PairEntry[], ids: readonly string[], source: string): PairEntry[] {
  const known = [...new Set(entries.map((e) => e.subject))];
  const unknown = ids.filter((id) => !known.includes(id));
  if (unknown.length > 0) {
    const shown = known.length > 20 ? `${known.slice(0, 20).join(", ")}, ... (${known.length} in all)` : known.join(", ");
    throw new PairsManifestError(source, [`unknown subject id${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (the manifest has: ${shown})`]);
  }
  const want = new Set(ids);
  return entries.filter((e) => want.has(e.subject));
}
