// Entry of the viewer page: loads /api/config, opens a session (?session=ID, else config.initial),
// and wires the header (sessions, views, zoom), the panes, and the side panel (crosshair, mix,
// window, overlays, metrics, enhance). Test hooks: body[data-viewer-state] is "loading" while
// volumes load, "ready" once every pane has loaded and drawn, "error" (message in
// [data-testid=viewer-error]) when loading failed; body[data-session] is the open session.
import "./style.css";
import type { JobInfo, ViewerConfig } from "../../src/viewer/api.js";
import { fetchConfig, fetchSession } from "./api.js";
import { byId, clear, el, formatNumber } from "./dom.js";
import { EnhanceForm } from "./enhance.js";
import { buildOverlays, MixControl } from "./layers.js";
import { renderMetrics } from "./metrics.js";
import { PaneGroup } from "./panes.js";
import { planSession } from "./plan.js";
import { CrosshairPanel } from "./readout.js";
import { isView, type View, VIEWS } from "./view.js";

const panesEl = byId("panes");
const viewerError = byId("viewer-error");
const sessionPicker = byId("session-picker");
const sessionSelect = byId<HTMLSelectElement>("session-select");
const sessionTitle = byId("session-title");
const windowMin = byId<HTMLInputElement>("window-min");
const windowMax = byId<HTMLInputElement>("window-max");

const crosshair = new CrosshairPanel(byId("crosshair"));
const mix = new MixControl();
byId("mix").append(mix.row);
const enhance = new EnhanceForm(byId("enhance"), { done: (job) => void openJobResult(job) });

let config: ViewerConfig | null = null;
let group: PaneGroup | null = null;
let view: View = "axial";
let opening = 0; // token of the latest openSession call
let openPending = false;
let groupBusy = false;
let failed = false;

function refreshState(): void {
  const state = failed ? "error" : openPending || groupBusy ? "loading" : "ready";
  if (state === "ready") {
    // "ready" once the drawn frame is on screen.
    requestAnimationFrame(() => {
      if (!failed && !openPending && !groupBusy) document.body.dataset.viewerState = "ready";
    });
  } else {
    document.body.dataset.viewerState = state;
  }
}

function showViewerError(message: string): void {
  failed = true;
  viewerError.textContent = message;
  viewerError.hidden = false;
  refreshState();
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function showWindow(w: { min: number; max: number }): void {
  windowMin.value = formatNumber(w.min);
  windowMax.value = formatNumber(w.max);
}

function fillSessions(cfg: ViewerConfig, current: string | null): void {
  sessionSelect.replaceChildren(...cfg.sessions.map((s) => el("option", { value: s.id, text: s.title, selected: s.id === current })));
  sessionPicker.hidden = cfg.sessions.length < 2;
}

async function openSession(id: string): Promise<void> {
  const token = ++opening;
  openPending = true;
  failed = false;
  viewerError.hidden = true;
  refreshState();
  group?.dispose();
  group = null;
  groupBusy = false;
  mix.attach(null);
  crosshair.attach(null);
  clear(byId("overlays"));
  try {
    const session = await fetchSession(id);
    if (token !== opening) return;
    document.body.dataset.session = session.id;
    sessionTitle.textContent = session.title;
    document.title = `${session.title} · MoEDiff-SR viewer`;
    const url = new URL(window.location.href);
    url.searchParams.set("session", session.id);
    window.history.replaceState(null, "", url);
    if (config) fillSessions(config, session.id);
    renderMetrics(byId("metrics"), session.tables);

    const next = new PaneGroup(panesEl, session, planSession(session), view, {
      busy: (loading) => {
        if (group !== next) return;
        groupBusy = loading;
        refreshState();
      },
      location: (readout) => {
        if (group === next) crosshair.show(readout);
      },
      error: (message) => showViewerError(message),
      windowChanged: showWindow,
    });
    group = next;
    await next.load(mix.value);
    if (token !== opening) return;
    buildOverlays(byId("overlays"), next, next.main.nv.colormaps());
    mix.attach(next);
    crosshair.attach(next);
    crosshair.updateSlice();
    showWindow(next.window);
    openPending = false;
    refreshState();
  } catch (e) {
    if (token !== opening) return;
    openPending = false;
    showViewerError(`Could not open session ${id}: ${messageOf(e)}`);
  }
}

async function openJobResult(job: JobInfo): Promise<void> {
  if (!job.session) return;
  try {
    config = await fetchConfig();
  } catch (e) {
    enhance.showError(`the job is done but the session list did not load: ${messageOf(e)}`);
    return;
  }
  await openSession(job.session);
}

function setView(next: View): void {
  view = next;
  for (const v of VIEWS) byId(`view-${v}`).setAttribute("aria-pressed", String(v === next));
  group?.setView(next);
  crosshair.updateSlice();
}

function wireControls(): void {
  for (const v of VIEWS) byId(`view-${v}`).addEventListener("click", () => setView(v));
  byId("zoom-in").addEventListener("click", () => group?.zoom(1.25));
  byId("zoom-out").addEventListener("click", () => group?.zoom(0.8));
  byId("zoom-reset").addEventListener("click", () => group?.zoom(0));
  sessionSelect.addEventListener("change", () => void openSession(sessionSelect.value));
  const onWindow = (): void => group?.setWindow(Number(windowMin.value), Number(windowMax.value));
  windowMin.addEventListener("change", onWindow);
  windowMax.addEventListener("change", onWindow);
  byId("window-reset").addEventListener("click", () => {
    if (!group) return;
    const auto = group.autoWindow();
    group.setWindow(auto.min, auto.max);
    showWindow(group.window);
  });
  document.addEventListener("keydown", onKey);
}

/** Page keys (not while typing in a form field): slices, views, zoom, input/output flip. */
function onKey(e: KeyboardEvent): void {
  const target = e.target;
  if (target instanceof HTMLElement) {
    if (target.closest("input, select, textarea") || target.isContentEditable) return;
    // Space and Enter on a focused button keep their meaning (press it).
    if ((e.key === " " || e.key === "Enter") && target.closest("button, summary")) return;
  }
  if (e.altKey || e.ctrlKey || e.metaKey || !group) return;
  let handled = true;
  switch (e.key) {
    case "PageUp":
    case "ArrowUp":
      group.stepSlice(1);
      break;
    case "PageDown":
    case "ArrowDown":
      group.stepSlice(-1);
      break;
    case "t":
    case "T":
    case " ":
      mix.flip();
      break;
    case "1":
    case "2":
    case "3":
    case "4":
      setView(VIEWS[Number(e.key) - 1] ?? view);
      break;
    case "+":
    case "=":
      group.zoom(1.25);
      break;
    case "-":
      group.zoom(0.8);
      break;
    case "0":
      group.zoom(0);
      break;
    default:
      handled = false;
  }
  if (handled) e.preventDefault();
}

async function start(): Promise<void> {
  document.body.dataset.viewerState = "loading";
  wireControls();
  const params = new URL(window.location.href).searchParams;
  const initialView = params.get("view");
  setView(isView(initialView) ? initialView : "axial");
  try {
    config = await fetchConfig();
  } catch (e) {
    showViewerError(messageOf(e));
    return;
  }
  byId("version").textContent = `v${config.version}`;
  enhance.configure(config.enhance);
  const wanted = params.get("session");
  const id = wanted ?? config.initial ?? config.sessions[0]?.id ?? null;
  fillSessions(config, id);
  if (id === null) {
    // Nothing to show yet is not an error: the page can still enhance a volume.
    panesEl.replaceChildren(el("p", { class: "empty", text: "No session to show yet: enhance a volume with the form on the right, or start `moediff-sr view` with a directory or files." }));
    refreshState();
    return;
  }
  await openSession(id);
}

void start();
