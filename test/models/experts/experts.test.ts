// The three experts: output shapes, input checks with clear messages, config
// checks, which inputs the output depends on, gradients to every parameter,
// dtype as a parameter, state dict names, and the MAC counter.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import {
  createExpert,
  Expert1,
  Expert2,
  Expert3,
  EXPERT_CPU_SMALL,
  EXPERT_PAPER,
  resolveExpertConfig,
  type ExpertInput,
  type ExpertKind,
} from "../../../src/models/experts/index.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";
import { disposeInput, randomInput, TINY } from "./inputs.js";

const KINDS: ExpertKind[] = [1, 2, 3];
const maxAbs = (t: T.Tensor): number => T.tidy(() => t.abs().amax().item());

test("each expert maps z_t [B, C, h, w] to epsilon of the same shape (16x16 and 32x24 latents)", () => {
  T.manualSeed(10);
  for (const kind of KINDS) {
    const expert = createExpert(kind, TINY);
    assert.equal(expert.name, `E${kind}`);
    for (const [h, w] of [
      [16, 16],
      [32, 24],
    ] as const) {
      const input = randomInput(TINY, 2, h, w);
      T.tidy(() => {
        const eps = expert.forward(input);
        assert.deepEqual(eps.shape, [2, TINY.latentChannels, h, w], `E${kind} at ${h}x${w}`);
        assert.equal(eps.dtype, "float32");
        assert.equal(T.tidy(() => T.all(eps.isfinite()).item()), 1, `E${kind} output is finite`);
      });
      disposeInput(input);
    }
    expert.dispose();
  }
});

test("wrong inputs give errors that name the tensor, the expected and the actual shape", () => {
  const expert = new Expert1(TINY);
  const good = randomInput(TINY, 2, 8, 8);
  const bad = (patch: Partial<ExpertInput>): ExpertInput => ({ ...good, ...patch });
  const made: T.Tensor[] = [];
  const mk = (t: T.Tensor): T.Tensor => (made.push(t), t);
  assertThrowsMatching(() => expert.forward(bad({ zt: mk(T.zeros([2, 3, 8, 8])) })), /Expert1\.forward: zt must be \[B, 4, h, w\], got \[2, 3, 8, 8\]/);
  assertThrowsMatching(() => expert.forward(bad({ zt: mk(T.zeros([4, 8, 8])) })), /zt must be \[B, 4, h, w\], got \[4, 8, 8\]/);
  const odd = randomInput(TINY, 2, 10, 8);
  assertThrowsMatching(() => expert.forward(odd), /multiples of 4/, /got 10x8/, /pad the latent/);
  assertThrowsMatching(() => expert.forward(bad({ cond: mk(T.zeros([2, 4, 8, 4])) })), /cond must be \[2, 4, 8, 8\] like zt, got \[2, 4, 8, 4\]/);
  assertThrowsMatching(() => expert.forward(bad({ gate: mk(T.zeros([2, 3, 8, 8])) })), /gate must be \[2, 1, 8, 8\] like zt, got \[2, 3, 8, 8\]/);
  assertThrowsMatching(() => expert.forward(bad({ gate: mk(T.zeros([1, 1, 8, 8])) })), /gate must be \[2, 1, 8, 8\]/);
  assertThrowsMatching(() => expert.forward(bad({ t: mk(T.zeros([2])) })), /t must hold integer timesteps \(int64 or int32\), got float32/);
  assertThrowsMatching(() => expert.forward(bad({ t: mk(T.zeros([3], { dtype: "int64" })) })), /t must be \[2\] \(one timestep per sample\), got \[3\]/);
  assertThrowsMatching(() => expert.forward(bad({ tokens: mk(T.zeros([2, 3, 8])) })), /tokens must be \[2, N, 16\], got \[2, 3, 8\]/);
  assertThrowsMatching(() => expert.forward(bad({ tokens: mk(T.zeros([2, 0, 16])) })), /at least one token/);
  for (const kind of [2, 3] as const) {
    const e = createExpert(kind, TINY);
    assertThrowsMatching(() => e.forward(bad({ zt: mk(T.zeros([2, 5, 8, 8])) })), new RegExp(`Expert${kind}\\.forward: zt must be`));
    e.dispose();
  }
  made.forEach((t) => t.dispose());
  disposeInput(good);
  disposeInput(odd);
  expert.dispose();
});

test("config: presets are valid, unknown keys and bad values are rejected with the key and value", () => {
  for (const c of [EXPERT_PAPER, EXPERT_CPU_SMALL]) assert.deepEqual(resolveExpertConfig({}, c), { ...c });
  assert.equal(resolveExpertConfig({ baseChannels: 16 }).baseChannels, 16);
  assertThrowsMatching(() => resolveExpertConfig({ baseChanels: 16 }), /unknown key\(s\) 'baseChanels'/);
  assertThrowsMatching(() => resolveExpertConfig({ numHeads: 3 }), /numHeads \(3\) must divide the bottleneck width 4 \* baseChannels = 128/);
  assertThrowsMatching(() => resolveExpertConfig({ timeEmbedDim: 15 }), /timeEmbedDim must be even/);
  assertThrowsMatching(() => resolveExpertConfig({ latentChannels: 0 }), /latentChannels must be a positive integer, got 0/);
  assertThrowsMatching(() => resolveExpertConfig({ tokenDim: "128" }), /tokenDim must be a number, got "128"/);
  assertThrowsMatching(() => new Expert2({ ...TINY, baseChannels: 2.5 }), /baseChannels must be a positive integer, got 2.5/);
  assertThrowsMatching(() => createExpert(4 as ExpertKind, TINY), /kind must be 1, 2 or 3, got 4/);
});

test("each expert's output depends on z_t, t, cond, tokens and gate, and not on other samples of the batch", () => {
  T.manualSeed(11);
  for (const kind of KINDS) {
    const expert = createExpert(kind, TINY);
    const input = randomInput(TINY, 2, 8, 8);
    T.tidy(() => {
      const y = expert.forward(input);
      const changed: [keyof ExpertInput, T.Tensor][] = [
        ["zt", T.randn(input.zt.shape)],
        ["t", input.t.add(37).remainder(1000)],
        ["cond", T.randn(input.cond.shape)],
        ["tokens", T.randn(input.tokens.shape)],
        ["gate", input.gate.rsub(1)],
      ];
      for (const [key, value] of changed) {
        const y2 = expert.forward({ ...input, [key]: value });
        assert.ok(maxAbs(y2.sub(y)) > 1e-5, `E${kind}: changing ${key} must change epsilon`);
      }
      // Replace sample 1 everywhere: sample 0's prediction must not move.
      const other = randomInput(TINY, 1, 8, 8);
      const mixed: ExpertInput = {
        zt: T.cat([input.zt.narrow(0, 0, 1), other.zt], 0),
        t: T.cat([input.t.narrow(0, 0, 1), other.t], 0),
        cond: T.cat([input.cond.narrow(0, 0, 1), other.cond], 0),
        tokens: T.cat([input.tokens.narrow(0, 0, 1), other.tokens], 0),
        gate: T.cat([input.gate.narrow(0, 0, 1), other.gate], 0),
      };
      assertClose(expert.forward(mixed).narrow(0, 0, 1).data(), y.narrow(0, 0, 1).data(), { atol: 1e-5, message: `E${kind} batch independence` });
    });
    disposeInput(input);
    expert.dispose();
  }
});

test("one backward on random data gives every parameter of every expert a non-zero gradient", () => {
  T.manualSeed(12);
  for (const kind of KINDS) {
    const expert = createExpert(kind, TINY);
    const input = randomInput(TINY, 2, 8, 8);
    T.tidy(() => {
      T.F.mseLoss(expert.forward(input), T.randn(input.zt.shape)).backward();
      const dead = expert
        .namedParameters()
        .filter(([, p]) => T.tidy(() => {
          const g = p.grad;
          return g === null || g.abs().amax().item() === 0;
        }))
        .map(([n]) => n);
      assert.deepEqual(dead, [], `E${kind}: parameters without gradient`);
    });
    disposeInput(input);
    expert.dispose();
  }
});

test("dtype is a parameter: float64 experts take and return float64", () => {
  T.manualSeed(13);
  for (const kind of KINDS) {
    const expert = createExpert(kind, TINY, { dtype: "float64" });
    assert.ok(expert.parameters().every((p) => p.dtype === "float64"));
    assert.ok(expert.buffers().every((b) => b.dtype === "float64"));
    const input = randomInput(TINY, 1, 8, 12, 2, "float64");
    T.tidy(() => {
      const eps = expert.forward(input);
      assert.equal(eps.dtype, "float64");
      assert.deepEqual(eps.shape, [1, 4, 8, 12]);
    });
    disposeInput(input);
    expert.dispose();
  }
});

test("state dict keys follow the architecture and seeded construction is reproducible", () => {
  const keys = (kind: ExpertKind): string[] => {
    const e = createExpert(kind, TINY);
    const k = T.tidy(() => [...e.stateDict().keys()]);
    e.dispose();
    return k;
  };
  const k1 = keys(1);
  for (const name of ["time_embed.linear_1.weight", "conv_in.weight", "edge.proj.weight", "mid_dilated.conv.weight", "mid_attn.to_q.weight", "dec_res0.skip.weight", "conv_out.weight"]) {
    assert.ok(k1.includes(name), `E1 has ${name}`);
  }
  assert.ok(!k1.includes("edge.kernel"), "the Laplacian kernel is a constant, not saved");
  const k2 = keys(2);
  for (const name of ["enc_dense1.layers.3.conv.weight", "enc_dense1.transition.weight", "mid_complex.conv1.weight_real", "mid_complex.conv1.weight_imag", "mid_complex.act.bias"]) {
    assert.ok(k2.includes(name), `E2 has ${name}`);
  }
  const k3 = keys(3);
  for (const name of ["enc_ca1.fc1.weight", "dec_nonlocal.query.weight", "dec_nonlocal.out.weight", "mid_res.conv2.weight"]) {
    assert.ok(k3.includes(name), `E3 has ${name}`);
  }
  const seeded = (): number[] => {
    const e = new Expert3(TINY, { generator: new T.Generator().manualSeed(99) });
    const v = e.convOut.weight.toArray();
    e.dispose();
    return v;
  };
  assert.deepEqual(seeded(), seeded());
});

test("counted MACs (T.flops): affine in h*w for E1 and E2, with the quadratic non-local term in E3; linear in the token count", () => {
  const c1 = 2 * TINY.baseChannels;
  const c2 = 4 * TINY.baseChannels;
  for (const kind of KINDS) {
    const e = createExpert(kind, TINY);
    const m = (s: number, n = 3): number => {
      const input = randomInput(TINY, 1, s, s, n);
      try {
        return T.noGrad(() => T.tidy(() => T.flops.countFlops(() => e.forward(input)).report.macs));
      } finally {
        disposeInput(input);
      }
    };
    const [m8, m16, m32] = [m(8), m(16), m(32)];
    const d1 = m32 - m16; // A * 768 (+ quadratic part)
    const d0 = m16 - m8; // A * 192
    if (kind === 3) {
      // E3 adds 2 * (hw/4)^2 * c1/2 multiply-adds from the non-local block at h/2.
      const quad = (s: number): number => 2 * ((s * s) / 4) ** 2 * (c1 / 2);
      assert.equal(d1 - (quad(32) - quad(16)), 4 * (d0 - (quad(16) - quad(8))));
      assert.ok(m32 / m16 > 4, `E3 grows faster than h*w: ${m32} / ${m16}`);
    } else {
      assert.equal(d1, 4 * d0);
      assert.ok(m32 / m16 < 4, `E${kind} is affine in h*w with a positive constant: ${m32} / ${m16}`);
    }
    // Each extra token costs the k/v projections plus the two attention products at h/4.
    assert.equal(m(32, 4) - m32, 2 * TINY.tokenDim * c2 + 2 * 8 * 8 * c2);
    e.dispose();
  }
});
