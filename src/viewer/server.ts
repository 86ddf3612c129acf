// The viewer's HTTP server (the routes are listed in src/viewer/api.ts). It binds to 127.0.0.1 by
// default and answers only requests addressed to that host (a web page elsewhere cannot reach it by a
// DNS trick); uploads must carry the X-Moediff-Viewer header, which a page on another origin cannot
// send without a preflight this server never grants. Nothing is fetched from or sent to anywhere else:
// the page's assets are local and its Content-Security-Policy allows only this origin.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { once } from "node:events";
import { finished } from "node:stream/promises";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { isFinished, UPLOAD_HEADER, type ApiError, type JobInfo, type ViewerConfig } from "./api.js";
import { JobQueue, QueueFullError, type JobRunner, type JobSpec } from "./jobs.js";
import { explainItems, makeSession, type SessionEntry, type SessionItem } from "./sessions.js";
import { jobTable, type JobSummary } from "./tables.js";
import { checkUploadName, sniffNifti, UploadError, type Inspected } from "./upload_check.js";
import { assetPath, notBuiltPage, sendFile } from "./static_files.js";

export const CSP =
  "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self' 'wasm-unsafe-eval'; " +
  "worker-src 'self' blob:; connect-src 'self' blob: data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

export { UPLOAD_HEADER };

export interface ViewerServerOptions {
  sessions: SessionEntry[];
  /** Vite's output (index.html and assets). */
  assetsDir: string;
  /** Where uploads and job results go: one directory per job. */
  jobsDir: string;
  maxUploadBytes: number;
  /** Jobs that may wait behind the running one. */
  maxWaiting: number;
  runner: JobRunner;
  /** Reads an upload whole (in a worker thread); throws UploadError. */
  inspect: (path: string, name: string) => Promise<Inspected>;
  enhance: { available: boolean; model: string; why?: string };
  version: string;
}

export class ViewerServer {
  private readonly sessions = new Map<string, SessionEntry>();
  private readonly order: string[] = [];
  readonly queue: JobQueue;
  private server: Server | null = null;
  private allowedHosts: Set<string> | null = null;
  private jobCount = 0;
  private readonly streams = new Set<ServerResponse>();

  constructor(private readonly o: ViewerServerOptions) {
    for (const s of o.sessions) this.addSession(s);
    this.queue = new JobQueue(o.runner, { maxWaiting: o.maxWaiting, onDone: (spec, summary) => this.jobSession(spec, summary) });
  }

  addSession(s: SessionEntry): void {
    if (!this.sessions.has(s.session.id)) this.order.push(s.session.id);
    this.sessions.set(s.session.id, s);
  }

  /** Listens on host:port (port 0: any free port); resolves with the page's URL. */
  async listen(host: string, port: number): Promise<string> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) json(res, 500, { error: `internal error: ${e instanceof Error ? e.message : String(e)}` });
        else res.destroy();
      });
    });
    server.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      server.once("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "EADDRINUSE") reject(new Error(`port ${port} on ${host} is in use; choose another with --port (0 picks a free one)`));
        else if (e.code === "EADDRNOTAVAIL") reject(new Error(`cannot listen on ${host}: no such address on this machine`));
        else reject(e);
      });
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const actual = (server.address() as AddressInfo).port;
    const loopback = host === "127.0.0.1" || host === "localhost" || host === "::1";
    this.allowedHosts = loopback ? new Set([`127.0.0.1:${actual}`, `localhost:${actual}`, `[::1]:${actual}`]) : null;
    const shown = host.includes(":") ? `[${host}]` : host;
    return `http://${shown}:${actual}/`;
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.end();
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  config(): ViewerConfig {
    return {
      version: this.o.version,
      sessions: this.order.map((id) => ({ id, title: (this.sessions.get(id) as SessionEntry).session.title })),
      initial: this.order[0] ?? null,
      enhance: { ...this.o.enhance, maxUploadBytes: this.o.maxUploadBytes },
    };
  }

  private jobSession(spec: JobSpec, summary: JobSummary): string {
    const dir = spec.outDir;
    const items: SessionItem[] = [
      { file: spec.input, role: "input" },
      { file: join(dir, "enhanced.nii.gz"), role: "enhanced" },
      ...explainItems(join(dir, "explain")),
    ];
    const s = makeSession(spec.id, spec.name, "job", items, [jobTable(summary)]);
    this.addSession(s);
    return spec.id;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader("Content-Security-Policy", CSP);
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Referrer-Policy", "no-referrer");
    const host = req.headers.host ?? "";
    if (this.allowedHosts !== null && !this.allowedHosts.has(host.toLowerCase())) {
      json(res, 403, { error: `this viewer answers only at ${[...this.allowedHosts][0]}, not ${host || "(no host)"}` });
      return;
    }
    const url = new URL(req.url ?? "/", "http://viewer.invalid");
    const method = req.method ?? "GET";
    const parts = url.pathname.split("/").filter((p) => p !== "");

    if (parts[0] === "api") {
      if (method === "GET" && url.pathname === "/api/config") return json(res, 200, this.config());
      if (parts[1] === "sessions" && parts.length === 3 && method === "GET") {
        const s = this.sessions.get(decodeURIComponent(parts[2] as string));
        return s === undefined ? json(res, 404, { error: `no session ${parts[2]}` }) : json(res, 200, s.session);
      }
      if (parts[1] === "jobs") {
        if (parts.length === 2 && method === "POST") return this.upload(req, res, url);
        if (parts.length === 2 && method === "GET") return json(res, 200, this.queue.list());
        const job = parts[2] !== undefined ? this.queue.get(decodeURIComponent(parts[2])) : undefined;
        if (job === undefined) return json(res, 404, { error: `no job ${parts[2] ?? ""}` });
        if (parts.length === 3 && method === "GET") return json(res, 200, job);
        if (parts.length === 4 && parts[3] === "events" && method === "GET") return this.events(res, job.id);
      }
      return json(res, 404, { error: `no API route ${method} ${url.pathname}` });
    }

    if (method !== "GET" && method !== "HEAD") return json(res, 405, { error: `${method} is not allowed here` });
    if (parts[0] === "files" && parts.length === 4) {
      const s = this.sessions.get(decodeURIComponent(parts[1] as string));
      const i = Number(parts[2]);
      const file = s !== undefined && Number.isInteger(i) ? s.files[i] : undefined;
      const name = s?.session.volumes[i]?.url.split("/").pop();
      if (file === undefined || name !== parts[3] || !existsSync(file)) return json(res, 404, { error: `no file ${url.pathname}` });
      return sendFile(res, file, method, "application/octet-stream");
    }
    const asset = assetPath(this.o.assetsDir, url.pathname);
    if (asset !== null) return sendFile(res, asset, method);
    if (url.pathname === "/" || url.pathname === "/index.html") {
      res.writeHead(503, { "Content-Type": "text/html; charset=utf-8" });
      res.end(notBuiltPage(this.o.assetsDir));
      return;
    }
    json(res, 404, { error: `not found: ${url.pathname}` });
  }

  /** The job's state now and at every change, as server-sent events; closed when it ends. */
  private events(res: ServerResponse, id: string): void {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
    this.streams.add(res);
    const beat = setInterval(() => res.write(": keep-alive\n\n"), 15000);
    let unsubscribe = (): void => {};
    const end = (): void => {
      clearInterval(beat);
      unsubscribe();
      this.streams.delete(res);
    };
    res.on("close", end);
    unsubscribe = this.queue.subscribe(id, (info: JobInfo) => {
      res.write(`data: ${JSON.stringify(info)}\n\n`);
      if (isFinished(info)) {
        end();
        res.end();
      }
    });
  }

  /** POST /api/jobs?name=F: the file's bytes, checked as they arrive and then whole, then queued. */
  private async upload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const drain = (status: number, body: ApiError): void => {
      // Read what the client still sends, so it sees the answer rather than a reset connection.
      req.resume();
      json(res, status, body);
    };
    if (req.headers[UPLOAD_HEADER] === undefined) return drain(403, { error: `uploads come from the viewer's page (the ${UPLOAD_HEADER} header is missing)` });
    if (!this.o.enhance.available) return drain(503, { error: `enhancing is not available here: ${this.o.enhance.why ?? "no model"}` });
    let name: string;
    try {
      name = checkUploadName(url.searchParams.get("name"));
    } catch (e) {
      return drain(400, { error: (e as Error).message });
    }
    const max = this.o.maxUploadBytes;
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > max) return drain(413, { error: tooLarge(name, declared, max) });

    const id = `job-${++this.jobCount}`;
    const dir = join(this.o.jobsDir, id);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, name);
    const part = `${path}.part`;
    const out = createWriteStream(part);
    let bytes = 0;
    let head = Buffer.alloc(0);
    let error: UploadError | null = null;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        if (error !== null) continue; // drain the rest, then answer
        bytes += chunk.length;
        if (bytes > max) {
          error = new UploadError(tooLarge(name, bytes, max), 413);
          continue;
        }
        if (head.length < 132) {
          head = Buffer.concat([head, chunk.subarray(0, 132 - head.length)]);
          if (head.length >= 132) error = sniffError(head, name);
        }
        if (!out.write(chunk)) await once(out, "drain");
      }
      if (error === null && head.length < 132) error = sniffError(head, name);
    } catch (e) {
      error = new UploadError(`the upload of ${name} broke off: ${(e as Error).message}`);
    }
    out.end();
    await finished(out).catch(() => {});
    if (error !== null) {
      rmSync(dir, { recursive: true, force: true });
      if (!res.destroyed) json(res, error.status, { error: error.message });
      return;
    }
    try {
      renameSync(part, path);
      await this.o.inspect(path, name);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      return json(res, e instanceof UploadError ? e.status : 500, { error: (e as Error).message });
    }
    try {
      const info = this.queue.submit({ id, name, input: path, outDir: dir });
      json(res, 202, info);
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      json(res, e instanceof QueueFullError ? 503 : 500, { error: (e as Error).message });
    }
  }
}

function sniffError(head: Buffer, name: string): UploadError | null {
  try {
    sniffNifti(head, name);
    return null;
  } catch (e) {
    return e instanceof UploadError ? e : new UploadError(String(e));
  }
}

function tooLarge(name: string, bytes: number, max: number): string {
  const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
  return `${name} is larger than the upload limit (${bytes > max ? `over ${mb(max)}` : mb(bytes)}, limit ${mb(max)}); start the viewer with a larger --max-upload-mb, or run \`moediff-sr enhance\` on the command line`;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text), "Cache-Control": "no-store" });
  res.end(text);
}
