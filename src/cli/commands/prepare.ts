// `moediff-sr prepare -o DIR (--default | --simulate HR... | --pairs FILE)`: build a paired slice data
// set for training (see src/data/prepare.ts). Prints a summary: slices per split, time, size on disk.
import { Option, type Command } from "commander";
import { prepareDataset, PREPARE_DEFAULTS, defaultHrSource, defaultRandomiseSource, type PrepareSource, type RandomiseOptions } from "../../data/prepare.js";
import { RANDOMISE_DEFAULTS, RANDOMISE_SLICES_PER_VIEW } from "../../data/randomise/ranges.js";
import { METRICS, type Metric } from "../../preprocess/register/metrics.js";
import { parseAxis } from "../../data/slicing.js";
import { parseNonFinite } from "../nifti_options.js";
import { progress } from "../../util/progress.js";
import { nonNegativeInt, positiveInt } from "../option_parsers.js";

interface PrepareCliOptions {
  output: string;
  default?: boolean;
  simulate?: string[];
  pairs?: string;
  subjects?: string[];
  pairsPerVolume: number;
  voxel: [number, number];
  snr: [number, number];
  bias: [number, number];
  gradwarp: [number, number];
  axis: "x" | "y" | "z";
  size: [number, number];
  seed: number;
  shardSize: number;
  minBrain: number;
  nonFinite: "error" | "zero";
  register?: boolean;
  registerMetric?: Metric;
  force?: boolean;
  randomise?: number;
  randomiseSlices: number;
  stripped?: string[];
}

function metric(v: string): Metric {
  if (!(METRICS as readonly string[]).includes(v)) throw new Error(`--register-metric must be ${METRICS.join(" or ")}, got '${v}'`);
  return v as Metric;
}


/** "lo:hi" or a single value "x" (meaning x:x). */
function range(name: string): (v: string) => [number, number] {
  return (v) => {
    const parts = v.split(":");
    const nums = parts.map((p) => (p.trim() === "" ? Number.NaN : Number(p)));
    if (parts.length > 2 || nums.some((x) => !Number.isFinite(x))) throw new Error(`--${name} expects lo:hi or a single number, got '${v}'`);
    const lo = nums[0] as number;
    const hi = nums[1] ?? lo;
    if (lo > hi) throw new Error(`--${name} range '${v}' has lo > hi`);
    return [lo, hi];
  };
}

function size(v: string): [number, number] {
  const m = /^\s*(\d+)(?:\s*x\s*(\d+))?\s*$/i.exec(v);
  const h = m === null ? Number.NaN : Number(m[1]);
  const w = m === null ? Number.NaN : Number(m[2] ?? m[1]);
  if (!(h >= 1 && w >= 1)) throw new Error(`--size expects N or HxW (positive integers), got '${v}'`);
  return [h, w];
}

function fraction(v: string): number {
  const x = Number(v);
  if (v.trim() === "" || !(x >= 0 && x <= 1)) throw new Error(`--min-brain expects a fraction in [0, 1], got '${v}'`);
  return x;
}

function seed(v: string): number {
  const x = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(x) || x > 0xffffffff) throw new Error(`--seed expects an integer in 0..4294967295, got '${v}'`);
  return x;
}

function fmtBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

const rangeText = (r: readonly [number, number]): string => `${r[0]}:${r[1]}`;

function rangeOption(name: string, description: string, def: readonly [number, number]): Option {
  return new Option(`--${name} <lo:hi>`, description).argParser(range(name)).default([...def], rangeText(def));
}

export function registerPrepare(program: Command): void {
  const d = PREPARE_DEFAULTS;
  program
    .command("prepare")
    .description("build a paired LR/HR slice data set (simulated from HR volumes, or from real pairs) for training")
    .requiredOption("-o, --output <dir>", "data-set directory to create (built next to it in a temporary directory, then renamed)")
    .option("--default", "simulate from the Colin27 template of the mricron-data package (ch2bet.nii.gz)")
    .option("--simulate <hr...>", "simulate LR acquisitions from these HR volumes (one subject per file)")
    .option("--pairs <manifest>", "real pairs: a .csv/.tsv/.json manifest with columns subject, lr, hr[, bias, gdc]")
    .option("--subjects <ids...>", "with --pairs: use only these subjects")
    .option("--pairs-per-volume <n>", "simulated acquisitions per HR volume (kept in one split)", positiveInt("pairs-per-volume"), d.pairsPerVolume)
    .addOption(rangeOption("voxel", "LR voxel size range, mm (isotropic, drawn per pair)", d.ranges.voxel))
    .addOption(rangeOption("snr", "SNR range (mean white matter / noise sigma)", d.ranges.snr))
    .addOption(rangeOption("bias", "bias strength range s (b in [exp(-s/2), exp(s/2)])", d.ranges.bias))
    .addOption(rangeOption("gradwarp", "gradient-nonlinearity maximum displacement range, mm", d.ranges.gradwarp))
    .option("--axis <axis>", "slice axis of the RAS-reoriented HR grid: x (sagittal), y (coronal), z (axial)", parseAxis, d.axis)
    .addOption(new Option("--size <HxW>", "slice size after centre crop/pad: N or HxW").argParser(size).default([d.height, d.width], `${d.height}x${d.width}`))
    .option("--seed <n>", "random seed (parameter draws, simulation seeds, split)", seed, d.seed)
    .option("--shard-size <n>", "slices per shard file", positiveInt("shard-size"), d.shardSize)
    .option("--min-brain <f>", "skip slices where less than this fraction of voxels is brain (normalised HR > 0.05)", fraction, d.minBrain)
    .option("--non-finite <mode>", "NaN/Inf voxels in the inputs: error or zero", parseNonFinite, "error")
    .option("--register", "with --pairs: rigidly register each LR to its HR (6 DOF, see moediff-sr register) before resampling it onto the HR grid")
    .option("--register-metric <metric>", "with --register: ncc (default, same contrast) or mi (mutual information)", metric)
    .option("--force", "replace an existing data set at the output")
    .option("--randomise <n>", "make N randomised subjects (anatomy, contrast, acquisition, 3 slice axes, skull on and off; docs/randomisation.md) from the --default or --simulate volume(s)", positiveInt("randomise"))
    .option("--randomise-slices <k>", "with --randomise: slices per slice axis and skull variant of each subject (0 = every slice with enough brain)", nonNegativeInt("randomise-slices"), RANDOMISE_SLICES_PER_VIEW)
    .option("--stripped <files...>", "with --randomise --simulate: a skull-stripped companion of each HR volume, same order and grid (its nonzero voxels are the brain)")
    .addHelpText(
      "after",
      `\nSplit 8:1:1 by subject; with one subject by slabs along the axis separated by ${d.slabGap} unused slices.` +
        `\nOutput: DIR/manifest.json and DIR/{train,val,test}-NNNNN.safetensors (cond [n,3,H,W], hr, bias, g [n,1,H,W]).` +
        `\nWith --randomise, the acquisition ranges default to voxel ${rangeText(RANDOMISE_DEFAULTS.acquisition.voxel)} (3-D; or a 2-D stack), snr ${rangeText(RANDOMISE_DEFAULTS.acquisition.snr)}, ` +
        `bias ${rangeText(RANDOMISE_DEFAULTS.acquisition.bias)}, gradwarp ${rangeText(RANDOMISE_DEFAULTS.acquisition.gradwarp)}; --voxel, --snr, --bias, --gradwarp given replace them.`,
    )
    .action(async (opts: PrepareCliOptions, cmd: Command) => {
      const given = [opts.default === true, opts.simulate !== undefined, opts.pairs !== undefined].filter(Boolean).length;
      if (given !== 1) throw new Error("give exactly one source: --default, --simulate HR.nii.gz [...] or --pairs manifest.csv");
      if (opts.subjects !== undefined && opts.pairs === undefined) throw new Error("--subjects applies only with --pairs");
      if (opts.register === true && opts.pairs === undefined) throw new Error("--register applies only with --pairs (simulated pairs are aligned by construction)");
      if (opts.registerMetric !== undefined && opts.register !== true) throw new Error("--register-metric applies only with --register");
      const randomising = opts.randomise !== undefined;
      if (randomising && opts.pairs !== undefined) throw new Error("--randomise makes subjects from HR volumes (--default or --simulate), not from --pairs");
      if (!randomising && cmd.getOptionValueSource("randomiseSlices") === "cli") throw new Error("--randomise-slices applies only with --randomise");
      if (opts.stripped !== undefined && !(randomising && opts.simulate !== undefined)) throw new Error("--stripped applies only with --randomise and --simulate");
      if (randomising && cmd.getOptionValueSource("pairsPerVolume") === "cli") throw new Error("--pairs-per-volume does not apply with --randomise (each randomised subject has its own acquisitions)");
      if (opts.pairs !== undefined) {
        const simOnly = ["pairsPerVolume", "voxel", "snr", "bias", "gradwarp"].filter((k) => cmd.getOptionValueSource(k) === "cli");
        if (simOnly.length > 0) {
          const flags = simOnly.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
          throw new Error(`${flags.join(", ")} appl${flags.length === 1 ? "ies" : "y"} only to simulated pairs (--default, --simulate), not to --pairs`);
        }
      }
      let source: PrepareSource;
      let randomise: RandomiseOptions | undefined;
      if (opts.pairs !== undefined) source = { kind: "pairs", manifest: opts.pairs, ...(opts.subjects !== undefined ? { subjects: opts.subjects } : {}) };
      else if (opts.simulate !== undefined) source = { kind: "simulate", hr: opts.simulate };
      else if (randomising) {
        const colin = defaultRandomiseSource();
        process.stderr.write(`moediff-sr: randomising the Colin27 template ${colin.hr}${colin.stripped !== null ? ` (brain mask from ${colin.stripped})` : ""}\n`);
        source = { kind: "simulate", hr: [colin.hr] };
        randomise = { subjects: opts.randomise as number, slicesPerView: opts.randomiseSlices, stripped: [colin.stripped] };
      } else {
        const colin = defaultHrSource();
        process.stderr.write(`moediff-sr: simulating from the Colin27 template ${colin}\n`);
        source = { kind: "simulate", hr: [colin] };
      }
      if (randomising && randomise === undefined) {
        randomise = { subjects: opts.randomise as number, slicesPerView: opts.randomiseSlices, ...(opts.stripped !== undefined ? { stripped: opts.stripped } : {}) };
      }
      // With --randomise only the acquisition ranges given on the command line replace the randomisation's own.
      const rangeKeys = ["voxel", "snr", "bias", "gradwarp"] as const;
      const ranges = Object.fromEntries(rangeKeys.filter((k) => !randomising || cmd.getOptionValueSource(k) === "cli").map((k) => [k, opts[k]]));
      const controller = new AbortController();
      const onSignal = (): void => controller.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      let bar: ReturnType<typeof progress> | null = null;
      try {
        const result = await prepareDataset({
          output: opts.output,
          source,
          force: opts.force === true,
          axis: opts.axis,
          height: opts.size[0],
          width: opts.size[1],
          seed: opts.seed,
          shardSize: opts.shardSize,
          minBrain: opts.minBrain,
          pairsPerVolume: opts.pairsPerVolume,
          ranges,
          ...(randomise !== undefined ? { randomise } : {}),
          nonFinite: opts.nonFinite,
          ...(opts.register === true ? { register: opts.registerMetric !== undefined ? { metric: opts.registerMetric } : true } : {}),
          signal: controller.signal,
          log: (m) => process.stderr.write(`moediff-sr: ${m}\n`),
          onProgress: (p) => {
            bar ??= progress(randomising ? "subjects" : "pairs", p.pairs);
            bar.update(p.pairsDone, { slices: String(p.slicesWritten), stage: p.stage });
          },
        });
        (bar as ReturnType<typeof progress> | null)?.stop();
        bar = null;
        const m = result.manifest;
        const c = m.counts;
        const shardCount = m.shards.train.length + m.shards.val.length + m.shards.test.length;
        console.log(
          `wrote ${result.output}: ${m.pairs.length} pair${m.pairs.length === 1 ? "" : "s"} from ${new Set(m.pairs.map((p) => p.subject)).size} subject(s), ` +
            `split by ${m.split.method}`,
        );
        console.log(`  slices: train ${c.train}, val ${c.val}, test ${c.test} (${m.settings.height}x${m.settings.width}, ${randomising ? "axes x, y, z" : `axis ${m.settings.axis}`}); skipped ${c.skipped} with too little brain, ${c.unused} ${randomising ? "not drawn (--randomise-slices)" : "in slab gaps"}`);
        if (randomising) {
          console.log(`  randomised: ${m.split.assignments.length} subjects, ${opts.randomiseSlices === 0 ? "every kept slice" : `${opts.randomiseSlices} slices`} per axis and skull variant; every draw in manifest.json (randomisation)`);
        }
        console.log(`  ${shardCount} shard file${shardCount === 1 ? "" : "s"}, ${fmtBytes(result.bytes)} on disk, ${result.seconds.toFixed(1)} s`);
      } finally {
        (bar as ReturnType<typeof progress> | null)?.stop();
        process.removeListener("SIGINT", onSignal);
        process.removeListener("SIGTERM", onSignal);
      }
    });
}
