// `npm run -s bench profile [-- --model DIR --slices 12 --threads N --runs 2]`: where an enhancement's
// time goes, part by part, so the next bottleneck is visible.
//
// Input: the Colin27 slab bench/all.ts uses (a simulated 3T acquisition with the model's heldout.json
// parameters, `--slices` HR slices in the middle of the head), written to a temporary NIfTI file. The
// profiled job is what `enhance` does with the model's default settings: read the file, enhanceVolume
// (resampling onto the target grid, tiles through the pipeline, blending), write the result. The first
// `--runs` - 1 runs are warm-up (oneDNN primitive creation, allocator growth); the last is profiled.
//
// Parts (exclusive wall time: a part's time less the parts timed inside it):
//   I/O                 reading the LR NIfTI and writing the result (gzip included)
//   resampling          the input onto the target grid and its normalisation (enhance.ts prepareInput)
//   VQ encoder, condition encoder, gating, expert E<k>, VQ decoder   the networks (pipeline.ts)
//   sampler steps       the MoE sampler less its experts: schedulers, Eq. 8/9, noise draws
//   tile transfers      the pipeline's host copies and gate maps
//   tiling/blending     cutting conditions, the background test, blending tiles into slices
// GFLOP/s: the part's FLOPs (src/models/accounting.ts componentFlops, per tile at the tile size the
// run used, times the tiles each call covered) over its wall time.
// Last line: one JSON object {cpu, threads, model, slices, tile, parts: [{part, seconds, share, gflops,
// gflops_per_s}], model_gflops_per_s, total_seconds}.
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBenchArgs } from "./args.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface ProfileRow {
  part: string;
  seconds: number;
  share: number;
  gflops: number | null;
  gflopsPerSecond: number | null;
}

/** Exclusive times per part from the profiler's (nested) entries, with FLOPs where a network ran. */
export function profileRows(entries: ReadonlyMap<string, { seconds: number; units: number }>, enhanceSeconds: number, io: number, gflopsPerTile: ReadonlyMap<string, number>, kinds: readonly number[]): ProfileRow[] {
  const s = (n: string): number => entries.get(n)?.seconds ?? 0;
  const experts = kinds.map((k) => `expert E${k}`);
  const nets: [string, string, string][] = [
    ["VQ encoder", "vq encoder", "vq_encoder"],
    ["condition encoder", "condition encoder", "condition_encoder"],
    ["gating", "gating", "gating"],
    ...kinds.map((k): [string, string, string] => [`expert E${k}`, `expert E${k}`, `expert_E${k}`]),
    ["VQ decoder", "vq decoder", "vq_decoder"],
  ];
  const rows: Omit<ProfileRow, "share">[] = [{ part: "I/O", seconds: io, gflops: null, gflopsPerSecond: null }, { part: "resampling", seconds: s("resampling"), gflops: null, gflopsPerSecond: null }];
  for (const [label, name, flopName] of nets) {
    const e = entries.get(name);
    const perTile = gflopsPerTile.get(flopName);
    const gflops = e !== undefined && perTile !== undefined ? perTile * e.units : null;
    rows.push({ part: label, seconds: s(name), gflops, gflopsPerSecond: gflops !== null && s(name) > 0 ? gflops / s(name) : null });
  }
  const expertSeconds = experts.reduce((a, n) => a + s(n), 0);
  const networks = ["vq encoder", "condition encoder", "gating", "sampling", "vq decoder"].reduce((a, n) => a + s(n), 0);
  rows.push({ part: "sampler steps", seconds: Math.max(0, s("sampling") - expertSeconds), gflops: null, gflopsPerSecond: null });
  rows.push({ part: "tile transfers", seconds: Math.max(0, s("model") - networks), gflops: null, gflopsPerSecond: null });
  rows.push({ part: "tiling/blending", seconds: Math.max(0, enhanceSeconds - s("resampling") - s("model")), gflops: null, gflopsPerSecond: null });
  const total = rows.reduce((a, r) => a + r.seconds, 0);
  return rows.map((r) => ({ ...r, share: total > 0 ? r.seconds / total : 0 }));
}

export function formatProfile(rows: readonly ProfileRow[]): string {
  const total = rows.reduce((a, r) => a + r.seconds, 0);
  const gflops = rows.reduce((a, r) => a + (r.gflops ?? 0), 0);
  const line = (p: string, sec: number, share: number, g: number | null, gs: number | null): string =>
    `${p.padEnd(20)}${sec.toFixed(2).padStart(9)}${(100 * share).toFixed(1).padStart(8)}${(g === null ? "" : g.toFixed(1)).padStart(10)}${(gs === null ? "" : gs.toFixed(1)).padStart(10)}`;
  return [
    `${"part".padEnd(20)}${"seconds".padStart(9)}${"share %".padStart(8)}${"GFLOPs".padStart(10)}${"GFLOP/s".padStart(10)}`,
    ...rows.map((r) => line(r.part, r.seconds, r.share, r.gflops, r.gflopsPerSecond)),
    line("total", total, 1, gflops, total > 0 ? gflops / total : null),
  ].join("\n");
}

async function main(): Promise<void> {
  const a = parseBenchArgs(process.argv.slice(2), {
    name: "profile",
    flags: [],
    valued: ["--model", "--slices", "--threads", "--runs"],
    help: "usage: npm run -s bench profile [-- --model DIR --slices 12 --threads N --runs 2]",
  });
  const threads = a.int("threads", a.threadsDefault(process.env, availableParallelism()), 1);
  const slices = a.int("slices", 12, 1);
  const runs = a.int("runs", 2, 1);
  const modelDir = a.model(ROOT, "a directory made by `moediff-sr train`");
  for (const k of ["MOEDIFF_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"]) process.env[k] = String(threads);
  const T = await import("../src/torch/index.js");
  const { readNifti, toVolume, writeNifti } = await import("../src/nifti/index.js");
  const { MoEDiffSRPipeline } = await import("../src/inference/pipeline.js");
  const { enhanceVolume } = await import("../src/inference/enhance.js");
  const { Profiler } = await import("../src/util/profiler.js");
  const { componentFlops } = await import("../src/models/accounting.js");
  const { benchInput } = await import("./all_input.js");
  T.setNumThreads(threads);

  const pipe = MoEDiffSRPipeline.fromDir(modelDir);
  const dir = mkdtempSync(join(tmpdir(), "moediff-profile-"));
  try {
    const card = pipe.card;
    const { slab, wholeScale: inputScale } = await benchInput(modelDir, card, slices);
    const { first, last: lastSlice } = slab;
    const lrPath = join(dir, "lr.nii.gz");
    const outPath = join(dir, "out.nii.gz");
    writeNifti(lrPath, slab.lr);

    let measured: { p: InstanceType<typeof Profiler>; enhance: number; io: number; tile: [number, number] } | null = null;
    for (let r = 0; r < runs; r++) {
      const p = new Profiler();
      const t0 = performance.now();
      const lr = toVolume(readNifti(lrPath));
      const t1 = performance.now();
      const out = await enhanceVolume(pipe, lr, { like: slab.like, inputScale, profiler: p });
      const t2 = performance.now();
      writeNifti(outPath, out.output);
      const t3 = performance.now();
      measured = { p, enhance: (t2 - t1) / 1000, io: (t1 - t0 + t3 - t2) / 1000, tile: out.stats.tileSize };
      process.stderr.write(`profile: run ${r + 1} of ${runs}: ${((t3 - t0) / 1000).toFixed(1)} s\n`);
    }
    if (measured === null) throw new Error("profile: no run");
    const costs = componentFlops(pipe.loaded, { height: measured.tile[0], width: measured.tile[1] });
    const perTile = new Map(costs.map((c) => [c.name, c.flops / 1e9]));
    const rows = profileRows(measured.p.entries, measured.enhance, measured.io, perTile, pipe.model.kinds);
    const cpu = cpus()[0]?.model ?? "unknown";
    const modelSeconds = rows.filter((r) => r.gflops !== null).reduce((s, r) => s + r.seconds, 0);
    const modelGflops = rows.reduce((s, r) => s + (r.gflops ?? 0), 0);
    const o = pipe.defaultOptions();
    console.log(`moediff-sr profile: ${modelDir}; ${slices} slices (${card.slice.axis} ${first}..${lastSlice}) on ${measured.tile.join("x")} tiles; ${pipe.describeSampler(o)}, ${o.mode}, batch ${o.batch}`);
    console.log(`${threads} thread(s), ${cpu}, BLAS ${T.blasLibrary() ?? "unknown"}`);
    console.log(formatProfile(rows));
    console.log(
      JSON.stringify({
        cpu,
        threads,
        model: modelDir,
        slices,
        tile: measured.tile,
        parts: rows.map((r) => ({ part: r.part, seconds: round(r.seconds), share: round(r.share), gflops: r.gflops === null ? null : round(r.gflops), gflops_per_s: r.gflopsPerSecond === null ? null : round(r.gflopsPerSecond) })),
        model_gflops_per_s: modelSeconds > 0 ? round(modelGflops / modelSeconds) : null,
        total_seconds: round(rows.reduce((s, r) => s + r.seconds, 0)),
      }),
    );
  } finally {
    pipe.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
