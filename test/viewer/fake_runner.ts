// A JobRunner for the viewer's tests whose jobs end when the test says: each run() waits until
// finish(id) or fail(id) is called, and records the progress the test reports through it.
import type { JobProgress, JobRunner, JobSpec } from "../../src/viewer/jobs.js";
import type { JobSummary } from "../../src/viewer/tables.js";

export function summary(): JobSummary {
  return {
    input: { dims: [10, 12, 6], voxelSize: [2, 2, 2] },
    output: { dims: [20, 24, 12], voxelSize: [1, 1, 1] },
    model: "tiny",
    sampler: "DDIM 2 steps",
    slices: 12,
    slicesRun: 10,
    tilesRun: 10,
    tileSize: [64, 64],
    evaluations: [3, 3, 3],
    seconds: 1.5,
  };
}

interface Pending {
  spec: JobSpec;
  progress: (p: JobProgress) => void;
  resolve: (s: JobSummary) => void;
  reject: (e: Error) => void;
}

export class FakeRunner implements JobRunner {
  readonly started: string[] = [];
  private readonly pending = new Map<string, Pending>();
  /** Most jobs running at once (the queue must keep this at 1). */
  maxConcurrent = 0;

  run(spec: JobSpec, progress: (p: JobProgress) => void): Promise<JobSummary> {
    this.started.push(spec.id);
    return new Promise<JobSummary>((resolve, reject) => {
      this.pending.set(spec.id, { spec, progress, resolve, reject });
      this.maxConcurrent = Math.max(this.maxConcurrent, this.pending.size);
    });
  }

  progress(id: string, fraction: number, message: string): void {
    this.get(id).progress({ fraction, message });
  }

  finish(id: string, s: JobSummary = summary()): void {
    const p = this.get(id);
    this.pending.delete(id);
    p.resolve(s);
  }

  fail(id: string, message: string): void {
    const p = this.get(id);
    this.pending.delete(id);
    p.reject(new Error(message));
  }

  private get(id: string): Pending {
    const p = this.pending.get(id);
    if (p === undefined) throw new Error(`job ${id} is not running (running: ${[...this.pending.keys()].join(", ") || "none"})`);
    return p;
  }
}

/** Lets queued promise callbacks run. */
export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
