import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { TOY_SR_DEFAULTS, trainToySr } from "./toy_sr.js";

test("the engine demo learns: the network beats bicubic on held-out images and frees its tensors", () => {
  const before = T.memory().numTensors;
  const losses: number[] = [];
  const r = trainToySr({ ...TOY_SR_DEFAULTS, steps: 150, batch: 8, size: 32, onStep: (_, l) => losses.push(l) });
  assert.equal(losses.length, 150);
  const early = losses.slice(0, 10).reduce((a, b) => a + b) / 10;
  const late = losses.slice(-10).reduce((a, b) => a + b) / 10;
  assert.ok(late < early * 0.8, `loss should fall: first ten ${early.toFixed(4)}, last ten ${late.toFixed(4)}`);
  assert.ok(r.networkPsnr > r.bicubicPsnr, `network ${r.networkPsnr.toFixed(2)} dB vs bicubic ${r.bicubicPsnr.toFixed(2)} dB`);
  assert.equal(T.memory().numTensors, before);
});
