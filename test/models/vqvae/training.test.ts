// Training behaviour: a tiny VQ-VAE overfits a small batch, and a training
// loop (forward, loss, backward, AdamW, EMA codebook, restarts) holds memory flat.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import { resolveVQVAEConfig, VQVAE } from "../../../src/models/vqvae/index.js";

/** Smooth synthetic "slices" [B, 1, S, S] in [0, 1]: a few Gaussian blobs each, plus g and b channels. */
function batch(b: number, s: number, seed: number): { x: T.Tensor; target: T.Tensor } {
  const g = new T.Generator({ seed });
  const out = T.tidy(() => {
    const coords = T.linspace(-1, 1, s);
    const yy = coords.reshape(1, 1, s, 1);
    const xx = coords.reshape(1, 1, 1, s);
    let img = T.zeros([b, 1, s, s]);
    for (let k = 0; k < 3; k++) {
      const c = T.uniform(-0.6, 0.6, [b, 2, 1, 1], { generator: g });
      const cy = c.narrow(1, 0, 1);
      const cx = c.narrow(1, 1, 1);
      const r2 = yy.sub(cy).square().add(xx.sub(cx).square());
      img = img.add(r2.div(-0.08).exp().mul(0.5));
    }
    const target = img.clamp(0, 1);
    // g: a smooth ramp; b: a smooth multiplicative field around 1 (stand-ins for the correction maps).
    const gmap = xx.mul(0.1).expand(b, 1, s, s);
    const bmap = yy.mul(0.05).add(1).expand(b, 1, s, s);
    return { x: T.cat([target, gmap, bmap], 1).contiguous(), target };
  });
  g.dispose();
  return out;
}

const TINY = resolveVQVAEConfig({
  baseChannels: 8,
  channelMult: [1, 2],
  numResBlocks: 1,
  attention: false,
  embedDim: 4,
  codebookSize: 64,
  deadCodeThreshold: 0.05,
  lrCondition: "none",
});

test("a tiny VQ-VAE overfits 4 slices of 32x32: L1 loss falls below 25% of its start within 100 AdamW steps", () => {
  T.manualSeed(0);
  const m = new VQVAE(TINY);
  const opt = new T.optim.AdamW(m.parameters(), { lr: 3e-3, weightDecay: 0 });
  const { x, target } = batch(4, 32, 1);
  const losses: number[] = [];
  const perplexities: number[] = [];
  for (let step = 0; step < 100; step++) {
    T.tidy(() => {
      opt.zeroGrad();
      const out = m.loss(x, target);
      out.total.backward();
      opt.step();
      losses.push(out.reconLoss.item());
      perplexities.push(out.perplexity.item());
    });
  }
  const first = losses.slice(0, 5).reduce((a, b) => a + b, 0) / 5;
  const last = losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
  assert.ok(last < 0.25 * first, `L1 went from ${first.toFixed(4)} to ${last.toFixed(4)}`);
  assert.ok((perplexities.at(-1) as number) > 2, `the codebook is in use (perplexity ${perplexities.at(-1)})`);
  opt.dispose();
  m.dispose();
  x.dispose();
  target.dispose();
});

test("50 training steps (EMA updates and restarts included) leave live tensors and native bytes unchanged", () => {
  T.manualSeed(2);
  const m = new VQVAE(resolveVQVAEConfig({ ...TINY, deadCodeThreshold: 0.9 }));
  const opt = new T.optim.AdamW(m.parameters(), { lr: 1e-3 });
  const { x, target } = batch(2, 16, 3);
  const step = (): void =>
    T.tidy(() => {
      opt.zeroGrad();
      const out = m.loss(x, target);
      out.total.backward();
      opt.step();
      out.total.item();
    });
  for (let i = 0; i < 3; i++) step(); // optimiser state and the codebook init exist from here on
  const before = T.memory();
  for (let i = 0; i < 50; i++) step();
  const after = T.memory();
  assert.equal(after.numTensors, before.numTensors, "live tensor handles");
  assert.equal(after.numBytes, before.numBytes, "native CPU bytes");
  assert.equal(after.numLeaked, before.numLeaked, "tensors left to the garbage collector");
  assert.ok(m.quantize.numRestarts > 0, "the loop exercised dead-code restarts");
  opt.dispose();
  m.dispose();
  x.dispose();
  target.dispose();
});
