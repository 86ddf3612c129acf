// Writes a tiny model directory (test/inference/tiny_model.ts) in a child process, so a test of the
// viewer's worker thread never loads the engine in its own thread: the native addon keeps one
// process-wide tensor table, and the viewer uses it from one thread (the worker) only.
//   node dist/test/viewer/tiny_model_process.js DIR
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export function writeTinyModelInChild(dir: string): string {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), dir], { encoding: "utf8", env: process.env });
  if (r.status !== 0) throw new Error(`writing the tiny model failed: ${r.stderr}`);
  return dir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (dir === undefined) throw new Error("usage: tiny_model_process.js DIR");
  const { writeTinyModelDir } = await import("../inference/tiny_model.js");
  writeTinyModelDir(dir);
}
