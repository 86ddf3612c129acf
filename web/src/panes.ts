// The image panes: one NiiVue instance per canvas, one pane per base image (Input, Enhanced,
// Reference), all showing the same place. Crosshair, zoom/pan and view type are shared:
// - every instance broadcastTo()s all others (NiiVue syncs crosshair + pan from the focused canvas);
// - NiiVue only syncs from a focused canvas, so onLocationChange also pushes the crosshair (in mm, so
//   panes on other grids, e.g. the LR acquisition, follow) to the others, and the page's own
//   controls (slice slider, keys, zoom buttons, view buttons) set every instance themselves.
// The main (Enhanced) pane also carries the extra layers: the input mixed over the output, and the
// overlays (layers.ts owns their controls; this file owns the NiiVue side).
import type { Niivue, NVImage } from "@niivue/niivue";
import type { ViewSession } from "../../src/viewer/api.js";
import { clear, el, testIdPart } from "./dom.js";
import { closeTo, MIX_COLORMAP, niivueFor, valueAt } from "./nv.js";
import { fileNameOf, optionLabel, type SessionPlan } from "./plan.js";
import { axisOf, type View, sliceTypeOf } from "./view.js";

/** How one extra layer of the main pane is drawn. */
export interface LayerSpec {
  colormap: string;
  opacity: number;
  calMin: number;
  calMax: number;
}

interface Layer {
  volume: number;
  spec: LayerSpec;
  image: NVImage | null;
  loading: Promise<NVImage> | null;
}

export interface Pane {
  label: string;
  main: boolean;
  base: number;
  root: HTMLElement;
  canvas: HTMLCanvasElement;
  nv: Niivue;
}

/** What the panel shows about the crosshair. */
export interface Readout {
  mm: [number, number, number];
  /** Voxel of the main pane's base image. */
  vox: [number, number, number];
  values: { pane: string; layer: string; value: number }[];
}

export interface PaneEvents {
  /** Volumes start/finish loading (session load, base swap, overlay first shown). */
  busy(loading: boolean): void;
  /** Crosshair moved (coalesced to one call per animation frame). */
  location(readout: Readout): void;
  /** A load failed after the first one (e.g. a base swap): show it without tearing the page down. */
  error(message: string): void;
  /** The shared intensity window changed (windowing on a pane). */
  windowChanged(window: { min: number; max: number }): void;
}

export class PaneGroup {
  readonly panes: Pane[] = [];
  view: View;
  /** Shared intensity window of every base image and the mix layer. */
  window: { min: number; max: number } = { min: 0, max: 1 };
  private layers = new Map<number, Layer>();
  private mixLayer: Layer | null = null;
  private syncing = false;
  private pending = 0;
  private readonly inflight = new Set<Promise<unknown>>();
  private frame = 0;
  private disposed = false;

  constructor(
    private readonly container: HTMLElement,
    readonly session: ViewSession,
    readonly plan: SessionPlan,
    view: View,
    private readonly events: PaneEvents,
  ) {
    this.view = view;
  }

  get main(): Pane {
    const pane = this.panes.find((p) => p.main) ?? this.panes[0];
    if (!pane) throw new Error("viewer: this session has no image to show");
    return pane;
  }

  /** Build the panes and load every pane's volumes; rejects with a readable message when one fails. */
  async load(mix: number): Promise<void> {
    clear(this.container);
    if (this.plan.panes.length === 0) throw new Error(`session ${this.session.id} has no volume to show`);
    for (const plan of this.plan.panes) {
      const canvas = el("canvas", { class: "pane-canvas", tabindex: 0 });
      const select = this.baseSelect(plan.base);
      const role = this.session.volumes[plan.base]?.role ?? "other";
      const root = el(
        "section",
        { class: `pane${plan.main ? " pane-main" : ""}`, testid: `pane-${testIdPart(role)}`, "data-role": role },
        el("header", { class: "pane-head" }, el("span", { class: "pane-label", text: plan.label }), select),
        el("div", { class: "pane-body" }, canvas),
      );
      this.container.append(root);
      const pane: Pane = { label: plan.label, main: plan.main, base: plan.base, root, canvas, nv: niivueFor(this.view) };
      select.addEventListener("change", () => void this.swapBase(pane, Number(select.value)));
      this.panes.push(pane);
    }
    if (this.plan.mix !== null) {
      this.mixLayer = { volume: this.plan.mix, spec: { colormap: MIX_COLORMAP, opacity: 1 - mix, calMin: 0, calMax: 1 }, image: null, loading: null };
    }
    await this.busy(async () => {
      await Promise.all(this.panes.map((p) => p.nv.attachToCanvas(p.canvas)));
      for (const pane of this.panes) this.wire(pane);
      await Promise.all(this.panes.map((p) => this.loadPane(p)));
      this.window = this.autoWindow();
      this.applyWindow();
      for (const pane of this.panes) pane.nv.scene.crosshairPos = pane.nv.mm2frac(this.main.nv.frac2mm([0.5, 0.5, 0.5]));
      this.drawAll();
    });
    this.queueLocation();
  }

  private baseSelect(selected: number): HTMLSelectElement {
    const select = el("select", { class: "pane-base", title: "image shown in this pane" });
    for (const i of this.plan.bases) {
      const v = this.session.volumes[i];
      if (!v) continue;
      select.append(el("option", { value: i, text: optionLabel(v), selected: i === selected }));
    }
    return select;
  }

  private wire(pane: Pane): void {
    const others = this.panes.filter((p) => p !== pane).map((p) => p.nv);
    if (others.length > 0) pane.nv.broadcastTo(others, { "2d": true, "3d": true });
    pane.nv.onLocationChange = () => this.syncFrom(pane);
    // Windowing (right-drag) or its reset (double-click) on one pane: the same window on every pane.
    const adoptWindow = (): void => {
      const back = pane.nv.volumes[0];
      if (!back || back.cal_min === undefined || back.cal_max === undefined) return;
      if (back.cal_min === this.window.min && back.cal_max === this.window.max) return;
      this.window = { min: back.cal_min, max: back.cal_max };
      this.applyWindow();
      this.drawAll();
      this.events.windowChanged(this.window);
    };
    pane.nv.onIntensityChange = adoptWindow;
    pane.canvas.addEventListener("mouseup", adoptWindow);
    // Ctrl+wheel zooms all panes (captured before NiiVue's own wheel handler on the canvas).
    pane.canvas.parentElement?.addEventListener(
      "wheel",
      (e: WheelEvent) => {
        if (!e.ctrlKey && !e.metaKey) return;
        e.preventDefault();
        e.stopPropagation();
        this.zoom(e.deltaY < 0 ? 1.15 : 1 / 1.15);
      },
      { capture: true, passive: false },
    );
  }

  private async busy<T>(work: () => Promise<T>): Promise<T> {
    if (this.pending++ === 0) this.events.busy(true);
    const running = work();
    this.inflight.add(running);
    try {
      return await running;
    } finally {
      this.inflight.delete(running);
      if (--this.pending === 0 && !this.disposed) this.events.busy(false);
    }
  }

  private urlOf(index: number): string {
    const v = this.session.volumes[index];
    if (!v) throw new Error(`session ${this.session.id} has no volume ${index}`);
    return v.url;
  }

  /** (Re)load a pane: its base, and on the main pane the mix layer and the overlays already shown. */
  private async loadPane(pane: Pane): Promise<void> {
    const url = this.urlOf(pane.base);
    await pane.nv.loadVolumes([{ url, name: fileNameOf(url), colormap: "gray", opacity: 1 }]);
    if (!pane.main) return;
    const extra = [this.mixLayer, ...this.layers.values()].filter((l): l is Layer => l !== null && (l === this.mixLayer || l.image !== null));
    for (const layer of extra) {
      layer.image = null;
      layer.loading = null;
      await this.loadLayer(layer);
    }
  }

  private loadLayer(layer: Layer): Promise<NVImage> {
    if (layer.image) return Promise.resolve(layer.image);
    if (layer.loading) return layer.loading;
    const url = this.urlOf(layer.volume);
    const nv = this.main.nv;
    layer.loading = nv
      .addVolumeFromUrl({
        url,
        name: fileNameOf(url),
        colormap: layer.spec.colormap,
        opacity: layer.spec.opacity,
        cal_min: layer.spec.calMin,
        cal_max: layer.spec.calMax,
      })
      .then((image) => {
        layer.image = image;
        layer.loading = null;
        this.applySpec(layer);
        return image;
      });
    return layer.loading;
  }

  private applySpec(layer: Layer): void {
    const image = layer.image;
    if (!image) return;
    const nv = this.main.nv;
    const index = nv.volumes.indexOf(image);
    if (index < 0) return;
    image.cal_min = layer.spec.calMin;
    image.cal_max = layer.spec.calMax;
    if (image.colormap !== layer.spec.colormap) image.colormap = layer.spec.colormap;
    nv.setOpacity(index, layer.spec.opacity); // also uploads the changed layer and redraws
  }

  /** Swap a pane's base image (any non-overlay volume of the session). */
  async swapBase(pane: Pane, index: number): Promise<void> {
    if (index === pane.base) return;
    const mm = this.main.nv.frac2mm(this.main.nv.scene.crosshairPos);
    pane.base = index;
    pane.root.dataset.role = this.session.volumes[index]?.role ?? "other";
    try {
      await this.busy(async () => {
        await this.loadPane(pane);
        this.applyWindow();
        for (const p of this.panes) p.nv.scene.crosshairPos = p.nv.mm2frac(mm);
        const other = this.panes.find((p) => p !== pane);
        if (other) pane.nv.scene.pan2Dxyzmm = [...other.nv.scene.pan2Dxyzmm] as [number, number, number, number];
        this.drawAll();
      });
    } catch (e) {
      this.events.error(`loading ${this.session.volumes[index]?.name ?? index} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.queueLocation();
  }

  // ---- extra layers of the main pane ------------------------------------------------------------

  /** Register an overlay (not loaded until first shown). */
  defineLayer(volume: number, spec: LayerSpec): void {
    this.layers.set(volume, { volume, spec, image: null, loading: null });
  }

  /**
   * Change how an overlay is drawn; loads it the first time it becomes visible. Resolves false when
   * it had to load and could not (reported through events.error), true otherwise.
   */
  async setLayer(volume: number, change: Partial<LayerSpec>): Promise<boolean> {
    const layer = this.layers.get(volume);
    if (!layer || this.disposed) return false;
    layer.spec = { ...layer.spec, ...change };
    if (!layer.image && layer.spec.opacity > 0) {
      try {
        await this.busy(() => this.loadLayer(layer));
      } catch (e) {
        layer.loading = null;
        layer.spec.opacity = 0;
        if (!this.disposed) this.events.error(`loading ${this.session.volumes[volume]?.name ?? volume} failed: ${e instanceof Error ? e.message : String(e)}`);
        return false;
      }
    }
    if (this.disposed) return false;
    this.applySpec(layer);
    this.main.nv.drawScene();
    this.queueLocation();
    return true;
  }

  layerImage(volume: number): NVImage | null {
    return this.layers.get(volume)?.image ?? null;
  }

  /** The input ⟷ enhanced slider: 0 shows the input, 1 the enhanced (the input layer's opacity is 1 − v). */
  setMix(value: number): void {
    if (!this.mixLayer) return;
    this.mixLayer.spec.opacity = Math.min(1, Math.max(0, 1 - value));
    this.applySpec(this.mixLayer);
    this.main.nv.drawScene();
    this.queueLocation();
  }

  get hasMix(): boolean {
    return this.mixLayer !== null;
  }

  /** The default window: NiiVue's robust range of the main image, from 0 for non-negative (magnitude) data. */
  autoWindow(): { min: number; max: number } {
    const back = this.main.nv.volumes[0];
    const max = back?.robust_max ?? back?.cal_max ?? 1;
    const lowest = back?.global_min ?? 0;
    const min = lowest >= 0 && lowest < max ? lowest : (back?.robust_min ?? back?.cal_min ?? 0);
    return { min, max };
  }

  /** Set the shared intensity window of every base image and the mix layer. */
  setWindow(min: number, max: number): void {
    if (!(Number.isFinite(min) && Number.isFinite(max) && max > min)) return;
    this.window = { min, max };
    this.applyWindow();
    this.drawAll();
  }

  private applyWindow(): void {
    const { min, max } = this.window;
    for (const pane of this.panes) {
      const back = pane.nv.volumes[0];
      if (!back) continue;
      back.cal_min = min;
      back.cal_max = max;
      pane.nv.updateGLVolume();
    }
    if (this.mixLayer) {
      this.mixLayer.spec.calMin = min;
      this.mixLayer.spec.calMax = max;
      this.applySpec(this.mixLayer);
    }
  }

  // ---- shared view ------------------------------------------------------------------------------

  private syncFrom(source: Pane): void {
    if (this.syncing || this.disposed) return;
    this.syncing = true;
    try {
      const mm = source.nv.frac2mm(source.nv.scene.crosshairPos);
      const pan = source.nv.scene.pan2Dxyzmm;
      for (const pane of this.panes) {
        if (pane === source) continue;
        const frac = pane.nv.mm2frac(mm);
        let changed = false;
        if (!closeTo(frac, pane.nv.scene.crosshairPos)) {
          pane.nv.scene.crosshairPos = frac;
          changed = true;
        }
        if (!closeTo(pan, pane.nv.scene.pan2Dxyzmm)) {
          pane.nv.scene.pan2Dxyzmm = [pan[0] ?? 0, pan[1] ?? 0, pan[2] ?? 0, pan[3] ?? 1];
          changed = true;
        }
        if (changed) pane.nv.drawScene();
      }
    } finally {
      this.syncing = false;
    }
    this.queueLocation();
  }

  drawAll(): void {
    for (const pane of this.panes) pane.nv.drawScene();
  }

  setView(view: View): void {
    this.view = view;
    for (const pane of this.panes) pane.nv.setSliceType(sliceTypeOf(view));
    this.queueLocation();
  }

  /** Multiply the 2-D zoom of every pane (factor > 1 zooms in); factor 0 resets zoom and pan. */
  zoom(factor: number): void {
    const pan = this.main.nv.scene.pan2Dxyzmm;
    const next: [number, number, number, number] =
      factor === 0 ? [0, 0, 0, 1] : [pan[0] ?? 0, pan[1] ?? 0, pan[2] ?? 0, Math.min(32, Math.max(0.25, (pan[3] ?? 1) * factor))];
    for (const pane of this.panes) pane.nv.setPan2Dxyzmm([...next]);
  }

  /** The slice along the current view's axis (multi-planar: the axial one) on the main pane's grid. */
  slice(): { axis: 0 | 1 | 2; index: number; count: number } {
    const nv = this.main.nv;
    const axis = axisOf(this.view);
    const count = nv.volumes[0]?.dimsRAS?.[axis + 1] ?? 1;
    const frac = nv.scene.crosshairPos[axis] ?? 0.5;
    const index = Math.min(count - 1, Math.max(0, Math.round(frac * count - 0.5)));
    return { axis, index, count };
  }

  setSlice(index: number): void {
    const { axis, count } = this.slice();
    const i = Math.min(count - 1, Math.max(0, Math.round(index)));
    const nv = this.main.nv;
    const frac = [...nv.scene.crosshairPos];
    frac[axis] = (i + 0.5) / count;
    nv.scene.crosshairPos = [frac[0] ?? 0.5, frac[1] ?? 0.5, frac[2] ?? 0.5];
    nv.drawScene();
    this.syncFrom(this.main);
  }

  stepSlice(delta: number): void {
    this.setSlice(this.slice().index + delta);
  }

  private queueLocation(): void {
    if (this.frame !== 0 || this.disposed) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (!this.disposed && this.panes.length > 0) this.events.location(this.readout());
    });
  }

  readout(): Readout {
    const nv = this.main.nv;
    const mm4 = nv.frac2mm(nv.scene.crosshairPos);
    const mm: [number, number, number] = [mm4[0] ?? 0, mm4[1] ?? 0, mm4[2] ?? 0];
    const back = nv.volumes[0];
    const v = back ? back.mm2vox(mm) : [NaN, NaN, NaN];
    const vox: [number, number, number] = [Math.round(v[0] ?? NaN), Math.round(v[1] ?? NaN), Math.round(v[2] ?? NaN)];
    const values: Readout["values"] = [];
    for (const pane of this.panes) {
      const base = pane.nv.volumes[0];
      if (base) values.push({ pane: pane.label, layer: this.session.volumes[pane.base]?.name ?? "", value: valueAt(base, mm) });
      if (!pane.main) continue;
      for (const layer of this.layers.values()) {
        if (layer.image && layer.spec.opacity > 0) {
          values.push({ pane: pane.label, layer: this.session.volumes[layer.volume]?.name ?? "", value: valueAt(layer.image, mm) });
        }
      }
    }
    return { mm, vox, values };
  }

  /**
   * Remove the panes and free their WebGL contexts (browsers allow only a few at a time). Loads still
   * running (the user switched sessions mid-load) finish on their detached canvases first: NiiVue
   * would otherwise keep uploading textures to a lost context.
   */
  dispose(): void {
    this.disposed = true;
    if (this.frame !== 0) cancelAnimationFrame(this.frame);
    clear(this.container);
    const panes = [...this.panes];
    const release = (): void => {
      for (const pane of panes) {
        pane.nv.onLocationChange = () => undefined;
        pane.nv.cleanup();
        pane.nv.gl?.getExtension("WEBGL_lose_context")?.loseContext();
      }
    };
    if (this.inflight.size === 0) release();
    else void Promise.allSettled([...this.inflight]).then(release);
  }
}
