// `moediff-sr info`: what the engine runs on.
import type { Command } from "commander";
import * as T from "../../torch/index.js";

export function registerInfo(program: Command): void {
  program
    .command("info")
    .description("show the libtorch version, threads and devices")
    .option("--json", "print JSON")
    .action((opts: { json?: boolean }) => {
      const info = {
        libtorch: T.libtorchVersion(),
        threads: T.getNumThreads(),
        cuda: T.cuda.isAvailable(),
        cudaDevices: T.cuda.deviceCount(),
        node: process.version,
      };
      if (opts.json) {
        console.log(JSON.stringify(info));
        return;
      }
      console.log(`libtorch     ${info.libtorch}`);
      console.log(`threads      ${info.threads}`);
      console.log(`cuda         ${info.cuda ? `yes (${info.cudaDevices} device(s))` : "no"}`);
      console.log(`node         ${info.node}`);
    });
}
