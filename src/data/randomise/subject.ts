// One randomised training subject: its source (a T1w volume with tissue labels), its drawn parameters
// and the volumes made from them.
//
// Source: a T1w volume, reoriented to RAS, with CSF/GM/WM labels from src/preprocess/segment. With a
// skull-stripped companion on the same grid (--default: Colin27 ch2.nii.gz with ch2bet.nii.gz), the
// companion's nonzero voxels are the brain mask and the companion is what is segmented; otherwise
// segment finds the mask itself, and an input that is already skull-stripped gives no skull variant.
//
// Subject i of seed s draws from independent streams of src/data/rng.ts named
// "randomise/<i>/anatomy", ".../contrast", ".../acquisition/head", ".../acquisition/brain" and
// ".../slices", so its parameters depend on (s, i) and the ranges only: not on how many subjects are
// made, and a change to one range leaves the other draws alone. drawSubject(s, i, ...) gives them back,
// and SubjectGenerator rebuilds the volumes from them.
//
// Volumes, one subject at a time: remap the contrast on the source grid (contrast.ts), deform it once
// (anatomy.ts; cubic B-spline) and the labels with the same map (nearest). Variant "head" is the
// deformed image; variant "brain" is the same image times the deformed brain mask (labels > 0), so the
// two share every brain voxel exactly. Each variant then gets its own random acquisition
// (acquisition.ts) of its own HR volume.
import { segment } from "../../preprocess/segment/index.js";
import { applyToPoint, type Vec3 } from "../../volume/affine.js";
import { reorient } from "../../volume/reorient.js";
import { orientationCode } from "../../nifti/index.js";
import type { Volume } from "../../volume/volume.js";
import { normaliseIntensity } from "../normalise.js";
import { Rng } from "../rng.js";
import { readVolume, sourceFile, type SourceFile } from "../sources.js";
import { acquire, drawAcquisition, type AcquiredPair, type RandomAcquisition } from "./acquisition.js";
import { Deformation, drawAnatomy, type AnatomyParams } from "./anatomy.js";
import { drawContrast, remapContrast, tissueStats, type ContrastParams, type TissueStats } from "./contrast.js";
import type { RandomiseRanges } from "./ranges.js";

export type SkullVariant = "head" | "brain";
export const SKULL_VARIANTS: readonly SkullVariant[] = ["head", "brain"];

export interface RandomiseSource {
  /** Prefix of the subject ids made from it. */
  readonly id: string;
  /** The files read (absent in tests that build a source from volumes). */
  readonly files?: { readonly hr: SourceFile; readonly stripped?: SourceFile };
  /** The T1w volume, RAS, raw intensities: with the skull when `hasSkull`. */
  readonly image: Volume;
  readonly hasSkull: boolean;
  /** 0 outside the brain, 1 CSF, 2 GM, 3 WM, on the image's grid. */
  readonly labels: Uint8Array;
  readonly stats: TissueStats;
  /** Centre (world mm) of the brain: the pivot of rotations, scaling and the flip. */
  readonly centre: Vec3;
  readonly originalOrientation: string;
  /** How the brain mask was found: "companion" (the skull-stripped file), or segment's method. */
  readonly maskFrom: string;
}

/** A source from volumes already in memory (RAS). */
export function sourceFromVolumes(id: string, image: Volume, labels: Uint8Array, hasSkull: boolean, maskFrom = "given"): RandomiseSource {
  const stats = tissueStats(image, labels, `randomise source ${id}`);
  const [nx, ny] = image.dims;
  let sx = 0;
  let sy = 0;
  let sz = 0;
  let n = 0;
  for (let q = 0; q < labels.length; q++) {
    if (labels[q] === 0) continue;
    sx += q % nx;
    sy += Math.floor(q / nx) % ny;
    sz += Math.floor(q / (nx * ny));
    n++;
  }
  const centre = applyToPoint(image.affine, [sx / n, sy / n, sz / n]);
  return { id, image, hasSkull, labels, stats, centre: centre.map((x) => Number(x.toFixed(4))) as unknown as Vec3, originalOrientation: orientationCode(image.affine), maskFrom };
}

/** Reads, reorients and segments a source (see the top of this file). */
export function loadRandomiseSource(id: string, hrPath: string, o: { stripped?: string; nonFinite?: "error" | "zero" } = {}): RandomiseSource {
  const nonFinite = o.nonFinite ?? "error";
  const raw = readVolume(hrPath, "HR volume", nonFinite);
  const ras = reorient(raw, "RAS");
  const files = { hr: sourceFile(hrPath), ...(o.stripped !== undefined ? { stripped: sourceFile(o.stripped) } : {}) };
  let labels: Uint8Array;
  let hasSkull: boolean;
  let maskFrom: string;
  if (o.stripped !== undefined) {
    const s = reorient(readVolume(o.stripped, "skull-stripped volume", nonFinite), "RAS");
    if (s.dims.some((d, a) => d !== ras.dims[a]) || s.affine.some((x, a) => Math.abs(x - (ras.affine[a] as number)) > 1e-4)) {
      throw new RangeError(`randomise: the skull-stripped volume ${o.stripped} is not on the grid of ${hrPath} (dims [${s.dims.join(", ")}] vs [${ras.dims.join(", ")}])`);
    }
    const mask = new Uint8Array(s.data.length);
    for (let q = 0; q < mask.length; q++) mask[q] = (s.data[q] as number) > 0 ? 1 : 0;
    labels = segment(s, { mask, regions: false }).tissue.labels;
    hasSkull = true;
    maskFrom = "companion";
  } else {
    const seg = segment(ras, { regions: false });
    labels = seg.tissue.labels;
    hasSkull = seg.brainMethod !== "support";
    maskFrom = seg.brainMethod;
  }
  const src = sourceFromVolumes(id, ras, labels, hasSkull, maskFrom);
  return { ...src, files, originalOrientation: orientationCode(raw.affine) };
}

/** Everything drawn for one subject. */
export interface SubjectParams {
  readonly subject: string;
  /** 0-based subject number within the data set. */
  readonly index: number;
  /** Index of its source among the data set's sources. */
  readonly source: number;
  readonly anatomy: AnatomyParams;
  readonly contrast: ContrastParams;
  readonly acquisition: Readonly<Record<SkullVariant, RandomAcquisition>>;
  /** Seed of the slice choice. */
  readonly slicesSeed: number;
}

/**
 * The parameters of subject `index` of data-set seed `seed` (see the top of this file). `namespace`
 * prefixes the stream names: "randomise" for training data (prepare --randomise); the held-out test
 * subjects of evaluate-grid draw from their own ("heldout-test", heldout.ts), so no training subject
 * shares a stream with them, whatever its seed.
 */
export function drawSubject(seed: number, index: number, source: number, subject: string, ranges: RandomiseRanges, namespace = "randomise"): SubjectParams {
  const stream = (name: string): Rng => new Rng(seed, `${namespace}/${index}/${name}`);
  return {
    subject,
    index,
    source,
    anatomy: drawAnatomy(stream("anatomy"), ranges.anatomy),
    contrast: drawContrast(stream("contrast"), ranges.contrast),
    acquisition: { head: drawAcquisition(stream("acquisition/head"), ranges.acquisition), brain: drawAcquisition(stream("acquisition/brain"), ranges.acquisition) },
    slicesSeed: stream("slices").nextUint32(),
  };
}

/** One skull variant of a subject, ready to slice. */
export interface VariantVolumes {
  readonly variant: SkullVariant;
  /** HR target, raw (remapped, deformed) intensities. */
  readonly hr: Volume;
  /** HR target, normalised. */
  readonly hrNorm: Volume;
  readonly hrScale: number;
  /** The LR input and its channels. */
  readonly pair: AcquiredPair;
  /** Mean of the normalised HR target over the deformed CSF, GM and WM labels. */
  readonly classMeans: readonly [number, number, number];
}

/** Builds a subject's volumes from its source and parameters (see the top of this file). */
export class SubjectGenerator {
  readonly source: RandomiseSource;
  readonly params: SubjectParams;
  readonly deformation: Deformation;
  /** The labels after the subject's deformation. */
  readonly labels: Uint8Array;
  readonly variants: readonly SkullVariant[];
  /** The deformed, remapped image (the "head" variant's HR). */
  readonly #image: Volume;

  constructor(source: RandomiseSource, params: SubjectParams) {
    this.source = source;
    this.params = params;
    const img = source.image;
    this.deformation = new Deformation(params.anatomy, { dims: img.dims, affine: Array.from(img.affine) }, source.centre);
    const remapped = remapContrast(img, source.labels, source.stats, params.contrast);
    this.#image = this.deformation.apply(remapped);
    this.labels = this.deformation.applyLabels(source.labels);
    this.variants = source.hasSkull ? SKULL_VARIANTS : ["brain"];
  }

  /** The HR volume (raw intensities) of a variant. */
  hrOf(variant: SkullVariant): Volume {
    if (!this.variants.includes(variant)) throw new RangeError(`randomise: source ${this.source.id} has no ${variant} variant (it is skull-stripped)`);
    if (variant === "head") return this.#image;
    const d = this.#image.data;
    const out = new Float32Array(d.length);
    for (let q = 0; q < d.length; q++) out[q] = this.labels[q] !== 0 ? (d[q] as number) : 0;
    return { data: out, dims: this.#image.dims, affine: this.#image.affine };
  }

  /** The HR target of a variant and its simulated LR input. */
  variant(variant: SkullVariant): VariantVolumes {
    const hr = this.hrOf(variant);
    const n = normaliseIntensity(hr, `randomised subject ${this.params.subject} (${variant})`);
    const sums = [0, 0, 0];
    const counts = [0, 0, 0];
    let wmRaw = 0;
    for (let q = 0; q < this.labels.length; q++) {
      const l = this.labels[q] as number;
      if (l === 0) continue;
      sums[l - 1]! += n.volume.data[q] as number;
      counts[l - 1]!++;
      if (l === 3) wmRaw += hr.data[q] as number;
    }
    if (counts[2] === 0) throw new RangeError(`randomised subject ${this.params.subject}: no white matter left after the deformation`);
    const classMeans = sums.map((s, c) => (counts[c]! > 0 ? Number((s / counts[c]!).toPrecision(6)) : Number.NaN)) as unknown as [number, number, number];
    const pair = acquire(hr, n.volume, this.params.acquisition[variant], wmRaw / counts[2]!);
    return { variant, hr, hrNorm: n.volume, hrScale: n.scale, pair, classMeans };
  }
}
