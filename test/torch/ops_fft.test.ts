// Discrete Fourier transforms, the STFT and complex tensors, against PyTorch.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { assertClose } from "../helpers.js";
import { golden } from "./golden.js";

test("fft, ifft, rfft, irfft with n, dim and norm", () => {
  T.tidy(() => {
    const g = golden("fft");
    const x = g.input("x");
    const z = T.complex(g.input("re"), g.input("im"));
    g.check(T.fft(x), "fft");
    g.check(T.fft(x, 8, 0), "fft_n8_dim0");
    g.check(T.fft(x, undefined, -1, "ortho"), "fft_ortho");
    g.check(T.ifft(z), "ifft");
    g.check(T.ifft(z, undefined, -1, "forward"), "ifft_forward");
    g.check(T.rfft(x), "rfft");
    g.check(T.irfft(T.rfft(x), 6), "irfft_n6");
    g.check(T.irfft(z, 8), "irfft_n8");
  });
});

test("fft2, ifft2, rfft2, irfft2, fftn, ifftn", () => {
  T.tidy(() => {
    const g = golden("fft");
    const x = g.input("x");
    const z = T.complex(g.input("re"), g.input("im"));
    const x3 = g.input("x3");
    g.check(T.fft2(x), "fft2");
    g.check(T.ifft2(z), "ifft2");
    g.check(T.rfft2(x), "rfft2");
    g.check(T.irfft2(T.rfft2(x), { s: [4, 6] }), "irfft2");
    g.check(T.irfft2(z, { s: [4, 7] }), "irfft2_odd");
    g.check(T.fftn(x3), "fftn");
    g.check(T.fftn(x3, { s: [4, 5], dim: [0, 2] }), "fftn_dims_s");
    g.check(T.ifftn(T.complex(x3, x3.flip(2))), "ifftn");
    // ifft2(fft2(x)) is x again.
    assertClose(T.real(T.ifft2(T.fft2(x))).data(), x.data(), { atol: 1e-6, rtol: 1e-5 });
  });
});

test("fftshift and ifftshift over all and chosen dims", () => {
  T.tidy(() => {
    const g = golden("fft");
    const x3 = g.input("x3");
    g.check(T.fftshift(x3), "fftshift");
    g.check(T.fftshift(x3, [1]), "fftshift_dim1");
    g.check(T.ifftshift(x3), "ifftshift");
    assert.deepEqual(T.ifftshift(T.fftshift(x3)).toArray(), x3.toArray());
    g.assertAllChecked();
  });
});

test("stft: centred reflect padding, no centring, batched normalised constant padding, win_length and two-sided", () => {
  T.tidy(() => {
    const g = golden("stft");
    const sig = g.input("sig");
    const win = g.input("win");
    g.check(T.stft(sig, 16, { hopLength: 4, window: win }), "center_reflect");
    g.check(T.stft(sig, 16, { hopLength: 5, window: win, center: false }), "no_center");
    g.check(
      T.stft(g.input("sig2"), 16, { hopLength: 4, window: win, padMode: "constant", normalized: true }),
      "batched_constant_normalized",
    );
    g.check(T.stft(sig, 16, { hopLength: 6, winLength: 12, window: g.input("win12"), onesided: false }), "win_length_twosided");
    g.assertAllChecked();
  });
});

test("complex tensors: from parts, real, imag, abs, angle, polar, conj, arithmetic, real views", () => {
  T.tidy(() => {
    const g = golden("complex");
    const re = g.input("re");
    const im = g.input("im");
    const z = T.complex(re, im);
    g.check(z, "complex");
    g.check(T.real(z), "real");
    g.check(T.imag(z), "imag");
    g.check(z.abs(), "abs");
    g.check(T.angle(z), "angle");
    g.check(T.angle(g.input("neg")), "angle_real");
    g.check(T.polar(g.input("mag"), g.input("ph")), "polar");
    g.check(T.conj(z), "conj");
    g.check(z.mul(z.flip(0)), "mul");
    g.check(T.viewAsReal(z), "view_as_real");
    g.assertAllChecked();
    // complex64 data() interleaves (re, im); viewAsComplex inverts viewAsReal.
    const d = z.data();
    assert.equal(d.length, 2 * z.numel);
    assert.equal(d[0], re.data()[0]);
    assert.equal(d[1], im.data()[0]);
    const back = T.viewAsComplex(T.viewAsReal(z));
    assert.equal(back.dtype, "complex64");
    assert.deepEqual(Array.from(back.data() as Float32Array), Array.from(d as Float32Array));
    assert.equal(T.complex(re.double(), im.double()).dtype, "complex128");
  });
});
