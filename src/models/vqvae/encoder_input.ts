// What the autoencoder's encoder E1 sees (paper Fig. 1: the 7T slice x with its gradient-nonlinearity
// correction g and bias-field correction b): channels [x, g, b] as the data set stores them
// (src/data/channels.ts):
// - g is the displacement magnitude |u| in mm (0 where there is no correction);
// - b is ln(bias field) minus its median over the brain, so "no bias" and "no map available" (a zero
//   channel) agree at 0.
// Ablations (paper Table I) zero a channel: useGradwarp = false and/or useBias = false.
import * as T from "../../torch/index.js";

export interface EncoderInputOptions {
  useBias: boolean;
  useGradwarp: boolean;
}

/** [B,1,H,W] x, g, b (log domain) -> [B,3,H,W] encoder input. */
export function encoderInput(x: T.Tensor, g: T.Tensor, b: T.Tensor, o: EncoderInputOptions): T.Tensor {
  for (const [name, t] of [["x", x], ["g", g], ["b", b]] as const) {
    if (t.ndim !== 4 || t.shape[1] !== 1) throw new RangeError(`encoderInput: ${name} must be [B, 1, H, W], got [${t.shape.join(", ")}]`);
  }
  return T.tidy(() => {
    const gc = o.useGradwarp ? g : T.zerosLike(g);
    const bc = o.useBias ? b : T.zerosLike(b);
    return T.cat([x, gc, bc], 1);
  });
}

/** The condition's centre slice as an encoder input [y_k, 0, 0]: the 3T slice with no corrections. */
export function conditionEncoderInput(cond: T.Tensor): T.Tensor {
  if (cond.ndim !== 4 || cond.shape[1] !== 3) throw new RangeError(`conditionEncoderInput: cond must be [B, 3, H, W], got [${cond.shape.join(", ")}]`);
  return T.tidy(() => {
    const centre = cond.narrow(1, 1, 1);
    return T.cat([centre, T.zerosLike(centre), T.zerosLike(centre)], 1);
  });
}
