// Side-panel controls of the main (Enhanced) pane's extra layers: the "input ⟷ enhanced" mix slider
// and one row per overlay (expert estimates, gate maps, region masks): visibility, colormap,
// opacity and value window. Overlays start hidden and are fetched the first time they are shown.
// Defaults: gates (weights in [0, 1]) use a warm colormap over the fixed window [0, 1], so a zero
// weight is transparent (NiiVue draws overlay values <= cal_min transparent); expert estimates use
// viridis over the shared intensity window; region masks red over [0, 1].
import type { ViewVolume } from "../../src/viewer/api.js";
import { clear, el, formatNumber, rangeRow, testIdPart } from "./dom.js";
import type { LayerSpec, PaneGroup } from "./panes.js";

function pick(available: readonly string[], wanted: readonly string[]): string {
  return wanted.find((w) => available.includes(w)) ?? available[0] ?? "gray";
}

export function defaultSpec(volume: ViewVolume, available: readonly string[], window: { min: number; max: number }): LayerSpec {
  switch (volume.role) {
    case "gate":
      return { colormap: pick(available, ["warm", "hot", "plasma"]), opacity: 0, calMin: 0, calMax: 1 };
    case "region":
      return { colormap: pick(available, ["red", "warm"]), opacity: 0, calMin: 0, calMax: 1 };
    default:
      return { colormap: pick(available, ["viridis", "plasma", "inferno", "warm"]), opacity: 0, calMin: window.min, calMax: window.max };
  }
}

const DEFAULT_OPACITY = 0.5;

/** One overlay row; returns the row. */
function overlayRow(group: PaneGroup, index: number, volume: ViewVolume, colormaps: readonly string[]): HTMLElement {
  const id = testIdPart(volume.name);
  const spec = defaultSpec(volume, colormaps, group.window);
  group.defineLayer(index, spec);
  let opacity = DEFAULT_OPACITY;

  const toggle = el("input", { type: "checkbox", testid: `overlay-toggle-${id}`, title: `show ${volume.name} over the enhanced image` });
  const colormap = el("select", { testid: `overlay-colormap-${id}`, title: "colormap" });
  for (const name of colormaps) colormap.append(el("option", { value: name, text: name, selected: name === spec.colormap }));
  const { row: opacityRow, input: opacityInput } = rangeRow("opacity", `overlay-opacity-${id}`, { min: 0, max: 1, step: 0.01, value: opacity, title: "opacity" });
  const step = spec.calMax - spec.calMin > 10 ? 1 : 0.01;
  const calMin = el("input", { type: "number", value: formatNumber(spec.calMin), step, title: "window low: values at or below are transparent", testid: `overlay-min-${id}` });
  const calMax = el("input", { type: "number", value: formatNumber(spec.calMax), step, title: "window high", testid: `overlay-max-${id}` });
  const dataRange = el("span", { class: "overlay-data muted", text: "" });

  const row = el(
    "div",
    { class: "overlay", testid: `overlay-${id}`, "data-role": volume.role },
    el("label", { class: "overlay-head" }, toggle, el("span", { class: "overlay-name", text: volume.name }), colormap),
    el("div", { class: "overlay-controls" }, opacityRow, el("span", { class: "overlay-range" }, calMin, el("span", { text: "–" }), calMax)),
    dataRange,
  );

  const showDataRange = (): void => {
    const image = group.layerImage(index);
    if (image && image.global_min !== undefined && image.global_max !== undefined) {
      dataRange.textContent = `data range: ${formatNumber(image.global_min)} – ${formatNumber(image.global_max)}`;
    }
  };
  const update = (change: Partial<LayerSpec>): void => {
    row.classList.toggle("on", toggle.checked);
    void group.setLayer(index, change).then((shown) => {
      if (shown) return showDataRange();
      // The volume did not load (the page shows why): back to hidden.
      toggle.checked = false;
      row.classList.remove("on");
    });
  };

  toggle.addEventListener("change", () => update({ opacity: toggle.checked ? opacity : 0 }));
  opacityInput.addEventListener("input", () => {
    opacity = Number(opacityInput.value);
    if (toggle.checked) update({ opacity });
  });
  colormap.addEventListener("change", () => update({ colormap: colormap.value }));
  const onRange = (): void => {
    const lo = Number(calMin.value);
    const hi = Number(calMax.value);
    if (Number.isFinite(lo) && Number.isFinite(hi) && hi > lo) update({ calMin: lo, calMax: hi });
  };
  calMin.addEventListener("change", onRange);
  calMax.addEventListener("change", onRange);
  return row;
}

const GROUPS: { role: ViewVolume["role"]; title: string; open: boolean }[] = [
  { role: "expert", title: "Expert estimates", open: true },
  { role: "gate", title: "Gate maps", open: true },
  { role: "region", title: "Region masks", open: false },
];

/** Fill the overlay section for the group's session, one collapsible group per kind; empty sessions say so. */
export function buildOverlays(container: HTMLElement, group: PaneGroup, colormaps: readonly string[]): void {
  clear(container);
  const usable = colormaps.filter((c) => !c.startsWith("_"));
  for (const kind of GROUPS) {
    const rows: HTMLElement[] = [];
    for (const i of group.plan.overlays) {
      const v = group.session.volumes[i];
      if (v && v.role === kind.role) rows.push(overlayRow(group, i, v, usable));
    }
    if (rows.length === 0) continue;
    container.append(
      el("details", { class: "overlay-group", open: kind.open }, el("summary", {}, kind.title, el("span", { class: "muted small", text: ` (${rows.length})` })), ...rows),
    );
  }
  if (container.childElementCount === 0) container.append(el("p", { class: "muted", text: "This session has no expert, gate or region volumes." }));
}

/** The "input ⟷ enhanced" slider (0 = input, 1 = enhanced) and its flip; disabled without an input. */
export class MixControl {
  readonly row: HTMLElement;
  readonly slider: HTMLInputElement;
  private group: PaneGroup | null = null;

  constructor() {
    const input = el("input", {
      type: "range",
      min: 0,
      max: 1,
      step: 0.01,
      value: 1,
      testid: "mix-slider",
      "aria-label": "input ⟷ enhanced",
      title: "input ⟷ enhanced: left shows the input on the Enhanced pane, right the enhanced image (T flips)",
    });
    this.slider = input;
    const flip = el("button", { type: "button", class: "small", testid: "mix-flip", title: "flip between input and enhanced (T or Space)", text: "flip" });
    flip.addEventListener("click", () => this.flip());
    this.row = el("div", { class: "mix" }, el("span", { class: "muted", text: "input" }), input, el("span", { class: "muted", text: "enhanced" }), flip);
    input.addEventListener("input", () => this.group?.setMix(this.value));
  }

  get value(): number {
    return Number(this.slider.value);
  }

  attach(group: PaneGroup | null): void {
    this.group = group;
    const enabled = group?.hasMix ?? false;
    this.slider.disabled = !enabled;
    this.row.classList.toggle("disabled", !enabled);
    this.row.title = enabled ? "" : "this session has no input and enhanced pair to compare";
  }

  /** Jump to the other end (from anywhere in between: to the nearer other end). */
  flip(): void {
    if (!this.group || this.slider.disabled) return;
    this.slider.value = this.value >= 0.5 ? "0" : "1";
    this.group.setMix(this.value);
  }
}
