// What the viewer's server (src/viewer/server.ts) and page (web/src) say to each other over HTTP.
// Types and two dependency-free helpers: the page bundles this file, so it imports nothing.
//
//   GET  /api/config                 -> ViewerConfig
//   GET  /api/sessions/:id           -> ViewSession
//   GET  /files/:session/:index/:name -> the NIfTI bytes of session.volumes[index] (name = its file name,
//                                       so NiiVue can tell .nii from .nii.gz by the URL)
//   POST /api/jobs?name=FILE.nii.gz  body: the file's bytes (application/octet-stream); header
//                                    X-Moediff-Viewer: 1 (the page's own; other origins cannot send it)
//                                    -> 202 JobInfo | 400/413/503 ApiError
//   GET  /api/jobs                   -> JobInfo[]
//   GET  /api/jobs/:id               -> JobInfo
//   GET  /api/jobs/:id/events        -> text/event-stream of `data: JobInfo` lines, one per change,
//                                       closed after the job is done or failed
// Every error is JSON { error: "what is wrong and what to do" } with a 4xx/5xx status.

/** What a volume is in a run: the page places it by this. */
export type VolumeRole =
  | "input" // the 3T-like input on the output grid (or as given)
  | "enhanced" // the 7T-like output
  | "reference" // the true HR volume, when known
  | "lr" // the acquisition on its own grid
  | "baseline" // trilinear, B-spline
  | "expert" // one expert's own estimate
  | "gate" // one expert's gate weights in [0, 1]
  | "region" // a region mask
  | "other";

export interface ViewVolume {
  /** Short name for menus: "enhanced", "expert E2", "gate E1", "trilinear". */
  name: string;
  role: VolumeRole;
  /** Server path of the bytes; ends with the file's name. */
  url: string;
  /** Expert number (1-based, as in the paper) for role expert/gate. */
  expert?: number;
}

/** A table beside the images: metrics of the run, or what a job did. */
export interface MetricsTable {
  title: string;
  columns: string[];
  rows: (string | number | null)[][];
  note?: string;
}

export interface ViewSession {
  id: string;
  title: string;
  /** "dir": a demo/enhance output directory; "files": named on the command line; "job": enhanced from the page. */
  source: "dir" | "files" | "job";
  volumes: ViewVolume[];
  tables: MetricsTable[];
}

export interface ViewerConfig {
  version: string;
  /** Sessions in the order they were made; the page opens `initial` unless the URL names one. */
  sessions: { id: string; title: string }[];
  initial: string | null;
  /** The model the page's enhance button uses, and whether it can run here. */
  enhance: { available: boolean; model: string; why?: string; maxUploadBytes: number };
}

export type JobState = "queued" | "running" | "done" | "failed";

/** The header every upload carries (the page's own: another origin cannot send it without a preflight). */
export const UPLOAD_HEADER = "x-moediff-viewer";

/** A job that will not change any more. */
export function isFinished(job: { state: JobState }): boolean {
  return job.state === "done" || job.state === "failed";
}

export interface JobInfo {
  id: string;
  /** The uploaded file's name. */
  name: string;
  state: JobState;
  /** Jobs ahead of this one while queued. */
  ahead?: number;
  /** 0..1 while running. */
  fraction?: number;
  /** What is happening now ("loading the model", "slice 12 of 40"). */
  message?: string;
  /** When failed: what went wrong and what to do. */
  error?: string;
  /** When done: the session that shows the result. */
  session?: string;
  seconds?: number;
}

export interface ApiError {
  error: string;
}
