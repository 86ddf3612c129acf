// One training evaluation in the resshift formulation (src/models/moediff/shift_losses.ts): every
// expert sees the same noised latent and level; the gate learns (also during the uniform warm-up);
// a few optimiser steps on a fixed batch lower the loss.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import { MoEDiffSR } from "../../../src/models/moediff/moediff.js";
import { moeShiftLosses } from "../../../src/models/moediff/shift_losses.js";
import type { MoELatents } from "../../../src/models/moediff/training_losses.js";
import type { ExpertInput } from "../../../src/models/experts/config.js";
import { createPerceptualExtractor } from "../../../src/models/perceptual/index.js";
import { tinyMoEConfig } from "../../train/fixture.js";

const C = 4;

function setup(seed = 1): { model: MoEDiffSR; lat: MoELatents; losses: ReturnType<typeof tinyMoEConfig>["losses"] } {
  T.manualSeed(seed);
  const config = tinyMoEConfig(1, { model: { target: "residual", residualScale: 1, formulation: "resshift", gating: { mode: "spatial" } } });
  const model = new MoEDiffSR(config.model, C);
  const g = new T.Generator({ seed: seed + 10 });
  const condLatent = T.randn([2, C, 8, 8], { generator: g });
  const z0 = T.tidy(() => condLatent.add(T.randn([2, C, 8, 8], { generator: g }).mul(0.5)));
  const y = T.rand([2, 3, 64, 64], { generator: g });
  return { model, lat: { z0, condLatent, y }, losses: config.losses };
}

test("every expert is shown the same noised latent and the same level", () => {
  const { model, lat, losses } = setup();
  const seen: { zt: number[]; t: number[] }[] = [];
  model.experts.forEach((e) => {
    const forward = e.forward.bind(e);
    (e as unknown as { forward: (x: ExpertInput) => T.Tensor }).forward = (x) => {
      seen.push({ zt: x.zt.toArray() as number[], t: x.t.toArray() as number[] });
      return forward(x);
    };
  });
  const phi = createPerceptualExtractor().features;
  T.tidy(() => void moeShiftLosses(model, lat, { uniformGating: false, generator: new T.Generator({ seed: 3 }), phi, losses, weighting: 1, training: true }));
  assert.equal(seen.length, 3);
  assert.deepEqual(seen[1], seen[0]);
  assert.deepEqual(seen[2], seen[0]);
});

test("the gate gets a gradient (token cross-entropy and the mixture's loss), also while the weights used are uniform", () => {
  for (const uniform of [false, true]) {
    const { model, lat, losses } = setup(2);
    const phi = createPerceptualExtractor().features;
    T.tidy(() => {
      const r = moeShiftLosses(model, lat, { uniformGating: uniform, generator: new T.Generator({ seed: 4 }), phi, losses, weighting: 1, training: true });
      assert.ok(r.mix !== undefined && r.mix > 0);
      r.total.backward();
    });
    const g = model.gating.queries.grad;
    assert.ok(g !== null && g.abs().sum().item() > 0, `uniform ${uniform}: no gradient reached the gating queries`);
  }
});

test("30 AdamW steps on one batch lower the total loss", () => {
  const { model, lat, losses } = setup(3);
  const phi = createPerceptualExtractor().features;
  const opt = new T.optim.AdamW(model.parameters(), { lr: 2e-3 });
  const gen = new T.Generator({ seed: 5 });
  const run = (): number =>
    T.tidy(() => {
      opt.zeroGrad();
      const r = moeShiftLosses(model, lat, { uniformGating: false, generator: gen, phi, losses, weighting: 1, training: true });
      r.total.backward();
      opt.step();
      return r.total.item();
    });
  const first = [run(), run(), run()].reduce((a, b) => a + b) / 3;
  for (let i = 0; i < 24; i++) run();
  const last = [run(), run(), run()].reduce((a, b) => a + b) / 3;
  assert.ok(last < first * 0.8, `loss ${first.toFixed(4)} -> ${last.toFixed(4)}`);
});

test("losses.expertFloor: an expert the gate never picks learns only with a floor above 0", () => {
  const gradOfUnrouted = (floor: number): number => {
    const { model, lat, losses } = setup(4);
    // Every token goes to expert 0 (the gates used replaced by a one-hot map); Eq. 16's diversity term,
    // which trains every expert, is off.
    const gates = (route: Parameters<typeof model.usedGates>[0], size: [number, number], uniform: boolean): T.Tensor => {
      const used = original(route, size, uniform);
      const shape = [...used.shape];
      return T.tidy(() => T.cat([T.ones([shape[0]!, 1, ...shape.slice(2)]), T.zeros([shape[0]!, shape[1]! - 1, ...shape.slice(2)])], 1));
    };
    const original = model.usedGates.bind(model);
    (model as unknown as { usedGates: typeof gates }).usedGates = gates;
    const phi = createPerceptualExtractor().features;
    T.tidy(() => {
      const r = moeShiftLosses(model, lat, { uniformGating: false, generator: new T.Generator({ seed: 6 }), phi, losses: { ...losses, expertFloor: floor, diversity: false }, weighting: 1, training: true });
      r.total.backward();
    });
    return model.experts[2]!.parameters().reduce((a, p) => a + (p.grad === null ? 0 : T.tidy(() => p.grad!.abs().sum().item())), 0);
  };
  assert.equal(gradOfUnrouted(0), 0);
  assert.ok(gradOfUnrouted(1) > 0, "with expertFloor 1 the unrouted expert got no gradient");
});

test("losses.detachGatingInput: the gate reads the condition tokens without a path back into the encoder", () => {
  for (const detach of [false, true]) {
    const { model, lat, losses } = setup(5);
    const seen: boolean[] = [];
    const route = model.route.bind(model);
    (model as unknown as { route: typeof route }).route = (zc, grids) => {
      seen.push(zc.requiresGrad);
      return route(zc, grids);
    };
    const phi = createPerceptualExtractor().features;
    T.tidy(() => void moeShiftLosses(model, lat, { uniformGating: false, generator: new T.Generator({ seed: 7 }), phi, losses: { ...losses, detachGatingInput: detach }, weighting: 1, training: true }));
    assert.deepEqual(seen, [!detach], `detachGatingInput ${detach}`);
  }
});
