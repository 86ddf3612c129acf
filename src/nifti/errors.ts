// The one error type of the NIfTI reader and writer.

/** Thrown for files that cannot be read as NIfTI and for images that cannot be written. */
export class NiftiError extends Error {
  /** The file path (or the name given to parseNifti() / encodeNifti()). */
  readonly source: string;
  /** The message without the "nifti: <source>: " prefix. */
  readonly problem: string;
  constructor(source: string, problem: string, options?: { cause?: unknown }) {
    super(`nifti: ${source}: ${problem}`, options);
    this.name = "NiftiError";
    this.source = source;
    this.problem = problem;
  }
}
