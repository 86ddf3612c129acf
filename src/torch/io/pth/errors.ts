// The error the tensor-file readers throw: it names the file and what to do.

/** Thrown for files that cannot be read as tensors; the message names the file and what to do. */
export class TorchFileError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${problem}`, options);
    this.name = "TorchFileError";
  }
}
