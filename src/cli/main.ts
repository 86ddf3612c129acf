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

/**
 * Every command, by name and module, loaded only when asked for (all of them for help or an unknown
 * name). `engine`: its module loads the tensor engine; if the engine cannot load, it is still listed
 * and says why when run. The others must run where the native addon is missing.
 */
const COMMANDS: readonly { name: string; engine: boolean; load: () => Promise<Register> }[] = [
  { name: "simulate", engine: true, load: async () => (await import("./commands/simulate.js")).registerSimulate },
  { name: "prepare", engine: true, load: async () => (await import("./commands/prepare.js")).registerPrepare },
  { name: "train-vqvae", engine: true, load: async () => (await import("./commands/train_vqvae.js")).registerTrainVqvae },
  { name: "train-unet", engine: true, load: async () => (await import("./commands/train_unet.js")).registerTrainUNet },
  { name: "train", engine: true, load: async () => (await import("./commands/train.js")).registerTrain },
  { name: "enhance", engine: true, load: async () => (await import("./commands/enhance.js")).registerEnhance },
  { name: "model-info", engine: true, load: async () => (await import("./commands/model_info.js")).registerModelInfo },
  { name: "demo", engine: true, load: async () => (await import("./commands/demo.js")).registerDemo },
  { name: "evaluate-grid", engine: true, load: async () => (await import("./commands/evaluate_grid.js")).registerEvaluateGrid },
  { name: "register", engine: true, load: async () => (await import("./commands/register.js")).registerRegister },
  { name: "info", engine: false, load: async () => (await import("./commands/info.js")).registerInfo },
  { name: "convert", engine: false, load: async () => (await import("./commands/convert.js")).registerConvert },
  { name: "evaluate", engine: false, load: async () => (await import("./commands/evaluate.js")).registerEvaluate },
  { name: "figures", engine: false, load: async () => (await import("./commands/figures.js")).registerFigures },
  { name: "baseline", engine: false, load: async () => (await import("./commands/baseline.js")).registerBaseline },
  { name: "gradunwarp", engine: false, load: async () => (await import("./commands/gradunwarp.js")).registerGradunwarp },
  { name: "bias-correct", engine: false, load: async () => (await import("./commands/bias_correct.js")).registerBiasCorrect },
  { name: "segment", engine: false, load: async () => (await import("./commands/segment.js")).registerSegment },
  { name: "view", engine: false, load: async () => (await import("./commands/view.js")).registerView },
];

/** The engine-loading commands of `wanted`, or a stand-in for each that says why the engine did not load. */
async function registerEngineCommands(p: Command, wanted: typeof COMMANDS): Promise<void> {
  if (wanted.length === 0) return;
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
    const asked = COMMANDS.find((c) => c.name === command);
    const wanted = asked !== undefined ? [asked] : COMMANDS;
    await registerEngineCommands(program, wanted.filter((c) => c.engine));
    for (const c of wanted) if (!c.engine) (await c.load())(program);
    await program.parseAsync(process.argv);
  }
} catch (e) {
  process.stderr.write(`moediff-sr: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
