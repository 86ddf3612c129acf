/** Thrown when a tensor is used after dispose() or after the tidy() that made it ended. */
export class DisposedTensorError extends Error {
  constructor(what = "tensor") {
    super(`${what} is disposed (freed by dispose() or by the tidy() scope that created it); keep() it or return it from tidy() to use it later`);
    this.name = "DisposedTensorError";
  }
}
