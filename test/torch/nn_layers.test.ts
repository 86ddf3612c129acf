// Layers against PyTorch 1.13 goldens (test/fixtures/make_nn_golden.py), mode
// switching, input checks, and memory: every test frees what it makes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as T from "../../src/torch/index.js";
import * as nn from "../../src/torch/nn/index.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

interface GoldenTensor {
  shape: number[];
  dtype: "float32" | "int64";
  data: number[];
}
type GoldenState = Record<string, GoldenTensor>;
interface LayerCase {
  state: GoldenState;
  input: GoldenTensor;
  output: GoldenTensor;
  gradOutput: GoldenTensor;
  grads: Record<string, GoldenTensor>;
}
interface BatchNormCase {
  state: GoldenState;
  x1: GoldenTensor;
  x2: GoldenTensor;
  x3: GoldenTensor;
  y1: GoldenTensor;
  y2: GoldenTensor;
  stateAfterTrain: GoldenState;
  y3Eval: GoldenTensor;
}
interface Golden {
  cases: {
    linear: LayerCase;
    conv2d: LayerCase;
    conv2d_grouped: LayerCase;
    conv2d_reflect: LayerCase;
    conv2d_same: LayerCase;
    conv_transpose2d: LayerCase;
    conv3d: LayerCase;
    group_norm: LayerCase;
    layer_norm: LayerCase;
    embedding: LayerCase;
    batch_norm2d: BatchNormCase;
    batch_norm2d_cumulative: { inputs: GoldenTensor[]; stateAfter: GoldenState };
    seeded_layers: Record<"linear" | "conv2d" | "conv_transpose2d" | "conv3d" | "embedding", GoldenState>;
  };
}

// dist/test/torch/nn_layers.test.js -> <repo>/test/fixtures/
const golden = JSON.parse(readFileSync(new URL("../../../test/fixtures/nn_golden.json", import.meta.url), "utf8")) as Golden;
const C = golden.cases;
const TOL = { atol: 1e-5, rtol: 1e-4 };

function toTensor(g: GoldenTensor): T.Tensor {
  return g.dtype === "int64" ? T.tensor(BigInt64Array.from(g.data, (v) => BigInt(v)), g.shape) : T.tensor(Float32Array.from(g.data), g.shape);
}

function toState(s: GoldenState): Map<string, T.Tensor> {
  return new Map(Object.entries(s).map(([k, v]) => [k, toTensor(v)]));
}

function assertTensor(actual: T.Tensor, expected: GoldenTensor, message: string, tol = TOL): void {
  assert.deepEqual(actual.shape, expected.shape, `${message}: shape`);
  assertClose(actual.data(), expected.data, { ...tol, message });
}

function assertState(m: nn.Module, expected: GoldenState, message: string, tol = TOL): void {
  T.tidy(() => {
    const sd = m.stateDict();
    assert.deepEqual([...sd.keys()], Object.keys(expected), `${message}: keys`);
    for (const [k, v] of sd) assertTensor(v, expected[k] as GoldenTensor, `${message}: ${k}`, tol);
  });
}

/** Makes a module, runs fn on it, disposes it, and checks that no tensor outlives the test. */
function withModule<M extends nn.Module>(make: () => M, fn: (m: M) => void): void {
  const before = T.memory().numTensors;
  const m = make();
  try {
    T.tidy(() => fn(m));
  } finally {
    m.dispose();
  }
  assert.equal(T.memory().numTensors, before, "tensors leaked");
}

/** Loads the golden weights, checks the forward output and the parameter gradients. */
function checkCase(name: string, m: nn.Module & { forward(x: T.Tensor): T.Tensor }, c: LayerCase): void {
  m.loadStateDict(toState(c.state));
  const y = m.forward(toTensor(c.input));
  assertTensor(y, c.output, `${name} output`);
  y.backward(toTensor(c.gradOutput));
  const named = m.namedParameters();
  assert.deepEqual(
    named.map(([k]) => k),
    Object.keys(c.grads),
    `${name}: parameters`,
  );
  for (const [k, p] of named) {
    const g = p.grad;
    assert.ok(g !== null, `${name}: ${k} has no gradient`);
    assertTensor(g, c.grads[k] as GoldenTensor, `${name} grad ${k}`);
  }
}

test("Linear forward and gradients match PyTorch", () => {
  withModule(() => new nn.Linear(5, 3), (m) => checkCase("linear", m, C.linear));
});

test("Conv2d with stride and padding matches PyTorch", () => {
  withModule(() => new nn.Conv2d(3, 4, 3, { stride: 2, padding: 1 }), (m) => checkCase("conv2d", m, C.conv2d));
});

test("Conv2d with groups and dilation matches PyTorch", () => {
  withModule(
    () => new nn.Conv2d(4, 6, 3, { padding: 2, dilation: 2, groups: 2 }),
    (m) => checkCase("conv2d_grouped", m, C.conv2d_grouped),
  );
});

test("Conv2d with reflect padding and no bias matches PyTorch", () => {
  withModule(
    () => new nn.Conv2d(3, 2, 3, { padding: 1, paddingMode: "reflect", bias: false }),
    (m) => {
      assert.equal(m.bias, null);
      checkCase("conv2d_reflect", m, C.conv2d_reflect);
    },
  );
});

test("Conv2d with padding 'same' and a non-square dilated kernel matches PyTorch", () => {
  withModule(
    () => new nn.Conv2d(2, 3, [3, 4], { padding: "same", dilation: [1, 2] }),
    (m) => checkCase("conv2d_same", m, C.conv2d_same),
  );
});

test("ConvTranspose2d with stride and output padding matches PyTorch", () => {
  withModule(
    () => new nn.ConvTranspose2d(4, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }),
    (m) => {
      assert.deepEqual(m.weight.shape, [4, 3, 3, 3]);
      checkCase("conv_transpose2d", m, C.conv_transpose2d);
    },
  );
});

test("Conv3d matches PyTorch", () => {
  withModule(() => new nn.Conv3d(2, 3, 3, { stride: [1, 2, 2], padding: 1 }), (m) => checkCase("conv3d", m, C.conv3d));
});

test("GroupNorm matches PyTorch", () => {
  withModule(() => new nn.GroupNorm(2, 6), (m) => checkCase("group_norm", m, C.group_norm));
});

test("LayerNorm matches PyTorch", () => {
  withModule(() => new nn.LayerNorm([4, 5]), (m) => checkCase("layer_norm", m, C.layer_norm));
});

test("Embedding matches PyTorch; the padding row gets no gradient", () => {
  withModule(
    () => new nn.Embedding(10, 4, { paddingIdx: 0 }),
    (m) => {
      checkCase("embedding", m, C.embedding);
      const g = m.weight.grad;
      assert.ok(g !== null);
      assertClose(g.select(0, 0).data(), [0, 0, 0, 0]);
      // int32 indices work too
      const y = m.forward(T.tensor(new Int32Array([3, 0])));
      assertClose(y.select(0, 1).data(), [0, 0, 0, 0]);
    },
  );
});

test("BatchNorm2d training updates running stats as PyTorch; eval uses them", () => {
  const c = C.batch_norm2d;
  withModule(
    () => new nn.BatchNorm2d(3, { momentum: 0.2 }),
    (bn) => {
      bn.loadStateDict(toState(c.state));
      assert.equal(bn.training, true);
      assertTensor(bn.forward(toTensor(c.x1)), c.y1, "train step 1");
      assertTensor(bn.forward(toTensor(c.x2)), c.y2, "train step 2");
      assertState(bn, c.stateAfterTrain, "after training");
      assert.equal(bn.numBatchesTracked?.item(), 2);

      bn.eval();
      const x3 = toTensor(c.x3);
      const y3 = bn.forward(x3);
      assertTensor(y3, c.y3Eval, "eval");
      // eval changes no state
      assertState(bn, c.stateAfterTrain, "after eval");
      // and differs from normalising by the batch's own statistics
      bn.train();
      const y3Train = bn.forward(x3);
      assert.ok(y3Train.sub(y3).abs().amax().item() > 1e-2, "train and eval outputs should differ");
      assert.equal(bn.numBatchesTracked?.item(), 3);
    },
  );
});

test("BatchNorm2d with momentum null keeps cumulative averages as PyTorch", () => {
  const c = C.batch_norm2d_cumulative;
  withModule(
    () => new nn.BatchNorm2d(2, { momentum: null }),
    (bn) => {
      for (const x of c.inputs) bn.forward(toTensor(x));
      assertState(bn, c.stateAfter, "cumulative");
    },
  );
});

test("BatchNorm2d without running stats normalises by the batch in eval too", () => {
  withModule(
    () => new nn.BatchNorm2d(2, { trackRunningStats: false, affine: false }),
    (bn) => {
      assert.deepEqual([...bn.stateDict().keys()], []);
      bn.eval();
      const x = T.randn([4, 2, 3, 3]).mul(3).add(2);
      const y = bn.forward(x);
      assertClose(y.mean([0, 2, 3]).data(), [0, 0], { atol: 1e-5 });
      assertClose(y.var([0, 2, 3], { correction: 0 }).data(), [1, 1], { atol: 1e-3 });
    },
  );
});

test("Dropout zeroes about p of the elements in training and is the identity in eval", () => {
  withModule(
    () => new nn.Sequential(new nn.Dropout(0.3)),
    (seq) => {
      const x = T.ones([200_000]);
      const y = seq.forward(x);
      const zeros = y.eq(0).float().mean().item();
      assertClose(zeros, 0.3, { atol: 0.01, rtol: 0 });
      const kept = y.amax().item();
      assertClose(kept, 1 / 0.7, { atol: 1e-6, rtol: 1e-6 });
      seq.eval();
      assert.equal(seq.at(0).training, false);
      const z = seq.forward(x);
      assert.equal(T.all(z.eq(1)).item(), 1);
    },
  );
  assertThrowsMatching(() => new nn.Dropout(1.5), /Dropout: p must be in \[0, 1\], got 1.5/);
});

test("activation modules compute what PyTorch does", () => {
  T.tidy(() => {
    const xs = [-2, -0.5, 0, 1.5];
    const x = T.tensor(xs);
    const cases: [nn.UnaryModule, number[]][] = [
      [new nn.ReLU(), [0, 0, 0, 1.5]],
      [new nn.LeakyReLU(0.2), [-0.4, -0.1, 0, 1.5]],
      [new nn.SiLU(), xs.map((v) => v / (1 + Math.exp(-v)))],
      [new nn.Sigmoid(), xs.map((v) => 1 / (1 + Math.exp(-v)))],
      [new nn.Tanh(), xs.map(Math.tanh)],
      [new nn.GELU(), [-0.0455000997, -0.154268786, 0.0, 1.39978909]],
      [new nn.GELU("tanh"), [-0.0454022884, -0.154285997, 0.0, 1.39957154]],
      [new nn.Identity(), xs],
    ];
    for (const [m, want] of cases) assertClose(m.forward(x).data(), want, { atol: 1e-6, message: String(m) });
    assertThrowsMatching(() => new nn.GELU("fast" as "none"), /GELU: approximate must be 'none' or 'tanh'/);
  });
});

test("default initialisation draws the same values as PyTorch after the same seed", () => {
  const S = C.seeded_layers;
  const cases: [string, number, () => nn.Module, GoldenState][] = [
    ["linear", 11, () => new nn.Linear(6, 4), S.linear],
    ["conv2d", 12, () => new nn.Conv2d(4, 6, 3, { groups: 2 }), S.conv2d],
    // bias bound 1/sqrt(fanIn) with fanIn = (out/groups)*k*k from the [in, out/groups, k, k] weight
    ["conv_transpose2d", 13, () => new nn.ConvTranspose2d(6, 4, 2, { groups: 2 }), S.conv_transpose2d],
    ["conv3d", 14, () => new nn.Conv3d(2, 3, [1, 3, 3]), S.conv3d],
    ["embedding", 15, () => new nn.Embedding(5, 3, { paddingIdx: -1 }), S.embedding],
  ];
  for (const [name, seed, make, want] of cases) {
    T.manualSeed(seed);
    withModule(make, (m) => assertState(m, want, `seeded ${name}`, { atol: 1e-7, rtol: 1e-6 }));
  }
});

test("a generator makes initialisation reproducible without touching the global seed", () => {
  T.tidy(() => {
    const a = new nn.Conv2d(2, 3, 3, { generator: new T.Generator({ seed: 5 }) });
    const b = new nn.Conv2d(2, 3, 3, { generator: new T.Generator({ seed: 5 }) });
    const c = new nn.Conv2d(2, 3, 3, { generator: new T.Generator({ seed: 6 }) });
    assert.deepEqual(a.weight.data(), b.weight.data());
    assert.deepEqual(a.bias?.data(), b.bias?.data());
    assert.notDeepEqual(a.weight.data(), c.weight.data());
    for (const m of [a, b, c]) m.dispose();
  });
});

test("layers take dtype options; integer buffers stay int64", () => {
  withModule(
    () => new nn.BatchNorm2d(4, { dtype: "float64" }),
    (bn) => {
      assert.equal(bn.weight?.dtype, "float64");
      assert.equal(bn.runningVar?.dtype, "float64");
      assert.equal(bn.numBatchesTracked?.dtype, "int64");
      const y = bn.forward(T.randn([2, 4, 3, 3], { dtype: "float64" }));
      assert.equal(y.dtype, "float64");
    },
  );
});

test("layers name themselves and the shapes when the input is wrong", () => {
  const before = T.memory().numTensors;
  const layers = {
    conv: new nn.Conv2d(3, 64, 3),
    convT: new nn.ConvTranspose2d(8, 4, 2),
    conv3: new nn.Conv3d(1, 2, 3),
    linear: new nn.Linear(3, 4),
    bn: new nn.BatchNorm2d(16),
    gn: new nn.GroupNorm(2, 8),
    ln: new nn.LayerNorm([4, 5]),
    emb: new nn.Embedding(10, 3),
  };
  T.tidy(() => {
    assertThrowsMatching(() => layers.conv.forward(T.zeros([1, 4, 32, 32])), /^Conv2d\(3, 64\): expected input with 3 channels, got \[1, 4, 32, 32\]$/);
    assertThrowsMatching(() => layers.conv.forward(T.zeros([32, 32])), /Conv2d\(3, 64\): expected a 4-D \[N, C, \.\.\.\] or 3-D input, got \[32, 32\]/);
    assertThrowsMatching(() => layers.convT.forward(T.zeros([1, 4, 5, 5])), /ConvTranspose2d\(8, 4\): expected input with 8 channels, got \[1, 4, 5, 5\]/);
    assertThrowsMatching(() => layers.conv3.forward(T.zeros([1, 4, 4])), /Conv3d\(1, 2\): expected a 5-D/);
    assertThrowsMatching(() => layers.linear.forward(T.zeros([2, 5])), /Linear\(3, 4\): expected input with last dimension 3, got \[2, 5\]/);
    assertThrowsMatching(() => layers.bn.forward(T.zeros([2, 16, 8])), /BatchNorm2d\(16.*\): expected 4-D input with 16 channels in dimension 1, got \[2, 16, 8\]/);
    assertThrowsMatching(() => layers.bn.forward(T.zeros([1, 16, 1, 1])), /expected more than 1 value per channel when training/);
    assertThrowsMatching(() => layers.gn.forward(T.zeros([2, 6, 4])), /GroupNorm\(2, 8.*\): expected input \[N, 8, \.\.\.\], got \[2, 6, 4\]/);
    assertThrowsMatching(() => layers.ln.forward(T.zeros([2, 5, 4])), /LayerNorm\(\[4, 5\].*\): expected input \[\.\.\., 4, 5\], got \[2, 5, 4\]/);
    assertThrowsMatching(() => layers.emb.forward(T.zeros([3])), /Embedding\(10, 3\): indices must be int64 or int32, got float32/);
  });
  for (const m of Object.values(layers)) m.dispose();
  assert.equal(T.memory().numTensors, before);
});

test("layer constructors reject inconsistent options", () => {
  const before = T.memory().numTensors;
  assertThrowsMatching(() => new nn.Conv2d(3, 64, 3, { groups: 2 }), /Conv2d: inChannels \(3\) must be divisible by groups \(2\)/);
  assertThrowsMatching(() => new nn.Conv2d(4, 6, 3, { groups: 4 }), /Conv2d: outChannels \(6\) must be divisible by groups \(4\)/);
  assertThrowsMatching(() => new nn.Conv2d(4, 6, [3, 3, 3]), /Conv2d: kernelSize must be an integer >= 1 or 2 of them, got \[3,3,3\]/);
  assertThrowsMatching(() => new nn.Conv2d(4, 6, 3, { padding: "same", stride: 2 }), /padding 'same' is not supported for strided convolutions/);
  assertThrowsMatching(
    () => new nn.ConvTranspose2d(4, 6, 3, { stride: 2, outputPadding: 2 }),
    /ConvTranspose2d: outputPadding \[2, 2\] must be smaller than stride \[2, 2\] or dilation \[1, 1\]/,
  );
  assertThrowsMatching(() => new nn.GroupNorm(3, 8), /GroupNorm: numChannels \(8\) must be divisible by numGroups \(3\)/);
  assertThrowsMatching(() => new nn.Linear(3.5, 2), /Linear: inFeatures must be a non-negative integer, got 3.5/);
  assertThrowsMatching(() => new nn.Embedding(4, 2, { paddingIdx: 4 }), /Embedding: paddingIdx must be an integer in \[-4, 4\), got 4/);
  // options are checked before any parameter is made, so a throwing constructor leaks nothing
  assert.equal(T.memory().numTensors, before);
});

test("Sequential chains forward and frees the intermediate outputs", () => {
  withModule(
    () => new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2)),
    (seq) => {
      const x = T.randn([3, 4]);
      const before = T.memory().numTensors;
      const y = seq.forward(x);
      assert.equal(T.memory().numTensors, before + 1, "only the output survives");
      const want = T.tidy(() => {
        const l0 = seq.at(0) as nn.Linear;
        const l2 = seq.at(-1) as nn.Linear;
        return l2.forward(l0.forward(x).relu());
      });
      assertClose(y.data(), want.data());
    },
  );
});
