// A short-lived worker thread that reads an upload whole (inspectNifti) so the server's thread stays
// free while a large .nii.gz is decompressed. Started by inspectInWorker (enhance_runner.ts).
import { parentPort, workerData } from "node:worker_threads";
import { inspectNifti, UploadError } from "./upload_check.js";
import type { FromInspectWorker, InspectWorkerData } from "./worker_protocol.js";

const d = workerData as InspectWorkerData;
let answer: FromInspectWorker;
try {
  answer = { ok: true, inspected: inspectNifti(d.path, d.name) };
} catch (e) {
  answer = { ok: false, error: e instanceof Error ? e.message : String(e), status: e instanceof UploadError ? e.status : 500 };
}
parentPort?.postMessage(answer);
