// The LR-conditioned decoder (lrCondition "cfw", "cfw-residual"): it starts as the plain decoder (zero
// fusion), then depends on lr; cfwWeight 0 removes the 3T features; the residual variant adds the
// condition's centre slice; a plain model ignores lr and has no new keys; clear errors for a missing
// or misshapen lr; a saved directory loads back to the same outputs, and one written before the switch
// existed loads as a plain model; both variants learn to use the 3T image.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as T from "../../../src/torch/index.js";
import { loadVqvae, resolveVQVAEConfig, resolveVqvaeRunConfig, VQVAE, type VQVAEConfig } from "../../../src/models/vqvae/index.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

const work = mkdtempSync(join(tmpdir(), "moediff-vqvae-lr-"));
after(() => rmSync(work, { recursive: true, force: true }));

const PLAIN = resolveVQVAEConfig({ baseChannels: 8, channelMult: [1, 2], codebookSize: 32, lrCondition: "none" });
const CFW: VQVAEConfig = { ...PLAIN, lrCondition: "cfw" };
const RESIDUAL: VQVAEConfig = { ...PLAIN, lrCondition: "cfw-residual" };

/** Copies every weight of `from` that `to` has (the plain decoder's keys are a subset of the conditioned one's). */
function copyShared(from: VQVAE, to: VQVAE): string[] {
  const sd = from.stateDict();
  try {
    return to.loadStateDict(sd, { strict: false }).missingKeys;
  } finally {
    for (const t of sd.values()) t.dispose();
  }
}

/** Non-zero weights for every fusion convolution (they start at zero). */
function perturbFusion(m: VQVAE, seed: number): void {
  const g = new T.Generator({ seed });
  for (const [k, p] of m.namedParameters()) if (k.includes(".fuse.")) T.nn.init.normal_(p, 0, 0.2, { generator: g });
  g.dispose();
}

test("the conditioned decoder starts as the plain one (zero fusion) and, once its fusion is non-zero, depends on lr; cfwWeight 0 removes lr", () => {
  T.manualSeed(1);
  const plain = new VQVAE(PLAIN);
  const cfw = new VQVAE(CFW);
  const missing = copyShared(plain, cfw);
  assert.ok(missing.length > 0 && missing.every((k) => k.startsWith("decoder.lr_encoder.") || /^decoder\.up\.\d\.fuse\./.test(k)), `only the new weights are missing: ${missing.join(", ")}`);
  plain.eval();
  cfw.eval();
  T.noGrad(() =>
    T.tidy(() => {
      const zq = T.randn([2, 4, 8, 8]);
      const lr1 = T.rand([2, 3, 16, 16]);
      const lr2 = T.rand([2, 3, 16, 16]);
      const ref = plain.decode(zq);
      assertClose(cfw.decode(zq, { lr: lr1 }).toArray(), ref.toArray(), { atol: 1e-6, rtol: 1e-5 });
      perturbFusion(cfw, 3);
      const a = cfw.decode(zq, { lr: lr1 });
      const b = cfw.decode(zq, { lr: lr2 });
      const changed = a.sub(b).abs().amax().item();
      assert.ok(changed > 1e-3, `the output moves with lr (max change ${changed})`);
      assertClose(cfw.decode(zq, { lr: lr1 }).toArray(), a.toArray(), { atol: 0, rtol: 0 });
      // w = 0: f + 0 * fuse([f, f_lr]) = f, the plain decoder's features
      assertClose(cfw.decode(zq, { lr: lr1, cfwWeight: 0 }).toArray(), ref.toArray(), { atol: 1e-6, rtol: 1e-5 });
      // decodeLatent and decodeIndices pass lr on
      assertClose(cfw.decodeLatent(zq.mul(cfw.scaleFactor), { lr: lr2 }).toArray(), b.toArray(), { atol: 1e-5, rtol: 1e-4 });
      const idx = T.randint(0, 32, [2, 8, 8], { dtype: "int64" });
      assertClose(cfw.decodeIndices(idx, { lr: lr2 }).toArray(), cfw.decode(cfw.quantize.embed(idx), { lr: lr2 }).toArray(), { atol: 0, rtol: 0 });
    }),
  );
  plain.dispose();
  cfw.dispose();
});

test("cfw-residual: the same weights as cfw, and the output is cfw's plus the condition's centre slice", () => {
  T.manualSeed(6);
  const cfw = new VQVAE(CFW);
  perturbFusion(cfw, 8);
  const res = new VQVAE(RESIDUAL);
  const sd = cfw.stateDict();
  res.loadStateDict(sd, { strict: true });
  for (const t of sd.values()) t.dispose();
  cfw.eval();
  res.eval();
  T.noGrad(() =>
    T.tidy(() => {
      const zq = T.randn([2, 4, 8, 8]);
      const lr = T.rand([2, 3, 16, 16]);
      assertClose(res.decode(zq, { lr }).toArray(), cfw.decode(zq, { lr }).add(lr.narrow(1, 1, 1)).toArray(), { atol: 1e-6, rtol: 1e-5 });
      assertThrowsMatching(() => res.decode(zq), /lrCondition "cfw-residual"\): pass \{ lr \}/);
    }),
  );
  cfw.dispose();
  res.dispose();
});

test("a plain model has no LR weights, ignores lr, and its parameter count grows by exactly the LR encoder and fusions when conditioned", () => {
  T.manualSeed(2);
  const plain = new VQVAE(PLAIN);
  assert.equal(plain.lrConditioned, false);
  const keys = [...plain.namedParameters(), ...plain.namedBuffers()].map(([k]) => k);
  assert.ok(keys.length > 0 && !keys.some((k) => k.includes("lr_encoder") || k.includes(".fuse.")));
  T.noGrad(() =>
    T.tidy(() => {
      const zq = T.randn([1, 4, 8, 8]);
      assert.deepEqual(plain.decode(zq, { lr: T.rand([1, 3, 16, 16]) }).toArray(), plain.decode(zq).toArray());
    }),
  );
  const cfw = new VQVAE(CFW);
  assert.equal(cfw.lrConditioned, true);
  // Layer by layer (lr_encoder.ts, decoder.ts): conv_in 3 -> 8; level 0 ResBlock 8 -> 8; level 1 a
  // stride-2 conv 8 -> 8 and ResBlock 8 -> 16 (with its 1x1 shortcut); fusions 16 -> 8 and 32 -> 16.
  const conv = (i: number, o: number, k: number): number => o * i * k * k + o;
  const gn = (c: number): number => 2 * c;
  const res = (i: number, o: number): number => gn(i) + conv(i, o, 3) + gn(o) + conv(o, o, 3) + (i === o ? 0 : conv(i, o, 1));
  const extra = conv(3, 8, 3) + res(8, 8) + conv(8, 8, 3) + res(8, 16) + conv(16, 8, 3) + conv(32, 16, 3);
  assert.equal(cfw.numParameters() - plain.numParameters(), extra);
  assert.equal(cfw.decoder.numParameters() - plain.decoder.numParameters(), extra, "the LR encoder counts as part of the decoder");
  plain.dispose();
  cfw.dispose();
});

test("a conditioned model refuses to decode without lr, or with an lr of the wrong shape, saying what it needs", () => {
  T.manualSeed(3);
  const m = new VQVAE(CFW);
  T.noGrad(() =>
    T.tidy(() => {
      const zq = T.randn([2, 4, 8, 8]);
      assertThrowsMatching(() => m.decode(zq), /conditioned on the 3T image \(lrCondition "cfw"\): pass \{ lr \}, the condition \[2, 3, 16, 16\]/);
      assertThrowsMatching(() => m.decodeLatent(zq), /pass \{ lr \}/);
      assertThrowsMatching(() => m.forward(T.randn([2, 3, 16, 16])), /pass \{ lr \}/);
      assertThrowsMatching(() => m.loss(T.randn([2, 3, 16, 16]), T.randn([2, 1, 16, 16])), /pass \{ lr \}/);
      assertThrowsMatching(() => m.decode(zq, { lr: T.rand([2, 1, 16, 16]) }), /lr must be \[2, 3, 16, 16\] .*got \[2, 1, 16, 16\]/);
      assertThrowsMatching(() => m.decode(zq, { lr: T.rand([2, 3, 32, 32]) }), /lr must be \[2, 3, 16, 16\]/);
      assertThrowsMatching(() => m.decode(zq, { lr: T.rand([1, 3, 16, 16]) }), /lr must be \[2, 3, 16, 16\]/);
      assertThrowsMatching(() => m.decode(zq, { lr: T.rand([2, 3, 16, 16]), cfwWeight: Number.NaN }), /cfwWeight must be a finite number/);
      const plain = new VQVAE(PLAIN);
      assertThrowsMatching(() => plain.decoder.forward(zq, T.rand([2, 3, 16, 16])), /not LR-conditioned .*call it without lr/);
      plain.dispose();
    }),
  );
  assertThrowsMatching(() => resolveVQVAEConfig({ lrCondition: "sft" as never }), /lrCondition must be one of "none", "cfw", "cfw-residual", got "sft"/);
  m.dispose();
});

/** Writes a trained-looking VQ-VAE directory (config.json + model.safetensors) for `m`. */
function writeDir(dir: string, m: VQVAE, model: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  const run = resolveVqvaeRunConfig("cpu-small");
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...run, model }));
  const sd = m.stateDict();
  try {
    T.io.saveFile(join(dir, "model.safetensors"), sd);
  } finally {
    for (const t of sd.values()) t.dispose();
  }
}

test("save/load round trip: a conditioned directory loads to the same outputs; a config.json without lrCondition loads as a plain model", () => {
  T.manualSeed(4);
  const cfw = new VQVAE(CFW);
  perturbFusion(cfw, 7);
  cfw.eval();
  writeDir(join(work, "cfw"), cfw, { ...CFW });
  const plain = new VQVAE(PLAIN);
  plain.eval();
  // as train-vqvae wrote it before the switch existed: every other model key, no lrCondition
  const { lrCondition: _dropped, ...old } = PLAIN;
  writeDir(join(work, "old"), plain, old);
  const a = loadVqvae(join(work, "cfw")).model;
  const b = loadVqvae(join(work, "old"));
  assert.equal(a.lrConditioned, true);
  assert.equal(b.model.lrConditioned, false);
  assert.equal(b.config.model.lrCondition, "none");
  T.noGrad(() =>
    T.tidy(() => {
      const x = T.rand([2, 3, 16, 16]);
      const lr = T.rand([2, 3, 16, 16]);
      assert.deepEqual(a.forward(x, { lr }).recon.toArray(), cfw.forward(x, { lr }).recon.toArray());
      assert.deepEqual(b.model.forward(x).recon.toArray(), plain.forward(x).recon.toArray());
    }),
  );
  for (const m of [cfw, plain, a, b.model]) m.dispose();
});

/** Blobs [B, 1, S, S] in [0, 1] that differ per sample (a target no small codebook can carry). */
function blobs(b: number, s: number, g: T.Generator): T.Tensor {
  return T.tidy(() => {
    const coords = T.linspace(-1, 1, s);
    const yy = coords.reshape(1, 1, s, 1);
    const xx = coords.reshape(1, 1, 1, s);
    let img = T.zeros([b, 1, s, s]);
    for (let k = 0; k < 6; k++) {
      const c = T.uniform(-0.8, 0.8, [b, 2, 1, 1], { generator: g });
      const r2 = yy.sub(c.narrow(1, 0, 1)).square().add(xx.sub(c.narrow(1, 1, 1)).square());
      img = img.add(r2.div(-0.02).exp().mul(0.5));
    }
    return img.clamp(0, 1);
  });
}

test("it learns to use the 3T image: with a 2-code codebook, both conditioned models reconstruct a target their lr shows at under half the plain model's L1", () => {
  const g = new T.Generator({ seed: 11 });
  const target = blobs(4, 16, g);
  const lr = T.tidy(() => T.cat([target, target, target], 1).add(T.randn([4, 3, 16, 16], { generator: g }).mul(0.02)));
  const x = T.tidy(() => T.cat([target, T.zerosLike(target), T.zerosLike(target)], 1));
  const final = (cfg: VQVAEConfig): number => {
    T.manualSeed(5);
    const m = new VQVAE(resolveVQVAEConfig({ ...cfg, codebookSize: 2, deadCodeThreshold: 0 }));
    const opt = new T.optim.AdamW(m.parameters(), { lr: 3e-3, weightDecay: 0 });
    const losses: number[] = [];
    for (let i = 0; i < 80; i++) {
      T.tidy(() => {
        opt.zeroGrad();
        const out = m.loss(x, target, { lr });
        out.total.backward();
        opt.step();
        losses.push(out.reconLoss.item());
      });
    }
    opt.dispose();
    m.dispose();
    return losses.slice(-5).reduce((s, v) => s + v, 0) / 5;
  };
  const plain = final(PLAIN);
  const cfw = final(CFW);
  const residual = final(RESIDUAL);
  assert.ok(cfw < 0.5 * plain && residual < 0.5 * plain, `L1 after 80 steps: cfw ${cfw.toFixed(4)}, cfw-residual ${residual.toFixed(4)}, plain ${plain.toFixed(4)}`);
  for (const t of [target, lr, x]) t.dispose();
  g.dispose();
});
