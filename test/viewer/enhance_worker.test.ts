// The viewer's enhance jobs for real: a tiny model in a worker thread, driven through the server.
// The upload is enhanced with expert and gate maps, the server answers while the job runs, a second
// upload waits its turn, and a model directory without weights fails the job with the reason.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { ViewerServer, UPLOAD_HEADER } from "../../src/viewer/server.js";
import { inspectInWorker, WorkerRunner } from "../../src/viewer/enhance_runner.js";
import { readNifti } from "../../src/nifti/index.js";
import { isFinished, type JobInfo, type ViewSession } from "../../src/viewer/api.js";
import { phantom, tempDir, writeVolume } from "../data/phantom.js";
import { writeTinyModelInChild } from "./tiny_model_process.js";

let dir: string;
let cleanup: () => void;
let model: string;
let upload: Buffer;

before(() => {
  ({ dir, cleanup } = tempDir("moediff-viewer-worker-"));
  model = writeTinyModelInChild(join(dir, "model"));
  upload = readFileSync(writeVolume(join(dir, "lr.nii.gz"), phantom([16, 16, 6], [2, 0, 0, -15, 0, 2, 0, -15, 0, 0, 2, -5, 0, 0, 0, 1])));
});
after(() => cleanup());

async function withServer(modelDir: string, body: (url: string, server: ViewerServer) => Promise<void>): Promise<void> {
  const runner = new WorkerRunner({ modelDir, device: "cpu" });
  const server = new ViewerServer({
    sessions: [],
    assetsDir: dir,
    jobsDir: join(dir, `jobs-${Math.random().toString(36).slice(2)}`),
    maxUploadBytes: 1 << 20,
    maxWaiting: 4,
    runner,
    inspect: inspectInWorker,
    enhance: { available: true, model: modelDir },
    version: "test",
  });
  const url = await server.listen("127.0.0.1", 0);
  try {
    await body(url, server);
  } finally {
    await server.close();
    await runner.close();
  }
}

async function post(url: string, name: string): Promise<JobInfo> {
  const r = await fetch(`${url}api/jobs?name=${name}`, { method: "POST", body: upload, headers: { [UPLOAD_HEADER]: "1" } });
  assert.equal(r.status, 202, await r.clone().text());
  return (await r.json()) as JobInfo;
}

async function waitFor(url: string, id: string, seen: JobInfo[] = []): Promise<JobInfo> {
  for (;;) {
    const j = (await (await fetch(`${url}api/jobs/${id}`)).json()) as JobInfo;
    seen.push(j);
    if (isFinished(j)) return j;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("an upload is enhanced in the worker thread with expert and gate maps; the server answers meanwhile; a second upload waits", async () => {
  await withServer(model, async (url) => {
    const a = await post(url, "first.nii.gz");
    const b = await post(url, "second.nii.gz");
    assert.equal(b.state, "queued");
    const seen: JobInfo[] = [];
    const done = await waitFor(url, a.id, seen);
    assert.equal(done.state, "done", done.error);
    // The server's thread kept answering while the worker enhanced: many polls saw the job running.
    assert.ok(seen.filter((j) => j.state === "running").length >= 2, `polls while running: ${seen.length}`);
    assert.ok(seen.some((j) => /slice \d+ of \d+/.test(j.message ?? "")), "enhancement progress was reported");
    const s = (await (await fetch(`${url}api/sessions/${done.session}`)).json()) as ViewSession;
    assert.deepEqual(s.volumes.map((v) => v.role), ["input", "enhanced", "expert", "expert", "expert", "gate", "gate", "gate"]);
    const bytes = Buffer.from(await (await fetch(url + (s.volumes[1]?.url ?? "").slice(1))).arrayBuffer());
    const out = join(dir, "fetched.nii.gz");
    (await import("node:fs")).writeFileSync(out, bytes);
    const im = readNifti(out);
    assert.deepEqual(im.dims.slice(0, 3), [32, 32, 12], "the tiny model's 1 mm grid over the 2 mm input's field of view");
    assert.ok(im.data.some((x) => x > 0));
    const second = await waitFor(url, b.id);
    assert.equal(second.state, "done", second.error);
    assert.notEqual(second.session, done.session);
  });
});

test("a model directory without weights fails the job with the reason, and the server goes on", async () => {
  await withServer(join(dir, "nowhere"), async (url) => {
    const j = await post(url, "x.nii.gz");
    const end = await waitFor(url, j.id);
    assert.equal(end.state, "failed");
    assert.match(end.error ?? "", /model directory .*nowhere does not exist/);
    assert.equal((await fetch(`${url}api/config`)).status, 200);
  });
});
