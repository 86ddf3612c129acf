// losses.taskWeighting: "alphaBar" multiplies each sample's task loss (Eq. 10-12) by alphaBar of the
// timestep that expert drew for it, and leaves the diffusion losses (Eq. 7) untouched.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { MoEDiffSR } from "../../src/models/moediff/moediff.js";
import { moeTrainingLosses } from "../../src/models/moediff/training_losses.js";
import { resolveMoEDiffConfig } from "../../src/models/moediff/config.js";
import { createPerceptualExtractor } from "../../src/models/perceptual/index.js";
import { tinyMoEConfig } from "./fixture.js";
import { assertThrowsMatching } from "../helpers.js";

test("alphaBar task weighting scales each expert's task loss by alphaBar_t(i); diffusion losses unchanged", () => {
  T.manualSeed(3);
  const cfg = tinyMoEConfig(1, { model: { timesteps: [50, 200, 100] } });
  const model = new MoEDiffSR(cfg.model, 4);
  model.eval();
  const phi = createPerceptualExtractor();
  const g0 = new T.Generator({ seed: 1 });
  const lat = { z0: T.randn([1, 4, 16, 16], { generator: g0 }), condLatent: T.randn([1, 4, 16, 16], { generator: g0 }), y: T.rand([1, 3, 64, 64], { generator: g0 }) };
  const run = (taskWeighting: "none" | "alphaBar") =>
    T.noGrad(() =>
      moeTrainingLosses(model, lat, {
        uniformGating: false,
        generator: new T.Generator({ seed: 42 }),
        phi: (z) => phi.features(z),
        losses: { ...cfg.losses, taskWeighting },
        weighting: 1,
        training: false,
      }),
    );
  const none = run("none");
  const weighted = run("alphaBar");
  // Replay the generator: each expert draws its t, then its noise.
  const g = new T.Generator({ seed: 42 });
  const ab = model.schedules.map((s) => {
    const t = s.sampleTimesteps(1, { generator: g });
    T.randn([1, 4, 16, 16], { generator: g }).dispose();
    const v = s.alphaBar((t.toArray() as number[])[0] as number);
    t.dispose();
    return v;
  });
  none.terms.diffusion.forEach((d, i) => assert.equal(weighted.terms.diffusion[i], d));
  none.terms.task.forEach((x, i) => {
    const want = x * (ab[i] as number);
    assert.ok(Math.abs((weighted.terms.task[i] as number) - want) <= 1e-5 * Math.max(1, Math.abs(want)), `expert ${i}: ${weighted.terms.task[i]} vs ${want}`);
  });
  [none.total, weighted.total, lat.z0, lat.condLatent, lat.y].forEach((t) => t.dispose());
  phi.dispose();
  model.dispose();
});

test("taskWeighting: paper preset as written, cpu-small weighted, anything else refused", () => {
  assert.equal(resolveMoEDiffConfig("paper").losses.taskWeighting, "none");
  assert.equal(resolveMoEDiffConfig("cpu-small").losses.taskWeighting, "alphaBar");
  assertThrowsMatching(() => resolveMoEDiffConfig("cpu-small", { losses: { taskWeighting: "snr" } }), /losses.taskWeighting must be 'none' or 'alphaBar'/);
});
