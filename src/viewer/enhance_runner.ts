// Runs the viewer's enhance jobs in a worker thread (enhance_worker.ts): the server's own thread only
// moves bytes and messages, so it answers while a volume is being enhanced. The worker is started
// on first use (or by warm()), kept for later jobs (the model stays loaded), and started again if it
// dies; a job whose worker dies fails with the reason.
import { Worker } from "node:worker_threads";
import type { JobProgress, JobRunner, JobSpec } from "./jobs.js";
import type { JobSummary } from "./tables.js";
import type { Inspected } from "./upload_check.js";
import { UploadError } from "./upload_check.js";
import type { EnhanceWorkerData, FromEnhanceWorker, FromInspectWorker, InspectWorkerData } from "./worker_protocol.js";

interface Current {
  id: string;
  onProgress: (p: JobProgress) => void;
  resolve: (s: JobSummary) => void;
  reject: (e: Error) => void;
}

export class WorkerRunner implements JobRunner {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private current: Current | null = null;

  constructor(private readonly data: EnhanceWorkerData) {}

  /** Starts the worker (loads the engine) ahead of the first job; resolves when it is ready. */
  warm(): Promise<void> {
    return this.start();
  }

  private start(): Promise<void> {
    if (this.ready !== null) return this.ready;
    const w = new Worker(new URL("./enhance_worker.js", import.meta.url), { workerData: this.data });
    this.worker = w;
    this.ready = new Promise<void>((resolve, reject) => {
      w.on("message", (m: FromEnhanceWorker) => {
        if (m.type === "ready") resolve();
        else if (m.type === "engine-failed") {
          reject(new Error(m.error));
          this.fail(new Error(m.error));
        } else this.onMessage(m);
      });
      w.on("error", (e) => {
        const err = new Error(`the enhance worker stopped: ${e.message}`);
        reject(err);
        this.dead(err);
      });
      w.on("exit", (code) => {
        const err = new Error(`the enhance worker exited (code ${code})`);
        reject(err);
        this.dead(err);
      });
    });
    // A failed start is reported to the job that waits for it; no unhandled rejection.
    this.ready.catch(() => {});
    return this.ready;
  }

  private dead(e: Error): void {
    this.worker = null;
    this.ready = null;
    this.fail(e);
  }

  private fail(e: Error): void {
    const c = this.current;
    this.current = null;
    c?.reject(e);
  }

  private onMessage(m: FromEnhanceWorker): void {
    const c = this.current;
    if (c === null || !("id" in m) || m.id !== c.id) return;
    if (m.type === "progress") c.onProgress({ fraction: m.fraction, message: m.message });
    else if (m.type === "done") {
      this.current = null;
      c.resolve(m.summary);
    } else if (m.type === "failed") {
      this.current = null;
      c.reject(new Error(m.error));
    }
  }

  async run(spec: JobSpec, onProgress: (p: JobProgress) => void): Promise<JobSummary> {
    if (this.current !== null) throw new Error("the enhance worker is busy: jobs must be queued (JobQueue runs one at a time)");
    onProgress({ fraction: 0, message: "starting the engine" });
    await this.start();
    const w = this.worker;
    if (w === null) throw new Error("the enhance worker is not running");
    return new Promise<JobSummary>((resolve, reject) => {
      this.current = { id: spec.id, onProgress, resolve, reject };
      w.postMessage({ type: "run", spec });
    });
  }

  /** Stops the worker (a running job fails). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.ready = null;
    this.fail(new Error("the server is shutting down"));
    if (w !== null) await w.terminate();
  }
}

/** Reads an upload whole in a short-lived worker thread; throws the UploadError that says what is wrong. */
export function inspectInWorker(path: string, name: string): Promise<Inspected> {
  return new Promise<Inspected>((resolve, reject) => {
    const w = new Worker(new URL("./inspect_worker.js", import.meta.url), { workerData: { path, name } satisfies InspectWorkerData });
    let answered = false;
    w.once("message", (m: FromInspectWorker) => {
      answered = true;
      if (m.ok) resolve(m.inspected);
      else reject(new UploadError(m.error, m.status));
      void w.terminate();
    });
    w.once("error", (e) => {
      answered = true;
      reject(new UploadError(`${name} could not be checked: ${e.message}`, 500));
    });
    w.once("exit", () => {
      if (!answered) reject(new UploadError(`${name} could not be checked: the checking thread exited`, 500));
    });
  });
}
