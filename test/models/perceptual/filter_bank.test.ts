// The fixed Gabor filter bank on analytic images: orientation and scale
// selectivity, no response to constants, kernel properties, gradients, checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import { GaborFilterBank, gaborKernels } from "../../../src/models/perceptual/filter_bank.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

const SIZE = 48;

/** cos(2 pi (x cos t + y sin t) / wavelength) on a SIZE x SIZE grid (x = column, y = row), as [1, 1, SIZE, SIZE]. */
function grating(theta: number, wavelength: number, phase = 0.3): T.Tensor {
  const v = new Float32Array(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) v[y * SIZE + x] = Math.cos((2 * Math.PI * (x * Math.cos(theta) + y * Math.sin(theta))) / wavelength + phase);
  }
  return T.tensor(v, [1, 1, SIZE, SIZE]);
}

/** Mean energy per orientation at one level, over the interior (away from the padded borders). */
function meanEnergy(map: T.Tensor, border: number): number[] {
  return T.tidy(() => {
    const h = map.shape[2] as number;
    const inner = map.narrow(2, border, h - 2 * border).narrow(3, border, h - 2 * border);
    return inner.mean([0, 2, 3]).toArray();
  });
}

test("an oriented grating excites the matching orientation most, at the matching scale", () => {
  using bank = new GaborFilterBank();
  for (let s = 0; s < 3; s++) {
    for (let o = 0; o < 4; o++) {
      T.tidy(() => {
        const maps = bank.forward(grating((o * Math.PI) / 4, 4 * 2 ** s));
        const e = meanEnergy(maps[s] as T.Tensor, s === 2 ? 2 : 5);
        const best = e[o] as number;
        for (let k = 0; k < 4; k++) {
          if (k !== o) assert.ok(best > 4 * (e[k] as number), `scale ${s}, grating ${o * 45} deg: orientation ${k * 45} gives ${e[k]}, matching one ${best}`);
        }
      });
    }
  }
});

test("a fine grating excites scale 0, a coarse one scale 2", () => {
  using bank = new GaborFilterBank();
  T.tidy(() => {
    const fine = bank.forward(grating(0, 4)).map((m) => m.mean().item());
    const coarse = bank.forward(grating(0, 16)).map((m) => m.mean().item());
    assert.ok((fine[0] as number) > 3 * (fine[2] as number), `fine: ${fine}`);
    assert.ok((coarse[2] as number) > 3 * (coarse[0] as number), `coarse: ${coarse}`);
  });
});

test("a constant latent gives (almost exactly) zero energy; shapes per level", () => {
  using bank = new GaborFilterBank();
  T.tidy(() => {
    const maps = bank.forward(T.full([2, 3, 16, 12], 1.7));
    assert.deepEqual(
      maps.map((m) => m.shape),
      [
        [2, 12, 16, 12],
        [2, 12, 8, 6],
        [2, 12, 4, 3],
      ],
    );
    for (const m of maps) assert.ok(m.abs().amax().item() < 1e-5, `max ${m.abs().amax().item()}`);
  });
});

test("channels are filtered independently: channel c only drives maps 4c..4c+3", () => {
  using bank = new GaborFilterBank();
  T.tidy(() => {
    const z = T.cat([T.zeros([1, 1, SIZE, SIZE]), grating(Math.PI / 2, 4)], 1);
    const [m0] = bank.forward(z);
    const perChannel = (m0 as T.Tensor).reshape(1, 2, 4, SIZE, SIZE).abs().amax([0, 2, 3, 4]).toArray();
    assert.ok((perChannel[0] as number) < 1e-6);
    assert.ok((perChannel[1] as number) > 0.1);
  });
});

test("kernels: even ones zero-mean, all unit norm, odd ones antisymmetric; deterministic", () => {
  const pairs = gaborKernels({ orientations: 4, wavelength: 4, sigma: 2, radius: 5 });
  for (const { even, odd } of pairs) {
    assertClose(even.reduce((a, b) => a + b, 0), 0, { atol: 1e-12 });
    assertClose(odd.reduce((a, b) => a + b, 0), 0, { atol: 1e-12 });
    for (const k of [even, odd]) assertClose(k.reduce((a, b) => a + b * b, 0), 1, { atol: 1e-12 });
    for (let i = 0; i < odd.length; i++) assertClose(odd[i] as number, -(odd[odd.length - 1 - i] as number), { atol: 1e-15 });
  }
  // Orientation 0 varies along x only: every row of the even kernel's carrier pattern has the same sign structure.
  const e0 = pairs[0]?.even as Float64Array;
  assert.ok((e0[5 * 11 + 5] as number) > 0 && (e0[5 * 11 + 7] as number) < 0, "cos peaks at the centre, negative half a wavelength away along x");
  using a = new GaborFilterBank();
  using b = new GaborFilterBank();
  assert.deepEqual(a.kernels.bytes(), b.kernels.bytes());
  assert.equal(a.numParameters(), 0);
  assert.equal(a.stateDict().size, 0, "the kernels are not saved in checkpoints");
});

test("gradients flow to the input; dtype is a parameter", () => {
  using bank = new GaborFilterBank({ dtype: "float64" });
  using z = T.randn([1, 2, 8, 8], { dtype: "float64" }).requiresGrad_();
  T.tidy(() => {
    const loss = bank
      .forward(z)
      .map((m) => m.square().mean())
      .reduce((a, b) => a.add(b));
    loss.backward();
  });
  using g = z.grad;
  assert.ok(g !== null && g.dtype === "float64");
  assert.ok(g.abs().sum().item() > 0);
  assert.equal(T.all(g.isfinite()).item(), 1);
});

test("input checks and option validation", () => {
  using bank = new GaborFilterBank();
  assertThrowsMatching(() => bank.forward(T.zeros([2, 8, 8])), /z must be \[B, C, h, w\], got \[2, 8, 8\]/);
  assertThrowsMatching(() => bank.forward(T.zeros([1, 1, 3, 8])), /3x8 is too small for 3 scales \(needs at least 4x4\)/);
  assertThrowsMatching(() => bank.forward(T.zeros([1, 1, 8, 8], { dtype: "float64" })), /float64 on cpu but the filters are float32/);
  assertThrowsMatching(() => new GaborFilterBank({ scales: 0 }), /scales must be a positive integer, got 0/);
  // The smallest accepted input works (replicate padding wider than the image).
  T.tidy(() => {
    const maps = bank.forward(T.randn([1, 1, 4, 4]));
    assert.deepEqual(maps[2]?.shape, [1, 4, 1, 1]);
  });
});
