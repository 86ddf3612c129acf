// `moediff-sr view DIR... | FILE... [--port 8080]`: the browser viewer (src/viewer/). Serves the built
// page and the volumes on 127.0.0.1, prints the URL, and runs enhance jobs uploaded from the page in a
// worker thread. Engine-free itself: the engine loads in the worker, so viewing works without it.
import { existsSync, mkdirSync, mkdtempSync, statSync } from "node:fs";
import { toolVersion } from "../../util/version.js";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { DEFAULT_MODEL_DIR } from "../../model_dir/default_dir.js";
import { missingModelFiles } from "../../model_dir/files.js";
import { ViewerServer } from "../../viewer/server.js";
import { sessionFromDir, sessionFromFiles, ViewerInputError, type SessionEntry } from "../../viewer/sessions.js";
import { DEFAULT_ASSETS_DIR } from "../../viewer/static_files.js";
import { inspectInWorker, WorkerRunner } from "../../viewer/enhance_runner.js";
import { nonNegativeInt, positiveInt } from "../option_parsers.js";

interface ViewCliOptions {
  port: number;
  host: string;
  input?: string;
  enhanced?: string;
  reference?: string;
  explain?: string;
  model?: string;
  enhance: boolean;
  jobsDir?: string;
  maxUploadMb: number;
  maxQueue: number;
  device: string;
}

/** The sessions for the command line's paths: one per directory, or one for all the files. */
export function sessionsFromPaths(paths: readonly string[], o: Pick<ViewCliOptions, "input" | "enhanced" | "reference" | "explain">): SessionEntry[] {
  const named = o.input !== undefined || o.enhanced !== undefined || o.reference !== undefined || o.explain !== undefined;
  for (const p of paths) if (!existsSync(p)) throw new ViewerInputError(`${p}: no such file or directory`);
  const dirs = paths.filter((p) => statSync(p).isDirectory());
  if (dirs.length > 0 && dirs.length < paths.length) throw new ViewerInputError("give directories or files, not both (each directory is a session of its own)");
  if (dirs.length > 0) {
    if (named) throw new ViewerInputError("--input/--enhanced/--reference/--explain name files; with a directory, its files are found by name");
    return dirs.map((d, i) => sessionFromDir(`s${i}`, d));
  }
  if (paths.length === 0 && !named) return [];
  return [sessionFromFiles("s0", paths, o)];
}

/** Whether the model directory can enhance, and why not. */
export function modelAvailability(dir: string): { available: boolean; why?: string } {
  if (!existsSync(dir)) return { available: false, why: `the model directory ${dir} does not exist; start the viewer with --model RUN (a directory made by \`moediff-sr train\`)` };
  const missing = missingModelFiles(dir);
  if (missing.length === 0) return { available: true };
  return { available: false, why: `the model directory ${dir} lacks ${missing.join(", ")}; start the viewer with --model RUN (a directory made by \`moediff-sr train\`)` };
}


export function registerView(program: Command): void {
  program
    .command("view")
    .description("browse input, 7T-like output, reference, experts and gates in the browser, and enhance volumes from the page")
    .argument("[paths...]", "a directory written by `demo` or `enhance --explain` (several: one session each), or NIfTI files (input, enhanced, reference)")
    .option("--port <n>", "port to listen on (0: any free port)", nonNegativeInt("port"), 8080)
    .option("--host <address>", "address to listen on; anything but 127.0.0.1/localhost/::1 makes the viewer reachable from the network", "127.0.0.1")
    .option("--input <file>", "the 3T-like input")
    .option("--enhanced <file>", "the 7T-like output")
    .option("--reference <file>", "the true high-resolution volume")
    .option("--explain <dir>", "expert and gate maps written by `enhance --explain DIR`")
    .option("--model <dir>", "model for enhancing from the page (default: the embedded model)")
    .option("--no-enhance", "do not offer enhancement from the page")
    .option("--jobs-dir <dir>", "where uploads and their results go (default: a new directory under the system's temporary directory)")
    .option("--max-upload-mb <n>", "largest upload accepted, in MiB", positiveInt("max-upload-mb"), 512)
    .option("--max-queue <n>", "enhance jobs that may wait behind the running one", positiveInt("max-queue"), 4)
    .option("--device <device>", "device for enhancing: cpu, cuda or cuda:N", "cpu")
    .action(async (paths: string[], opts: ViewCliOptions) => {
      await runView(paths, opts);
    });
}

async function runView(paths: string[], opts: ViewCliOptions): Promise<void> {
  // A GPU is checked here, not first in a job (the viewer is engine-free: load the engine only for it).
  if (opts.enhance && opts.device !== "cpu") (await import("../device_option.js")).checkDevice(opts.device);
  const sessions = sessionsFromPaths(paths, opts);
  const modelDir = resolve(opts.model ?? DEFAULT_MODEL_DIR);
  const enhance = opts.enhance ? { model: modelDir, ...modelAvailability(modelDir) } : { model: modelDir, available: false, why: "the viewer was started with --no-enhance" };
  const jobsDir = opts.jobsDir !== undefined ? resolve(opts.jobsDir) : mkdtempSync(join(tmpdir(), "moediff-sr-view-"));
  mkdirSync(jobsDir, { recursive: true });
  const assetsDir = process.env.MOEDIFF_VIEWER_ASSETS ?? DEFAULT_ASSETS_DIR;
  const runner = new WorkerRunner({ modelDir, device: opts.device });
  const server = new ViewerServer({
    sessions,
    assetsDir,
    jobsDir,
    maxUploadBytes: opts.maxUploadMb * 2 ** 20,
    maxWaiting: opts.maxQueue,
    runner,
    inspect: inspectInWorker,
    enhance,
    version: toolVersion(),
  });
  const url = await server.listen(opts.host, opts.port);
  if (!["127.0.0.1", "localhost", "::1"].includes(opts.host)) console.error(`view: listening on ${opts.host}: anyone who can reach this machine can see these volumes and run jobs`);
  if (!existsSync(join(assetsDir, "index.html"))) console.error("view: the page is not built; run `npm run build:viewer` (scripts/setup.sh does)");
  for (const s of sessions) console.error(`view: ${s.session.title}: ${s.session.volumes.map((v) => v.name).join(", ")}`);
  if (enhance.available) {
    console.error(`view: enhancing from the page with ${modelDir}; uploads and results go to ${jobsDir}`);
    // Load the engine now, so the first job starts at once; if it cannot load, the page says so.
    runner.warm().catch((e: unknown) => {
      Object.assign(enhance, { available: false, why: e instanceof Error ? e.message : String(e) });
      console.error(`view: enhancing is off: ${enhance.why}`);
    });
  } else console.error(`view: enhancing from the page is off: ${enhance.why}`);
  process.stdout.write(`${url}\n`);
  console.error("view: press Ctrl-C to stop");
  await new Promise<void>((done) => {
    const stop = (): void => {
      console.error("view: stopping");
      void Promise.all([server.close(), runner.close()]).then(() => done());
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
