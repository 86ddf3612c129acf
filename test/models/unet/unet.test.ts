// The regression U-Net: shapes, the residual identity at initialisation (the untrained network returns
// the B-spline centre slice exactly), the state-dict layout (the file format), learning through the
// zero-initialised output, and clear refusals of bad inputs and configs.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import { UNet, UNET_CPU_SMALL, groupsFor, resolveUNetRunConfig, type UNetConfig } from "../../../src/models/unet/index.js";

const tiny = (o: Partial<UNetConfig> = {}): UNetConfig => ({ ...UNET_CPU_SMALL, baseChannels: 8, channelMult: [1, 2, 4], ...o });

test("forward: [B, 3, H, W] -> [B, 1, H, W] for any H, W that divide by 2^(levels-1); the residual has the same shape", () => {
  T.manualSeed(1);
  const m = new UNet(tiny());
  assert.equal(m.sizeMultiple, 4);
  assert.equal(m.centreChannel, 1);
  T.tidy(() => {
    for (const [h, w] of [[32, 48], [8, 4], [64, 64]] as const) {
      const y = T.rand([2, 3, h, w]);
      assert.deepEqual(m.forward(y).shape, [2, 1, h, w]);
      assert.deepEqual(m.residual(y).shape, [2, 1, h, w]);
    }
  });
  m.dispose();
});

test("at initialisation the output is the centre input slice exactly (zero-initialised output convolution)", () => {
  T.manualSeed(2);
  const m = new UNet(tiny());
  T.tidy(() => {
    const y = T.rand([3, 3, 16, 24]);
    const out = m.forward(y);
    assert.equal(out.sub(y.narrow(1, 1, 1)).abs().amax().item(), 0);
    // and not the neighbours
    assert.ok(out.sub(y.narrow(1, 0, 1)).abs().amax().item() > 0.1);
  });
  m.dispose();
});

test("the zero-initialised output still learns: one backward gives conv_out a non-zero gradient and a step moves the output", () => {
  T.manualSeed(3);
  const m = new UNet(tiny());
  const opt = new T.optim.AdamW(m.parameters(), { lr: 1e-2 });
  T.tidy(() => {
    const y = T.rand([2, 3, 16, 16]);
    const hr = T.rand([2, 1, 16, 16]);
    const before = m.loss(y, hr).loss.item();
    opt.zeroGrad();
    m.loss(y, hr).loss.backward();
    assert.ok(m.convOut.weight.grad!.abs().sum().item() > 0, "conv_out.weight has a gradient");
    opt.step();
    const after = T.noGrad(() => m.loss(y, hr).loss.item());
    assert.notEqual(after, before);
    assert.ok(T.noGrad(() => m.residual(y).abs().amax().item()) > 0, "the residual is no longer zero");
  });
  m.dispose();
});

test("state-dict keys are the documented layout; norm 'none' has no GroupNorm weights; groups divide the channels", () => {
  const m = new UNet(tiny({ numResBlocks: 2 }));
  const keys = [...m.stateDict().keys()];
  for (const k of [
    "conv_in.weight",
    "down.0.blocks.0.conv1.weight",
    "down.0.blocks.1.norm2.weight",
    "down.0.downsample.conv.weight",
    "down.1.blocks.0.skip.weight",
    "down.2.blocks.1.conv2.bias",
    "mid.conv1.weight",
    "up.0.upsample.conv.weight",
    "up.0.blocks.0.skip.weight",
    "up.1.blocks.1.conv2.weight",
    "norm_out.weight",
    "conv_out.weight",
    "conv_out.bias",
  ]) {
    assert.ok(keys.includes(k), `missing ${k}`);
  }
  assert.ok(!keys.some((k) => k.startsWith("down.2.downsample")), "the last level does not downsample");
  assert.ok(!keys.some((k) => k.startsWith("up.2")), "two decoder levels for three levels");
  const plain = new UNet(tiny({ norm: "none" }));
  const plainKeys = [...plain.stateDict().keys()];
  assert.ok(!plainKeys.some((k) => /norm/.test(k)), plainKeys.filter((k) => /norm/.test(k)).join(", "));
  assert.ok(plain.numParameters() < m.numParameters());
  for (const c of [8, 16, 32, 48, 64, 128, 3]) assert.equal(c % groupsFor(c), 0);
  assert.equal(groupsFor(32), 16);
  assert.equal(groupsFor(128), 32);
  m.dispose();
  plain.dispose();
});

test("bad inputs are refused with what is wrong", () => {
  const m = new UNet(tiny());
  T.tidy(() => {
    assert.throws(() => m.forward(T.rand([1, 1, 16, 16])), /y must be \[B, 3, H, W\] \(3T slices k-1, k, k\+1\), got \[1, 1, 16, 16\]/);
    assert.throws(() => m.forward(T.rand([1, 3, 18, 16])), /H and W must be multiples of 4 .* got 18x16; pad the slice/);
    assert.throws(() => m.loss(T.rand([2, 3, 16, 16]), T.rand([2, 1, 8, 16])), /hr must be \[2, 1, 16, 16\] to match y/);
  });
  m.dispose();
});

test("resolveUNetRunConfig: overrides merge into the preset; unknown keys and bad values are refused with the key path", () => {
  const c = resolveUNetRunConfig("cpu-small", { model: { baseChannels: 16 }, training: { cropSize: 64 } });
  assert.equal(c.kind, "unet");
  assert.equal(c.model.baseChannels, 16);
  assert.deepEqual(c.model.channelMult, [1, 2, 4]);
  assert.equal(c.training.cropSize, 64);
  assert.equal(c.training.batchSize, 8);
  assert.throws(() => resolveUNetRunConfig("big"), /unknown U-Net preset 'big' \(known: cpu-small\)/);
  assert.throws(() => resolveUNetRunConfig("cpu-small", { model: { depth: 3 } }), /unknown key config\.model\.depth/);
  assert.throws(() => resolveUNetRunConfig("cpu-small", { model: { norm: "batch" } }), /config\.model\.norm must be "group" or "none", got "batch"/);
  assert.throws(() => resolveUNetRunConfig("cpu-small", { model: { channelMult: [] } }), /config\.model\.channelMult must be 1 to 6 positive integers/);
  assert.throws(() => resolveUNetRunConfig("cpu-small", { training: { cropSize: 90 } }), /config\.training\.cropSize must be 0 or a positive multiple of 4/);
  assert.throws(() => resolveUNetRunConfig("cpu-small", { training: { minutes: -1 } }), /config\.training\.minutes must be >= 0/);
  assert.throws(() => resolveUNetRunConfig("cpu-small", { kind: "moediff" }), /config\.kind must be "unet"/);
});
