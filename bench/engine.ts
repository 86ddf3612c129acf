// Engine benchmark: per-op dispatch overhead from TypeScript, and the speed of
// a conv-net training step driven from TypeScript against the same step run
// entirely in C++ inside the addon, interleaved in one process.
//
//   npm run -s bench:engine [-- --batch 8 --channels 64 --size 64 --layers 4 --rounds 5 --steps 3 --threads N]
//
// The last line printed is one JSON object.
import * as T from "../src/torch/index.js";
import { Conv2d, ReLU, Sequential } from "../src/torch/nn/index.js";
import { AdamW } from "../src/torch/optim/index.js";
import { native } from "../src/torch/native.js";
import { median, parseIntFlag, timePerCallUs } from "./stats.js";

const args = process.argv.slice(2);
const batch = parseIntFlag(args, "batch", 8);
const channels = parseIntFlag(args, "channels", 64);
const size = parseIntFlag(args, "size", 64);
const layers = parseIntFlag(args, "layers", 4);
const rounds = parseIntFlag(args, "rounds", 5);
const steps = parseIntFlag(args, "steps", 3);
T.setNumThreads(parseIntFlag(args, "threads", T.getNumThreads()));

// 1. Dispatch overhead: a tiny elementwise op and a tiny conv, each including
//    the JS Tensor wrapper and its dispose().
const a = T.tensor([1]);
const b = T.tensor([2]);
const dispatchUs = timePerCallUs(() => a.add(b).dispose(), 20_000, 15);
const cx = T.ones([1, 1, 4, 4]);
const cw = T.ones([1, 1, 3, 3]);
const convDispatchUs = timePerCallUs(() => T.F.conv2d(cx, cw).dispose(), 5_000, 15);
for (const t of [a, b, cx, cw]) t.dispose();

// 2. Training step: conv3x3 x layers (ReLU between), MSE loss, backward, AdamW.
const convs: (Conv2d | ReLU)[] = [];
for (let i = 0; i < layers; i++) {
  convs.push(new Conv2d(channels, channels, 3, { padding: 1 }));
  if (i + 1 < layers) convs.push(new ReLU());
}
const net = new Sequential(...convs);
const opt = new AdamW(net.parameters(), { lr: 1e-3, weightDecay: 1e-2 });
const x = T.randn([batch, channels, size, size]);
const y = T.randn([batch, channels, size, size]);

function tsSteps(n: number): number[] {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    T.tidy(() => {
      opt.zeroGrad();
      const loss = T.F.mseLoss(net.forward(x), y);
      loss.backward();
      opt.step();
    });
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms;
}

// Warm up both paths (oneDNN primitive caches, allocator), then interleave
// rounds so that drift in machine load hits both alike.
tsSteps(2);
native.benchConvStepCpp(batch, channels, size, layers, 2, 1);
const tsMs: number[] = [];
const cppMs: number[] = [];
for (let r = 0; r < rounds; r++) {
  tsMs.push(...tsSteps(steps));
  cppMs.push(...native.benchConvStepCpp(batch, channels, size, layers, 0, steps));
}
net.dispose();
opt.dispose();
x.dispose();
y.dispose();

// Multiply-adds count 2 FLOPs; a training step is counted as 3x the forward
// convolutions (forward, input gradient, weight gradient), for both paths.
const forwardFlops = layers * 2 * channels * channels * 9 * size * size * batch;
const stepFlops = 3 * forwardFlops;
const tsGflops = stepFlops / (median(tsMs) * 1e6);
const cppGflops = stepFlops / (median(cppMs) * 1e6);

const result = {
  dispatch_us: +dispatchUs.toFixed(3),
  conv_dispatch_us: +convDispatchUs.toFixed(3),
  ts_gflops: +tsGflops.toFixed(2),
  cpp_gflops: +cppGflops.toFixed(2),
  ratio: +(tsGflops / cppGflops).toFixed(3),
  threads: T.getNumThreads(),
  ts_step_ms_median: +median(tsMs).toFixed(2),
  cpp_step_ms_median: +median(cppMs).toFixed(2),
  steps_each: tsMs.length,
  config: { batch, channels, size, layers },
  libtorch: T.libtorchVersion(),
};
console.error(
  `dispatch ${result.dispatch_us} us, conv dispatch ${result.conv_dispatch_us} us; ` +
    `training step: TypeScript ${result.ts_gflops} GFLOP/s vs C++ ${result.cpp_gflops} GFLOP/s (ratio ${result.ratio}) on ${result.threads} threads`,
);
console.log(JSON.stringify(result));
