#!/usr/bin/env node
// `npm run train:default [-- --dir DIR] [--only STAGE,...]`: trains the embedded default model and the
// comparisons its model card reports, reproducibly and resumably. Every stage is a `moediff-sr` command
// with a committed config (configs/default/); a stage whose result exists is skipped, one with a
// checkpoint is resumed, so the whole recipe can run over several sittings:
//
//   data        prepare --default                      (Colin27 with a simulated 3T acquisition, seed 1)
//   vqvae       train-vqvae   configs/default/vqvae.json
//   moe         train         configs/default/moe.json  (three experts: the default model)
//   e1, e2, e3  train         the same, one expert each (same steps: the paper's central comparison)
//   nobg        train         the same, without the b and g encoder inputs (the ablation of Table I)
//   unet        train-unet    configs/default/unet.json (the plain regression U-Net, the MoE's wall-clock budget)
//   evaluate    scripts/evaluate-default.mjs evaluate: the demo of every trained run on the held-out slab
//               (seed 1), the VQ-VAE ceiling, and the comparison table DIR/eval/results.{json,md}
//   export      scripts/evaluate-default.mjs export: DIR/moe with that table as the embedded default model
//               models/default/ (float16 where the output allows, card.json, heldout.json, MODEL_CARD.md)
//
// Run it in the background with a log you can read later:
//   nohup npm run train:default > train-default.log 2>&1 &
// Stop it any time (Ctrl-C or kill -INT): the running stage writes its checkpoint; run it again to go on.
// `evaluate` is skipped when DIR/eval/results.json is newer than every trained model and has no failed
// row, `export` when models/default/card.json is newer than DIR/moe's weights and the table
// (`--only evaluate` / `--only export` force them).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const root = join(import.meta.dirname, "..");
const args = process.argv.slice(2);
const flag = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : def;
};
const dir = resolve(flag("dir", join(root, "runs", "default")));
const STAGES = ["data", "vqvae", "moe", "e1", "e2", "e3", "nobg", "unet", "evaluate", "export"];
const only = flag("only", STAGES.join(",")).split(",");
const unknown = only.filter((s) => !STAGES.includes(s));
if (unknown.length > 0) {
  console.error(`unknown stage(s) ${unknown.join(", ")}; stages: ${STAGES.join(", ")}`);
  process.exit(2);
}

const setup = spawnSync("bash", [join(root, "scripts/setup.sh"), "--quiet"], { stdio: "inherit" });
if (setup.status !== 0) process.exit(setup.status ?? 1);
mkdirSync(dir, { recursive: true });

const cli = join(root, "dist/src/cli/main.js");
const config = (name) => join(root, "configs", "default", name);
const data = join(dir, "data");
const vqvae = join(dir, "vqvae");

function run(stage, argv) {
  const started = Date.now();
  console.log(`\n== ${stage}: moediff-sr ${argv.join(" ")}`);
  const r = spawnSync(process.execPath, [cli, ...argv], { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`== ${stage} stopped (exit ${r.status ?? r.signal}); run \`npm run train:default\` again to resume it`);
    process.exit(r.status ?? 1);
  }
  console.log(`== ${stage} done in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
}

/** A training stage: skipped when finished, resumed when it has a checkpoint. */
function train(stage, out, argv) {
  if (existsSync(join(out, "model.safetensors"))) {
    console.log(`== ${stage}: ${out} is trained; skipped`);
    return;
  }
  run(stage, [...argv, "-o", out, ...(existsSync(join(out, "checkpoint", "state.json")) ? ["--resume"] : [])]);
}

const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : -Infinity);
const results = join(dir, "eval", "results.json");
const models = ["vqvae", "moe", "e1", "e2", "e3", "nobg", "unet"].map((r) => join(dir, r, "model.safetensors"));
const exported = join(root, "models", "default", "card.json");
/** The last table has a run whose demo failed (evaluate exits 1 then, but it writes the table). */
const hasFailedRow = () => JSON.parse(readFileSync(results, "utf8")).rows.some((r) => r[1] === "failed");

/** A stage run by scripts/evaluate-default.mjs (same conventions as `run`). */
function script(stage, argv) {
  const started = Date.now();
  console.log(`\n== ${stage}: node scripts/evaluate-default.mjs ${argv.join(" ")}`);
  const r = spawnSync(process.execPath, [join(root, "scripts", "evaluate-default.mjs"), ...argv], { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`== ${stage} stopped (exit ${r.status ?? r.signal}); run \`npm run train:default -- --only ${stage}\` again once fixed`);
    process.exit(r.status ?? 1);
  }
  console.log(`== ${stage} done in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
}

const moe = (extra) => ["train", data, "--vqvae", vqvae, "--preset", "cpu-small", "--config", config("moe.json"), ...extra];
const stages = {
  data: () => (existsSync(join(data, "manifest.json")) ? console.log(`== data: ${data} exists; skipped`) : run("data", ["prepare", "--default", "-o", data])),
  vqvae: () => train("vqvae", vqvae, ["train-vqvae", data, "--preset", "cpu-small", "--config", config("vqvae.json")]),
  moe: () => train("moe", join(dir, "moe"), moe([])),
  e1: () => train("e1", join(dir, "e1"), moe(["--experts", "1"])),
  e2: () => train("e2", join(dir, "e2"), moe(["--experts", "2"])),
  e3: () => train("e3", join(dir, "e3"), moe(["--experts", "3"])),
  nobg: () => train("nobg", join(dir, "nobg"), moe(["--no-bias", "--no-gradwarp"])),
  unet: () => train("unet", join(dir, "unet"), ["train-unet", data, "--config", config("unet.json")]),
  evaluate: () =>
    mtime(results) > Math.max(...models.map(mtime)) && !hasFailedRow() && !flag("only", "").split(",").includes("evaluate")
      ? console.log(`== evaluate: ${results} is newer than every model; skipped`)
      : script("evaluate", ["evaluate", "--dir", dir]),
  export: () => {
    if (!existsSync(join(dir, "moe", "model.safetensors"))) return console.log(`== export: ${join(dir, "moe")} is not trained; skipped`);
    if (mtime(exported) > Math.max(mtime(results), mtime(join(dir, "moe", "model.safetensors"))) && !flag("only", "").split(",").includes("export")) {
      return console.log(`== export: ${exported} is newer than the model and its table; skipped`);
    }
    script("export", ["export", "--dir", dir, "--force"]);
  },
};
console.log(`train:default in ${dir}: stages ${only.join(", ")}`);
for (const s of STAGES) if (only.includes(s)) stages[s]();
console.log(`\ntrain:default finished: ${dir}`);
