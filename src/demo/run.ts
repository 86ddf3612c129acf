// `moediff-sr demo`, the main job: reproduce the model's held-out data, enhance it, compare with the
// classical baselines against the reference, and write volumes, figures and a summary. Every step is
// library code used elsewhere (simulate, enhance, baseline, evaluate, segment, figures); this file only
// runs them in order, times them, and records what was done (types.ts).
//
//  1. The model directory: weights (loadModelDir) and heldout.json (heldout.ts).
//  2. The HR source (Colin27 for the default model), checked against the recorded SHA-256, in RAS.
//  3. The 3T acquisition of the whole volume with the recorded parameters and seed: with the same
//     code and inputs it is the data set's LR volume bit for bit.
//  4. Region masks of the HR reference: `segment` of the whole volume (brain, CSF/GM/WM, ...), cut to
//     the grid; if segmentation fails (or regions are off) the brain mask alone.
//  5. Enhancement with explain output, on the reference's grid: by default only the held-out slab
//     (plus one context slice each side, dropped afterwards: slab.ts) from the LR slices it needs;
//     with `whole` the whole volume. Sampler settings are enhance's defaults (the model's sampling
//     config), joint experts.
//  6. Baselines on the same grid from the same LR input, as `moediff-sr baseline` makes them, and
//     the autoencoder alone from the same pipeline with steps 0 (decode(encode(LR))).
//  7. Latent diagnostics on the slab's slices (latent_diagnostics.ts): rho and cos of the sampler's
//     final latent against the 3T and 7T latents, from a second pass over the tiles enhance ran.
//  8. Files, then every method scored from its file by evaluate's own code (evaluate.ts), brain mask
//     first; with `whole`, the slab rows come from slab cuts written to OUT/slab/. With LPIPS weights,
//     LPIPS of the whole grid and inside the brain.
//  9. Figures (comparison panel, per-expert differences, gates) on slab slices, the summaries and
//     metrics.json.
import { join, resolve } from "node:path";
import * as T from "../torch/index.js";
import { acquisitionScale, enhanceVolume, type EnhanceProgress } from "../inference/enhance.js";
import { MoEDiffSRPipeline } from "../inference/pipeline.js";
import { explainFiles, explainMeta } from "../inference/explain_files.js";
import { axisDim } from "../model_dir/card.js";
import { makeExperts } from "../figures/experts.js";
import { makeGates } from "../figures/gates.js";
import { brainMask, segment } from "../preprocess/segment/index.js";
import { voxelSizes, type Grid } from "../volume/affine.js";
import { resample, type Interpolation } from "../volume/resample.js";
import { simulateAcquisition, type AcquisitionParams } from "../simulate/simulate.js";
import type { Volume } from "../volume/volume.js";
import { METHODS, scoreScope, type MethodKey, type ScopeLpips, type ScopeScores } from "./score.js";
import { loadLpipsScorer, type LpipsNetName } from "../evaluate/evaluate.js";
import { hrTarget, latentDiagnostics, type LatentDiagnostics } from "./latent_diagnostics.js";
import { specialisation, type Specialisation } from "./specialisation.js";
import { readHeldout } from "../model_dir/heldout.js";
import { modelFacts } from "./model_facts.js";
import { OutputWriter } from "./outputs.js";
import { makeComparisonPanel } from "./panel.js";
import { contextRange, cropData, cropGrid, cropVolume, lrRangeFor, type Dim } from "./slab.js";
import { loadSource } from "./source.js";
import { shortTable, summaryHtml, summaryMarkdown } from "./summary.js";
import { DEMO_REPORT_FORMAT, reportJson, type DemoReport } from "./types.js";

export interface DemoOptions {
  readonly modelDir: string;
  readonly out: string;
  /** Enhance and evaluate the whole volume too (slow: every slice with signal). */
  readonly whole?: boolean;
  /** DDIM steps (default: the model's sampling.steps, as enhance). */
  readonly steps?: number;
  /** Where each chain starts, a fraction of its schedule (default: the model's sampling.start, as enhance). */
  readonly start?: number;
  /** Sampler seed (default 0, as enhance). */
  readonly seed?: number;
  /** Tiles per forward pass (default 4, as enhance). */
  readonly batch?: number;
  /** Pad every slice to the model's slice size instead of a fitted tile (enhance --full-tiles). */
  readonly fullTiles?: boolean;
  readonly device?: T.Device;
  /** Segment the reference for per-region rows (default true); false: the brain mask only. */
  readonly regions?: boolean;
  /** LPIPS weights (as evaluate's --lpips-backbone, --lpips-linear, --lpips-net): LPIPS columns, whole grid and brain. */
  readonly lpips?: { readonly backbone: string; readonly linear: string; readonly net?: LpipsNetName };
  /** Measure rho and cos of the latents on the slab (default true; a second sampling pass over the slab). */
  readonly latent?: boolean;
  /** Stage messages and warnings. */
  readonly log?: (line: string) => void;
  readonly onEnhanceProgress?: (p: EnhanceProgress) => void;
}

export interface DemoResult {
  readonly out: string;
  readonly report: DemoReport;
  /** The printed table. */
  readonly table: string;
}

/** How `moediff-sr baseline` interpolates each method. */
const INTERPOLATION: Readonly<Record<Exclude<MethodKey, "enhanced" | "autoencoder">, Interpolation>> = { input: "nearest", trilinear: "trilinear", bspline: "bspline" };

const gridOf = (v: Volume): Grid => ({ dims: [v.dims[0], v.dims[1], v.dims[2]], affine: Array.from(v.affine) });
const gridFacts = (g: { dims: readonly number[]; affine: readonly number[] }) => ({ dims: [g.dims[0], g.dims[1], g.dims[2]] as [number, number, number], voxelSize: voxelSizes(g.affine) });
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

interface Masks {
  method: DemoReport["regions"]["method"];
  masks: Map<string, Uint8Array>;
  note: string | null;
}

function regionMasks(ref: Volume, wanted: boolean, warn: (s: string) => void): Masks {
  let note: string | null = wanted ? null : "regions were turned off";
  if (wanted) {
    try {
      const s = segment(ref);
      if (s.regions !== undefined) return { method: "segment", masks: new Map(s.regions.masks), note: null };
    } catch (e) {
      note = `segmenting the reference failed (${errorText(e)}), so only its brain mask is used`;
      warn(note);
    }
  }
  try {
    return { method: "brain-mask", masks: new Map([["brain", brainMask(ref).mask]]), note };
  } catch (e) {
    const why = `no brain mask either (${errorText(e)})`;
    warn(why);
    return { method: "none", masks: new Map(), note: note === null ? why : `${note}; ${why}` };
  }
}

/** A progress reporter for the extra passes: a log line at most every 10 s (none when a pass is quick). */
function slowProgress(stage: string, log: (line: string) => void): (done: number, total: number) => void {
  let last = performance.now();
  return (done, total) => {
    const now = performance.now();
    if (now - last < 10_000 || done === 0) return;
    last = now;
    log(`${stage}: ${done}/${total} tiles`);
  };
}

/** Relative slice indices 30/50/70% through a slab of n slices (deduplicated). */
function figureSlices(n: number): number[] {
  return [...new Set([0.3, 0.5, 0.7].map((f) => Math.round(f * (n - 1))))];
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const log = o.log ?? (() => {});
  const warnings: string[] = [];
  const warn = (s: string): void => {
    warnings.push(s);
    log(`warning: ${s}`);
  };
  const device = o.device ?? T.getDefaultDevice();
  const whole = o.whole === true;
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const timed = async <R>(name: string, message: string, fn: () => R | Promise<R>): Promise<R> => {
    log(message);
    const t = performance.now();
    const r = await fn();
    timings[name] = (performance.now() - t) / 1000;
    return r;
  };

  if (o.steps === 0) {
    throw new RangeError("demo: steps 0 is the autoencoder alone, which the demo already shows as its 'autoencoder only' row; give steps >= 1 (or leave it out for the model's own)");
  }
  const w = new OutputWriter(o.out); // first, so an unusable output directory fails before any work
  // LPIPS weights next, for the same reason.
  let lpips: ScopeLpips | undefined;
  let scorer: Awaited<ReturnType<typeof loadLpipsScorer>> | null = null;
  if (o.lpips !== undefined) {
    const l = o.lpips;
    scorer = await timed("load LPIPS", `loading the LPIPS network (${l.net ?? "vgg"}) from ${l.backbone} and ${l.linear}`, () =>
      loadLpipsScorer({ lpipsBackbone: l.backbone, lpipsLinear: l.linear, lpipsNet: l.net ?? "vgg" }),
    );
    lpips = { scorer, backbone: l.backbone, linear: l.linear };
  }
  try {
    return await demoSteps(o, { log, warn, warnings, device, whole, timings, t0, timed, w, lpips });
  } finally {
    scorer?.dispose();
  }
}

interface DemoContext {
  readonly log: (line: string) => void;
  readonly warn: (s: string) => void;
  readonly warnings: string[];
  readonly device: T.Device;
  readonly whole: boolean;
  readonly timings: Record<string, number>;
  readonly t0: number;
  readonly timed: <R>(name: string, message: string, fn: () => R | Promise<R>) => Promise<R>;
  readonly w: OutputWriter;
  readonly lpips: ScopeLpips | undefined;
}

/** Steps 1-9 of the header. */
async function demoSteps(o: DemoOptions, ctx: DemoContext): Promise<DemoResult> {
  const { log, warn, warnings, device, whole, timings, t0, timed, w, lpips } = ctx;
  const { heldout, pipe } = await timed("load model", `loading the model ${resolve(o.modelDir)}`, () => {
    const h = readHeldout(o.modelDir);
    return { heldout: h, pipe: MoEDiffSRPipeline.fromDir(o.modelDir, { device }) };
  });
  const lm = pipe.loaded;
  try {
    const facts = modelFacts(lm);
    const slab = heldout.slab;
    const dim = axisDim(slab.axis) as Dim;
    const src = await timed("read source", `reading ${heldout.source.path}`, () => loadSource(heldout.source));
    src.warnings.forEach(warn);
    const hr = src.ras;
    const hrGrid = gridOf(hr);
    if (slab.last >= hr.dims[dim]) {
      throw new RangeError(`heldout.json's slab ${slab.axis} ${slab.first}..${slab.last} lies outside ${heldout.source.path}, which has ${hr.dims[dim]} slices along ${slab.axis} (RAS)`);
    }

    // 3. The acquisition, exactly as prepare made the training pair.
    const a = heldout.acquisition;
    const params: AcquisitionParams = { voxelSize: a.voxelSize, snr: a.snr, bias: a.bias, gradwarp: a.gradwarp, seed: a.seed };
    const sim = await timed("simulate", `simulating the 3T acquisition (voxel ${JSON.stringify(a.voxelSize)} mm, SNR ${a.snr}, bias ${a.bias}, warp ${a.gradwarp} mm, seed ${a.seed})`, () =>
      simulateAcquisition(hr, params, { device }),
    );
    const same = (x: number, y: number): boolean => Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(y));
    let reproducesRecord: boolean | null = null;
    if (a.wmMean !== undefined || a.sigma !== undefined) {
      reproducesRecord = (a.wmMean === undefined || same(sim.wmMean, a.wmMean)) && (a.sigma === undefined || same(sim.sigma, a.sigma));
      if (!reproducesRecord) {
        warn(`the simulation's white-matter level ${sim.wmMean} and noise sigma ${sim.sigma} differ from the recorded ${a.wmMean} and ${a.sigma}: this LR is not the data set's held-out LR`);
      }
    }

    // The grids: evaluation (slab or whole), enhanced (slab + context, or whole), LR input.
    const [c0, c1] = whole ? [0, hr.dims[dim] - 1] : contextRange(slab.first, slab.last, hr.dims[dim]);
    const enhanceGrid = whole ? hrGrid : cropGrid(hrGrid, dim, c0, c1);
    const [l0, l1] = whole ? [0, sim.lrGrid.dims[dim] - 1] : lrRangeFor(sim.lrGrid, enhanceGrid, dim);
    const lr = whole ? sim.image : cropVolume(sim.image, dim, l0, l1);
    const reference = whole ? hr : cropVolume(hr, dim, slab.first, slab.last);
    const evalGrid = gridOf(reference);

    const masks = await timed("regions", o.regions === false ? "brain mask of the reference" : "segmenting the reference for the region rows", () =>
      regionMasks(hr, o.regions !== false, warn),
    );

    // 5. Enhancement.
    // The divisor prepare normalised the training pair's LR with (the whole LR volume on the HR grid);
    // enhance would normalise the slab by its own percentile, so it is given the whole volume's.
    const wholeVolumeScale = acquisitionScale(sim.image, hrGrid, lm.card, "simulated LR volume");
    const enhanceOptions = pipe.resolveOptions({ steps: o.steps, start: o.start, seed: o.seed, batch: o.batch, fitTiles: o.fullTiles !== true, explain: true });
    const what = whole ? "the whole volume" : `${slab.axis} slices ${c0}–${c1} (the slab and its context)`;
    const enhanced = await timed("enhance", `enhancing ${what}: DDIM ${enhanceOptions.steps} steps, seed ${enhanceOptions.seed}`, () =>
      enhanceVolume(pipe, lr, {
        ...enhanceOptions,
        inputScale: wholeVolumeScale,
        like: enhanceGrid,
        axes: [lm.card.slice.axis],
        ...(o.onEnhanceProgress !== undefined ? { onProgress: o.onEnhanceProgress } : {}),
      }),
    );
    const toEval = (v: Volume): Volume => (whole ? v : cropVolume(v, dim, slab.first - c0, slab.last - c0));
    const outputs: Record<MethodKey, Volume> = { enhanced: toEval(enhanced.output) } as Record<MethodKey, Volume>;
    const experts = (enhanced.experts ?? []).map(toEval);
    const gates = (enhanced.gates ?? []).map(toEval);
    const worst = outputs.enhanced.affine.reduce((m, x, i) => Math.max(m, Math.abs(x - (reference.affine[i] as number))), 0);
    if (outputs.enhanced.dims.join() !== reference.dims.join() || worst > 1e-6) throw new Error(`demo: internal error: the enhanced slab is not on the reference grid (affines differ by ${worst})`);

    // 6. Baselines.
    await timed("baselines", "baselines: nearest neighbour (input), trilinear, cubic B-spline", () => {
      for (const [m, interpolation] of Object.entries(INTERPOLATION) as [MethodKey, Interpolation][]) outputs[m] = resample(lr, evalGrid, { interpolation, fill: 0 });
    });
    const autoencoder = await timed("autoencoder", "autoencoder only: the same pipeline with steps 0, decode(encode(LR))", () => {
      const progress = slowProgress("autoencoder only", log);
      return enhanceVolume(pipe, lr, {
        ...enhanceOptions,
        steps: 0,
        explain: false,
        inputScale: wholeVolumeScale,
        like: enhanceGrid,
        axes: [lm.card.slice.axis],
        onProgress: (p) => progress(p.tilesDone, p.tiles),
      });
    });
    outputs.autoencoder = toEval(autoencoder.output);

    // 7. Latent diagnostics.
    let latent: LatentDiagnostics | null = null;
    let latentNote: string | null = null;
    if (o.latent === false) latentNote = "not measured (turned off)";
    else if (lm.card.slice.axis !== slab.axis) latentNote = `not measured: the slab is cut along ${slab.axis}, the model slices along ${lm.card.slice.axis}`;
    else {
      latent = await timed("latent diagnostics", "latent diagnostics: rho and cos of the sampler's final latent on the slab (a second pass over its tiles)", () =>
        latentDiagnostics(pipe, {
          lr,
          grid: enhanceGrid,
          inputScale: wholeVolumeScale,
          target: hrTarget(hr, sim, dim, c0, c1, lm.card.normalisePercentile),
          first: slab.first - c0,
          last: slab.last - c0,
          settings: enhanceOptions,
          output: enhanced.output,
          onProgress: slowProgress("latent diagnostics", log),
        }),
      );
      latent = { ...latent, slices: latent.slices.map((k) => k + c0) };
      log(`latent: rho ${latent.rho.toFixed(3)}, cos ${latent.cos.toFixed(3)} (|z_out - z_LR| ${latent.moved.toPrecision(4)}, |z_HR - z_LR| ${latent.gap.toPrecision(4)}; ${latent.tiles} tiles)`);
      if (latent.decodedVsOutput !== null && latent.decodedVsOutput > 1e-3) {
        warn(`the latent pass's decoded tiles differ from the enhanced output by up to ${latent.decodedVsOutput.toPrecision(3)} (normalised): rho and cos may not describe the output`);
      }
    }

    // 8. Files and scores.
    const files = (prefix: string): Record<MethodKey, string> => Object.fromEntries(METHODS.map((m) => [m.key, w.path(`${prefix}${m.key}.nii.gz`)])) as Record<MethodKey, string>;
    const writeSet = (prefix: string, cut: (v: Volume) => Volume, cutMask: (m: Uint8Array) => Uint8Array): { ref: string; regions: string | null } => {
      const ref = cut(reference);
      w.volume(`${prefix}reference.nii.gz`, ref, `moediff-sr demo reference ${heldout.source.subject}`);
      for (const m of METHODS) w.volume(`${prefix}${m.key}.nii.gz`, cut(outputs[m.key]), `moediff-sr demo ${m.key}`);
      let any = false;
      for (const [name, mask] of masks.masks) {
        const cm = cutMask(mask);
        if (!cm.some((x) => x !== 0)) continue;
        w.mask(`${prefix}regions/${name}.nii.gz`, cm, ref, `moediff-sr demo region ${name}`);
        any = true;
      }
      return { ref: w.path(`${prefix}reference.nii.gz`), regions: any ? w.path(`${prefix}regions`) : null };
    };
    const { primary, slabSet } = await timed("write volumes", `writing volumes to ${w.out}`, () => {
      w.volume("lr.nii.gz", lr, `moediff-sr demo LR ${heldout.source.subject} seed ${a.seed}`);
      const cutSlab = (m: Uint8Array): Uint8Array => cropData(m, hr.dims, dim, slab.first, slab.last);
      const primary = writeSet("", (v) => v, whole ? (m) => m : cutSlab);
      const explain = explainFiles(explainMeta(pipe, enhanced.options, enhanced.stats.axes), w.path("enhanced.nii.gz"), experts, gates);
      for (const [name, v, description] of explain.volumes) w.volume(join("explain", name), v, description);
      w.text(join("explain", "explain.json"), explain.json);
      const slabSet = whole ? writeSet("slab/", (v) => cropVolume(v, dim, slab.first, slab.last), cutSlab) : null;
      return { primary, slabSet };
    });
    const evaluations: ScopeScores[] = await timed("evaluate", `evaluating every method (as moediff-sr evaluate${lpips !== undefined ? ", with LPIPS" : ""})`, () => {
      const scopes: ScopeScores[] = [];
      if (slabSet !== null) scopes.push(scoreScope("slab", slabSet.ref, files("slab/"), slabSet.regions, dim, { lpips }));
      scopes.push(scoreScope(whole ? "volume" : "slab", primary.ref, files(""), primary.regions, dim, { lpips }));
      return scopes.map((s) => relativise(s, w));
    });

    // Per region: each expert's gate and its own estimate's error (issue 19 point 5).
    let special: Specialisation | null = null;
    if (experts.length > 0 && gates.length === experts.length) {
      const kinds = explainMeta(pipe, enhanced.options, enhanced.stats.axes).experts;
      const cut = (m: Uint8Array): Uint8Array => (whole ? m : cropData(m, hr.dims, dim, slab.first, slab.last));
      special = specialisation({
        reference,
        mixture: outputs.enhanced,
        experts: experts.map((estimate, i) => ({ name: `E${kinds[i]}`, gate: gates[i] as Volume, estimate })),
        masks: new Map([...masks.masks].map(([name, m]) => [name, cut(m)])),
      });
      const brainRow = special.regions.find((x) => x.region === "brain");
      if (brainRow !== undefined) log(`gates inside the brain: ${special.experts.map((e, i) => `${e} ${brainRow.gateMean[i]!.toFixed(3)} ± ${brainRow.gateStd[i]!.toFixed(3)}`).join(", ")}; spread over regions ${special.spread.map((x) => (x === null ? "n/a" : x.toFixed(3))).join(" / ")}`);
    }

    // 9. Figures.
    const rel = figureSlices(slab.last - slab.first + 1);
    const slices = rel.map((s) => (whole ? s + slab.first : s));
    const figures = await timed("figures", "figures: comparison panel, per-expert differences, gates", async () => {
      const panel = makeComparisonPanel({
        title: `${heldout.source.subject}, held-out ${slab.axis} slices ${slab.first}–${slab.last}: ${METHODS.map((m) => m.label).join(" | ")} | reference`,
        columns: METHODS.map((m) => ({ title: m.label, volume: outputs[m.key] })),
        reference,
        referenceTitle: "reference (HR)",
        axis: dim,
        slices,
        sliceLabel: (k) => `HR ${slab.axis} slice ${whole ? k : k + slab.first}${whole ? "" : ` (slab slice ${k + 1} of ${slab.last - slab.first + 1})`}`,
        caption: [`input = the LR acquisition (${JSON.stringify(a.voxelSize)} mm) placed on the HR grid by nearest neighbour.`],
      });
      const explainDir = w.path("explain");
      const ex = makeExperts({ explain: explainDir, ref: w.path("reference.nii.gz"), sr: w.path("enhanced.nii.gz"), axis: dim, slices });
      const ga = makeGates({ explain: explainDir, background: w.path("enhanced.nii.gz"), axis: dim, slices });
      ga.warnings.forEach(warn);
      await w.png("panel.png", panel.canvas);
      await w.png("experts.png", ex.canvas);
      await w.png("gates.png", ga.canvas);
      return { panel: "panel.png", experts: "experts.png", gates: "gates.png", slices };
    });

    const s = enhanced.stats;
    const r: DemoReport = {
      format: DEMO_REPORT_FORMAT,
      version: 2,
      mode: whole ? "whole" : "slab",
      model: facts,
      heldout: {
        source: { path: heldout.source.path, subject: heldout.source.subject, sha256: src.sha256, sha256Expected: heldout.source.sha256, sha256Matches: src.sha256Matches },
        acquisition: heldout.acquisition,
        slab,
        hrGrid: gridFacts(hrGrid),
        lrGrid: gridFacts(sim.lrGrid),
        simulation: { wmMean: sim.wmMean, sigma: sim.sigma, reproducesRecord },
        lrSlices: [l0, l1],
        ...(heldout.results !== undefined ? { results: heldout.results } : {}),
      },
      enhance: {
        sampler: enhanceOptions.sampler,
        steps: enhanceOptions.steps,
        eta: enhanceOptions.eta,
        start: enhanceOptions.start,
        mode: enhanceOptions.mode,
        seed: enhanceOptions.seed,
        batch: enhanceOptions.batch,
        device: String(device),
        snapToCodebook: enhanceOptions.snapToCodebook,
        axis: lm.card.slice.axis,
        slices: [c0, c1],
        inputScale: s.inputScale,
        wholeVolumeScale,
        slicesRun: s.slicesRun,
        tilesRun: s.tilesRun,
        evaluations: s.evaluations,
        seconds: s.seconds,
      },
      regions: { method: masks.method, names: [...masks.masks.keys()], note: masks.note },
      autoencoder: { seconds: autoencoder.stats.seconds },
      latent: { measured: latent, note: latentNote },
      specialisation: special,
      lpips: lpips === undefined ? null : { net: lpips.scorer.net, backbone: lpips.backbone, linear: lpips.linear },
      evaluations,
      figures,
      files: [...w.files, "metrics.json", "summary.md", "summary.html"],
      timings: { ...timings, total: (performance.now() - t0) / 1000 },
      warnings: [...warnings],
    };
    w.text("metrics.json", reportJson(r));
    w.text("summary.md", summaryMarkdown(r));
    w.text("summary.html", summaryHtml(r));
    return { out: w.out, report: r, table: shortTable(r) };
  } finally {
    pipe.dispose();
  }
}

/** Paths of a scope made relative to the output directory. */
function relativise(s: ScopeScores, w: OutputWriter): ScopeScores {
  return {
    ...s,
    reference: w.rel(s.reference),
    regionsDir: s.regionsDir === null ? null : w.rel(s.regionsDir),
    methods: s.methods.map((m) => ({ ...m, file: w.rel(m.file) })),
  };
}
