// Complex tensors, discrete Fourier transforms and the short-time Fourier transform.
import { Op } from "../op.js";
import type { Tensor } from "../tensor.js";

export type FftNorm = "backward" | "ortho" | "forward";

const realOp = new Op("aten::real");
const imagOp = new Op("aten::imag");
const angleOp = new Op("aten::angle");
const polarOp = new Op("aten::polar");
const complexOp = new Op("aten::complex");
const viewAsRealOp = new Op("aten::view_as_real");
const viewAsComplexOp = new Op("aten::view_as_complex");
const conjOp = new Op("aten::conj_physical");

/** Real part (a view) of a complex tensor. */
export const real = (x: Tensor): Tensor => realOp.tensor(x);
export const imag = (x: Tensor): Tensor => imagOp.tensor(x);
/** Phase in radians; 0 or pi for real tensors. Magnitude is abs(). */
export const angle = (x: Tensor): Tensor => angleOp.tensor(x);
/** abs * exp(i * angle). */
export const polar = (abs: Tensor, angle: Tensor): Tensor => polarOp.tensor(abs, angle);
/** real + i * imag. */
export const complex = (real: Tensor, imag: Tensor): Tensor => complexOp.tensor(real, imag);
/** [..., 2] real view of a complex tensor. */
export const viewAsReal = (x: Tensor): Tensor => viewAsRealOp.tensor(x);
export const viewAsComplex = (x: Tensor): Tensor => viewAsComplexOp.tensor(x);
export const conj = (x: Tensor): Tensor => conjOp.tensor(x);

const fftOp = new Op("aten::fft_fft");
const ifftOp = new Op("aten::fft_ifft");
const rfftOp = new Op("aten::fft_rfft");
const irfftOp = new Op("aten::fft_irfft");
const fft2Op = new Op("aten::fft_fft2");
const ifft2Op = new Op("aten::fft_ifft2");
const rfft2Op = new Op("aten::fft_rfft2");
const irfft2Op = new Op("aten::fft_irfft2");
const fftnOp = new Op("aten::fft_fftn");
const ifftnOp = new Op("aten::fft_ifftn");
const fftshiftOp = new Op("aten::fft_fftshift");
const ifftshiftOp = new Op("aten::fft_ifftshift");
const stftOp = new Op("aten::stft.center");

export const fft = (x: Tensor, n?: number, dim = -1, norm: FftNorm = "backward"): Tensor => fftOp.tensor(x, n ?? null, dim, norm);
export const ifft = (x: Tensor, n?: number, dim = -1, norm: FftNorm = "backward"): Tensor => ifftOp.tensor(x, n ?? null, dim, norm);
export const rfft = (x: Tensor, n?: number, dim = -1, norm: FftNorm = "backward"): Tensor => rfftOp.tensor(x, n ?? null, dim, norm);
export const irfft = (x: Tensor, n?: number, dim = -1, norm: FftNorm = "backward"): Tensor => irfftOp.tensor(x, n ?? null, dim, norm);

export interface Fft2Options {
  /** Output signal size per transformed dimension. */
  s?: readonly number[];
  dim?: readonly number[];
  norm?: FftNorm;
}
export const fft2 = (x: Tensor, o: Fft2Options = {}): Tensor => fft2Op.tensor(x, o.s ?? null, o.dim ?? [-2, -1], o.norm ?? "backward");
export const ifft2 = (x: Tensor, o: Fft2Options = {}): Tensor => ifft2Op.tensor(x, o.s ?? null, o.dim ?? [-2, -1], o.norm ?? "backward");
export const rfft2 = (x: Tensor, o: Fft2Options = {}): Tensor => rfft2Op.tensor(x, o.s ?? null, o.dim ?? [-2, -1], o.norm ?? "backward");
export const irfft2 = (x: Tensor, o: Fft2Options = {}): Tensor => irfft2Op.tensor(x, o.s ?? null, o.dim ?? [-2, -1], o.norm ?? "backward");
/** N-dimensional FFT over `dim` (default: all dimensions). */
export const fftn = (x: Tensor, o: Fft2Options = {}): Tensor => fftnOp.tensor(x, o.s ?? null, o.dim ?? null, o.norm ?? "backward");
export const ifftn = (x: Tensor, o: Fft2Options = {}): Tensor => ifftnOp.tensor(x, o.s ?? null, o.dim ?? null, o.norm ?? "backward");
/** Moves the zero-frequency term to the centre (default: all dimensions). */
export const fftshift = (x: Tensor, dim?: readonly number[]): Tensor => fftshiftOp.tensor(x, dim ?? null);
export const ifftshift = (x: Tensor, dim?: readonly number[]): Tensor => ifftshiftOp.tensor(x, dim ?? null);

export interface StftOptions {
  hopLength?: number;
  winLength?: number;
  window?: Tensor;
  /** Pad the signal by nFft/2 on both sides so frames are centred (default true, as PyTorch). */
  center?: boolean;
  padMode?: "reflect" | "constant" | "replicate" | "circular";
  normalized?: boolean;
  onesided?: boolean;
}

/** Short-time Fourier transform of [L] or [B, L] signals: complex [(B,) nFft/2+1, frames]. */
export function stft(x: Tensor, nFft: number, o: StftOptions = {}): Tensor {
  return stftOp.tensor(
    x,
    nFft,
    o.hopLength ?? null,
    o.winLength ?? null,
    o.window ?? null,
    o.center ?? true,
    o.padMode ?? "reflect",
    o.normalized ?? false,
    o.onesided ?? null,
    true,
  );
}
