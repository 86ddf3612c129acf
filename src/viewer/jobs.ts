// The enhance jobs submitted from the page: a first-in first-out queue run one at a time (enhancement
// already uses every core), with each job's state, progress and result, and listeners for the page's
// event streams. The work itself is done by a JobRunner (src/viewer/enhance_runner.ts runs it in a
// worker thread, so the server stays responsive).
import { isFinished, type JobInfo } from "./api.js";
import type { JobSummary } from "./tables.js";

/** What a job enhances and where its files go. */
export interface JobSpec {
  id: string;
  /** The uploaded file's name, as the user chose it. */
  name: string;
  /** The upload on disk (checked to be a readable NIfTI). */
  input: string;
  /** The job's own output directory. */
  outDir: string;
}

export interface JobProgress {
  fraction: number;
  message: string;
}

export interface JobRunner {
  run(spec: JobSpec, onProgress: (p: JobProgress) => void): Promise<JobSummary>;
}

export class QueueFullError extends Error {
  constructor(max: number) {
    super(`${max} jobs are already waiting; wait for one to finish, then try again`);
    this.name = "QueueFullError";
  }
}

type Listener = (info: JobInfo) => void;

interface Job {
  spec: JobSpec;
  info: JobInfo;
  started: number;
  listeners: Set<Listener>;
}

export class JobQueue {
  private readonly jobs = new Map<string, Job>();
  private readonly waiting: Job[] = [];
  private running: Job | null = null;

  constructor(
    private readonly runner: JobRunner,
    private readonly o: {
      /** At most this many jobs wait behind the running one. */
      maxWaiting: number;
      /** Called when a job is done, before its listeners hear it: registers the result session. */
      onDone: (spec: JobSpec, summary: JobSummary) => string;
    },
  ) {}

  /** Queues a job; it starts at once when nothing runs. Throws QueueFullError when the queue is full. */
  submit(spec: JobSpec): JobInfo {
    if (this.jobs.has(spec.id)) throw new Error(`job ${spec.id} exists already`);
    if (this.waiting.length >= this.o.maxWaiting) throw new QueueFullError(this.o.maxWaiting);
    const job: Job = { spec, info: { id: spec.id, name: spec.name, state: "queued", ahead: 0 }, started: 0, listeners: new Set() };
    this.jobs.set(spec.id, job);
    this.waiting.push(job);
    this.updateAhead();
    this.next();
    return { ...job.info };
  }

  get(id: string): JobInfo | undefined {
    const j = this.jobs.get(id);
    return j === undefined ? undefined : { ...j.info };
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((j) => ({ ...j.info }));
  }

  /** True while a job runs or waits. */
  get busy(): boolean {
    return this.running !== null || this.waiting.length > 0;
  }

  /**
   * Calls `listener` with the job's state now and at every change; returns the unsubscribe function.
   * Nothing more is heard after the job is done or failed.
   */
  subscribe(id: string, listener: Listener): () => void {
    const j = this.jobs.get(id);
    if (j === undefined) throw new Error(`no job ${id}`);
    listener({ ...j.info });
    if (isFinished(j.info)) return () => {};
    j.listeners.add(listener);
    return () => j.listeners.delete(listener);
  }

  private emit(j: Job): void {
    const info = { ...j.info };
    for (const l of j.listeners) l(info);
    if (isFinished(info)) j.listeners.clear();
  }

  private updateAhead(): void {
    this.waiting.forEach((j, i) => {
      const ahead = i + (this.running !== null ? 1 : 0);
      if (j.info.ahead !== ahead) {
        j.info.ahead = ahead;
        this.emit(j);
      }
    });
  }

  private next(): void {
    if (this.running !== null) return;
    const j = this.waiting.shift();
    if (j === undefined) return;
    this.running = j;
    j.started = Date.now();
    j.info = { id: j.info.id, name: j.info.name, state: "running", fraction: 0, message: "starting" };
    this.emit(j);
    this.updateAhead();
    void this.runner
      .run(j.spec, (p) => {
        j.info.fraction = Math.min(1, Math.max(0, p.fraction));
        j.info.message = p.message;
        this.emit(j);
      })
      .then(
        (summary) => {
          const session = this.o.onDone(j.spec, summary);
          j.info = { id: j.info.id, name: j.info.name, state: "done", fraction: 1, message: "done", session, seconds: (Date.now() - j.started) / 1000 };
        },
        (e: unknown) => {
          j.info = { id: j.info.id, name: j.info.name, state: "failed", error: e instanceof Error ? e.message : String(e), seconds: (Date.now() - j.started) / 1000 };
        },
      )
      .catch((e: unknown) => {
        // onDone itself failed: the result cannot be shown.
        j.info = { id: j.info.id, name: j.info.name, state: "failed", error: `the result could not be opened: ${e instanceof Error ? e.message : String(e)}` };
      })
      .finally(() => {
        this.running = null;
        this.emit(j);
        this.next();
        this.updateAhead();
      });
  }
}
