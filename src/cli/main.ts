#!/usr/bin/env node
// moediff-sr command line.
//
// Commands that do not need the tensor engine (info FILE, convert, evaluate, figures, baseline,
// gradunwarp, bias-correct, segment, view) must run where the native addon is missing, so the engine is
// loaded only when a command needs it: `info` imports it itself when given no file, and the commands whose modules
// import the engine are registered only when they may be the one asked for. Every command module is
// loaded lazily: only the one asked for (all of them for help or an unknown name), none for --version.
import { Command } from "commander";
import { toolVersion } from "../util/version.js";

const program = new Command()
  .name("moediff-sr")
  .description("3T-like to 7T-like brain MRI super-resolution with a mixture-of-experts latent diffusion model")
  .version(toolVersion())
  .showHelpAfterError();

type Register = (p: Command) => void;

/** The commands that run without the engine, by name and module (loaded only when asked for, or for help). */
const ENGINE_FREE_COMMANDS: readonly { name: string; load: () => Promise<Register> }[] = [
  { name: "info", load: async () => (await import("./commands/info.js")).registerInfo },
  { name: "convert", load: async () => (await import("./commands/convert.js")).registerConvert },
  { name: "evaluate", load: async () => (await import("./commands/evaluate.js")).registerEvaluate },
  { name: "figures", load: async () => (await import("./commands/figures.js")).registerFigures },
  { name: "baseline", load: async () => (await import("./commands/baseline.js")).registerBaseline },
  { name: "gradunwarp", load: async () => (await import("./commands/gradunwarp.js")).registerGradunwarp },
  { name: "bias-correct", load: async () => (await import("./commands/bias_correct.js")).registerBiasCorrect },
  { name: "segment", load: async () => (await import("./commands/segment.js")).registerSegment },
  { name: "view", load: async () => (await import("./commands/view.js")).registerView },
];
const ENGINE_FREE = new Set(ENGINE_FREE_COMMANDS.map((c) => c.name));

/**
 * The commands whose modules load the engine, by name and module. If the engine cannot load, they are
 * still listed and say why when run.
 */
const ENGINE_COMMANDS: readonly { name: string; load: () => Promise<Register> }[] = [
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
  const args = process.argv.slice(2);
  const command = args.find((a) => !a.startsWith("-"));
  if (command === undefined && args.length > 0 && args.every((a) => a === "--version" || a === "-V")) {
    // --version loads no command module (issue 21: a command starts in well under a second).
    process.stdout.write(`${toolVersion()}\n`);
  } else {
    const known = ENGINE_COMMANDS.some((c) => c.name === command);
    // Load only the command asked for; all of them for help or an unknown command.
    if (command === undefined || !ENGINE_FREE.has(command)) await registerEngineCommands(program, known ? command : undefined);
    for (const c of ENGINE_FREE_COMMANDS) if (command === undefined || c.name === command || !(known || ENGINE_FREE.has(command))) (await c.load())(program);
    await program.parseAsync(process.argv);
  }
} catch (e) {
  process.stderr.write(`moediff-sr: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
