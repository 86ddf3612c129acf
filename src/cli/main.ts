#!/usr/bin/env node
// moediff-sr command line.
import { Command } from "commander";
import { registerInfo } from "./commands/info.js";
import { registerDemo } from "./commands/demo.js";

const program = new Command()
  .name("moediff-sr")
  .description("3T-like to 7T-like brain MRI super-resolution with a mixture-of-experts latent diffusion model")
  .version("0.1.0")
  .showHelpAfterError();

registerDemo(program);
registerInfo(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.stderr.write(`moediff-sr: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
