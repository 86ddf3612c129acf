// Messages between the viewer's server and its worker threads (src/viewer/enhance_worker.ts,
// src/viewer/inspect_worker.ts). Plain data only: they cross postMessage.
import type { JobSpec } from "./jobs.js";
import type { JobSummary } from "./tables.js";
import type { Inspected } from "./upload_check.js";

/** What the enhance worker is started with (workerData). */
export interface EnhanceWorkerData {
  modelDir: string;
  device: string;
}

export type ToEnhanceWorker = { type: "run"; spec: JobSpec };

export type FromEnhanceWorker =
  | { type: "ready" }
  | { type: "engine-failed"; error: string }
  | { type: "progress"; id: string; fraction: number; message: string }
  | { type: "done"; id: string; summary: JobSummary }
  | { type: "failed"; id: string; error: string };

export interface InspectWorkerData {
  path: string;
  name: string;
}

export type FromInspectWorker = { ok: true; inspected: Inspected } | { ok: false; error: string; status: number };
