// PyTorch parity benchmark (issue 7, point 4): expert E1 and the condition encoder of a trained
// model directory, run here and in PyTorch (bench/parity.py, its own nn.Module mirror loading the
// SAME safetensors by state_dict key with strict=True), on the same seeded inputs of one inference
// batch of tiles. Reports the max abs difference of the outputs and of every parameter gradient of
// sum(out^2), and the forward and forward+backward times of both sides at the same thread count.
//
//   npm run bench parity [-- --model DIR --batch 4 --rounds 7 --warmup 2 --threads N --seed 1
//                            --settle MS --python /usr/bin/python3 --keep]
//
// The last line printed is one JSON object. Exits 1 if a difference exceeds 1e-4 (naming it).
//
// Design decisions:
// - Inputs have the shapes of one batch of tiles at inference (model card slice H x W; latent
//   H/f x W/f for the autoencoder's factor f; tokens [B, N, d] for the encoder's grids). They are
//   independent seeded draws: zt, cond, tokens ~ N(0, 1), gate and y ~ U(0, 1), t uniform in
//   [0, T_1). E1 gets random tokens rather than the encoder's output so the two comparisons are
//   independent.
// - Gradients: of sum(out^2) w.r.t. every parameter of each network, compared as absolute
//   differences, like the outputs.
// - PyTorch runs as a child process that answers one command per line, so the timing rounds
//   interleave (ours, PyTorch, ours, ...; the order flips every round): load on the shared machine
//   then hits both sides alike. Each side times only its own compute (no IPC in the numbers);
//   the first --warmup rounds are dropped, and the medians of the rest are reported. With more
//   than one thread, each timed run is followed by a pause (--settle, default 250 ms): OpenMP and
//   especially OpenBLAS worker threads keep spinning after a call (OpenBLAS for ~2^28 cycles), and
//   without the pause they steal the cores from the other side's next run.
// - pytorch_time_ratio = (median over rounds of our E1 + encoder fwd+bwd wall ms) / (the same
//   median for PyTorch). Process CPU time is recorded too (its ratio is steadier when other jobs
//   share the machine; with one thread it is the compute itself).
// - Same thread count: T.setNumThreads / torch.set_num_threads bound OpenMP, but Debian's libtorch
//   calls a pthread OpenBLAS (matmul, linear) that sizes its own pool from OPENBLAS_NUM_THREADS
//   (or OMP_NUM_THREADS) when it is loaded, else uses every core. So both processes get
//   OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = threads in their environment before libtorch loads
//   (our engine is imported dynamically, after setting them). The rest of the environment (e.g.
//   GLIBC_TUNABLES for malloc) is inherited by the child, so both sides share it.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type * as TorchModule from "../src/torch/index.js";
import type { Expert } from "../src/models/experts/index.js";
import type { ConditionEncoder } from "../src/models/condition/swin.js";
import { parseBenchArgs } from "./args.js";
import { median } from "./stats.js";

// The engine is imported in main() only after OPENBLAS_NUM_THREADS is set (see the header), so
// this module's pure helpers load without it.
type Torch = typeof TorchModule;
type Tensor = TorchModule.Tensor;

/** The bound on every max abs difference. */
export const TOLERANCE = 1e-4;
/** The bound on our time over PyTorch's. */
export const MAX_TIME_RATIO = 1.15;
export const CASES = ["e1_fwd", "e1_fwdbwd", "cond_fwd", "cond_fwdbwd"] as const;
export type Case = (typeof CASES)[number];

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "..", "..");

export interface ParityOptions {
  model: string;
  batch: number;
  rounds: number;
  warmup: number;
  threads: number;
  seed: number;
  /** Explicit Python interpreter; otherwise /usr/bin/python3, then python3 on PATH. */
  python: string | null;
  /** Keep the temporary directory (inputs, outputs, spec) and print its path. */
  keep: boolean;
  /** Pause (ms) after each timed run before the other side runs; see the header. */
  settle: number;
}

/**
 * Parses the command line. `root` is the repository (for the default model directory), `env` gives
 * MOEDIFF_NUM_THREADS, `defaultThreads` the engine's current count.
 */
export function parseParityArgs(args: readonly string[], root: string, env: Readonly<Record<string, string | undefined>>, defaultThreads: number): ParityOptions {
  const valued = ["--model", "--batch", "--rounds", "--warmup", "--threads", "--seed", "--settle", "--python"];
  const a = parseBenchArgs(args, { name: "parity", flags: ["--keep"], valued, help: `options: ${[...valued, "--keep"].join(", ")}` });
  const threads = a.int("threads", a.threadsDefault(env, defaultThreads), 1);
  return {
    model: a.model(root, "config.json, model.safetensors, vqvae/"),
    batch: a.int("batch", 4, 1),
    rounds: a.int("rounds", 7, 1),
    warmup: a.int("warmup", 2, 0),
    threads,
    seed: a.int("seed", 1, 0),
    python: a.value("--python") ?? null,
    keep: a.has("--keep"),
    settle: a.int("settle", threads > 1 ? 250 : 0, 0),
  };
}

/** True if `python -c "import torch, numpy"` succeeds. */
export function pythonHasTorch(python: string): boolean {
  const r = spawnSync(python, ["-c", "import torch, numpy"], { stdio: "ignore", timeout: 120_000 });
  return r.status === 0;
}

/** The first interpreter that imports torch: the explicit one, else /usr/bin/python3, else python3. */
export function findPython(explicit: string | null, hasTorch: (python: string) => boolean = pythonHasTorch): string {
  const candidates = explicit !== null ? [explicit] : ["/usr/bin/python3", "python3"];
  for (const p of candidates) if (hasTorch(p)) return p;
  throw new Error(
    explicit !== null
      ? `parity: ${explicit} cannot import torch and numpy; install PyTorch for it or pass another --python`
      : "parity: neither /usr/bin/python3 nor python3 on PATH can import torch and numpy; install them with `apt-get install python3-torch`",
  );
}

export interface TensorDiff {
  max_abs_diff: number;
  max_abs: number;
}

export interface DiffSummary {
  e1: number;
  cond: number;
  grad: number;
  /** The gradient with the largest difference. */
  worstGrad: string | null;
  /** One line per compared tensor above the tolerance. */
  failures: string[];
}

/** Folds PyTorch's per-tensor report ("e1.out", "cond.out", "e1.grad.<key>", "cond.grad.<key>") into the headline numbers. */
export function summariseDiffs(diffs: Readonly<Record<string, TensorDiff>>, tolerance = TOLERANCE): DiffSummary {
  const need = ["e1.out", "cond.out"];
  for (const k of need) if (diffs[k] === undefined) throw new Error(`parity: PyTorch reported no difference for ${k}`);
  let grad = 0;
  let worstGrad: string | null = null;
  const failures: string[] = [];
  for (const [k, d] of Object.entries(diffs)) {
    if (!Number.isFinite(d.max_abs_diff) || d.max_abs_diff > tolerance) {
      failures.push(`${k}: max abs diff ${d.max_abs_diff.toExponential(3)} > ${tolerance} (values up to ${d.max_abs.toExponential(3)})`);
    }
    if (k.includes(".grad.") && (worstGrad === null || !(d.max_abs_diff <= grad))) {
      grad = d.max_abs_diff;
      worstGrad = k;
    }
  }
  if (worstGrad === null) throw new Error("parity: PyTorch reported no gradient differences");
  return { e1: (diffs["e1.out"] as TensorDiff).max_abs_diff, cond: (diffs["cond.out"] as TensorDiff).max_abs_diff, grad, worstGrad, failures };
}

/** Fixed-width text table; the first row is the header. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  const out = rows.map(line);
  out.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  return out.join("\n");
}

/** Per-case medians from the recorded rounds, and the combined fwd+bwd ratio (ours / PyTorch). */
export function timingSummary(ts: Readonly<Record<Case, readonly number[]>>, torch: Readonly<Record<Case, readonly number[]>>): {
  ts: Record<Case, number>;
  torch: Record<Case, number>;
  ratio: number;
  fwdRatio: number;
} {
  const med = (x: Readonly<Record<Case, readonly number[]>>): Record<Case, number> =>
    Object.fromEntries(CASES.map((c) => [c, median(x[c])])) as Record<Case, number>;
  const sumPerRound = (x: Readonly<Record<Case, readonly number[]>>, a: Case, b: Case): number[] => x[a].map((v, i) => v + (x[b][i] ?? NaN));
  const ratio = median(sumPerRound(ts, "e1_fwdbwd", "cond_fwdbwd")) / median(sumPerRound(torch, "e1_fwdbwd", "cond_fwdbwd"));
  const fwdRatio = median(sumPerRound(ts, "e1_fwd", "cond_fwd")) / median(sumPerRound(torch, "e1_fwd", "cond_fwd"));
  return { ts: med(ts), torch: med(torch), ratio, fwdRatio };
}

// ----------------------------------------------------------------------------- the PyTorch child

interface Reply {
  ok: boolean;
  error?: string;
  [k: string]: unknown;
}

/** bench/parity.py as a server: one JSON command per line in, one JSON reply per line out. */
class TorchMirror {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  #exited: Error | null = null;

  constructor(python: string, spec: string, threads: number) {
    const n = String(threads);
    const env = { ...process.env, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n };
    this.#child = spawn(python, [join(ROOT, "bench", "parity.py"), "--spec", spec], { env, stdio: ["pipe", "pipe", "pipe"] });
    this.#child.stderr.on("data", (d: Buffer) => process.stderr.write(d));
    createInterface({ input: this.#child.stdout }).on("line", (line) => {
      const w = this.#waiting.shift();
      if (w === undefined) return;
      try {
        w.resolve(JSON.parse(line) as Reply);
      } catch {
        w.reject(new Error(`parity: bench/parity.py printed a non-JSON line: ${line}`));
      }
    });
    this.#child.on("exit", (code, signal) => {
      this.#exited = new Error(`parity: bench/parity.py exited (code ${code}, signal ${signal})`);
      for (const w of this.#waiting.splice(0)) w.reject(this.#exited);
    });
  }

  async request(cmd: Record<string, unknown>): Promise<Reply> {
    if (this.#exited !== null) throw this.#exited;
    const reply = await new Promise<Reply>((resolveReply, reject) => {
      this.#waiting.push({ resolve: resolveReply, reject });
      this.#child.stdin.write(`${JSON.stringify(cmd)}\n`);
    });
    if (!reply.ok) throw new Error(`parity: PyTorch side failed on ${JSON.stringify(cmd)}: ${reply.error ?? "?"}`);
    return reply;
  }

  async close(): Promise<void> {
    if (this.#exited !== null) return;
    const done = new Promise<void>((r) => this.#child.once("exit", () => r()));
    this.#child.stdin.end(`${JSON.stringify({ cmd: "quit" })}\n`);
    await done;
  }
}

// ------------------------------------------------------------------------------------ our side

interface Nets {
  T: Torch;
  e1: Expert;
  cond: ConditionEncoder;
  input: { zt: Tensor; t: Tensor; cond: Tensor; tokens: Tensor; gate: Tensor; y: Tensor };
}

/** Forward, then backward of sum(out^2) into freshly zeroed parameter gradients; returns out (detached). */
function fwdbwd(T: Torch, net: TorchModule.nn.Module, fwd: () => Tensor): Tensor {
  net.zeroGrad();
  return T.tidy(() => {
    const out = fwd();
    out.square().sum().backward();
    return out.detach();
  });
}

const forwardOf = (n: Nets, which: "e1" | "cond"): (() => Tensor) =>
  which === "e1" ? () => n.e1.forward(n.input) : () => n.cond.forward(n.input.y).zc;

/** One timed run of a case: wall and process CPU time, in ms. */
interface Sample {
  ms: number;
  cpuMs: number;
}

function runOurs(n: Nets, c: Case): Sample {
  const { T } = n;
  const which = c.startsWith("e1") ? "e1" : "cond";
  const net = which === "e1" ? n.e1 : n.cond;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  if (c.endsWith("fwdbwd")) fwdbwd(T, net, forwardOf(n, which)).dispose();
  else T.inferenceMode(() => T.tidy(() => void forwardOf(n, which)()));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage(cpu0);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

const fmt = (v: number, digits = 2): string => v.toFixed(digits);
const settle = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());
const emptyRecord = (): Record<Case, number[]> => Object.fromEntries(CASES.map((c) => [c, [] as number[]])) as Record<Case, number[]>;

async function main(): Promise<void> {
  const o = parseParityArgs(process.argv.slice(2), ROOT, process.env, availableParallelism());
  // libtorch's set_num_threads bounds OpenMP (and MKL) but not Debian's pthread OpenBLAS, which
  // reads its thread count from the environment once, when it is loaded: set it first, for us here
  // and for the PyTorch child, so both sides really run `threads` threads.
  process.env.OPENBLAS_NUM_THREADS = String(o.threads);
  process.env.OMP_NUM_THREADS = String(o.threads);
  const T: Torch = await import("../src/torch/index.js");
  const { loadModelDir } = await import("../src/model_dir/load.js");
  T.setNumThreads(o.threads);
  const python = findPython(o.python);
  const lm = loadModelDir(o.model);
  const kinds = lm.config.model.experts;
  const e1Index = kinds.indexOf(1);
  if (e1Index < 0) {
    lm.dispose();
    throw new Error(`parity: ${o.model} has no expert E1 (config.model.experts = [${kinds.join(", ")}])`);
  }
  const e1 = lm.model.experts[e1Index] as Expert;
  const cond = lm.model.conditionEncoder;
  for (const net of [e1, cond]) net.requiresGrad_(true);

  // One batch of tiles as at inference: the model card's slice, the autoencoder's latent grid.
  const [sh, sw] = [lm.card.slice.height, lm.card.slice.width];
  const f = lm.vqvae.downsampleFactor;
  const [h, w] = [sh / f, sw / f];
  const nTokens = cond.patchEmbed.gridsFor(sh, sw).reduce((a, [gh, gw]) => a + gh * gw, 0);
  const device = T.getDefaultDevice();
  const gen = new T.Generator({ seed: o.seed, device });
  const b = o.batch;
  const C = lm.model.latentChannels;
  const T1 = lm.config.model.timesteps[0] as number; // E1's own schedule length (kind 1)
  const input = {
    zt: T.randn([b, C, h, w], { generator: gen, device }),
    t: T.randint(0, T1, [b], { generator: gen, device, dtype: "int64" }),
    cond: T.randn([b, C, h, w], { generator: gen, device }),
    tokens: T.randn([b, nTokens, cond.config.dim], { generator: gen, device }),
    gate: T.rand([b, 1, h, w], { generator: gen, device }),
    y: T.rand([b, lm.model.conditionChannels, sh, sw], { generator: gen, device }),
  };
  gen.dispose();
  const nets: Nets = { T, e1, cond, input };

  const dir = mkdtempSync(join(tmpdir(), "moediff-parity-"));
  let torch: TorchMirror | null = null;
  try {
    T.io.saveFile(join(dir, "inputs.safetensors"), input);
    // Our outputs and every parameter gradient of sum(out^2).
    const outputs: Record<string, Tensor> = {};
    T.tidy(() => {
      outputs["e1.out"] = T.keep(fwdbwd(T, e1, forwardOf(nets, "e1")));
      for (const [k, p] of e1.namedParameters()) outputs[`e1.grad.${k}`] = T.keep(p.grad ?? T.zerosLike(p));
      outputs["cond.out"] = T.keep(fwdbwd(T, cond, forwardOf(nets, "cond")));
      for (const [k, p] of cond.namedParameters()) outputs[`cond.grad.${k}`] = T.keep(p.grad ?? T.zerosLike(p));
    });
    T.io.saveFile(join(dir, "outputs.safetensors"), outputs);
    for (const t of Object.values(outputs)) t.dispose();
    const spec = {
      weights: join(o.model, "model.safetensors"),
      inputs: join(dir, "inputs.safetensors"),
      outputs: join(dir, "outputs.safetensors"),
      e1Prefix: `experts.${e1Index}.`,
      condPrefix: "condition_encoder.",
      expert: e1.config,
      condition: cond.config,
      threads: o.threads,
      device,
    };
    writeFileSync(join(dir, "spec.json"), `${JSON.stringify(spec, null, 2)}\n`);

    torch = new TorchMirror(python, join(dir, "spec.json"), o.threads);
    const check = await torch.request({ cmd: "check" });
    const diffs = check.diffs as Record<string, TensorDiff>;
    const missing = check.missing as string[];
    const extra = check.extra as string[];
    if (missing.length > 0 || extra.length > 0) {
      throw new Error(`parity: compared tensors differ: only in PyTorch [${missing.join(", ")}], only ours [${extra.join(", ")}]`);
    }
    const sum = summariseDiffs(diffs);
    const load = check.load as Record<string, { keys: number }>;

    // Interleaved timing rounds; the order flips every round.
    const ours = { wall: emptyRecord(), cpu: emptyRecord() };
    const theirs = { wall: emptyRecord(), cpu: emptyRecord() };
    const loadBefore = loadavg()[0] as number;
    for (let r = 0; r < o.warmup + o.rounds; r++) {
      for (const c of CASES) {
        const mirror = torch;
        const runTorch = async (): Promise<Sample> => {
          const reply = await mirror.request({ cmd: "time", case: c });
          return { ms: reply.ms as number, cpuMs: reply.cpu_ms as number };
        };
        const runOursSettled = async (): Promise<Sample> => {
          const sample = runOurs(nets, c);
          await settle(o.settle);
          return sample;
        };
        const runTorchSettled = async (): Promise<Sample> => {
          const sample = await runTorch();
          await settle(o.settle);
          return sample;
        };
        let a: Sample;
        let p: Sample;
        if (r % 2 === 0) {
          a = await runOursSettled();
          p = await runTorchSettled();
        } else {
          p = await runTorchSettled();
          a = await runOursSettled();
        }
        if (r >= o.warmup) {
          ours.wall[c].push(a.ms);
          ours.cpu[c].push(a.cpuMs);
          theirs.wall[c].push(p.ms);
          theirs.cpu[c].push(p.cpuMs);
        }
      }
    }
    const loadAfter = loadavg()[0] as number;
    await torch.close();
    torch = null;
    const wall = timingSummary(ours.wall, theirs.wall);
    const cpu = timingSummary(ours.cpu, theirs.cpu);

    const diffRows: string[][] = [["tensor", "max |ours - torch|", "max |value|"]];
    for (const k of ["e1.out", "cond.out", sum.worstGrad as string]) {
      const d = diffs[k] as TensorDiff;
      diffRows.push([k === sum.worstGrad ? `${k} (largest gradient diff)` : k, d.max_abs_diff.toExponential(3), d.max_abs.toExponential(3)]);
    }
    const timeRows: string[][] = [["median ms", "ours", "PyTorch", "ratio", "ours CPU", "PyTorch CPU", "CPU ratio"]];
    for (const c of CASES) {
      timeRows.push([c, fmt(wall.ts[c]), fmt(wall.torch[c]), fmt(wall.ts[c] / wall.torch[c], 3), fmt(cpu.ts[c]), fmt(cpu.torch[c]), fmt(cpu.ts[c] / cpu.torch[c], 3)]);
    }
    console.log(`parity: ${o.model}; E1 = experts.${e1Index} (${load.e1?.keys} keys), condition encoder (${load.cond?.keys} keys); strict load_state_dict in PyTorch ${String(check.torch)}: OK`);
    console.log(`inputs: batch ${b}, y [${b}, ${lm.model.conditionChannels}, ${sh}, ${sw}], latent [${b}, ${C}, ${h}, ${w}], tokens [${b}, ${nTokens}, ${cond.config.dim}]; threads ${o.threads} (OpenMP and OpenBLAS, both sides)`);
    console.log(`compared ${Object.keys(diffs).length} tensors: 2 outputs and ${Object.keys(diffs).length - 2} parameter gradients of sum(out^2); tolerance ${TOLERANCE}`);
    console.log(formatTable(diffRows));
    console.log(formatTable(timeRows));
    console.log(
      `fwd+bwd of both nets, ours/PyTorch: ${fmt(wall.ratio, 3)} wall (bound ${MAX_TIME_RATIO}: ${wall.ratio <= MAX_TIME_RATIO ? "within" : "EXCEEDED"}), ` +
        `${fmt(cpu.ratio, 3)} CPU; forward only: ${fmt(wall.fwdRatio, 3)} wall, ${fmt(cpu.fwdRatio, 3)} CPU; ` +
        `${o.warmup} warm-up + ${o.rounds} rounds, settle ${o.settle} ms; load average ${fmt(loadBefore)} -> ${fmt(loadAfter)} on ${availableParallelism()} CPUs`,
    );
    if (o.keep) console.log(`kept ${dir}`);
    for (const line of sum.failures) console.log(`FAIL ${line}`);
    console.log(
      JSON.stringify({
        e1_max_abs_diff: sum.e1,
        cond_max_abs_diff: sum.cond,
        grad_max_abs_diff: sum.grad,
        grad_max_abs_diff_tensor: sum.worstGrad,
        e1_ts_ms: wall.ts.e1_fwdbwd,
        e1_torch_ms: wall.torch.e1_fwdbwd,
        cond_ts_ms: wall.ts.cond_fwdbwd,
        cond_torch_ms: wall.torch.cond_fwdbwd,
        e1_fwd_ts_ms: wall.ts.e1_fwd,
        e1_fwd_torch_ms: wall.torch.e1_fwd,
        cond_fwd_ts_ms: wall.ts.cond_fwd,
        cond_fwd_torch_ms: wall.torch.cond_fwd,
        pytorch_time_ratio: wall.ratio,
        forward_time_ratio: wall.fwdRatio,
        pytorch_cpu_time_ratio: cpu.ratio,
        forward_cpu_time_ratio: cpu.fwdRatio,
        within_time_bound: wall.ratio <= MAX_TIME_RATIO,
        threads: o.threads,
        batch: b,
        rounds: o.rounds,
        warmup: o.warmup,
        settle_ms: o.settle,
        load_avg: [loadBefore, loadAfter],
        cpus: availableParallelism(),
        tensors_compared: Object.keys(diffs).length,
        torch_version: check.torch,
        libtorch_version: T.libtorchVersion(),
        model: o.model,
        ok: sum.failures.length === 0,
      }),
    );
    if (sum.failures.length > 0) process.exitCode = 1;
  } finally {
    await torch?.close().catch(() => undefined);
    for (const t of Object.values(input)) t.dispose();
    lm.dispose();
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  });
}
