// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).
// Parameters without a gradient are ignored. Gradients change in place.
import { Tensor } from "../tensor.js";
import { tidy } from "../scope.js";
import { noGrad } from "../autograd.js";
import { clamp_ } from "../ops/math.js";
import { norm } from "../ops/reduce.js";
import { stack } from "../ops/shape.js";
import { foreach } from "./optimizer.js";

function gradsOf(params: Tensor | readonly Tensor[]): Tensor[] {
  const list = params instanceof Tensor ? [params] : params;
  const out: Tensor[] = [];
  for (const p of list) {
    const g = p.grad;
    if (g !== null) out.push(g);
  }
  return out;
}

export interface ClipGradNormOptions {
  /** Throw if the total norm is NaN or infinite (default false, as PyTorch 1.13). */
  errorIfNonfinite?: boolean;
}

/**
 * Scales the gradients so that their joint `normType`-norm (as if all were
 * concatenated) is at most `maxNorm`: g *= min(1, maxNorm / (total + 1e-6)).
 * Returns the total norm before clipping (0 if no parameter has a gradient).
 * `normType` may be Infinity (or "inf") for the max-abs norm.
 */
export function clipGradNorm_(
  params: Tensor | readonly Tensor[],
  maxNorm: number,
  normType: number | "inf" = 2,
  options: ClipGradNormOptions = {},
): number {
  const ord = normType === "inf" ? Infinity : normType;
  if (typeof maxNorm !== "number" || !(maxNorm >= 0)) throw new RangeError(`clipGradNorm_: maxNorm must be >= 0, got ${maxNorm}`);
  if (typeof ord !== "number" || !(ord > 0)) throw new RangeError(`clipGradNorm_: normType must be > 0 or "inf", got ${normType}`);
  return noGrad(() =>
    tidy(() => {
      const grads = gradsOf(params);
      if (grads.length === 0) return 0;
      // One norm per gradient (a single foreach dispatch), then the norm of those norms.
      const total = norm(stack(foreach.norm(grads, ord)), ord);
      const totalValue = total.item();
      if (options.errorIfNonfinite === true && !Number.isFinite(totalValue)) {
        throw new RangeError(
          `clipGradNorm_: the total norm of order ${ord} of the gradients is ${totalValue}, so it cannot be clipped; ` +
            "pass errorIfNonfinite: false to scale by it anyway",
        );
      }
      // PyTorch: max_norm / (total + 1e-6) evaluates as reciprocal(total + 1e-6) * max_norm, in the gradients' dtype.
      const coef = total.add(1e-6).reciprocal().mul(maxNorm).clamp(null, 1).item();
      foreach.mul_(grads, coef);
      return totalValue;
    }),
  );
}

/** Clamps every gradient element to [-clipValue, clipValue]. */
export function clipGradValue_(params: Tensor | readonly Tensor[], clipValue: number): void {
  if (typeof clipValue !== "number" || !(clipValue >= 0)) throw new RangeError(`clipGradValue_: clipValue must be >= 0, got ${clipValue}`);
  noGrad(() =>
    tidy(() => {
      for (const g of gradsOf(params)) clamp_(g, -clipValue, clipValue);
    }),
  );
}
