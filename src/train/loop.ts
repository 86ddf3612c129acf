// The training loop shared by every trainer: steps from `startStep` to `totalSteps`, a progress bar
// with the latest losses and ETA, a JSON-lines log, atomic checkpoints every `checkpointEvery` steps,
// at the end, and on SIGINT/SIGTERM (the current step finishes, a checkpoint is written, then the loop
// returns with `interrupted: true` so the caller can say how to resume). A step whose loss or gradient
// norm is not finite (NaN or Inf) stops the run at once: that step is logged,
// no checkpoint is written (the last one, from before, is good) and TrainingDiverged says so.
import { progress } from "../util/progress.js";
import type { JsonlLog } from "./jsonl_log.js";
import type { Device } from "../torch/index.js";

export interface LoopOptions {
  label: string;
  startStep: number;
  totalSteps: number;
  /** Runs step number `step` (0-based) and returns the numbers to log (losses, lr, ...). */
  step(step: number): Record<string, number>;
  /** Writes a checkpoint after `stepsDone` steps. */
  checkpoint(stepsDone: number): void;
  /** Where checkpoint() writes (named when training stops on a non-finite loss). */
  checkpointDir?: string;
  log: JsonlLog;
  /** Log every n steps (and the last). Default 10. */
  logEvery?: number;
  /** Checkpoint every n steps (and at the end). Default 200. */
  checkpointEvery?: number;
  /** Numbers shown in the progress bar (a subset of what step() returns). Default: "loss". */
  show?: readonly string[];
  /** Numbers of a step's record that stop training when not finite. Default: loss and gradNorm. */
  mustBeFinite?: readonly string[];
  /** Extra fields for each log line. */
  context?: (step: number) => Record<string, unknown>;
  /** Disable the signal handlers (tests). */
  handleSignals?: boolean;
  /** Called after every step (tests use it to interrupt). */
  afterStep?: (stepsDone: number) => void;
}

export interface LoopResult {
  stepsDone: number;
  interrupted: boolean;
  seconds: number;
  last: Record<string, number>;
}

/** Options every trainer takes besides its config. */
export interface TrainerRunOptions {
  /** Continue from the checkpoint in the output directory. */
  resume?: boolean;
  device?: Device;
  /** Called after each step (tests use it, with `interrupt`, to stop a run part-way). */
  afterStep?: (stepsDone: number) => void;
  interrupt?: TrainingInterrupt;
  /** Install SIGINT/SIGTERM handlers (default true). */
  handleSignals?: boolean;
  /** Prints a line (default console.log). */
  say?: (line: string) => void;
}

export class TrainingInterrupt {
  requested = false;
}

/** A step returned a non-finite number; the message says which, and where the last good checkpoint is. */
export class TrainingDiverged extends Error {
  constructor(
    readonly step: number,
    readonly key: string,
    readonly value: number,
    readonly lastCheckpoint: number | null,
    checkpointDir = "the checkpoint",
  ) {
    const kept = lastCheckpoint === null ? "no checkpoint was written yet" : `the last good checkpoint (step ${lastCheckpoint}) is kept in ${checkpointDir}`;
    // --resume would repeat the same steps exactly, so the advice is a change of config.
    super(`step ${step}: ${key} is ${value}; training stopped, ${kept}; train again with a lower config.training.lr (or gradClip) to get past it`);
    this.name = "TrainingDiverged";
  }
}

/** A non-finite loss, or gradient norm (after which the optimiser step leaves the weights NaN), stops a run. */
const MUST_BE_FINITE = ["loss", "gradNorm"] as const;

/** Lets pending events run (signal handlers are delivered through the event loop). */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs the loop; see LoopOptions. It yields to the event loop after every step, so Ctrl-C is seen
 * between steps (a synchronous loop would only see it at the end).
 */
export async function runTrainingLoop(o: LoopOptions, interrupt: TrainingInterrupt = new TrainingInterrupt()): Promise<LoopResult> {
  const logEvery = o.logEvery ?? 10;
  const checkpointEvery = o.checkpointEvery ?? 200;
  const show = o.show ?? ["loss"];
  const onSignal = (): void => {
    if (interrupt.requested) process.exit(130); // a second ^C: stop now
    interrupt.requested = true;
    process.stderr.write("\nstopping after this step and writing a checkpoint (press ^C again to abort without one)\n");
  };
  const handle = o.handleSignals ?? true;
  if (handle) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  const bar = progress(o.label, o.totalSteps, { initial: o.startStep });
  const t0 = Date.now();
  let last: Record<string, number> = {};
  let stepsDone = o.startStep;
  // A resumed run starts from a checkpoint; a new one has none until the first is written.
  let lastCheckpoint: number | null = o.startStep > 0 ? o.startStep : null;
  const checkpoint = (n: number): void => {
    o.checkpoint(n);
    lastCheckpoint = n;
  };
  try {
    for (let s = o.startStep; s < o.totalSteps; s++) {
      last = o.step(s);
      stepsDone = s + 1;
      const bad = (o.mustBeFinite ?? MUST_BE_FINITE).filter((k) => k in last).map((k) => [k, last[k]!] as const).find(([, v]) => !Number.isFinite(v));
      if (bad !== undefined) {
        o.log.write({ step: stepsDone, time: (Date.now() - t0) / 1000, ...(o.context?.(stepsDone) ?? {}), ...last, stopped: `${bad[0]} is ${bad[1]}` });
        throw new TrainingDiverged(stepsDone, bad[0], bad[1], lastCheckpoint, o.checkpointDir);
      }
      const shown: Record<string, number> = {};
      for (const k of show) if (k in last) shown[k] = last[k]!;
      bar.update(stepsDone, shown);
      if (stepsDone % logEvery === 0 || stepsDone === o.totalSteps) {
        o.log.write({ step: stepsDone, time: (Date.now() - t0) / 1000, ...(o.context?.(stepsDone) ?? {}), ...last });
      }
      o.afterStep?.(stepsDone);
      await yieldToEventLoop();
      if (interrupt.requested) break;
      if (stepsDone % checkpointEvery === 0 && stepsDone !== o.totalSteps) checkpoint(stepsDone);
    }
    if (stepsDone > o.startStep || interrupt.requested) checkpoint(stepsDone);
  } finally {
    bar.stop();
    if (handle) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }
  return { stepsDone, interrupted: interrupt.requested && stepsDone < o.totalSteps, seconds: (Date.now() - t0) / 1000, last };
}
