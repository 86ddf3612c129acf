// The worker thread that enhances volumes uploaded from the page (started by enhance_runner.ts). It
// loads the engine and the model once, then runs one job per "run" message as `moediff-sr enhance
// --explain` would, with the model's own sampling settings, and writes into the job's directory:
// input.nii(.gz) (the upload, already there), enhanced.nii.gz and explain/ (each expert's estimate and
// gate maps). Progress goes back as messages; an error fails the job, not the worker.
import { parentPort, workerData } from "node:worker_threads";
import { join } from "node:path";
import type { EnhanceWorkerData, FromEnhanceWorker, ToEnhanceWorker } from "./worker_protocol.js";
import type { JobSpec } from "./jobs.js";
import type { JobSummary } from "./tables.js";

const port = parentPort;
if (port === null) throw new Error("enhance_worker.ts runs as a worker thread (src/viewer/enhance_runner.ts starts it)");
const data = workerData as EnhanceWorkerData;
const post = (m: FromEnhanceWorker): void => port.postMessage(m);
const device = data.device as import("../torch/index.js").Device;

type Pipeline = import("../inference/pipeline.js").MoEDiffSRPipeline;

try {
  const engine = await import("../torch/index.js");
  engine.setDefaultDevice(device);
  post({ type: "ready" });
} catch (e) {
  post({ type: "engine-failed", error: `the tensor engine did not load: ${e instanceof Error ? e.message : String(e)}` });
  process.exit(0);
}

let pipeline: Pipeline | null = null;

async function run(spec: JobSpec): Promise<JobSummary> {
  const progress = (fraction: number, message: string): void => post({ type: "progress", id: spec.id, fraction, message });
  const { readNifti, toVolume, writeNifti } = await import("../nifti/index.js");
  const { MoEDiffSRPipeline } = await import("../inference/pipeline.js");
  const { enhanceVolume } = await import("../inference/enhance.js");
  const { writeExplain } = await import("../inference/explain_files.js");

  progress(0, "reading the volume");
  const im = readNifti(spec.input, { nonFinite: "error" });
  const lr = toVolume(im, 0);
  if (pipeline === null) {
    progress(0.01, "loading the model");
    pipeline = MoEDiffSRPipeline.fromDir(data.modelDir, { device });
  }
  const pipe = pipeline;
  // Enhancement is 2-94% of the bar; writing the volumes the rest.
  const r = await enhanceVolume(pipe, lr, {
    explain: true,
    onProgress: (p) => progress(0.02 + (0.92 * p.tilesDone) / Math.max(1, p.tiles), `slice ${p.slicesDone} of ${p.slices}`),
  });
  const o = r.options;
  // The viewer waits between jobs: give the tensor buffers the engine keeps for reuse back to the system.
  (await import("../torch/index.js")).emptyCpuCache();
  progress(0.95, "writing the volumes");
  const output = join(spec.outDir, "enhanced.nii.gz");
  writeNifti(output, r.output, { description: `moediff-sr view: ${o.sampler} ${o.steps} ${o.mode} seed ${o.seed}` });
  writeExplain(join(spec.outDir, "explain"), output, r, pipe);
  const st = r.stats;
  return {
    input: { dims: [...im.dims.slice(0, 3)], voxelSize: [...im.voxelSize] },
    output: { dims: [...st.targetDims], voxelSize: [...st.targetVoxelSize] },
    model: data.modelDir,
    sampler: `DDIM ${o.steps} steps from ${o.start} of the schedule, joint, seed ${o.seed}`,
    slices: st.slices,
    slicesRun: st.slicesRun,
    tilesRun: st.tilesRun,
    tileSize: [...st.tileSize],
    evaluations: [...st.evaluations],
    seconds: st.seconds,
  };
}

// One job at a time: the runner sends the next only after this one's answer.
port.on("message", (m: ToEnhanceWorker) => {
  if (m.type !== "run") return;
  run(m.spec).then(
    (summary) => post({ type: "done", id: m.spec.id, summary }),
    (e: unknown) => post({ type: "failed", id: m.spec.id, error: e instanceof Error ? e.message : String(e) }),
  );
});
