// Random crops for MoE training (config.training.cropSize): the same window of the HR latent, the
// condition latent and the 3T slices, aligned on the autoencoder's grid (a latent pixel is a
// factor x factor block of the slice). Convolutions and window attention are translation-equivariant,
// so a model trained on crops runs on whole slices; the crop only shortens each step.
import * as T from "../torch/index.js";
import type { MoELatents } from "../models/moediff/training_losses.js";

/** A random aligned crop of `size` slice pixels (a multiple of `factor`); the batch shares one window. */
export function cropLatents(lat: MoELatents, size: number, factor: number, generator: T.Generator): MoELatents {
  if (!Number.isInteger(size) || size <= 0 || size % factor !== 0) throw new RangeError(`cropLatents: size must be a positive multiple of ${factor}, got ${size}`);
  const [h, w] = [lat.z0.size(2), lat.z0.size(3)];
  const c = size / factor;
  if (c >= h && c >= w) return lat;
  const ch = Math.min(c, h);
  const cw = Math.min(c, w);
  const { top, left } = randomWindow(h, w, ch, cw, generator);
  const latent = (t: T.Tensor): T.Tensor => t.narrow(2, top, ch).narrow(3, left, cw);
  return {
    z0: latent(lat.z0),
    condLatent: latent(lat.condLatent),
    y: lat.y.narrow(2, top * factor, ch * factor).narrow(3, left * factor, cw * factor),
  };
}

/** The top-left corner of a uniformly random ch x cw window inside h x w, drawn from `generator`. */
export function randomWindow(h: number, w: number, ch: number, cw: number, generator: T.Generator): { top: number; left: number } {
  using r = T.randint(0, 2 ** 30, [2], { generator, dtype: "int64", device: generator.device });
  const [a, b] = (r.toArray() as (number | bigint)[]).map(Number) as [number, number];
  return { top: a % (h - ch + 1), left: b % (w - cw + 1) };
}
