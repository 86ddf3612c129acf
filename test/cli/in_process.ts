// Runs CLI commands in this process (faster than a child) and returns the lines they wrote to stderr.
import { Command } from "commander";

export async function stderrOf(register: readonly ((program: Command) => void)[], args: readonly string[]): Promise<string[]> {
  const program = new Command().exitOverride();
  for (const r of register) r(program);
  const lines: string[] = [];
  const err = console.error;
  console.error = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    await program.parseAsync(["node", "moediff-sr", ...args]);
  } finally {
    console.error = err;
  }
  return lines;
}
