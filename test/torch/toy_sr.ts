// A small, real demonstration of the engine on the product's task in miniature:
// learn 2x super-resolution of synthetic smooth images with blobs and edges.
// The network refines a bicubic upsampling with a residual CNN; the demo
// reports held-out PSNR of bicubic against the trained network.
import * as T from "../../src/torch/index.js";
import { Conv2d, Module, ReLU, Sequential } from "../../src/torch/nn/index.js";
import { AdamW, cosineSchedule } from "../../src/torch/optim/index.js";

export interface ToySrOptions {
  steps: number;
  batch: number;
  size: number;
  channels: number;
  seed: number;
  lr: number;
  onStep?: (step: number, loss: number) => void;
}

export const TOY_SR_DEFAULTS: Readonly<ToySrOptions> = Object.freeze({ steps: 800, batch: 16, size: 48, channels: 32, seed: 0, lr: 2e-3 });

/** Random images in [0, 1]: blurred noise plus bright discs and a straight edge. */
export function syntheticImages(n: number, size: number, generator: T.Generator): T.Tensor {
  return T.tidy(() => {
    const noise = T.randn([n, 1, size, size], { generator });
    const k = 7;
    const g = T.arange(k).sub((k - 1) / 2).div(1.5).square().neg().exp();
    const kernel = T.outer(g, g);
    const smooth = T.F.conv2d(noise, kernel.div(kernel.sum()).reshape(1, 1, k, k), null, { padding: "same" });
    const coords = T.linspace(-1, 1, size);
    const yy = coords.reshape(1, 1, size, 1);
    const xx = coords.reshape(1, 1, 1, size);
    const cx = T.rand([n, 1, 1, 1], { generator }).mul(1.4).sub(0.7);
    const cy = T.rand([n, 1, 1, 1], { generator }).mul(1.4).sub(0.7);
    const r = T.rand([n, 1, 1, 1], { generator }).mul(0.3).add(0.1);
    const disc = xx.sub(cx).square().add(yy.sub(cy).square()).lt(r.square()).float();
    const edge = xx.mul(T.rand([n, 1, 1, 1], { generator }).sub(0.5)).add(yy.mul(0.3)).gt(0).float();
    const img = smooth.mul(0.5).add(disc.mul(0.6)).add(edge.mul(0.3));
    const lo = img.amin([1, 2, 3], true);
    const hi = img.amax([1, 2, 3], true);
    return img.sub(lo).div(hi.sub(lo).add(1e-6));
  });
}

/** Low-resolution version on the high-resolution grid: 2x2 average, then bicubic back up. */
export function degrade(hr: T.Tensor): T.Tensor {
  return T.tidy(() => {
    const lr = T.F.avgPool2d(hr, 2);
    return T.F.interpolate(lr, { scaleFactor: 2, mode: "bicubic", alignCorners: false }).clamp(0, 1);
  });
}

export function psnr(pred: T.Tensor, ref: T.Tensor): number {
  return T.tidy(() => {
    const mse = T.F.mseLoss(pred.clamp(0, 1), ref).item();
    return 10 * Math.log10(1 / mse);
  });
}

class ResidualRefiner extends Module {
  readonly body: Sequential;
  constructor(channels: number) {
    super();
    this.body = this.registerModule(
      "body",
      new Sequential(
        new Conv2d(1, channels, 3, { padding: 1 }),
        new ReLU(),
        new Conv2d(channels, channels, 3, { padding: 1 }),
        new ReLU(),
        new Conv2d(channels, 1, 3, { padding: 1 }),
      ),
    );
  }
  forward(x: T.Tensor): T.Tensor {
    return T.tidy(() => x.add(this.body.forward(x)));
  }
}

export interface ToySrResult {
  bicubicPsnr: number;
  networkPsnr: number;
  finalLoss: number;
  parameters: number;
  seconds: number;
}

export function trainToySr(o: ToySrOptions): ToySrResult {
  const start = Date.now();
  T.manualSeed(o.seed);
  using gen = new T.Generator({ seed: o.seed });
  const net = new ResidualRefiner(o.channels);
  const opt = new AdamW(net.parameters(), { lr: o.lr, weightDecay: 1e-4 });
  const sched = cosineSchedule(opt, { totalSteps: o.steps, warmupSteps: Math.min(20, o.steps >> 3) });
  let finalLoss = Number.NaN;
  for (let step = 1; step <= o.steps; step++) {
    finalLoss = T.tidy(() => {
      const hr = syntheticImages(o.batch, o.size, gen);
      const lr = degrade(hr);
      opt.zeroGrad();
      const loss = T.F.l1Loss(net.forward(lr), hr);
      loss.backward();
      opt.step();
      return loss.item();
    });
    sched.step();
    o.onStep?.(step, finalLoss);
  }
  net.eval();
  const [bicubicPsnr, networkPsnr] = T.noGrad(() =>
    T.tidy(() => {
      using testGen = new T.Generator({ seed: o.seed + 1_000_003 });
      const hr = syntheticImages(64, o.size, testGen);
      const lr = degrade(hr);
      return [psnr(lr, hr), psnr(net.forward(lr), hr)] as const;
    }),
  );
  const parameters = net.numParameters();
  net.dispose();
  opt.dispose();
  return { bicubicPsnr, networkPsnr, finalLoss, parameters, seconds: (Date.now() - start) / 1000 };
}
