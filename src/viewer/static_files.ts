// Serving the built page (Vite's output, dist/viewer) and the sessions' NIfTI files: streamed, with a
// content type, never outside the assets directory, and a plain page that says how to build the
// viewer when its assets are missing.
import { createReadStream, existsSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Where `npm run build:viewer` puts the page (compiled server: dist/src/viewer/ -> dist/viewer). */
export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL("../../viewer/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".wasm": "application/wasm",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** Streams a file with its length; HEAD gets the headers only. */
export function sendFile(res: ServerResponse, path: string, method: string, type?: string): void {
  const st = statSync(path);
  res.writeHead(200, {
    "Content-Type": type ?? TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
    "Content-Length": st.size,
    "Cache-Control": "no-cache",
  });
  if (method === "HEAD") {
    res.end();
    return;
  }
  const s = createReadStream(path);
  s.on("error", () => res.destroy());
  s.pipe(res);
}

/** The asset file for a URL path under `root`, or null (missing, a directory, or outside root). */
export function assetPath(root: string, urlPath: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (rel.includes("\0")) return null;
  if (rel === "/" || rel === "") rel = "/index.html";
  const base = resolve(root);
  const p = normalize(join(base, rel));
  if (p !== base && !p.startsWith(base + sep)) return null;
  if (!existsSync(p) || !statSync(p).isFile()) return null;
  return p;
}

export function notBuiltPage(root: string): string {
  return `<!doctype html><meta charset="utf-8"><title>moediff-sr view</title>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>The viewer's page is not built</h1>
<p>Its assets are missing from <code>${root.replace(/[<&>]/g, "")}</code>. Build them with
<code>npm run build:viewer</code> (<code>bash scripts/setup.sh</code> does it), then reload.</p></body>`;
}
