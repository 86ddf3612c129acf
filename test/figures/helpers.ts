// Shared pieces of the figure tests: synthetic volumes, an explain directory, running the CLI command
// in-process, and decoding PNGs with pngjs (independently of the encoder path).
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { writeNifti } from "../../src/nifti/index.js";
import { registerFigures } from "../../src/cli/commands/figures.js";
import type { Volume } from "../../src/volume/volume.js";

export const DIMS: [number, number, number] = [24, 28, 20];
/** RAS, 1 mm, arbitrary origin. */
export const AFFINE = [1, 0, 0, -12, 0, 1, 0, -14, 0, 0, 1, -10, 0, 0, 0, 1];

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `moediff-figs-${tag}-`));
}

/** A volume from f(i, j, k). */
export function volumeOf(f: (i: number, j: number, k: number) => number, dims: [number, number, number] = DIMS, affine: number[] = AFFINE): Volume {
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) data[i + nx * (j + ny * k)] = f(i, j, k);
  return { data, dims, affine };
}

/** Inside the "brain": a sphere of radius 8 around (12, 14, 10). */
export const inSphere = (i: number, j: number, k: number): boolean => (i - 12) ** 2 + (j - 14) ** 2 + (k - 10) ** 2 <= 64;

/** The phantom: a textured sphere (100 + 2 j + k) on a zero background. */
export const phantom = (i: number, j: number, k: number): number => (inSphere(i, j, k) ? 100 + 2 * j + k : 0);

export function put(dir: string, name: string, v: Volume): string {
  const p = join(dir, name);
  writeNifti(p, v);
  return p;
}

export interface DecodedPng {
  width: number;
  height: number;
  data: Uint8Array;
}

const require = createRequire(import.meta.url);
const pngjs = require("pngjs") as { PNG: { sync: { read(buf: Buffer): DecodedPng } } };

export function readPng(path: string): DecodedPng {
  return pngjs.PNG.sync.read(readFileSync(path));
}

export function pngPixel(p: DecodedPng, x: number, y: number): [number, number, number] {
  const o = 4 * (y * p.width + x);
  return [p.data[o]!, p.data[o + 1]!, p.data[o + 2]!];
}

/** Runs `moediff-sr figures ...` in-process; returns what it printed. */
export async function runFigures(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerFigures(program);
  let stdout = "";
  let stderr = "";
  const log = console.log;
  const write = process.stderr.write.bind(process.stderr);
  console.log = (...a: unknown[]) => {
    stdout += `${a.map(String).join(" ")}\n`;
  };
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    await program.parseAsync(["node", "moediff-sr", "figures", ...args]);
  } finally {
    console.log = log;
    process.stderr.write = write;
  }
  return { stdout, stderr };
}

/** Asserts that a promise rejects with an Error whose message matches every pattern. */
export async function rejectsMatching(p: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof Error)) throw new Error("expected the promise to reject with an Error");
  for (const re of patterns) if (!re.test(caught.message)) throw new Error(`error message ${JSON.stringify(caught.message)} does not match ${re}`);
}
