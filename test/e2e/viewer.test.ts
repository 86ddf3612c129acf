// The viewer end to end: `moediff-sr view` as a user starts it (a child process, a free port), driven
// in headless Chromium. The page loads a run's volumes and draws them, the overlay toggle and the
// input/enhanced slider change the picture, an uploaded volume is enhanced with a tiny model and its
// result opens, and corrupt or non-NIfTI uploads show the server's message. Screenshots go to
// test-output/e2e/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { syntheticBrain } from "../demo/fixture.js";
import { tempDir, writeVolume } from "../data/phantom.js";
import { writeTinyModelInChild } from "../viewer/tiny_model_process.js";
import type { Volume } from "../../src/volume/volume.js";
import { changedFraction, collectErrors, contentOf, launch, REPO, shot } from "./browser.js";

// The page's globals, as far as the functions run in it use them (the Node build has no DOM types).
declare const document: {
  body: { dataset: Record<string, string | undefined> };
  querySelector(selector: string): { textContent: string | null; getAttribute(name: string): string | null } | null;
};
declare const requestAnimationFrame: (callback: () => void) => number;

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const ASSETS = process.env.MOEDIFF_VIEWER_ASSETS ?? join(REPO, "dist", "viewer");

let dir: string;
let cleanup: () => void;
let server: ChildProcess;
let url: string;
let browser: Browser;
let page: Page;
let errors: string[];
/** Every URL the page requested. */
const requested: string[] = [];
let lrPath: string;

/** Every other voxel: the brain at 2 mm, as a 3T-like input. */
function halve(v: Volume): Volume {
  const [nx, ny, nz] = v.dims;
  const m = [Math.ceil(nx / 2), Math.ceil(ny / 2), Math.ceil(nz / 2)] as [number, number, number];
  const data = new Float32Array(m[0] * m[1] * m[2]);
  for (let k = 0, q = 0; k < m[2]; k++) for (let j = 0; j < m[1]; j++) for (let i = 0; i < m[0]; i++, q++) data[q] = v.data[2 * i + nx * (2 * j + ny * 2 * k)] as number;
  const a = [...v.affine];
  for (const c of [0, 1, 2]) for (const r of [0, 1, 2]) a[4 * r + c] = 2 * (a[4 * r + c] as number);
  return { data, dims: m, affine: a };
}

/** A map in [0, 1] on the brain's grid: 0 on the left half, rising to 1 on the right. */
function gate(v: Volume): Volume {
  const [nx] = v.dims;
  return { ...v, data: v.data.map((_, q) => Math.max(0, (q % nx) / (nx - 1) - 0.5) * 2) };
}

async function frame(): Promise<void> {
  await page.evaluate(() => new Promise<void>((r) => requestAnimationFrame(() => requestAnimationFrame(() => r()))));
}

async function ready(session?: string): Promise<void> {
  await page.waitForFunction((s) => document.body.dataset.viewerState === "ready" && (s === undefined || document.body.dataset.session === s), session, { timeout: 60_000 });
  await frame();
}

before(async () => {
  if (!existsSync(join(ASSETS, "index.html"))) throw new Error(`the viewer's page is not built in ${ASSETS}: run \`npm run build:viewer\` (scripts/setup.sh does)`);
  ({ dir, cleanup } = tempDir("moediff-viewer-e2e-"));
  const model = writeTinyModelInChild(join(dir, "model"));
  const run = join(dir, "run");
  mkdirSync(join(run, "explain"), { recursive: true });
  const brain = syntheticBrain();
  lrPath = writeVolume(join(run, "input.nii.gz"), halve(brain));
  writeVolume(join(run, "enhanced.nii.gz"), brain);
  writeVolume(join(run, "explain", "gate_E1.nii.gz"), gate(brain));
  writeVolume(join(run, "explain", "expert_E1.nii.gz"), brain);

  server = spawn(process.execPath, [CLI, "view", run, "--port", "0", "--model", model, "--jobs-dir", join(dir, "jobs"), "--max-upload-mb", "1"], {
    env: { ...process.env, MOEDIFF_VIEWER_ASSETS: ASSETS },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  server.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  url = await new Promise<string>((resolve, reject) => {
    let out = "";
    server.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^(http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out);
      if (m) resolve(m[1] as string);
    });
    server.once("exit", (code) => reject(new Error(`moediff-sr view exited (${code}) before printing its URL:\n${log}`)));
  });
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  errors = collectErrors(page);
  page.on("request", (r) => void requested.push(r.url()));
});

after(async () => {
  await browser?.close();
  server?.kill("SIGINT");
  if (server !== undefined && server.exitCode === null) await new Promise((r) => server.once("exit", r));
  cleanup?.();
});

test("the page loads the input and the enhanced volume and draws both (the canvases are not blank)", async () => {
  await page.goto(url);
  await ready("s0");
  await page.screenshot({ path: join(REPO, "test-output", "e2e", "viewer-loaded.png") });
  for (const role of ["input", "enhanced"]) {
    const c = contentOf(await shot(page.getByTestId(`pane-${role}`).locator("canvas"), `pane-${role}`));
    assert.ok(c.levels > 20 && c.sd > 10, `${role} pane: ${c.levels} colours, luminance sd ${c.sd.toFixed(1)}`);
  }
  assert.equal(await page.getByTestId("pane-reference").count(), 0, "no reference in this run: no reference pane");
  assert.deepEqual(errors, []);
});

test("the overlay toggle and the input/enhanced slider change the enhanced pane", async () => {
  const canvas = page.getByTestId("pane-enhanced").locator("canvas");
  const before = await shot(canvas, "overlay-off");
  await page.getByTestId("overlay-toggle-gate-E1").check();
  await frame();
  const on = await shot(canvas, "overlay-on");
  const byOverlay = changedFraction(before, on);
  assert.ok(byOverlay > 0.02, `the gate overlay changed ${(100 * byOverlay).toFixed(2)}% of the pixels`);
  await page.getByTestId("overlay-toggle-gate-E1").uncheck();
  await frame();
  const off = await shot(canvas, "overlay-off-again");
  assert.ok(changedFraction(before, off) < 0.005, "unchecking the overlay restores the picture");

  const slider = page.getByTestId("mix-slider");
  const [lo, hi] = await slider.evaluate((el) => [(el as unknown as { min: string }).min, (el as unknown as { max: string }).max]);
  await slider.fill(String(lo));
  await frame();
  const a = await shot(canvas, "mix-min");
  await slider.fill(String(hi));
  await frame();
  const b = await shot(canvas, "mix-max");
  const byMix = changedFraction(a, b);
  assert.ok(byMix > 0.02, `the input/enhanced slider changed ${(100 * byMix).toFixed(2)}% of the pixels`);
  assert.deepEqual(errors, []);
});

test("a click in one pane moves the crosshair in every pane; the slice slider and zoom change the picture", async () => {
  const input = page.getByTestId("pane-input").locator("canvas");
  const enhanced = page.getByTestId("pane-enhanced").locator("canvas");
  const position = page.getByTestId("crosshair-position");
  const where = await position.textContent();
  const before = await shot(enhanced, "sync-before");
  const box = (await input.boundingBox()) as { x: number; y: number; width: number; height: number };
  await page.mouse.click(box.x + box.width * 0.35, box.y + box.height * 0.4);
  await frame();
  assert.notEqual(await position.textContent(), where, "the crosshair readout follows the click");
  const after = await shot(enhanced, "sync-after");
  assert.ok(changedFraction(before, after) > 0.002, "the other pane's crosshair moved");

  const slice = page.getByTestId("slice-slider");
  const [lo, hi] = await slice.evaluate((el) => [(el as unknown as { min: string }).min, (el as unknown as { max: string }).max]);
  await slice.fill(String(Math.round(Number(lo) + 0.8 * (Number(hi) - Number(lo)))));
  await frame();
  const moved = await shot(enhanced, "slice-moved");
  assert.ok(changedFraction(after, moved) > 0.02, "another slice is shown");
  await page.getByTestId("zoom-in").click();
  await page.getByTestId("zoom-in").click();
  await frame();
  const zoomed = await shot(enhanced, "zoomed");
  assert.ok(changedFraction(moved, zoomed) > 0.05, "zooming in enlarges the image");
  await page.getByTestId("zoom-reset").click();
  await frame();
  assert.deepEqual(errors, []);
});

test("a corrupt upload and a non-NIfTI upload show the server's message; the page goes on", async () => {
  const bytes = readFileSync(lrPath);
  await page.getByTestId("enhance-file").setInputFiles({ name: "broken.nii.gz", mimeType: "application/gzip", buffer: bytes.subarray(0, Math.floor(bytes.length / 2)) });
  await page.getByTestId("enhance-button").click();
  const box = page.getByTestId("enhance-error");
  await box.waitFor({ state: "visible" });
  await page.waitForFunction(() => /could not be read as NIfTI/.test(document.querySelector("[data-testid=enhance-error]")?.textContent ?? ""));
  assert.match((await box.textContent()) ?? "", /broken\.nii\.gz could not be read as NIfTI: .*truncated/);
  await page.screenshot({ path: join(REPO, "test-output", "e2e", "upload-corrupt.png") });

  await page.getByTestId("enhance-file").setInputFiles({ name: "notes.nii", mimeType: "text/plain", buffer: Buffer.from("these are my notes, not an image") });
  await page.getByTestId("enhance-button").click();
  await page.waitForFunction(() => /notes\.nii is not a NIfTI file \(it is text\)/.test(document.querySelector("[data-testid=enhance-error]")?.textContent ?? ""));
  assert.equal(await page.evaluate(() => document.body.dataset.viewerState), "ready", "the images are still shown");
});

test("an uploaded volume is enhanced with the tiny model, its progress shown, and the result opens", async () => {
  await page.getByTestId("enhance-file").setInputFiles(lrPath);
  await page.getByTestId("enhance-button").click();
  const row = page.locator("[data-testid^=job-]").last();
  await row.waitFor();
  const id = ((await row.getAttribute("data-testid")) as string).slice(4);
  await page.waitForFunction((i) => document.querySelector(`[data-testid=job-${i}]`)?.getAttribute("data-state") === "done", id, { timeout: 180_000 });
  await ready(id);
  await page.screenshot({ path: join(REPO, "test-output", "e2e", "enhanced-from-page.png") });
  const c = contentOf(await shot(page.getByTestId("pane-enhanced").locator("canvas"), "job-enhanced"));
  assert.ok(c.levels > 20 && c.sd > 5, `the result pane: ${c.levels} colours, luminance sd ${c.sd.toFixed(1)}`);
  assert.ok((await page.getByTestId("overlay-toggle-gate-E1").count()) === 1, "the job's gate maps are offered as overlays");
  assert.match(page.url(), new RegExp(`session=${id}`));
  assert.deepEqual(errors, []);
});

test("every request the page made went to the viewer's own server (nothing leaves the machine)", () => {
  assert.ok(requested.length > 10, `${requested.length} requests seen`);
  const elsewhere = requested.filter((u) => !u.startsWith(url) && !u.startsWith("data:") && !u.startsWith("blob:"));
  assert.deepEqual(elsewhere, []);
});
