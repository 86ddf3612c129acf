// Build of the viewer page (issue 8): web/ -> dist/viewer/, served by `moediff-sr view`.
// base "./" so the assets load under any path; everything is bundled (no CDN, no web fonts),
// so nothing leaves the machine. No inline script in index.html: the server's CSP forbids it.
import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));
const outDir = fileURLToPath(new URL("../dist/viewer", import.meta.url));

export default defineConfig({
  root,
  base: "./",
  publicDir: false,
  logLevel: "warn",
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2022",
    // NiiVue is one large module (~1.5 MB); the warning says nothing actionable here.
    chunkSizeWarningLimit: 4096,
    // Never inline assets as data: URLs we do not need; the CSP allows data: images anyway.
    assetsInlineLimit: 0,
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
});
