// Atomic file writes: the bytes go to a temporary file in the target's
// directory, which is fsynced and renamed over the target. On failure the
// temporary file is removed and the target is untouched. No engine dependency. A process killed
// mid-write (kill -9) leaves its temporary file; the first write of a later process into that
// directory removes it (debris.ts).
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { clearDebrisOnce } from "./debris.js";

/** A failed atomic write: `stage` says which step failed; `cause` is the original error. */
export class AtomicWriteError extends Error {
  constructor(
    readonly stage: string,
    override readonly cause: unknown,
  ) {
    super(`${stage}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "AtomicWriteError";
  }
}

/**
 * Writes `path` atomically. `produce` receives a function that appends bytes
 * to the temporary file; anything it throws aborts the write.
 */
export function writeFileAtomic(path: string, produce: (write: (bytes: Uint8Array) => void) => void): void {
  const dir = dirname(path);
  try {
    clearDebrisOnce(dir);
  } catch {
    // debris that cannot be removed is no reason to fail this write
  }
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let fd: number | undefined;
  let stage = `could not create a temporary file in ${dir}`;
  try {
    fd = openSync(tmp, "wx", 0o644);
    stage = `could not write the temporary file ${tmp}`;
    const file = fd;
    produce((bytes) => {
      let off = 0;
      while (off < bytes.length) off += writeSync(file, bytes, off, bytes.length - off);
    });
    stage = `could not flush the temporary file ${tmp} to disk`;
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    stage = `could not rename the temporary file ${tmp} onto the target`;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error matters
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already gone
    }
    throw new AtomicWriteError(stage, e);
  }
  // Make the rename durable; not every platform can fsync a directory.
  try {
    const dfd = openSync(dir, "r");
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // best effort
  }
}
