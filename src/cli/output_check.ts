// Checks of the paths a command will write, made before it reads any input or computes anything: a
// NIfTI output must be named .nii or .nii.gz, and its directory must exist and be writable (or, for a
// command that creates directories, its nearest existing ancestor must be). Each failure is one line
// naming the option, the path and what to do.
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

const NIFTI_NAME = /\.nii(\.gz)?$/i;

/** "out.png" -> "out.nii.gz": the name the user probably meant. */
function niftiName(path: string): string {
  const base = basename(path).replace(/\.[A-Za-z0-9]{1,4}$/, "");
  return `${base === "" ? "out" : base}.nii.gz`;
}

function writableDirectory(dir: string, flag: string, path: string): void {
  if (!statSync(dir).isDirectory()) throw new Error(`${flag} ${path}: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new Error(`${flag} ${path}: the directory ${dir} is not writable (${(e as NodeJS.ErrnoException).code ?? String(e)}); choose a directory you can write to`);
  }
}

/** The nearest existing ancestor of `dir` (itself when it exists). */
function existingAncestor(dir: string): string {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}

/**
 * A file the command will write: not a directory, in an existing writable directory (with
 * `createDirs`, a directory the command creates: its nearest existing ancestor must be writable).
 */
export function checkOutputFile(path: string, flag: string, o: { createDirs?: boolean } = {}): void {
  const abs = resolve(path);
  if (existsSync(abs) && statSync(abs).isDirectory()) throw new Error(`${flag} ${path} is a directory; name a file in it`);
  const dir = dirname(abs);
  if (!existsSync(dir)) {
    if (o.createDirs !== true) throw new Error(`${flag} ${path}: the directory ${dir} does not exist; create it first (mkdir -p ${dir})`);
    writableDirectory(existingAncestor(dir), flag, path);
    return;
  }
  writableDirectory(dir, flag, path);
}

/** A NIfTI file the command will write: named .nii or .nii.gz, and checkOutputFile. */
export function checkNiftiOutput(path: string, flag = "-o", o: { createDirs?: boolean } = {}): void {
  if (existsSync(path) && statSync(path).isDirectory()) throw new Error(`${flag} ${path} is a directory; name a file in it (e.g. ${join(path, "out.nii.gz")})`);
  if (!NIFTI_NAME.test(path)) throw new Error(`${flag} ${path}: the output must be a NIfTI file named .nii or .nii.gz (e.g. ${niftiName(path)})`);
  checkOutputFile(path, flag, o);
}

/** A directory the command creates or fills: not a file, and it or its nearest existing ancestor writable. */
export function checkOutputDirectory(dir: string, flag: string): void {
  const abs = resolve(dir);
  if (existsSync(abs) && !statSync(abs).isDirectory()) throw new Error(`${flag} ${dir} is a file, not a directory; name a directory`);
  writableDirectory(existingAncestor(abs), flag, dir);
}
