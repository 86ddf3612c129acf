// Module: names and order of the state dict (against PyTorch), loading,
// conversion, modes, ownership and memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as T from "../../src/torch/index.js";
import * as nn from "../../src/torch/nn/index.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

interface NetGolden {
  keys: string[];
  shapes: number[][];
  namedParameters: string[];
  namedBuffers: string[];
  namedModules: string[];
  numParameters: number;
  numTrainableAfterFreezingEnc: number;
}
// dist/test/torch/nn_module.test.js -> <repo>/test/fixtures/
const golden = JSON.parse(readFileSync(new URL("../../../test/fixtures/nn_golden.json", import.meta.url), "utf8")) as {
  cases: { net: NetGolden };
};
const NET = golden.cases.net;

/** The same model as `Net` in test/fixtures/make_nn_golden.py, registered in the same order. */
class Net extends nn.Module {
  readonly conv0 = new nn.Conv2d(3, 8, 3, { padding: 1 });
  readonly enc = this.registerModule(
    "enc",
    new nn.Sequential(this.conv0, new nn.GroupNorm(2, 8), new nn.SiLU(), new nn.Conv2d(8, 8, 3, { stride: 2, groups: 2 })),
  );
  readonly norm = this.registerModule("norm", new nn.BatchNorm2d(8));
  readonly blocks = this.registerModule(
    "blocks",
    new nn.ModuleList([0, 1].map(() => new nn.Sequential(new nn.Linear(8, 16), new nn.GELU(), new nn.Dropout(0.1), new nn.Linear(16, 8)))),
  );
  readonly up = this.registerModule("up", new nn.ConvTranspose2d(8, 4, 4, { stride: 2, padding: 1, bias: false }));
  readonly emb = this.registerModule("emb", new nn.Embedding(10, 8));
  readonly ln = this.registerModule("ln", new nn.LayerNorm(8, { elementwiseAffine: false }));
  readonly head = this.registerModule("head", new nn.Conv3d(1, 2, 3, { bias: false }));

  /** [N, 3, H, W] -> [N, 4, H, W] (H, W even), through every kind of child. */
  forward(x: T.Tensor): T.Tensor {
    return T.tidy(() => {
      let h = this.norm.forward(this.enc.forward(x)); // [N, 8, H/2-1, W/2-1]
      h = h.permute(0, 2, 3, 1); // channels last for the Linear blocks
      for (const block of this.blocks) h = h.add(block.forward(h));
      h = this.ln.forward(h).permute(0, 3, 1, 2);
      return this.up.forward(h);
    });
  }
}

/** Runs fn and checks that live tensor handles and bytes are back where they started. */
function noLeak(fn: () => void): void {
  const before = T.memory();
  fn();
  const after = T.memory();
  assert.equal(after.numTensors, before.numTensors, "tensor handles leaked");
  assert.equal(after.numBytes, before.numBytes, "tensor bytes leaked");
}

test("state dict keys, order and shapes match PyTorch for nested Sequential and ModuleList", () => {
  noLeak(() => {
    const net = new Net();
    T.tidy(() => {
      const sd = net.stateDict();
      assert.deepEqual([...sd.keys()], NET.keys);
      assert.deepEqual(
        [...sd.values()].map((t) => [...t.shape]),
        NET.shapes,
      );
      assert.ok(sd.has("enc.0.weight") && sd.has("norm.running_mean") && sd.has("norm.num_batches_tracked"));
      assert.ok(!sd.has("enc.2.weight"), "SiLU has no parameters");
    });
    assert.deepEqual(
      net.namedParameters().map(([k]) => k),
      NET.namedParameters,
    );
    assert.deepEqual(
      net.namedBuffers().map(([k]) => k),
      NET.namedBuffers,
    );
    assert.deepEqual(
      net.namedModules().map(([k]) => k),
      NET.namedModules,
    );
    assert.deepEqual(
      net.namedChildren().map(([k]) => k),
      ["enc", "norm", "blocks", "up", "emb", "ln", "head"],
    );
    assert.equal(net.numParameters(), NET.numParameters);
    net.enc.requiresGrad_(false);
    assert.equal(net.numParameters({ trainableOnly: true }), NET.numTrainableAfterFreezingEnc);
    assert.equal(net.numParameters(), NET.numParameters);
    net.dispose();
    net.dispose(); // idempotent
  });
});

test("creating, running and disposing a model leaves no tensor behind", () => {
  noLeak(() => {
    const net = new Net();
    T.tidy(() => {
      const y = net.forward(T.randn([2, 3, 8, 8]));
      assert.deepEqual(y.shape, [2, 4, 6, 6]);
      y.sum().backward();
      net.stateDict();
    });
    net.zeroGrad();
    net.dispose();
    assert.ok(net.parameters().every((p) => p.isDisposed));
    assert.ok(net.buffers().every((b) => b.isDisposed));
  });
});

test("parameters and buffers survive the tidy() they were made in", () => {
  const net = T.tidy(() => new Net());
  assert.ok(net.parameters().every((p) => !p.isDisposed));
  assert.ok(!net.norm.runningMean?.isDisposed);
  net.dispose();
});

test("stateDict values are detached views sharing storage with the module", () => {
  noLeak(() => {
    const lin = new nn.Linear(3, 2);
    T.tidy(() => {
      const sd = lin.stateDict();
      const w = sd.get("weight");
      assert.ok(w !== undefined);
      assert.equal(w.requiresGrad, false);
      assert.notEqual(w, lin.weight);
      w.fill_(0.5);
      assertClose(lin.weight.data(), [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    });
    assert.equal(lin.weight.isDisposed, false);
    lin.dispose();
  });
});

test("loadStateDict copies values in place: the Parameter objects stay the same", () => {
  noLeak(() => {
    const a = new Net();
    const b = new Net();
    const params = b.parameters();
    const buffers = b.buffers();
    T.tidy(() => {
      // give a's running stats non-default values
      a.norm.forward(T.randn([4, 8, 3, 3]).add(3));
      b.loadStateDict(a.stateDict());
      assert.ok(
        b.parameters().every((p, i) => p === params[i]),
        "parameters keep their identity",
      );
      assert.ok(b.buffers().every((t, i) => t === buffers[i]));
      const named = b.namedParameters();
      for (const [i, [ka, pa]] of a.namedParameters().entries()) {
        const [kb, pb] = named[i] ?? ["?", null];
        assert.equal(kb, ka);
        assert.ok(pb !== null);
        assert.deepEqual(pb.data(), pa.data(), `${ka} copied`);
        assert.equal(pb.requiresGrad, true);
        assert.equal(pb.isLeaf, true);
      }
      assert.deepEqual(b.norm.runningMean?.data(), a.norm.runningMean?.data());
      assert.equal(b.norm.numBatchesTracked?.item(), 1);
      // gradients still reach the same objects
      b.forward(T.randn([1, 3, 6, 6])).sum().backward();
      assert.ok(params[0]?.grad !== null);
    });
    a.dispose();
    b.dispose();
  });
});

test("loadStateDict lists every problem in one error and copies nothing", () => {
  noLeak(() => {
    const net = new Net();
    T.tidy(() => {
      const before = net.enc.at(3).stateDict().get("weight")?.clone();
      const sd = new Map<string, T.Tensor>();
      for (const [k, v] of net.stateDict()) sd.set(k, T.zerosLike(v)); // fresh tensors, not views
      sd.delete("enc.0.bias");
      sd.delete("norm.running_var");
      sd.set("extra.weight", T.zeros([2]));
      sd.set("enc.0.weight", T.zeros([8, 4, 3, 3]));
      sd.set("up.weight", T.zeros([8, 4, 3, 3]));
      assertThrowsMatching(
        () => net.loadStateDict(sd),
        /^Error\(s\) in loading state_dict for Net:/,
        /Missing key\(s\) in state_dict: "enc\.0\.bias", "norm\.running_var"\./,
        /Unexpected key\(s\) in state_dict: "extra\.weight"\./,
        /size mismatch for enc\.0\.weight: checkpoint \[8,4,3,3\], model \[8,3,3,3\]/,
        /size mismatch for up\.weight: checkpoint \[8,4,3,3\], model \[8,4,4,4\]/,
      );
      // nothing was copied, not even the keys that were fine
      const after = net.enc.at(3).stateDict().get("weight");
      assert.ok(before !== undefined && after !== undefined);
      assert.deepEqual(after.data(), before.data());
    });
    net.dispose();
  });
});

test("loadStateDict with strict false reports missing and unexpected keys but still rejects size mismatches", () => {
  noLeak(() => {
    const lin = new nn.Linear(2, 2);
    T.tidy(() => {
      const r = lin.loadStateDict({ weight: T.tensor([[1, 2], [3, 4]]), "other.bias": T.zeros([2]) }, { strict: false });
      assert.deepEqual(r, { missingKeys: ["bias"], unexpectedKeys: ["other.bias"] });
      assertClose(lin.weight.data(), [1, 2, 3, 4]);
      assertThrowsMatching(
        () => lin.loadStateDict({ weight: T.zeros([3, 2]) }, { strict: false }),
        /size mismatch for weight: checkpoint \[3,2\], model \[2,2\]/,
      );
      assertThrowsMatching(() => lin.loadStateDict({ weight: T.zeros([2, 2]) }), /Missing key\(s\) in state_dict: "bias"\./);
    });
    lin.dispose();
  });
});

test("loadStateDict converts dtypes, keeping the model's", () => {
  noLeak(() => {
    const bn = new nn.BatchNorm2d(2);
    T.tidy(() => {
      bn.loadStateDict({
        weight: T.tensor([1.5, 2.5], undefined, { dtype: "float64" }),
        bias: T.tensor([0.25, -1], undefined, { dtype: "float16" }),
        running_mean: T.tensor([1, 2], undefined, { dtype: "float64" }),
        running_var: T.tensor([3, 4], undefined, { dtype: "float64" }),
        num_batches_tracked: T.tensor(new Int32Array([7]), []),
      });
      assert.equal(bn.weight?.dtype, "float32");
      assert.equal(bn.numBatchesTracked?.dtype, "int64");
      assertClose(bn.weight?.data() ?? [], [1.5, 2.5]);
      assertClose(bn.bias?.data() ?? [], [0.25, -1]);
      assert.equal(bn.numBatchesTracked?.item(), 7);
      assertThrowsMatching(
        () => bn.loadStateDict({ ...Object.fromEntries(bn.stateDict()), weight: T.complex(T.ones([2]), T.ones([2])) }),
        /dtype mismatch for weight: checkpoint complex64 cannot be copied into model float32/,
      );
    });
    bn.dispose();
  });
});

test("to('float64') converts floating tensors in place, keeping identity, requiresGrad and gradients", () => {
  noLeak(() => {
    const net = new Net();
    const params = net.parameters();
    const rm = net.norm.runningMean;
    const nbt = net.norm.numBatchesTracked;
    T.tidy(() => net.forward(T.randn([1, 3, 6, 6])).sum().backward());
    const grad0 = T.tidy(() => params[0]?.grad?.data());
    net.conv0.weight.requiresGrad_(false);

    assert.equal(net.to("float64"), net);
    assert.ok(net.parameters().every((p, i) => p === params[i]));
    assert.equal(net.norm.runningMean, rm);
    assert.equal(net.norm.numBatchesTracked, nbt);
    assert.ok(net.parameters().every((p) => p.dtype === "float64" && p.isLeaf));
    assert.equal(rm?.dtype, "float64");
    assert.equal(nbt?.dtype, "int64", "integer buffers keep their dtype");
    assert.equal(net.conv0.weight.requiresGrad, false);
    assert.equal((net.enc.at(1) as nn.GroupNorm).weight?.requiresGrad, true);
    T.tidy(() => {
      const g = params[0]?.grad;
      assert.equal(g?.dtype, "float64");
      assertClose(g?.data() ?? [], grad0 ?? [], { atol: 1e-7 });
      const y = net.forward(T.randn([1, 3, 6, 6], { dtype: "float64" }));
      assert.equal(y.dtype, "float64");
    });

    assert.equal(net.to("cpu"), net);
    assert.ok(net.parameters().every((p, i) => p === params[i]));
    assertThrowsMatching(() => net.to("int64"), /Net\.to: only floating-point dtypes are accepted, got int64/);
    assert.equal(net.to("float32").conv0.weight.dtype, "float32");
    net.dispose();
  });
});

test("train() and eval() switch every descendant, and BatchNorm and Dropout follow", () => {
  noLeak(() => {
    const net = new Net();
    assert.ok(net.modules().every((m) => m.training));
    assert.equal(net.eval(), net);
    assert.ok(net.modules().every((m) => !m.training));
    net.train();
    assert.ok(net.modules().every((m) => m.training));
    net.train(false);
    assert.equal(net.blocks.at(1).at(2).training, false);
    T.tidy(() => {
      const x = T.randn([2, 3, 6, 6]);
      const rm = () => net.norm.runningMean?.data() ?? [];
      const before = rm();
      const e1 = net.forward(x);
      const e2 = net.forward(x);
      assert.deepEqual(e1.data(), e2.data(), "eval is deterministic (no dropout)");
      assert.deepEqual(rm(), before, "eval leaves running stats alone");
      assert.equal(net.norm.numBatchesTracked?.item(), 0);

      net.train();
      const t1 = net.forward(x);
      assert.notDeepEqual(rm(), before, "training updates running stats");
      const t2 = net.forward(x);
      assert.notDeepEqual(t1.data(), t2.data(), "dropout is random in training");
      assert.equal(net.norm.numBatchesTracked?.item(), 2);
    });
    net.dispose();
  });
});

test("registration uses explicit names and rejects bad ones", () => {
  noLeak(() => {
    class Bad extends nn.Module {}
    const m = new Bad();
    T.tidy(() => {
      m.registerParameter("w", new nn.Parameter(T.zeros([2])));
      assertThrowsMatching(() => m.registerBuffer("w", T.zeros([1])), /Bad: cannot register buffer 'w': the name is already registered/);
      assertThrowsMatching(() => m.registerModule("a.b", new nn.ReLU()), /Bad: module name 'a\.b' must not contain "\."/);
      assertThrowsMatching(() => m.registerParameter("", null), /Bad: parameter name must be a non-empty string/);
      assertThrowsMatching(
        () => m.registerParameter("x", T.zeros([1]) as nn.Parameter),
        /Bad: parameter 'x' must be a Parameter \(wrap the tensor: new Parameter\(t\)\)/,
      );
      assertThrowsMatching(() => m.registerModule("self", m), /cannot register a module as its own child/);
      // null entries stand for absent parameters (bias=false): not in the state dict, not iterated
      m.registerParameter("bias", null);
      m.registerBuffer("stats", null);
      m.registerBuffer("scratch", T.ones([3]), false);
      assert.deepEqual([...m.stateDict().keys()], ["w"]);
      assert.deepEqual(
        m.namedBuffers().map(([k]) => k),
        ["scratch"],
      );
      assert.equal(m.loadStateDict({ w: T.ones([2]) }).missingKeys.length, 0, "non-persistent buffers are not expected");
    });
    assert.equal(m.buffers()[0]?.isDisposed, false, "buffers are keep()-ed");
    m.dispose();
  });
});

test("a Parameter is a kept leaf sharing storage with its source", () => {
  noLeak(() => {
    const p = T.tidy(() => {
      const src = T.tensor([1, 2, 3]);
      const q = new nn.Parameter(src);
      assert.equal(q.requiresGrad, true);
      assert.equal(q.isLeaf, true);
      src.fill_(7); // same storage
      assertClose(q.data(), [7, 7, 7]);
      const frozen = new nn.Parameter(src, false);
      assert.equal(frozen.requiresGrad, false);
      frozen.dispose();
      // from a non-leaf: still a leaf, cut from the graph
      const x = T.ones([2], { requiresGrad: true });
      const fromGraph = new nn.Parameter(x.mul(2));
      assert.equal(fromGraph.isLeaf, true);
      assertClose(fromGraph.data(), [2, 2]);
      fromGraph.dispose();
      return q;
    });
    assert.equal(p.isDisposed, false, "tidy does not dispose a Parameter");
    assertClose(p.data(), [7, 7, 7]);
    assert.match(String(p), /^Parameter\(shape=\[3\], dtype=float32, device=cpu, requiresGrad=true\)$/);
    p.dispose();

    const src = T.zeros([2, 2]);
    const taken = nn.Parameter.take(src);
    assert.equal(src.isDisposed, true);
    assert.deepEqual(taken.shape, [2, 2]);
    taken.dispose();
  });
});

test("a shared Parameter is listed and counted once but saved under each key, as PyTorch", () => {
  noLeak(() => {
    class Tied extends nn.Module {
      readonly a = this.registerModule("a", new nn.Linear(4, 4, { bias: false }));
      readonly b = this.registerModule("b", new TiedLinear(this.a.weight));
    }
    class TiedLinear extends nn.Module {
      constructor(readonly weight: nn.Parameter) {
        super();
        this.registerParameter("weight", weight);
      }
    }
    const m = new Tied();
    assert.equal(m.parameters().length, 1);
    assert.equal(m.numParameters(), 16);
    T.tidy(() => assert.deepEqual([...m.stateDict().keys()], ["a.weight", "b.weight"]));
    m.dispose();
  });
});

test("apply visits children before the parent; zeroGrad drops gradients", () => {
  noLeak(() => {
    const seq = new nn.Sequential(new nn.Linear(2, 2), new nn.Sequential(new nn.ReLU(), new nn.Linear(2, 1)));
    const order: string[] = [];
    seq.apply((m) => order.push(m.constructor.name));
    assert.deepEqual(order, ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]);
    T.tidy(() => {
      seq.forward(T.ones([3, 2])).sum().backward();
      assert.ok(seq.parameters().every((p) => p.grad !== null));
    });
    seq.zeroGrad();
    T.tidy(() => assert.ok(seq.parameters().every((p) => p.grad === null)));
    // apply can initialise: every Linear's bias to zero
    seq.apply((m) => {
      if (m instanceof nn.Linear && m.bias !== null) nn.init.zeros_(m.bias);
    });
    T.tidy(() => assert.ok(seq.parameters().filter((p) => p.ndim === 1).every((p) => p.abs().sum().item() === 0)));
    seq.dispose();
  });
});

test("ModuleList holds modules under '0', '1', ... with push, at, length and iteration", () => {
  noLeak(() => {
    const list = new nn.ModuleList<nn.Linear>();
    assert.equal(list.length, 0);
    list.push(new nn.Linear(2, 3)).push(new nn.Linear(3, 4));
    list.extend([new nn.Linear(4, 5)]);
    assert.equal(list.length, 3);
    assert.equal(list.at(-1).outFeatures, 5);
    assert.equal(list.at(0).inFeatures, 2);
    assert.deepEqual(
      [...list].map((l) => l.outFeatures),
      [3, 4, 5],
    );
    assertThrowsMatching(() => list.at(3), /ModuleList: index 3 is out of range for 3 modules/);
    T.tidy(() =>
      assert.deepEqual(
        [...list.stateDict().keys()],
        ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"],
      ),
    );
    assert.match(String(list.at(1)), /^Linear\(3, 4\)$/);
    list.dispose();
  });
});
