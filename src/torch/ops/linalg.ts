// Matrix products.
import { DisposedTensorError } from "../errors.js";
import { Op } from "../op.js";
import type { Tensor } from "../tensor.js";

const matmulOp = new Op("aten::matmul");
const bmmOp = new Op("aten::bmm");
const mmOp = new Op("aten::mm");
const einsumOp = new Op("aten::einsum");
const outerOp = new Op("aten::outer");

/** Matrix product with NumPy broadcasting of batch dimensions (torch.matmul). */
export const matmul = (a: Tensor, b: Tensor): Tensor => matmulOp.tensor(a, b);
/** Batched product of [B, n, m] and [B, m, p]. */
export const bmm = (a: Tensor, b: Tensor): Tensor => bmmOp.tensor(a, b);
export const mm = (a: Tensor, b: Tensor): Tensor => mmOp.tensor(a, b);
export const outer = (a: Tensor, b: Tensor): Tensor => outerOp.tensor(a, b);
/** Einstein summation, e.g. einsum("bij,bjk->bik", a, b). */
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  try {
    return einsumOp.tensor(equation, operands);
  } catch (e) {
    // The native layer does not name the shapes of Tensor[] elements.
    if (e instanceof Error && !(e instanceof DisposedTensorError)) {
      e.message += ` [operands=${operands.map((t) => (t.isDisposed ? "disposed" : `[${t.shape.join(", ")}]`)).join(", ")}]`;
    }
    throw e;
  }
}
