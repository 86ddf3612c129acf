// Crosshair readout (position in mm, voxel of the main image, value under it in each pane) and the
// slice slider for the current view's axis.
import { clear, el, formatNumber } from "./dom.js";
import type { PaneGroup, Readout } from "./panes.js";
import { AXIS_NAMES } from "./view.js";

export class CrosshairPanel {
  readonly slider: HTMLInputElement;
  private readonly sliceLabel: HTMLElement;
  private readonly position: HTMLElement;
  private readonly values: HTMLTableSectionElement;
  private group: PaneGroup | null = null;

  constructor(container: HTMLElement) {
    this.slider = el("input", { type: "range", min: 0, max: 0, step: 1, value: 0, testid: "slice-slider", title: "slice (PageUp/PageDown, ↑/↓)", disabled: true });
    this.sliceLabel = el("span", { class: "slice-label mono", text: "" });
    this.position = el("div", { class: "position mono", testid: "crosshair-position", text: "–" });
    this.values = el("tbody");
    container.append(
      el("label", { class: "slice-row" }, el("span", { class: "muted", text: "slice" }), this.slider, this.sliceLabel),
      this.position,
      el("table", { class: "values", testid: "crosshair-values" }, el("thead", {}, el("tr", {}, el("th", { text: "pane" }), el("th", { text: "image" }), el("th", { class: "num", text: "value" }))), this.values),
    );
    this.slider.addEventListener("input", () => this.group?.setSlice(Number(this.slider.value)));
  }

  attach(group: PaneGroup | null): void {
    this.group = group;
    this.slider.disabled = group === null;
    if (!group) {
      this.position.textContent = "–";
      clear(this.values);
    }
  }

  /** Slider range and value for the group's current view and crosshair. */
  updateSlice(): void {
    if (!this.group) return;
    const { axis, index, count } = this.group.slice();
    this.slider.max = String(count - 1);
    this.slider.value = String(index);
    this.slider.dataset.axis = String(axis);
    this.sliceLabel.textContent = `${AXIS_NAMES[axis]} ${index + 1}/${count}`;
    this.sliceLabel.title = `slice ${index + 1} of ${count} along ${AXIS_NAMES[axis]}`;
  }

  show(readout: Readout): void {
    const [x, y, z] = readout.mm.map((v) => v.toFixed(1));
    const [i, j, k] = readout.vox;
    this.position.textContent = `${x}, ${y}, ${z} mm  ·  voxel ${i}, ${j}, ${k}`;
    this.values.replaceChildren(
      ...readout.values.map((v) =>
        el("tr", {}, el("td", { text: v.pane }), el("td", { text: v.layer }), el("td", { class: "num", text: Number.isNaN(v.value) ? "outside" : formatNumber(v.value) })),
      ),
    );
    this.updateSlice();
  }
}
