// The "Enhance a volume" form: choose a NIfTI file, press Enhance; the bytes go to POST /api/jobs
// (the server runs the job in a worker thread; nothing leaves the machine). Each job gets a row
// that follows it over SSE (polling when the stream breaks): "N ahead" while queued, a progress bar
// and message while running; when done the page opens the job's session, when failed its error
// goes to the error box. Files are checked here only for name and size (the server decides the rest).
import { isFinished, type JobInfo, type ViewerConfig } from "../../src/viewer/api.js";
import { followJob, postJob, RequestError } from "./api.js";
import { el, formatBytes, formatNumber } from "./dom.js";

export interface EnhanceEvents {
  /** A job finished: open its session. */
  done(job: JobInfo): void;
}

const NIFTI_NAME = /\.nii(\.gz)?$/i;

export class EnhanceForm {
  private readonly file: HTMLInputElement;
  private readonly button: HTMLButtonElement;
  private readonly info: HTMLElement;
  private readonly errorBox: HTMLElement;
  private readonly jobs: HTMLElement;
  private config: ViewerConfig["enhance"] | null = null;
  private readonly rows = new Map<string, HTMLElement>();
  private uploading = false;

  constructor(
    container: HTMLElement,
    private readonly events: EnhanceEvents,
  ) {
    this.file = el("input", { type: "file", accept: ".nii,.nii.gz,application/gzip", testid: "enhance-file" });
    this.button = el("button", { type: "button", class: "primary", testid: "enhance-button", text: "Enhance", disabled: true });
    this.info = el("p", { class: "muted enhance-info" });
    this.errorBox = el("div", { class: "error-box", testid: "enhance-error", role: "alert", hidden: true });
    this.jobs = el("ul", { class: "jobs", "aria-live": "polite" });
    container.append(el("div", { class: "enhance-controls" }, this.file, this.button), this.info, this.errorBox, this.jobs);
    this.file.addEventListener("change", () => {
      this.hideError();
      this.refresh();
    });
    this.button.addEventListener("click", () => void this.submit());
  }

  configure(config: ViewerConfig["enhance"]): void {
    this.config = config;
    this.info.textContent = config.available
      ? `Model: ${config.model}. Files up to ${formatBytes(config.maxUploadBytes)}; the job runs on this machine.`
      : `Enhancing is not available here: ${config.why ?? "the server has no model"}.`;
    this.refresh();
  }

  private refresh(): void {
    const available = this.config?.available ?? false;
    this.button.disabled = !available || this.uploading || !this.file.files?.length;
    this.file.disabled = !available;
    this.button.title = available ? "enhance the chosen file with the model above" : (this.config?.why ?? "enhancing is not available");
  }

  showError(message: string): void {
    this.errorBox.textContent = message;
    this.errorBox.hidden = false;
  }

  hideError(): void {
    this.errorBox.textContent = "";
    this.errorBox.hidden = true;
  }

  async submit(): Promise<void> {
    const file = this.file.files?.[0];
    if (!file || !this.config) return;
    this.hideError();
    if (!NIFTI_NAME.test(file.name)) {
      this.showError(`${file.name} is not a NIfTI file name: choose a .nii or .nii.gz file.`);
      return;
    }
    if (file.size > this.config.maxUploadBytes) {
      this.showError(`${file.name} is ${formatBytes(file.size)}, over the ${formatBytes(this.config.maxUploadBytes)} limit: crop or downsample it, or enhance it with the command line.`);
      return;
    }
    this.uploading = true;
    this.button.textContent = "Uploading…";
    this.refresh();
    try {
      const job = await postJob(file);
      this.track(job);
    } catch (e) {
      this.showError(e instanceof RequestError ? e.message : `uploading ${file.name} failed: ${String(e)}`);
    } finally {
      this.uploading = false;
      this.button.textContent = "Enhance";
      this.refresh();
    }
  }

  private track(job: JobInfo): void {
    this.update(job);
    if (job.state === "done") this.events.done(job);
    if (isFinished(job)) return;
    followJob(job.id, (next) => {
      this.update(next);
      if (next.state === "done") this.events.done(next);
    });
  }

  private update(job: JobInfo): void {
    let row = this.rows.get(job.id);
    if (!row) {
      row = el("li", { class: "job", testid: `job-${job.id}` });
      this.rows.set(job.id, row);
      this.jobs.prepend(row);
    }
    row.dataset.state = job.state;
    const name = job.name || row.dataset.name || `job ${job.id}`;
    row.dataset.name = name;
    const status = el("span", { class: `job-state state-${job.state}`, text: job.state });
    const children: (Node | string)[] = [el("span", { class: "job-name", text: name, title: name }), status];
    if (job.state === "queued") {
      children.push(el("span", { class: "job-msg", text: job.ahead ? `${job.ahead} ahead` : "next" }));
    } else if (job.state === "running") {
      const fraction = Math.min(1, Math.max(0, job.fraction ?? 0));
      children.push(
        el("progress", { max: 1, value: fraction, title: `${Math.round(fraction * 100)} %` }),
        el("span", { class: "job-msg", text: job.message ?? "" }),
      );
    } else if (job.state === "done") {
      children.push(el("span", { class: "job-msg", text: job.seconds !== undefined ? `${formatNumber(job.seconds, 3)} s` : "done" }));
    } else {
      children.push(el("span", { class: "job-msg", text: "see the error above" }));
      this.showError(`${name}: ${job.error ?? "the job failed without a message"}`);
    }
    const fresh = row.childElementCount === 0;
    row.replaceChildren(...children);
    if (fresh) row.scrollIntoView({ block: "nearest" });
  }
}
