// VQVAE: shapes for the CPU and paper presets, parameter counts against a
// layer-by-layer formula, latent scaling, input checks, config resolution,
// dtype as a parameter, and a state-dict round trip through safetensors.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as T from "../../../src/torch/index.js";
import {
  countParameters,
  resolveVQVAEConfig,
  VQVAE,
  VQVAE_CPU_SMALL,
  VQVAE_PAPER,
  type VQVAEConfig,
} from "../../../src/models/vqvae/index.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

const work = mkdtempSync(join(tmpdir(), "moediff-vqvae-"));
after(() => rmSync(work, { recursive: true, force: true }));

/** Parameters of the architecture described in encoder.ts / decoder.ts, counted layer by layer. */
function expectedParameters(c: VQVAEConfig): number {
  const conv = (i: number, o: number, k: number): number => o * i * k * k + o;
  const gn = (ch: number): number => 2 * ch;
  const res = (i: number, o: number): number => gn(i) + conv(i, o, 3) + gn(o) + conv(o, o, 3) + (i === o ? 0 : conv(i, o, 1));
  const attn = (ch: number): number => gn(ch) + 4 * conv(ch, ch, 1);
  const chs = c.channelMult.map((m) => m * c.baseChannels);
  const low = chs[chs.length - 1] as number;
  const mid = 2 * res(low, low) + (c.attention ? attn(low) : 0);
  let enc = conv(c.inChannels, c.baseChannels, 3);
  let cur = c.baseChannels;
  chs.forEach((ch, i) => {
    for (let j = 0; j < c.numResBlocks; j++) enc += res(j === 0 ? cur : ch, ch);
    if (i < chs.length - 1) enc += conv(ch, ch, 3);
    cur = ch;
  });
  enc += mid + gn(low) + conv(low, c.embedDim, 3);
  let dec = conv(c.embedDim, low, 3) + mid;
  cur = low;
  for (let i = chs.length - 1; i >= 0; i--) {
    const ch = chs[i] as number;
    for (let j = 0; j <= c.numResBlocks; j++) dec += res(j === 0 ? cur : ch, ch);
    if (i > 0) dec += conv(ch, ch, 3);
    cur = ch;
  }
  dec += gn(c.baseChannels) + conv(c.baseChannels, c.outChannels, 3);
  if (c.lrCondition !== "none") {
    // lr_encoder.ts: conv_in from the 3 condition slices, per level a ResBlock (after a stride-2 conv
    // on all but the first); decoder.ts: a fusion conv [f, f_lr] -> f per level.
    dec += conv(3, c.baseChannels, 3);
    cur = c.baseChannels;
    chs.forEach((ch, i) => {
      if (i > 0) dec += conv(cur, cur, 3);
      dec += res(cur, ch) + conv(2 * ch, ch, 3);
      cur = ch;
    });
  }
  return enc + dec;
}

test("CPU preset: shapes of encode, decode, forward; downsampling factor 4; codebook is a buffer; LR-conditioned decoder", () => {
  T.manualSeed(0);
  const m = new VQVAE(VQVAE_CPU_SMALL);
  assert.equal(m.downsampleFactor, 4);
  assert.equal(m.config.lrCondition, "cfw-residual");
  assert.equal(countParameters(m), expectedParameters(VQVAE_CPU_SMALL));
  assert.equal(m.numParameters(), countParameters(m));
  assert.ok(!m.namedParameters().some(([k]) => k.startsWith("quantize.")), "the codebook is not trained by the optimiser");
  assert.deepEqual(
    m.namedBuffers().map(([k, b]) => [k, b.shape]),
    [
      ["quantize.embedding", [1024, 4]],
      ["quantize.cluster_size", [1024]],
      ["quantize.embed_avg", [1024, 4]],
      ["quantize.initialized", []],
    ],
  );
  T.tidy(() => {
    const x = T.randn([2, 3, 32, 48]);
    const enc = m.encode(x);
    assert.deepEqual(enc.z.shape, [2, 4, 8, 12]);
    assert.deepEqual(enc.zq.shape, [2, 4, 8, 12]);
    assert.deepEqual(enc.indices.shape, [2, 8, 12]);
    assert.equal(enc.indices.dtype, "int64");
    assert.deepEqual(enc.commitmentLoss.shape, []);
    const lr = T.rand([2, 3, 32, 48]);
    assert.deepEqual(m.decode(enc.zq, { lr }).shape, [2, 1, 32, 48]);
    const out = m.forward(x, { lr });
    assert.deepEqual(out.recon.shape, [2, 1, 32, 48]);
    assert.ok(out.perplexity.item() >= 1 && out.perplexity.item() <= 2 * 8 * 12);
  });
  m.dispose();
});

test("paper preset: parameter count by formula and a forward at 32x32 (latent [1, 512, 8, 8])", () => {
  T.manualSeed(0);
  const m = new VQVAE(VQVAE_PAPER);
  const n = countParameters(m);
  assert.equal(n, expectedParameters(VQVAE_PAPER));
  assert.ok(n > 50e6 && n < 70e6, `paper VQ-VAE has ${n} parameters`);
  assert.ok(m.encoder.mid.attn1 !== null && m.decoder.mid.attn1 !== null, "paper preset uses mid-block attention");
  m.eval();
  T.noGrad(() =>
    T.tidy(() => {
      const x = T.randn([1, 3, 32, 32]);
      const enc = m.encode(x);
      assert.deepEqual(enc.z.shape, [1, 512, 8, 8]);
      assert.deepEqual(m.decode(enc.zq).shape, [1, 1, 32, 32]);
    }),
  );
  m.dispose();
});

test("encodeLatent = scaleFactor * zq; decodeLatent undoes the scale; quantize option snaps to codes", () => {
  T.manualSeed(1);
  const m = new VQVAE(resolveVQVAEConfig({ codebookSize: 32, lrCondition: "none" }));
  m.eval();
  T.noGrad(() =>
    T.tidy(() => {
      const x = T.randn([2, 3, 16, 16]);
      const zq = m.encode(x).zq;
      const z0 = m.encodeLatent(x);
      assertClose(z0.toArray(), zq.mul(0.2).toArray(), { atol: 1e-7, rtol: 1e-6 });
      assertClose(m.decodeLatent(z0).toArray(), m.decode(zq).toArray(), { atol: 1e-5, rtol: 1e-4 });
      // A latent off the codebook decodes as is, or snapped to its nearest codes on request.
      const noisy = z0.add(T.randn(z0.shape).mul(0.01));
      const plain = m.decodeLatent(noisy);
      const snapped = m.decodeLatent(noisy, { quantize: true });
      const [b, d, h, w] = noisy.shape as [number, number, number, number];
      const idx = m.quantize.nearest(noisy.div(0.2).permute(0, 2, 3, 1).reshape(b * h * w, d)).reshape(b, h, w);
      assertClose(snapped.toArray(), m.decodeIndices(idx).toArray(), { atol: 1e-6, rtol: 1e-5 });
      assertClose(plain.toArray(), m.decode(noisy.div(0.2)).toArray(), { atol: 1e-6, rtol: 1e-5 });
    }),
  );
  m.dispose();
});

test("bad inputs: channel count, size not divisible by the factor, latent shape, target shape", () => {
  const m = new VQVAE(VQVAE_CPU_SMALL);
  T.tidy(() => {
    assertThrowsMatching(() => m.encode(T.zeros([2, 1, 32, 32])), /Encoder\.forward: x must be \[B, 3, H, W\].*got \[2, 1, 32, 32\]/);
    assertThrowsMatching(() => m.forward(T.zeros([3, 32, 32])), /x must be \[B, 3, H, W\].*got \[3, 32, 32\]/);
    assertThrowsMatching(() => m.encode(T.zeros([1, 3, 30, 32])), /multiples of the downsampling factor 4, got \[1, 3, 30, 32\]/);
    assertThrowsMatching(() => m.decode(T.zeros([1, 3, 8, 8])), /Decoder\.forward: zq must be \[B, 4, h, w\], got \[1, 3, 8, 8\]/);
    assertThrowsMatching(() => m.decodeLatent(T.zeros([1, 8, 8])), /decodeLatent: z must be \[B, 4, h, w\], got \[1, 8, 8\]/);
    assertThrowsMatching(() => m.loss(T.zeros([2, 3, 16, 16]), T.zeros([2, 3, 16, 16])), /target must be \[2, 1, 16, 16\].*got \[2, 3, 16, 16\]/);
  });
  m.dispose();
});

test("config: presets are frozen, resolver rejects unknown keys and bad values, naming them", () => {
  assert.ok(Object.isFrozen(VQVAE_PAPER) && Object.isFrozen(VQVAE_CPU_SMALL));
  assert.equal(VQVAE_PAPER.baseChannels, 128);
  assert.equal(VQVAE_PAPER.embedDim, 512);
  assert.equal(VQVAE_PAPER.codebookSize, 1024);
  assert.equal(VQVAE_PAPER.scaleFactor, 0.2);
  assert.equal(VQVAE_PAPER.decay, 0.99);
  assert.equal(VQVAE_PAPER.commitmentBeta, 0.25);
  const c = resolveVQVAEConfig({ embedDim: 8 }, VQVAE_PAPER);
  assert.equal(c.embedDim, 8);
  assert.equal(c.baseChannels, 128);
  assertThrowsMatching(() => resolveVQVAEConfig({ embedDims: 8 } as Partial<VQVAEConfig>), /unknown key 'embedDims'/);
  assertThrowsMatching(() => resolveVQVAEConfig({ decay: 1.5 }), /decay must be a number in \(0, 1\), got 1\.5/);
  assertThrowsMatching(() => resolveVQVAEConfig({ channelMult: [] }), /channelMult must be a non-empty array/);
  assertThrowsMatching(() => resolveVQVAEConfig({ baseChannels: 2.5 }), /baseChannels must be an integer >= 1, got 2\.5/);
  assertThrowsMatching(() => new VQVAE({ ...VQVAE_CPU_SMALL, codebookSize: 1 }), /codebookSize must be an integer >= 2, got 1/);
});

test("dtype is a parameter: a float64 model runs in float64 (a float32 condition is converted)", () => {
  const m = new VQVAE(resolveVQVAEConfig({ baseChannels: 8, channelMult: [1, 2], codebookSize: 16, lrCondition: "cfw-residual" }), { dtype: "float64" });
  assert.ok(m.parameters().every((p) => p.dtype === "float64"));
  assert.equal(m.quantize.embedding.dtype, "float64");
  T.tidy(() => {
    const out = m.loss(T.randn([1, 3, 8, 8], { dtype: "float64" }), T.randn([1, 1, 8, 8], { dtype: "float64" }), { lr: T.rand([1, 3, 8, 8]) });
    assert.equal(out.recon.dtype, "float64");
    assert.ok(Number.isFinite(out.total.item()));
  });
  m.dispose();
});

test("state dict round trip through safetensors: a new model gives identical codes and reconstructions", () => {
  T.manualSeed(5);
  const cfg = resolveVQVAEConfig({ baseChannels: 8, channelMult: [1, 2], codebookSize: 32, deadCodeThreshold: 0.5, lrCondition: "none" });
  const a = new VQVAE(cfg);
  const opt = new T.optim.AdamW(a.parameters(), { lr: 1e-3 });
  const x = T.randn([2, 3, 16, 16]);
  const target = T.randn([2, 1, 16, 16]);
  for (let i = 0; i < 3; i++) {
    T.tidy(() => {
      opt.zeroGrad();
      a.loss(x, target).total.backward();
      opt.step();
    });
  }
  assert.equal(a.quantize.initialized.item(), 1);
  const file = join(work, "vqvae.safetensors");
  T.tidy(() => T.io.saveFile(file, a.stateDict()));
  T.manualSeed(99);
  const b = new VQVAE(cfg);
  const loaded = T.io.loadFile(file).tensors;
  b.loadStateDict(loaded, { strict: true });
  for (const t of loaded.values()) t.dispose();
  a.eval();
  b.eval();
  T.noGrad(() =>
    T.tidy(() => {
      const ra = a.forward(x);
      const rb = b.forward(x);
      assert.deepEqual(rb.indices.toArray(), ra.indices.toArray());
      assert.deepEqual(rb.recon.toArray(), ra.recon.toArray());
      assert.deepEqual(b.quantize.clusterSize.toArray(), a.quantize.clusterSize.toArray());
      assert.equal(b.quantize.initialized.item(), 1);
    }),
  );
  opt.dispose();
  a.dispose();
  b.dispose();
  x.dispose();
  target.dispose();
});
