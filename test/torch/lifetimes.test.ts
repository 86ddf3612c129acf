// Tensor lifetimes under a real training loop: nothing may accumulate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as T from "../../src/torch/index.js";
import { Conv2d, GroupNorm, ReLU, Sequential } from "../../src/torch/nn/index.js";
import { AdamW, clipGradNorm_, cosineSchedule } from "../../src/torch/optim/index.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function settle(): void {
  for (let i = 0; i < 3; i++) gc();
}

test("1,000 training steps of a small conv net: resident memory grows < 5% after warm-up", () => {
  T.manualSeed(0);
  const net = new Sequential(
    new Conv2d(2, 16, 3, { padding: 1 }),
    new GroupNorm(4, 16),
    new ReLU(),
    new Conv2d(16, 16, 3, { padding: 1 }),
    new ReLU(),
    new Conv2d(16, 2, 3, { padding: 1 }),
  );
  const opt = new AdamW(net.parameters(), { lr: 1e-3 });
  const sched = cosineSchedule(opt, { totalSteps: 1000, warmupSteps: 10 });
  const x = T.randn([4, 2, 24, 24]);
  const y = T.randn([4, 2, 24, 24]);

  const losses: number[] = [];
  const step = (): void => {
    const loss = T.tidy(() => {
      opt.zeroGrad();
      const l = T.F.mseLoss(net.forward(x), y);
      l.backward();
      clipGradNorm_(net.parameters(), 1.0);
      opt.step();
      return l.item();
    });
    sched.step();
    losses.push(loss);
  };

  for (let i = 0; i < 100; i++) step();
  settle();
  const rss0 = process.memoryUsage.rss();
  const mem0 = T.memory();
  for (let i = 0; i < 900; i++) step();
  settle();
  const rss1 = process.memoryUsage.rss();
  const mem1 = T.memory();

  assert.equal(mem1.numTensors, mem0.numTensors, "live tensor handles must not grow");
  assert.equal(mem1.numBytes, mem0.numBytes, "native CPU bytes must not grow");
  assert.equal(mem1.numLeaked, mem0.numLeaked, "no tensor may be left to the garbage collector");
  const growth = (rss1 - rss0) / rss0;
  assert.ok(growth <= 0.05, `resident memory grew ${(growth * 100).toFixed(2)}% (${rss0} -> ${rss1} bytes)`);
  assert.ok((losses.at(-1) as number) < (losses[0] as number), "the loop must actually train");

  net.dispose();
  opt.dispose();
  x.dispose();
  y.dispose();
});

test("a training step leaves memory() exactly where it was", () => {
  const net = new Sequential(new Conv2d(1, 4, 3, { padding: 1 }), new ReLU(), new Conv2d(4, 1, 3, { padding: 1 }));
  const opt = new AdamW(net.parameters());
  const x = T.randn([2, 1, 8, 8]);
  const once = (): void =>
    T.tidy(() => {
      opt.zeroGrad();
      T.F.mseLoss(net.forward(x), x).backward();
      opt.step();
    });
  once(); // creates the optimiser state
  const before = T.memory();
  once();
  once();
  const after = T.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  net.dispose();
  opt.dispose();
  x.dispose();
});
