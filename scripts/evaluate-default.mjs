#!/usr/bin/env node
// The last two stages of `npm run train:default` (scripts/train-default.mjs runs them; they also run alone):
//
//   node scripts/evaluate-default.mjs evaluate [--dir DIR] [--seed N] [--steps N] [--full-chain-steps N] [--no-regions] [--force]
//                                              [--lpips-backbone FILE --lpips-linear FILE [--lpips-net vgg|alex]]
//     For every trained run of DIR (moe, e1, e2, e3, nobg): heldout.json into the run, `moediff-sr demo`
//     of its held-out slab into DIR/eval/<run>/ (seed 1; with the autoencoder-only row and the latent
//     diagnostics rho and cos) and, from pure noise with --full-chain-steps DDIM steps (default 10; 0:
//     none), into DIR/eval/<run>-noise/; the regression U-Net DIR/unet on the default demo's input into
//     DIR/eval/unet/; the VQ-VAE ceiling into DIR/eval/ceiling/, and the comparison
//     table, brain-masked columns first, into DIR/eval/results.json and results.md
//     (src/demo/results_table.ts). With LPIPS weights (as `moediff-sr evaluate` takes them) the table has
//     LPIPS columns, whole grid and brain. Runs that are not trained keep their row as "not trained".
//     Exit 1 if a trained run's demo failed.
//
//   node scripts/evaluate-default.mjs export [--dir DIR] [--to OUT] [--force]
//     DIR/moe with the table as the embedded default model in OUT (default: models/default of the
//     repository): float16 weights where the output allows, card.json, heldout.json, MODEL_CARD.md
//     (src/export/export_model.ts). --force replaces an existing export.
//
// It runs the compiled library (dist/); `npm run build` (or scripts/setup.sh) first.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = join(import.meta.dirname, "..");
const [command, ...args] = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};
const has = (name) => args.includes(`--${name}`);
const int = (name, def) => {
  const v = flag(name, undefined);
  if (v === undefined) return def;
  if (!/^\d+$/.test(v)) {
    console.error(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return Number(v);
};
if (command !== "evaluate" && command !== "export") {
  console.error(
    "usage: node scripts/evaluate-default.mjs evaluate|export [--dir DIR] [--to OUT] [--seed N] [--steps N] [--full-chain-steps N] [--no-regions] [--force] [--lpips-backbone FILE --lpips-linear FILE [--lpips-net vgg|alex]]",
  );
  process.exit(2);
}
const dir = resolve(flag("dir", join(root, "runs", "default")));
const lib = (rel) => import(pathToFileURL(join(root, "dist", "src", rel)).href);
if (!existsSync(join(root, "dist", "src", "demo", "results_table.js"))) {
  console.error("evaluate-default: dist/ is missing or out of date; run `npm run build` (or bash scripts/setup.sh) first");
  process.exit(1);
}
const log = (line) => console.log(line);

if (command === "evaluate") {
  const { evaluateDefault } = await lib("demo/results_table.js");
  const steps = int("steps", undefined);
  const chain = int("full-chain-steps", undefined);
  const backbone = flag("lpips-backbone", undefined);
  const linear = flag("lpips-linear", undefined);
  const net = flag("lpips-net", undefined);
  if ((backbone === undefined) !== (linear === undefined) || (net !== undefined && backbone === undefined)) {
    console.error("LPIPS needs both --lpips-backbone FILE (torchvision VGG-16 or AlexNet weights) and --lpips-linear FILE (the lpips package's v0.1 lin weights); --lpips-net only with them");
    process.exit(2);
  }
  if (net !== undefined && net !== "vgg" && net !== "alex") {
    console.error(`--lpips-net must be vgg or alex, got ${JSON.stringify(net)}`);
    process.exit(2);
  }
  for (const f of [backbone, linear]) {
    if (f !== undefined && !existsSync(f)) {
      console.error(`LPIPS weight file ${f} does not exist`);
      process.exit(2);
    }
  }
  const lpips = backbone !== undefined ? { lpips: { backbone: resolve(backbone), linear: resolve(linear), ...(net !== undefined ? { net } : {}) } } : {};
  const r = await evaluateDefault({ dir, seed: int("seed", 1), ...(steps !== undefined ? { steps } : {}), ...(chain !== undefined ? { fullChainSteps: chain } : {}), regions: !has("no-regions"), force: has("force"), ...lpips, log });
  const { resultsMarkdown } = await lib("demo/results_table.js");
  console.log(`\n${resultsMarkdown(r.results)}`);
  console.log(`written: ${r.files.json}, ${r.files.markdown}`);
  if (r.runs.some((x) => x.status === "failed")) process.exit(1);
} else {
  const { exportModel } = await lib("export/export_model.js");
  const resultsPath = join(dir, "eval", "results.json");
  const results = existsSync(resultsPath) ? JSON.parse(readFileSync(resultsPath, "utf8")) : undefined;
  if (results === undefined) log(`export: ${resultsPath} does not exist (run the evaluate stage first); the card will say "not evaluated"`);
  const r = await exportModel({
    run: join(dir, "moe"),
    out: resolve(flag("to", join(root, "models", "default"))),
    data: join(dir, "data"),
    ...(results !== undefined ? { results } : {}),
    recipe: {
      command: "npm run train:default",
      configs: [join(root, "configs", "default", "vqvae.json"), join(root, "configs", "default", "moe.json")],
      logs: [{ label: "VQ-VAE", path: join(dir, "vqvae", "log.jsonl") }],
    },
    force: has("force"),
    log,
  });
  const w = r.record.weights;
  console.log(`exported ${join(dir, "moe")} to ${r.out}: MoE ${w.moe.dtype} (${w.moe.bytes} bytes; float32 ${w.moe.float32Bytes}), VQ-VAE ${w.vqvae.dtype} (${w.vqvae.bytes} bytes; float32 ${w.vqvae.float32Bytes})`);
}
