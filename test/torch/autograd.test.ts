// Autograd: requiresGrad, backward, grad, zeroGrad, detach, noGrad; gradients against PyTorch.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/torch/index.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";
import { golden } from "./golden.js";

const F = T.F;

test("requiresGrad: off by default, set by option, property or requiresGrad_()", () => {
  T.tidy(() => {
    const a = T.ones([2]);
    assert.equal(a.requiresGrad, false);
    a.requiresGrad = true;
    assert.equal(a.requiresGrad, true);
    assert.equal(T.zeros([2], { requiresGrad: true }).requiresGrad, true);
    assert.equal(T.tensor([1, 2], undefined, { requiresGrad: true }).requiresGrad, true);
    const b = T.ones([2]).requiresGrad_();
    assert.equal(b.requiresGrad, true);
    assert.equal(b.isLeaf, true);
    const c = b.mul(2);
    assert.equal(c.requiresGrad, true, "results of ops on such tensors require grad");
    assert.equal(c.isLeaf, false);
    assert.equal(T.ones([2]).mul(2).requiresGrad, false);
    b.requiresGrad_(false);
    assert.equal(b.requiresGrad, false);
  });
});

test("backward of a scalar fills .grad of leaves; gradients accumulate; zeroGrad clears", () => {
  T.tidy(() => {
    const x = T.tensor([1, -2, 3], undefined, { requiresGrad: true });
    assert.equal(x.grad, null);
    x.pow(2).sum().backward();
    assertClose(x.grad!.data(), [2, -4, 6]);
    x.mul(3).sum().backward();
    assertClose(x.grad!.data(), [5, -1, 9], { message: "accumulated" });
    x.zeroGrad();
    assert.equal(x.grad, null);
    x.sum().backward();
    assertClose(x.grad!.data(), [1, 1, 1]);
    // .grad can be assigned.
    x.grad = T.zeros([3]);
    assertClose(x.grad!.data(), [0, 0, 0]);
    x.grad = null;
    assert.equal(x.grad, null);
  });
});

test("backward with a gradient argument for a non-scalar output matches PyTorch", () => {
  T.tidy(() => {
    const g = golden("grad_with_gradient");
    const x = g.input("x").requiresGrad_();
    const y = x.mul(g.input("w")).sin();
    y.backward(g.input("g"));
    g.check(x.grad!, "x_grad");
    // Without a gradient, a non-scalar output is an error (not an abort).
    const z = x.mul(2);
    assertThrowsMatching(() => z.backward(), /grad can be implicitly created only for scalar outputs/);
  });
});

test("gradients of a small MLP loss and of conv2d + group_norm + silu match PyTorch", () => {
  T.tidy(() => {
    const g = golden("grad_mlp");
    const x = g.input("x").requiresGrad_();
    const w = g.input("w").requiresGrad_();
    const b = g.input("b").requiresGrad_();
    const loss = F.linear(x, w, b).tanh().pow(2).mean();
    g.check(loss, "loss");
    loss.backward();
    g.check(x.grad!, "x_grad");
    g.check(w.grad!, "w_grad");
    g.check(b.grad!, "b_grad");
    g.assertAllChecked();

    const c = golden("grad_conv_group_norm");
    const xc = c.input("x").requiresGrad_();
    const wc = c.input("w").requiresGrad_();
    const loss2 = F.silu(F.groupNorm(F.conv2d(xc, wc, null, { padding: 1 }), 2)).pow(2).sum();
    // A sum of 100 squared float32 activations (~100 in size): relative tolerance as usual.
    c.check(loss2, "loss");
    loss2.backward();
    c.check(xc.grad!, "x_grad");
    c.check(wc.grad!, "w_grad");
    c.assertAllChecked();
  });
});

test("retainGraph allows a second backward; without it the graph is freed", () => {
  T.tidy(() => {
    const x = T.tensor([1, 2], undefined, { requiresGrad: true });
    const y = x.exp().sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    assertClose(x.grad!.data(), [2 * Math.E, 2 * Math.exp(2)], { rtol: 1e-6 });
    assertThrowsMatching(() => y.backward(), /backward through the graph a second time/);
  });
});

test("retainGrad keeps the gradient of a non-leaf", () => {
  T.tidy(() => {
    const x = T.tensor([1, 2, 3], undefined, { requiresGrad: true });
    const h = x.mul(2).retainGrad();
    h.square().sum().backward();
    assertClose(h.grad!.data(), [4, 8, 12]);
    assertClose(x.grad!.data(), [8, 16, 24]);
  });
});

test("detach cuts the graph and shares storage", () => {
  T.tidy(() => {
    const x = T.tensor([1, 2, 3], undefined, { requiresGrad: true });
    const d = x.detach();
    assert.equal(d.requiresGrad, false);
    const y = x.mul(d).sum(); // d is a constant: dy/dx = d
    y.backward();
    assertClose(x.grad!.data(), [1, 2, 3]);
    T.noGrad(() => d.narrow(0, 0, 1).fill_(10));
    assert.equal(x.data()[0], 10, "detach shares storage with its source");
  });
});

test("noGrad records nothing, restores the mode after returning or throwing; enableGrad inside", () => {
  T.tidy(() => {
    const x = T.ones([2], { requiresGrad: true });
    assert.equal(T.isGradEnabled(), true);
    const y = T.noGrad(() => {
      assert.equal(T.isGradEnabled(), false);
      const inner = T.enableGrad(() => x.mul(2));
      assert.equal(inner.requiresGrad, true);
      assert.equal(T.isGradEnabled(), false);
      return x.mul(2);
    });
    assert.equal(y.requiresGrad, false);
    assert.equal(T.isGradEnabled(), true);
    assert.throws(() =>
      T.noGrad(() => {
        throw new Error("boom");
      }),
    /boom/);
    assert.equal(T.isGradEnabled(), true, "restored after a throw");
    // In-place updates of a leaf are allowed under noGrad (as optimisers do).
    T.noGrad(() => x.sub_(T.ones([2]), 0.5));
    assertClose(x.data(), [0.5, 0.5]);
    assertThrowsMatching(() => x.sub_(T.ones([2])), /a leaf Variable that requires grad is being used in an in-place operation/);
  });
});

test("grad() returns gradients without touching .grad; createGraph gives second derivatives", () => {
  T.tidy(() => {
    const x = T.tensor([0.5, -1, 2], undefined, { requiresGrad: true });
    const y = x.pow(3).sum();
    const [g1] = T.grad(y, x, { createGraph: true });
    assertClose(g1!.data(), [0.75, 3, 12]);
    assert.equal(x.grad, null);
    const [g2] = T.grad(g1!.sum(), x);
    assertClose(g2!.data(), [3, -6, 12]);
    const unused = T.ones([1], { requiresGrad: true });
    const z = x.sum();
    const r = T.grad(z, [x, unused], { allowUnused: true });
    assert.equal(r[1], null);
    assertThrowsMatching(() => T.grad(x.sum(), [unused]), /One of the differentiated Tensors appears to not have been used in the graph/);
    // Several outputs with their own gradients.
    const [gx] = T.grad([x.mul(2), x.square()], [x], { gradOutputs: [T.ones([3]), T.full([3], 0.5)] });
    assertClose(gx!.data(), [2.5, 1, 4]);
  });
});

test("a training step on a tiny regression lowers the loss and leaks no tensors", () => {
  const w = T.keep(T.zeros([3, 1], { requiresGrad: true }));
  const xs = T.keep(T.randn([16, 3], { generator: new T.Generator({ seed: 2 }) }));
  const ys = T.keep(xs.matmul(T.tensor([[1], [-2], [0.5]])));
  const losses: number[] = [];
  let count = -1;
  for (let step = 0; step < 20; step++) {
    T.tidy(() => {
      const loss = F.mseLoss(xs.matmul(w), ys);
      losses.push(loss.item());
      loss.backward();
      T.noGrad(() => w.sub_(w.grad!, 0.1));
      w.zeroGrad();
    });
    const n = T.memory().numTensors;
    if (step > 0) assert.equal(n, count, `step ${step}: live tensors changed`);
    count = n;
  }
  assert.ok(losses[19]! < losses[0]! * 0.05, `loss ${losses[0]} -> ${losses[19]}`);
  for (const t of [w, xs, ys]) t.dispose();
});

test("inferenceMode: on inside (nested too), off after returning or throwing; no graph; async refused", () => {
  assert.equal(T.isInferenceMode(), false);
  const w = T.ones([3], { requiresGrad: true });
  const y = T.inferenceMode(() => {
    assert.equal(T.isInferenceMode(), true);
    T.inferenceMode(() => assert.equal(T.isInferenceMode(), true));
    assert.equal(T.isInferenceMode(), true, "the inner scope's exit leaves the outer one on");
    return w.mul(2);
  });
  assert.equal(T.isInferenceMode(), false);
  assert.equal(y.requiresGrad, false, "no graph was recorded");
  assert.deepEqual(y.toArray(), [2, 2, 2]);
  assert.throws(() => T.inferenceMode(() => {
    throw new Error("inside");
  }), /inside/);
  assert.equal(T.isInferenceMode(), false, "restored after a throw");
  assert.throws(() => T.inferenceMode((async () => 1) as unknown as () => number), /must be synchronous/);
  [w, y].forEach((t) => t.dispose());
});
