// The direction of the source tree's imports (docs/layout.md): cli -> demo/export/viewer -> inference
// -> models/diffusion -> torch. Read from the TypeScript sources' import statements (type-only
// imports included: they tie files together as much as value imports do).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
const SRC = join(ROOT, "src");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [p] : [];
  });
}

/** src-relative path -> the src-relative paths it imports (relative specifiers only). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, "utf8");
    const targets: string[] = [];
    for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s*["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)|(?:^|\n)\s*import\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const spec = (m[1] ?? m[2] ?? m[3]) as string;
      targets.push(relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, ".ts"));
    }
    graph.set(relative(SRC, file), targets);
  }
  return graph;
}

const graph = importGraph();
const top = (p: string): string => p.split("/")[0] as string;

test("the graph was read: every import names a source file", () => {
  assert.ok(graph.size > 200, `${graph.size} files`);
  const missing = [...graph].flatMap(([f, ts]) => ts.filter((t) => !graph.has(t)).map((t) => `${f} -> ${t}`));
  assert.deepEqual(missing, []);
});

test("nothing outside src/cli imports src/cli", () => {
  const bad = [...graph].flatMap(([f, ts]) => (top(f) === "cli" ? [] : ts.filter((t) => top(t) === "cli").map((t) => `${f} -> ${t}`)));
  assert.deepEqual(bad, []);
});

test("layers point one way", () => {
  // folder -> folders it must not import
  const forbidden: Record<string, string[]> = {
    torch: ["nifti", "volume", "simulate", "data", "preprocess", "models", "diffusion", "losses", "metrics", "inference", "train", "model_dir", "export", "demo", "evaluate", "viewer", "figures", "cli"],
    nifti: ["torch", "inference", "train", "demo", "cli"],
    models: ["inference", "train", "model_dir", "export", "demo", "evaluate", "viewer", "cli"],
    diffusion: ["models", "inference", "train", "model_dir", "export", "demo", "viewer", "cli"],
    inference: ["train", "export", "demo", "evaluate", "viewer", "cli"],
    model_dir: ["inference", "train", "export", "demo", "viewer", "cli"],
    train: ["inference", "export", "demo", "viewer", "cli"],
    evaluate: ["inference", "train", "demo", "viewer", "cli"],
    metrics: ["inference", "train", "demo", "evaluate", "viewer", "cli"],
  };
  const bad = [...graph].flatMap(([f, ts]) => ts.filter((t) => forbidden[top(f)]?.includes(top(t)) === true).map((t) => `${f} -> ${t}`));
  assert.deepEqual(bad, []);
});

test("no import cycles", () => {
  const state = new Map<string, "active" | "done">();
  const cycles: string[] = [];
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, "active");
    stack.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === "active") cycles.push([...stack.slice(stack.indexOf(t)), t].join(" -> "));
      else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});
