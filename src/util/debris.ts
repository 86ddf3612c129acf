// What a write cut short (kill -9, a crash) leaves behind, and its removal by the next run in that
// directory. writeFileAtomic writes `.NAME.PID.HEX.tmp` files and saveCheckpoint `.NAME.PID.HEX.tmp`
// directories beside their targets, and saveCheckpoint moves the previous checkpoint to
// `.NAME.PID.HEX.old` while it renames the new one into place. Such an entry is debris once process PID
// is gone: a `.tmp` is removed; an `.old` whose target NAME is missing (the process died between the
// two renames) is renamed back to NAME, the last complete checkpoint; any other `.old` is removed.
// Entries of a live process (this one included) are left alone. No engine dependency.
import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/** `.NAME.PID.HEX.tmp` or `.old`, HEX being the 8 or 12 random hex digits the writers use. */
const DEBRIS = /^\.(.+)\.(\d+)\.([0-9a-f]{8}|[0-9a-f]{12})\.(tmp|old)$/;

export interface DebrisAction {
  /** The debris entry. */
  path: string;
  /** "removed", or "restored" (an `.old` renamed back to its target). */
  action: "removed" | "restored";
  /** For "restored": the path it was renamed to. */
  target?: string;
}

/** Whether process `pid` exists (on this machine). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, but is another user's
  }
}

/** Clears the debris of dead processes in `dir` (see above); returns what it did. */
export function clearDebris(dir: string): DebrisAction[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return []; // no directory, no debris
  }
  const dead = names
    .map((name) => ({ name, m: DEBRIS.exec(name) }))
    .filter((e): e is { name: string; m: RegExpExecArray } => e.m !== null && !processAlive(Number(e.m[2])))
    .map(({ name, m }) => ({ path: join(dir, name), target: join(dir, m[1]!), kind: m[4] as "tmp" | "old" }));
  const actions: DebrisAction[] = [];
  // The newest `.old` of a missing target first: it is the one that was complete last.
  const olds = dead.filter((d) => d.kind === "old").sort((a, b) => mtime(b.path) - mtime(a.path));
  for (const d of olds) {
    if (!existsSync(d.target)) {
      renameSync(d.path, d.target);
      actions.push({ path: d.path, action: "restored", target: d.target });
    } else {
      rmSync(d.path, { recursive: true, force: true });
      actions.push({ path: d.path, action: "removed" });
    }
  }
  for (const d of dead.filter((x) => x.kind === "tmp")) {
    rmSync(d.path, { recursive: true, force: true });
    actions.push({ path: d.path, action: "removed" });
  }
  return actions;
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

const cleared = new Set<string>();

/** clearDebris(dir) the first time this process writes into `dir`; later calls do nothing. */
export function clearDebrisOnce(dir: string): DebrisAction[] {
  const key = resolve(dir);
  if (cleared.has(key)) return [];
  cleared.add(key);
  return clearDebris(key);
}
