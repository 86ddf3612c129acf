#!/usr/bin/env node
// moediff-sr command line.
//
// Commands that do not need the tensor engine (info FILE, convert) must run where
// the native addon is missing, so the engine is loaded only when a command needs
// it: `info` imports it itself when given no file, and the demo command (whose
// module imports the engine) is registered only when it may be the one asked for
// (it, help, or anything but the engine-free commands).
import { Command } from "commander";
import { registerInfo } from "./commands/info.js";
import { registerConvert } from "./commands/convert.js";

const ENGINE_FREE = new Set(["info", "convert"]);

const program = new Command()
  .name("moediff-sr")
  .description("3T-like to 7T-like brain MRI super-resolution with a mixture-of-experts latent diffusion model")
  .version("0.1.0")
  .showHelpAfterError();

/** Registers the commands whose modules load the engine; if it cannot load, they report why when run. */
async function registerEngineCommands(p: Command): Promise<void> {
  try {
    const { registerDemo } = await import("./commands/demo.js");
    registerDemo(p);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    p.command("demo")
      .description("(unavailable: the tensor engine did not load)")
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => {
        throw new Error(`the tensor engine did not load: ${why}`);
      });
  }
}

try {
  const command = process.argv.slice(2).find((a) => !a.startsWith("-"));
  if (command === undefined || !ENGINE_FREE.has(command)) await registerEngineCommands(program);
  registerInfo(program);
  registerConvert(program);
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`moediff-sr: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
