// Finite-difference gradient checking (as torch.autograd.gradcheck, with a
// random projection of the output so one backward pass checks every input).
import "./tensor_methods.js"; // Tensor's op-backed methods, for a caller that imports this module without index.ts
import { grad, noGrad } from "./autograd.js";
import { randnLike } from "./ops/creation.js";
import { tidy } from "./scope.js";
import type { Tensor } from "./tensor.js";

export interface GradcheckOptions {
  /** Central-difference step. */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Check at most this many elements per input (spread over the input); all by default. */
  maxElements?: number;
}

export interface GradcheckMismatch {
  input: number;
  element: number;
  analytic: number;
  numeric: number;
}

/**
 * Compares autograd's gradient of sum(fn(inputs) * v), for a fixed random v,
 * with central differences. Inputs must be contiguous float64 tensors with requiresGrad.
 * Returns the mismatches (empty when the gradients agree); throws on bad input.
 */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], o: GradcheckOptions = {}): GradcheckMismatch[] {
  const eps = o.eps ?? 1e-6;
  const atol = o.atol ?? 1e-5;
  const rtol = o.rtol ?? 1e-3;
  for (const [i, x] of inputs.entries()) {
    // Outputs may be complex128; inputs are perturbed one real element at a time.
    if (x.dtype !== "float64") {
      throw new TypeError(
        `gradcheck: input ${i} is ${x.dtype}; use float64 for meaningful finite differences` +
          (x.dtype === "complex128" ? " (pass real and imaginary parts as float64 inputs and combine them with complex())" : ""),
      );
    }
    if (!x.requiresGrad) throw new TypeError(`gradcheck: input ${i} does not require grad`);
    if (!x.isContiguous()) throw new TypeError(`gradcheck: input ${i} [${x.shape.join(", ")}] is not contiguous; pass x.contiguous() as a leaf`);
  }
  return tidy(() => {
    const out = fn(...inputs);
    const v = randnLike(out.dtype === "complex128" ? out.abs() : out);
    const objective = (y: Tensor): Tensor => (y.dtype === "complex128" ? y.abs().mul(v).sum() : y.mul(v).sum());
    const analytic = grad(objective(out), inputs, { allowUnused: true });
    const mismatches: GradcheckMismatch[] = [];
    noGrad(() => {
      for (const [i, x] of inputs.entries()) {
        const g = analytic[i];
        const gData = g ? (g.data() as Float64Array) : new Float64Array(x.numel);
        const flat = x.view(-1);
        const n = x.numel;
        const count = Math.min(n, o.maxElements ?? n);
        for (let k = 0; k < count; k++) {
          const e = count === n ? k : Math.floor((k * n) / count);
          const cell = flat.narrow(0, e, 1);
          const orig = cell.item();
          cell.fill_(orig + eps);
          const plus = tidy(() => objective(fn(...inputs)).item());
          cell.fill_(orig - eps);
          const minus = tidy(() => objective(fn(...inputs)).item());
          cell.fill_(orig);
          const numeric = (plus - minus) / (2 * eps);
          const a = gData[e] ?? 0;
          if (!(Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric))) {
            mismatches.push({ input: i, element: e, analytic: a, numeric });
          }
        }
      }
    });
    return mismatches;
  });
}
