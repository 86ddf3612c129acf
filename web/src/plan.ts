// What the page shows for a session: which panes (base images) in which order, which volumes can be
// swapped into a pane, which are overlays. Pure functions over ViewSession (no DOM, no NiiVue).
import type { ViewSession, ViewVolume, VolumeRole } from "../../src/viewer/api.js";

/** Roles drawn on top of the Enhanced pane rather than as a pane's base image. */
export const OVERLAY_ROLES: readonly VolumeRole[] = ["expert", "gate", "region"];

export interface PanePlan {
  /** "Input", "Enhanced", "Reference". */
  label: string;
  /** Index in session.volumes of the pane's initial base image. */
  base: number;
  /** Whether this pane carries the input mix layer and the overlays. */
  main: boolean;
}

export interface SessionPlan {
  panes: PanePlan[];
  /** Indices of volumes a pane's base can be swapped to (every non-overlay volume). */
  bases: number[];
  /** Indices of overlay volumes (experts, gates, regions), in session order. */
  overlays: number[];
  /** Index of the volume mixed over the main pane's base by the "input ⟷ enhanced" slider, if any. */
  mix: number | null;
}

function firstOf(volumes: ViewVolume[], role: VolumeRole): number | null {
  const i = volumes.findIndex((v) => v.role === role);
  return i < 0 ? null : i;
}

/** Panes in the order Input (or LR), Enhanced, Reference; a session with none of them shows its first volume. */
export function planSession(session: ViewSession): SessionPlan {
  const volumes = session.volumes;
  const bases: number[] = [];
  const overlays: number[] = [];
  volumes.forEach((v, i) => (OVERLAY_ROLES.includes(v.role) ? overlays : bases).push(i));

  const input = firstOf(volumes, "input") ?? firstOf(volumes, "lr");
  const enhanced = firstOf(volumes, "enhanced");
  const reference = firstOf(volumes, "reference");
  const panes: PanePlan[] = [];
  if (input !== null) panes.push({ label: "Input", base: input, main: false });
  if (enhanced !== null) panes.push({ label: "Enhanced", base: enhanced, main: true });
  if (reference !== null) panes.push({ label: "Reference", base: reference, main: false });
  if (panes.length === 0 && bases.length > 0) {
    const first = bases[0] as number;
    panes.push({ label: volumes[first]?.name ?? "Volume", base: first, main: true });
  }
  // Without an Enhanced pane the overlays go on the first pane.
  if (!panes.some((p) => p.main) && panes[0]) panes[0].main = true;
  const mix = enhanced !== null && input !== null ? input : null;
  return { panes, bases, overlays, mix };
}

/** The file name at the end of a volume URL (NiiVue tells .nii from .nii.gz by it). */
export function fileNameOf(url: string): string {
  const path = url.split(/[?#]/)[0] ?? url;
  const last = path.split("/").pop() ?? path;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/** Name a pane's select shows for a volume: "enhanced", "trilinear (baseline)". */
export function optionLabel(v: ViewVolume): string {
  return v.role === v.name || v.role === "other" ? v.name : `${v.name} (${v.role})`;
}
