// Headless Chromium for the viewer's end-to-end tests: Debian's /usr/bin/chromium (scripts/setup.sh
// installs it) driven by playwright-core, which downloads no browser of its own. The flags keep it
// from reaching for the network, which this machine does not have.
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import * as PImage from "pureimage";
import { Readable } from "node:stream";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
/** Screenshots of every e2e test go here (ignored by git). */
export const SHOTS = join(REPO, "test-output", "e2e");

export async function launch(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}: run \`bash scripts/setup.sh\` (it installs Debian's chromium), or set CHROMIUM`);
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}

/**
 * Console lines that are not the page's fault: software WebGL's note on reading pixels back (NiiVue
 * picks values that way), and the browser's own line for an upload the server refused (the tests
 * provoke those on purpose and check the page's message).
 */
const EXPECTED = [/GPU stall due to ReadPixels/, /Failed to load resource: the server responded with a status of 4\d\d/];

/** Every console error and uncaught exception of the page, for the tests to assert none happened. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if ((m.type() === "error" || m.type() === "warning") && !EXPECTED.some((re) => re.test(m.text()))) errors.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page: ${e.message}`));
  return errors;
}

export interface Pixels {
  width: number;
  height: number;
  rgba: Uint8Array;
}

/** A screenshot of the element, decoded, and written to SHOTS/name.png. */
export async function shot(el: Locator, name: string): Promise<Pixels> {
  const png = await el.screenshot({ path: join(SHOTS, `${name}.png`) });
  const bmp = await PImage.decodePNGFromStream(Readable.from([png]));
  return { width: bmp.width, height: bmp.height, rgba: new Uint8Array(bmp.data.buffer, bmp.data.byteOffset, bmp.data.byteLength) };
}

/** Distinct grey/colour levels and the standard deviation of luminance: a blank canvas has ~1 level and ~0 spread. */
export function contentOf(p: Pixels): { levels: number; sd: number } {
  const seen = new Set<number>();
  let s = 0;
  let s2 = 0;
  const n = p.width * p.height;
  for (let i = 0; i < n; i++) {
    const r = p.rgba[4 * i] as number;
    const g = p.rgba[4 * i + 1] as number;
    const b = p.rgba[4 * i + 2] as number;
    seen.add((r << 16) | (g << 8) | b);
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    s += y;
    s2 += y * y;
  }
  const mean = s / n;
  return { levels: seen.size, sd: Math.sqrt(Math.max(0, s2 / n - mean * mean)) };
}

/** The fraction of pixels whose colour differs by more than `tol` in any channel. */
export function changedFraction(a: Pixels, b: Pixels, tol = 8): number {
  if (a.width !== b.width || a.height !== b.height) return 1;
  let changed = 0;
  const n = a.width * a.height;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      if (Math.abs((a.rgba[4 * i + c] as number) - (b.rgba[4 * i + c] as number)) > tol) {
        changed++;
        break;
      }
    }
  }
  return changed / n;
}
