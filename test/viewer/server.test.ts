// The viewer's HTTP server with a test runner: config and sessions, file and asset serving (nothing
// outside the session's files or the assets), the host and upload-header guards, uploads refused with
// a message (not NIfTI, corrupt, too large), two uploads queued, progress as server-sent events, and
// the result as a new session.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ViewerServer, UPLOAD_HEADER } from "../../src/viewer/server.js";
import { sessionFromDir } from "../../src/viewer/sessions.js";
import { inspectNifti } from "../../src/viewer/upload_check.js";
import type { JobInfo, ViewSession, ViewerConfig } from "../../src/viewer/api.js";
import { phantom, tempDir, writeVolume } from "../data/phantom.js";
import { FakeRunner, summary, tick } from "./fake_runner.js";

let dir: string;
let cleanup: () => void;
let server: ViewerServer;
let runner: FakeRunner;
let base: string;
let jobsDir: string;
let good: Buffer;

before(async () => {
  ({ dir, cleanup } = tempDir("moediff-viewer-server-"));
  const run = join(dir, "run");
  mkdirSync(run);
  writeVolume(join(run, "input.nii.gz"), phantom([8, 8, 4]));
  writeVolume(join(run, "enhanced.nii.gz"), phantom([16, 16, 8]));
  const assets = join(dir, "assets");
  mkdirSync(join(assets, "assets"), { recursive: true });
  writeFileSync(join(assets, "index.html"), "<!doctype html><title>viewer</title>");
  writeFileSync(join(assets, "assets", "main.js"), "console.log(1)");
  writeFileSync(join(dir, "secret.txt"), "not for the page");
  jobsDir = join(dir, "jobs");
  good = readFileSync(writeVolume(join(dir, "upload.nii.gz"), phantom([10, 12, 6])));
  runner = new FakeRunner();
  server = new ViewerServer({
    sessions: [sessionFromDir("s0", run)],
    assetsDir: assets,
    jobsDir,
    maxUploadBytes: 64 * 1024,
    maxWaiting: 2,
    runner,
    inspect: async (p, n) => inspectNifti(p, n),
    enhance: { available: true, model: "tiny" },
    version: "test",
  });
  base = await server.listen("127.0.0.1", 0);
});
after(async () => {
  await server.close();
  cleanup();
});

async function get<T>(path: string): Promise<{ status: number; body: T; type: string | null }> {
  const r = await fetch(base + path.replace(/^\//, ""));
  const type = r.headers.get("content-type");
  return { status: r.status, body: (type?.startsWith("application/json") ? await r.json() : await r.text()) as T, type };
}

async function upload(name: string, body: Uint8Array, headers: Record<string, string> = { [UPLOAD_HEADER]: "1" }): Promise<{ status: number; body: JobInfo & { error?: string } }> {
  const r = await fetch(`${base}api/jobs?name=${encodeURIComponent(name)}`, { method: "POST", body, headers: { "content-type": "application/octet-stream", ...headers } });
  return { status: r.status, body: (await r.json()) as JobInfo & { error?: string } };
}

test("listens on 127.0.0.1; config lists the sessions and the enhance limits; a session's files are served, nothing else", async () => {
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const c = await get<ViewerConfig>("/api/config");
  assert.deepEqual(c.body.sessions, [{ id: "s0", title: "run" }]);
  assert.equal(c.body.initial, "s0");
  assert.deepEqual(c.body.enhance, { available: true, model: "tiny", maxUploadBytes: 64 * 1024 });
  const s = await get<ViewSession>("/api/sessions/s0");
  assert.deepEqual(s.body.volumes.map((v) => v.url), ["/files/s0/0/input.nii.gz", "/files/s0/1/enhanced.nii.gz"]);
  const bytes = Buffer.from(await (await fetch(base + "files/s0/1/enhanced.nii.gz")).arrayBuffer());
  assert.deepEqual(bytes, readFileSync(join(dir, "run", "enhanced.nii.gz")));
  assert.equal((await get("/files/s0/1/input.nii.gz")).status, 404, "the name must match the index");
  assert.equal((await get("/files/s0/9/input.nii.gz")).status, 404);
  assert.equal((await get("/api/sessions/nope")).status, 404);
  const page = await get<string>("/");
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>viewer<\/title>/);
  assert.match((await fetch(base)).headers.get("content-security-policy") ?? "", /default-src 'self'/);
  assert.equal((await get<string>("/assets/main.js")).type, "text/javascript; charset=utf-8");
  for (const p of ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"]) {
    const r = await get<string>(p);
    assert.equal(r.status, 404, p);
    assert.doesNotMatch(String(r.body), /not for the page/);
  }
});

test("a request addressed to another host is refused (DNS rebinding); an upload without the page's header is refused", async () => {
  const port = new URL(base).port;
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/api/config", headers: { host: `attacker.example:${port}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
  assert.equal(status, 403);
  const r = await upload("a.nii.gz", good, {});
  assert.equal(r.status, 403);
  assert.match(r.body.error ?? "", /header is missing/);
});

test("uploads that are not NIfTI, corrupt, or too large get a message; nothing is queued and nothing is left on disk", async () => {
  const png = await upload("scan.nii.gz", Buffer.from([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, ...new Array(200).fill(0)]));
  assert.equal(png.status, 400);
  assert.match(png.body.error ?? "", /scan\.nii\.gz is not a NIfTI file \(it is a PNG image\)/);
  const name = await upload("notes.txt", Buffer.from("hello"));
  assert.equal(name.status, 400);
  assert.match(name.body.error ?? "", /notes\.txt is not a NIfTI file/);
  const cut = await upload("cut.nii.gz", good.subarray(0, Math.floor(good.length / 2)));
  assert.equal(cut.status, 400);
  assert.match(cut.body.error ?? "", /cut\.nii\.gz could not be read as NIfTI: .*truncated/);
  const big = await upload("big.nii", Buffer.alloc(65 * 1024, 1));
  assert.equal(big.status, 413);
  assert.match(big.body.error ?? "", /big\.nii is larger than the upload limit .*limit 0\.1 MiB.*--max-upload-mb/);
  assert.deepEqual(runner.started, []);
  assert.deepEqual(existsSync(jobsDir) ? readdirSync(jobsDir) : [], []);
  assert.equal((await get("/api/config")).status, 200, "the server still answers");
});

test("two uploads queue; progress streams as server-sent events; the result opens as a session with the job's table", async () => {
  const a = await upload("first.nii.gz", good);
  const b = await upload("second.nii.gz", good);
  assert.equal(a.status, 202);
  assert.equal(a.body.state, "running");
  assert.equal(b.body.state, "queued");
  assert.equal(b.body.ahead, 1);
  // The runner was handed the stored upload, byte for byte.
  assert.deepEqual(readFileSync(join(jobsDir, a.body.id, "first.nii.gz")), good);

  const events: JobInfo[] = [];
  const stream = fetch(`${base}api/jobs/${a.body.id}/events`).then(async (r) => {
    assert.equal(r.headers.get("content-type"), "text/event-stream");
    const text = await r.text(); // ends when the job does
    for (const block of text.split("\n\n")) if (block.startsWith("data: ")) events.push(JSON.parse(block.slice(6)) as JobInfo);
  });
  await new Promise((r) => setTimeout(r, 50));
  runner.progress(a.body.id, 0.5, "slice 3 of 6");
  // The job's outputs, as the worker writes them.
  const out = join(jobsDir, a.body.id);
  writeVolume(join(out, "enhanced.nii.gz"), phantom([20, 24, 12]));
  mkdirSync(join(out, "explain"));
  for (const k of [1, 2]) {
    writeVolume(join(out, "explain", `expert_E${k}.nii.gz`), phantom([20, 24, 12]));
    writeVolume(join(out, "explain", `gate_E${k}.nii.gz`), phantom([20, 24, 12]));
  }
  runner.finish(a.body.id, summary());
  await stream;
  assert.deepEqual(events.map((e) => e.state), ["running", "running", "done"]);
  assert.equal(events[1]?.message, "slice 3 of 6");
  const session = events[2]?.session as string;
  const s = await get<ViewSession>(`/api/sessions/${session}`);
  assert.deepEqual(s.body.volumes.map((v) => `${v.role}:${v.name}`), ["input:first", "enhanced:enhanced", "expert:expert E1", "expert:expert E2", "gate:gate E1", "gate:gate E2"]);
  assert.equal(s.body.tables[0]?.title, "Enhancement");
  assert.equal((await fetch(base + s.body.volumes[1]?.url.slice(1))).status, 200);
  assert.deepEqual((await get<ViewerConfig>("/api/config")).body.sessions.map((x) => x.id), ["s0", session]);

  await tick();
  assert.equal((await get<JobInfo>(`/api/jobs/${b.body.id}`)).body.state, "running");
  runner.fail(b.body.id, "the input has no usable signal");
  await tick();
  const failed = await get<JobInfo>(`/api/jobs/${b.body.id}`);
  assert.deepEqual([failed.body.state, failed.body.error], ["failed", "the input has no usable signal"]);
  assert.equal((await get("/api/jobs/job-999")).status, 404);
});

test("with enhancing off, an upload is refused with the reason", async () => {
  const off = new ViewerServer({
    sessions: [],
    assetsDir: join(dir, "no-assets"),
    jobsDir,
    maxUploadBytes: 1024,
    maxWaiting: 1,
    runner: new FakeRunner(),
    inspect: async (p, n) => inspectNifti(p, n),
    enhance: { available: false, model: "x", why: "the model directory x lacks model.safetensors" },
    version: "test",
  });
  const url = await off.listen("127.0.0.1", 0);
  try {
    const r = await fetch(`${url}api/jobs?name=a.nii`, { method: "POST", body: good.subarray(0, 500), headers: { [UPLOAD_HEADER]: "1" } });
    assert.equal(r.status, 503);
    assert.match(((await r.json()) as { error: string }).error, /not available here: the model directory x lacks model\.safetensors/);
    const page = await fetch(url);
    assert.equal(page.status, 503);
    assert.match(await page.text(), /npm run build:viewer/);
    assert.deepEqual(((await (await fetch(`${url}api/config`)).json()) as ViewerConfig).initial, null);
  } finally {
    await off.close();
  }
});

test("a port in use is a clear error", async () => {
  const other = new ViewerServer({
    sessions: [],
    assetsDir: dir,
    jobsDir,
    maxUploadBytes: 1,
    maxWaiting: 1,
    runner: new FakeRunner(),
    inspect: async () => ({ dims: [1, 1, 1], voxelSize: [1, 1, 1] }),
    enhance: { available: false, model: "x" },
    version: "test",
  });
  await assert.rejects(other.listen("127.0.0.1", Number(new URL(base).port)), /port \d+ on 127\.0\.0\.1 is in use; choose another with --port/);
});
