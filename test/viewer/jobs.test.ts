// The enhance job queue: one job at a time, first in first out, "N ahead" while waiting, progress and
// the end heard by subscribers, a failure that does not stop the queue, and a full queue refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { JobQueue, QueueFullError, type JobSpec } from "../../src/viewer/jobs.js";
import type { JobInfo } from "../../src/viewer/api.js";
import { FakeRunner, tick } from "./fake_runner.js";

const spec = (id: string): JobSpec => ({ id, name: `${id}.nii.gz`, input: `/tmp/${id}.nii.gz`, outDir: `/tmp/${id}` });

test("two jobs queue: the second waits (1 ahead), then runs after the first; subscribers hear every change", async () => {
  const runner = new FakeRunner();
  const done: string[] = [];
  const q = new JobQueue(runner, { maxWaiting: 4, onDone: (s) => (done.push(s.id), `session-${s.id}`) });
  assert.equal(q.submit(spec("a")).state, "running");
  const b = q.submit(spec("b"));
  assert.equal(b.state, "queued");
  assert.equal(b.ahead, 1);
  const heard: JobInfo[] = [];
  q.subscribe("b", (i) => heard.push(i));
  runner.progress("a", 0.5, "slice 3 of 6");
  assert.deepEqual(q.get("a"), { id: "a", name: "a.nii.gz", state: "running", fraction: 0.5, message: "slice 3 of 6" });
  assert.deepEqual(runner.started, ["a"]);
  runner.finish("a");
  await tick();
  assert.equal(q.get("a")?.state, "done");
  assert.equal(q.get("a")?.session, "session-a");
  assert.deepEqual(runner.started, ["a", "b"]);
  runner.progress("b", 0.25, "slice 1 of 4");
  runner.finish("b");
  await tick();
  assert.deepEqual(heard.map((i) => i.state), ["queued", "running", "running", "done"]);
  assert.equal(heard.at(-1)?.session, "session-b");
  assert.equal(runner.maxConcurrent, 1);
  assert.deepEqual(done, ["a", "b"]);
  assert.equal(q.busy, false);
});

test("a failed job says why and the next one still runs; a full queue is refused; an unknown job cannot be followed", async () => {
  const runner = new FakeRunner();
  const q = new JobQueue(runner, { maxWaiting: 1, onDone: (s) => s.id });
  q.submit(spec("a"));
  q.submit(spec("b"));
  assert.throws(() => q.submit(spec("c")), QueueFullError);
  assert.throws(() => q.submit(spec("c")), /1 jobs are already waiting/);
  runner.fail("a", "the input has no usable signal");
  await tick();
  assert.equal(q.get("a")?.state, "failed");
  assert.equal(q.get("a")?.error, "the input has no usable signal");
  assert.equal(q.get("b")?.state, "running");
  runner.finish("b");
  await tick();
  assert.deepEqual(q.list().map((j) => j.state), ["failed", "done"]);
  const late: JobInfo[] = [];
  q.subscribe("a", (i) => late.push(i));
  assert.deepEqual(late.map((i) => i.state), ["failed"], "a finished job is heard once, as it ended");
  assert.throws(() => q.subscribe("zz", () => {}), /no job zz/);
});

test("a result that cannot be opened fails the job instead of hanging it", async () => {
  const runner = new FakeRunner();
  const q = new JobQueue(runner, {
    maxWaiting: 2,
    onDone: () => {
      throw new Error("enhanced.nii.gz is missing");
    },
  });
  q.submit(spec("a"));
  runner.finish("a");
  await tick();
  await tick();
  assert.equal(q.get("a")?.state, "failed");
  assert.match(q.get("a")?.error ?? "", /the result could not be opened: enhanced\.nii\.gz is missing/);
  assert.equal(q.busy, false);
});
