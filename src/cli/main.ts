#!/usr/bin/env node
// moediff-sr command line.
//
// Commands that do not need the tensor engine (info FILE, convert, evaluate, figures, baseline,
// gradunwarp, bias-correct, segment, view) must run where the native addon is missing, so the engine is
// loaded only when a command needs it: `info` imports it itself when given no file, and the commands whose modules
// import the engine are registered only when they may be the one asked for.
import { Command } from "commander";
import { registerInfo } from "./commands/info.js";
import { registerConvert } from "./commands/convert.js";
import { registerEvaluate } from "./commands/evaluate.js";
import { registerFigures } from "./commands/figures.js";
import { registerBaseline } from "./commands/baseline.js";
import { registerGradunwarp } from "./commands/gradunwarp.js";
import { registerBiasCorrect } from "./commands/bias_correct.js";
import { registerSegment } from "./commands/segment.js";
import { registerView } from "./commands/view.js";
import { toolVersion } from "../util/version.js";

const ENGINE_FREE = new Set(["info", "convert", "evaluate", "figures", "baseline", "gradunwarp", "bias-correct", "segment", "view"]);

const program = new Command()
  .name("moediff-sr")
  .description("3T-like to 7T-like brain MRI super-resolution with a mixture-of-experts latent diffusion model")
  .version(toolVersion())
  .showHelpAfterError();

/**
 * The commands whose modules load the engine, by name and module. If the engine cannot load, they are
 * still listed and say why when run.
 */
const ENGINE_COMMANDS: readonly { name: string; load: () => Promise<(p: Command) => void> }[] = [
  { name: "simulate", load: async () => (await import("./commands/simulate.js")).registerSimulate },
  { name: "prepare", load: async () => (await import("./commands/prepare.js")).registerPrepare },
  { name: "train-vqvae", load: async () => (await import("./commands/train_vqvae.js")).registerTrainVqvae },
  { name: "train-unet", load: async () => (await import("./commands/train_unet.js")).registerTrainUNet },
  { name: "train", load: async () => (await import("./commands/train.js")).registerTrain },
  { name: "enhance", load: async () => (await import("./commands/enhance.js")).registerEnhance },
  { name: "model-info", load: async () => (await import("./commands/model_info.js")).registerModelInfo },
  { name: "demo", load: async () => (await import("./commands/demo.js")).registerDemo },
  { name: "evaluate-grid", load: async () => (await import("./commands/evaluate_grid.js")).registerEvaluateGrid },
  { name: "register", load: async () => (await import("./commands/register.js")).registerRegister },
];

async function registerEngineCommands(p: Command, only?: string): Promise<void> {
  const wanted = ENGINE_COMMANDS.filter((c) => only === undefined || c.name === only);
  try {
    await import("../torch/index.js");
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    for (const c of wanted) {
      p.command(c.name)
        .description("(unavailable: the tensor engine did not load)")
        .allowUnknownOption()
        .allowExcessArguments()
        .action(() => {
          throw new Error(`the tensor engine did not load: ${why}`);
        });
    }
    return;
  }
  for (const c of wanted) (await c.load())(p);
}

try {
  const command = process.argv.slice(2).find((a) => !a.startsWith("-"));
  const known = ENGINE_COMMANDS.some((c) => c.name === command);
  // Load only the engine command asked for; all of them for help or an unknown command.
  if (command === undefined || !ENGINE_FREE.has(command)) await registerEngineCommands(program, known ? command : undefined);
  registerInfo(program);
  registerConvert(program);
  registerEvaluate(program);
  registerFigures(program);
  registerBaseline(program);
  registerGradunwarp(program);
  registerBiasCorrect(program);
  registerSegment(program);
  registerView(program);
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`moediff-sr: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
