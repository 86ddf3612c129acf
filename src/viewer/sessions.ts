// What the viewer shows: a session is a set of volumes with roles (input, enhanced, reference,
// experts, gates...) and the tables of the run. Sessions come from a directory (`demo`'s output,
// or `enhance -o` with `--explain`), from files named on the command line, or from an enhance job
// run from the page. Only files a session lists can be fetched: the server maps
// /files/<session>/<index>/<name> to `files[index]`, never a path from the request.
import { existsSync, readdirSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { MetricsTable, ViewSession, ViewVolume, VolumeRole } from "./api.js";
import { tablesFromMetricsFile } from "./tables.js";

/** A session as the server keeps it: what the page sees, and the files behind the volume URLs. */
export interface SessionEntry {
  session: ViewSession;
  files: string[];
}

export class ViewerInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ViewerInputError";
  }
}

const NIFTI = /\.nii(\.gz)?$/i;

export function isNiftiName(name: string): boolean {
  return NIFTI.test(name);
}

/** The file name without .nii/.nii.gz. */
export function stem(name: string): string {
  return basename(name).replace(NIFTI, "");
}

/** A volume's role from its file name (demo and enhance --explain names first, then common words). */
export function roleFromName(name: string): { role: VolumeRole; expert?: number } {
  const s = stem(name).toLowerCase();
  const expert = /^expert_e(\d+)$/.exec(s);
  if (expert) return { role: "expert", expert: Number(expert[1]) };
  const gate = /^gate_e(\d+)$/.exec(s);
  if (gate) return { role: "gate", expert: Number(gate[1]) };
  if (s === "lr") return { role: "lr" };
  if (s === "input") return { role: "input" };
  if (s === "enhanced") return { role: "enhanced" };
  if (s === "reference") return { role: "reference" };
  if (s === "trilinear" || s === "bspline" || s === "nearest") return { role: "baseline" };
  if (/(^|[_\-.])(7tlike|sr|enhanced|moediff)([_\-.]|$)/.test(s)) return { role: "enhanced" };
  if (/(^|[_\-.])(ref|reference|hr|gt|7t)([_\-.]|$)/.test(s)) return { role: "reference" };
  if (/(^|[_\-.])(3t|lr|input|in)([_\-.]|$)/.test(s)) return { role: "input" };
  return { role: "other" };
}

function volumeName(file: string, role: VolumeRole, expert?: number): string {
  if (role === "expert") return `expert E${expert}`;
  if (role === "gate") return `gate E${expert}`;
  if (role === "region") return `region ${stem(file)}`;
  return stem(file);
}

/** The session's volumes in display order: bases first, then experts and gates by expert, then regions. */
const ROLE_ORDER: VolumeRole[] = ["input", "enhanced", "reference", "lr", "baseline", "other", "expert", "gate", "region"];

export function makeSession(id: string, title: string, source: ViewSession["source"], items: SessionItem[], tables: MetricsTable[]): SessionEntry {
  const sorted = [...items].sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role) || (a.expert ?? 0) - (b.expert ?? 0));
  const volumes: ViewVolume[] = sorted.map((it, i) => ({
    name: volumeName(it.file, it.role, it.expert),
    role: it.role,
    url: `/files/${encodeURIComponent(id)}/${i}/${encodeURIComponent(basename(it.file))}`,
    ...(it.expert !== undefined ? { expert: it.expert } : {}),
  }));
  return { session: { id, title, source, volumes, tables }, files: sorted.map((it) => resolve(it.file)) };
}

function niftiFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => isNiftiName(n) && !n.startsWith("."))
    .sort()
    .map((n) => join(dir, n));
}

/** A volume of a session and what it is. */
export interface SessionItem {
  file: string;
  role: VolumeRole;
  expert?: number;
}

/** The expert estimates and gate maps of an `enhance --explain` directory (none when it is missing). */
export function explainItems(dir: string): SessionItem[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return niftiFiles(dir).flatMap((file) => {
    const r = roleFromName(file);
    return r.role === "expert" || r.role === "gate" ? [{ file, ...r }] : [];
  });
}

/**
 * A session from a directory: its NIfTI files by name; explain/ (expert and gate maps) and regions/
 * (masks) when present; tables from metrics.json (demo) when present.
 */
export function sessionFromDir(id: string, dir: string): SessionEntry {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ViewerInputError(`${dir} is not a directory`);
  const items: SessionItem[] = [...niftiFiles(dir).map((file) => ({ file, ...roleFromName(file) })), ...explainItems(join(dir, "explain"))];
  const regions = join(dir, "regions");
  if (existsSync(regions) && statSync(regions).isDirectory()) {
    for (const file of niftiFiles(regions)) items.push({ file, role: "region" });
  }
  if (items.length === 0) throw new ViewerInputError(`${dir} has no NIfTI files (.nii or .nii.gz); give a directory written by \`moediff-sr demo\` or \`enhance\`, or the files themselves`);
  // A directory of unnamed volumes: the first is the input, so there is something to look at.
  if (!items.some((it) => it.role === "input" || it.role === "enhanced" || it.role === "lr")) {
    const first = items.find((it) => it.role === "other");
    if (first !== undefined) first.role = "input";
  }
  const metrics = join(dir, "metrics.json");
  const tables = existsSync(metrics) ? tablesFromMetricsFile(metrics) : [];
  return makeSession(id, basename(resolve(dir)), "dir", items, tables);
}

export interface FileRoles {
  input?: string;
  enhanced?: string;
  reference?: string;
  /** A directory written by enhance --explain. */
  explain?: string;
}

/**
 * A session from files: positional files are input, enhanced, reference in that order unless their
 * names say otherwise; `roles` names them explicitly.
 */
export function sessionFromFiles(id: string, files: readonly string[], roles: FileRoles = {}): SessionEntry {
  const items: SessionItem[] = [];
  const taken = new Set<VolumeRole>();
  const add = (file: string, role: VolumeRole, expert?: number): void => {
    if (!existsSync(file) || !statSync(file).isFile()) throw new ViewerInputError(`${file}: no such file`);
    if (!isNiftiName(file)) throw new ViewerInputError(`${file} is not a NIfTI file name (.nii or .nii.gz)`);
    items.push({ file, role, ...(expert !== undefined ? { expert } : {}) });
    taken.add(role);
  };
  if (roles.input !== undefined) add(roles.input, "input");
  if (roles.enhanced !== undefined) add(roles.enhanced, "enhanced");
  if (roles.reference !== undefined) add(roles.reference, "reference");
  const positional: VolumeRole[] = ["input", "enhanced", "reference"];
  for (const file of files) {
    const named = roleFromName(file);
    if (named.role === "expert" || named.role === "gate") {
      add(file, named.role, named.expert);
      continue;
    }
    const role = named.role !== "other" && !taken.has(named.role) ? named.role : (positional.find((r) => !taken.has(r)) ?? "other");
    add(file, role);
  }
  if (roles.explain !== undefined) {
    if (!existsSync(roles.explain) || !statSync(roles.explain).isDirectory()) throw new ViewerInputError(`--explain ${roles.explain} is not a directory`);
    for (const it of explainItems(roles.explain)) add(it.file, it.role, it.expert);
  }
  if (items.length === 0) throw new ViewerInputError("no volumes to show: give a directory or NIfTI files");
  const title = items.map((it) => stem(it.file)).slice(0, 3).join(" · ");
  return makeSession(id, title, "files", items, []);
}
