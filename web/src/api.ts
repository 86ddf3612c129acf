// HTTP client of the viewer page: config, sessions, enhancement jobs (POST + SSE with polling fallback).
// URLs are relative to the page ("api/config"), so the page works when the server mounts it under a path.
import { isFinished, UPLOAD_HEADER, type ApiError, type JobInfo, type ViewerConfig, type ViewSession } from "../../src/viewer/api.js";

/** A failed request, with the server's own `error` text when it sent one. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = "RequestError";
  }
}

export function apiUrl(path: string): string {
  return new URL(path.replace(/^\//, ""), document.baseURI).toString();
}

async function errorOf(res: Response, what: string): Promise<RequestError> {
  let text = "";
  try {
    text = await res.text();
    const body = JSON.parse(text) as Partial<ApiError>;
    if (typeof body.error === "string" && body.error.length > 0) return new RequestError(body.error, res.status);
  } catch {
    // not JSON: fall through to the raw text
  }
  const detail = text.trim().slice(0, 300);
  return new RequestError(`${what} failed: HTTP ${res.status} ${res.statusText}${detail ? ` — ${detail}` : ""}`, res.status);
}

async function getJson<T>(path: string, what: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(apiUrl(path), { headers: { accept: "application/json" }, cache: "no-store" });
  } catch (e) {
    throw new RequestError(`${what} failed: the viewer server does not answer (${String(e)}); is \`moediff-sr view\` still running?`, 0);
  }
  if (!res.ok) throw await errorOf(res, what);
  return (await res.json()) as T;
}

export function fetchConfig(): Promise<ViewerConfig> {
  return getJson<ViewerConfig>("api/config", "loading the viewer config");
}

export function fetchSession(id: string): Promise<ViewSession> {
  return getJson<ViewSession>(`api/sessions/${encodeURIComponent(id)}`, `loading session ${id}`);
}

export function fetchJob(id: string): Promise<JobInfo> {
  return getJson<JobInfo>(`api/jobs/${encodeURIComponent(id)}`, `reading job ${id}`);
}

/** POST the raw bytes of a file; resolves with the queued job (202) or throws the server's error text. */
export async function postJob(file: File): Promise<JobInfo> {
  let res: Response;
  try {
    res = await fetch(apiUrl(`api/jobs?name=${encodeURIComponent(file.name)}`), {
      method: "POST",
      // The server takes uploads only with this header, which a page on another origin cannot send
      // without a CORS preflight the server never grants (src/viewer/api.ts UPLOAD_HEADER).
      headers: { "content-type": "application/octet-stream", accept: "application/json", [UPLOAD_HEADER]: "1" },
      body: file,
    });
  } catch (e) {
    throw new RequestError(`uploading ${file.name} failed: the viewer server does not answer (${String(e)})`, 0);
  }
  if (!res.ok) throw await errorOf(res, `uploading ${file.name}`);
  return (await res.json()) as JobInfo;
}

/**
 * Follow a job until it is done or failed: EventSource on /api/jobs/:id/events, and when the stream
 * breaks before the end, poll GET /api/jobs/:id every `pollMs`. `onUpdate` sees every state; the
 * returned function stops following.
 */
export function followJob(id: string, onUpdate: (job: JobInfo) => void, pollMs = 1000): () => void {
  let stopped = false;
  let finished = false;
  let timer: number | undefined;
  let source: EventSource | undefined;

  const deliver = (job: JobInfo): void => {
    if (stopped || finished) return;
    if (isFinished(job)) finished = true;
    onUpdate(job);
    if (finished) stop();
  };

  const poll = async (): Promise<void> => {
    if (stopped || finished) return;
    try {
      deliver(await fetchJob(id));
    } catch (e) {
      // A 404 means the server forgot the job (restarted): report it as failed rather than poll forever.
      if (e instanceof RequestError && e.status === 404) {
        deliver({ id, name: "", state: "failed", error: e.message });
        return;
      }
    }
    if (!stopped && !finished) timer = window.setTimeout(() => void poll(), pollMs);
  };

  const stop = (): void => {
    stopped = true;
    source?.close();
    if (timer !== undefined) window.clearTimeout(timer);
  };

  if (typeof EventSource === "function") {
    source = new EventSource(apiUrl(`api/jobs/${encodeURIComponent(id)}/events`));
    source.onmessage = (event: MessageEvent<string>) => {
      try {
        deliver(JSON.parse(event.data) as JobInfo);
      } catch {
        // a malformed line: the poll fallback below will recover the state
      }
    };
    source.onerror = () => {
      // The server closes the stream after the last event; anything else is a broken stream.
      source?.close();
      if (!stopped && !finished) void poll();
    };
  } else {
    void poll();
  }
  return stop;
}
