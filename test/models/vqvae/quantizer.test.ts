// VectorQuantizerEMA: nearest-code search, straight-through gradient,
// commitment loss, perplexity, EMA update by hand, dead-code restarts,
// data-dependent init, and eval mode leaving the codebook alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../../src/torch/index.js";
import { VectorQuantizerEMA } from "../../../src/models/vqvae/index.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";

/** Vectors (row-major b, h, w) of length d -> a [b, d, h, w] tensor. */
function toBDHW(vectors: number[][], b: number, h: number, w: number, o: T.TensorOptions = {}): T.Tensor {
  const d = (vectors[0] as number[]).length;
  return T.tidy(() => T.tensor(vectors, [b, h, w, d], o).permute(0, 3, 1, 2).contiguous());
}

function setCodebook(q: VectorQuantizerEMA, codes: number[][]): void {
  T.noGrad(() =>
    T.tidy(() => {
      const e = T.tensor(codes, undefined, { dtype: q.embedding.dtype });
      q.embedding.copy_(e);
      q.embedAvg.copy_(e);
      q.clusterSize.fill_(1);
    }),
  );
}

const sqDist = (a: number[], b: number[]): number => a.reduce((s, v, i) => s + (v - (b[i] as number)) ** 2, 0);

function rows(t: T.Tensor): number[][] {
  const [n, d] = t.shape as [number, number];
  const v = t.toArray();
  return Array.from({ length: n }, (_, i) => v.slice(i * d, (i + 1) * d));
}

test("nearest() picks the code with the smallest squared distance (brute force in JS), float64 and float32", () => {
  for (const dtype of ["float64", "float32"] as const) {
    const g = new T.Generator({ seed: 7 });
    const q = new VectorQuantizerEMA(24, 5, { dataInit: false, dtype, generator: g });
    T.tidy(() => {
      setCodebook(q, rows(T.randn([24, 5], { generator: g, dtype: "float64" })));
      const flat = T.randn([200, 5], { generator: g, dtype });
      const idx = q.nearest(flat).toArray();
      const codes = rows(q.embedding);
      const xs = rows(flat);
      assert.equal(idx.length, 200);
      xs.forEach((x, n) => {
        const dists = codes.map((c) => sqDist(x, c));
        const best = dists.indexOf(Math.min(...dists));
        const chosen = idx[n] as number;
        if (dtype === "float64") assert.equal(chosen, best, `row ${n}`);
        else assert.ok((dists[chosen] as number) <= (dists[best] as number) + 1e-5, `row ${n}: code ${chosen} is not nearest (${best})`);
      });
    });
    q.dispose();
    g.dispose();
  }
});

test("straight-through: zq has the code values and d(sum w*zq)/dz = w; commitment loss and its gradient by formula", () => {
  const q = new VectorQuantizerEMA(4, 2, { dataInit: false, commitmentBeta: 0.25 });
  q.eval();
  setCodebook(q, [
    [0, 0],
    [1, 0],
    [0, 1],
    [5, 5],
  ]);
  T.tidy(() => {
    const vecs = [
      [0.1, 0.2],
      [0.9, -0.1],
      [1.2, 0.1],
      [-0.3, 0.7],
    ];
    const z = toBDHW(vecs, 1, 2, 2).requiresGrad_(true);
    const out = q.forward(z);
    assert.deepEqual(out.indices.shape, [1, 2, 2]);
    assert.deepEqual(out.indices.toArray(), [0, 1, 1, 2]);
    const expectedZq = [0, 1, 1, 0, 0, 0, 0, 1]; // channel 0 then channel 1, positions in h, w order
    assertClose(out.zq.toArray(), expectedZq, { atol: 1e-6 });
    const w = T.randn([1, 2, 2, 2]);
    const [gz] = T.grad(out.zq.mul(w).sum(), z);
    assert.ok(gz);
    assertClose(gz.toArray(), w.toArray(), { atol: 1e-7, rtol: 0 });

    // beta * mean((z - e)^2) over the 8 elements, and its gradient 2 beta (z - e) / 8
    const codes = [
      [0, 0],
      [1, 0],
      [1, 0],
      [0, 1],
    ];
    let s = 0;
    vecs.forEach((v, n) => (s += sqDist(v, codes[n] as number[])));
    assertClose(out.commitmentLoss.item(), (0.25 * s) / 8, { atol: 1e-7, rtol: 1e-6 });
    const [gc] = T.grad(out.commitmentLoss, z);
    assert.ok(gc);
    const zArr = z.toArray();
    assertClose(gc.toArray(), zArr.map((v, i) => (2 * 0.25 * (v - (expectedZq[i] as number))) / 8), { atol: 1e-7, rtol: 1e-5 });

    // perplexity of usage [1/4, 2/4, 1/4, 0]
    const p = [0.25, 0.5, 0.25];
    assertClose(out.perplexity.item(), Math.exp(-p.reduce((a, v) => a + v * Math.log(v), 0)), { atol: 1e-5, rtol: 1e-5 });
  });
  q.dispose();
});

/** The setup shared by the EMA and restart tests: 4 codes in 2-D, 4 vectors, code 3 unused. */
const CODES = [
  [0, 0],
  [1, 0],
  [0, 1],
  [5, 5],
];
const VECS = [
  [0.1, 0.1],
  [0.9, 0.1],
  [1.1, -0.1],
  [0.2, 0.8],
];
const ASSIGN = [0, 1, 1, 2];

/** The EMA update written out for this setup (decay, eps), starting from cluster sizes 1 and embed_avg = codes. */
function handEma(decay: number, eps: number): { cluster: number[]; avg: number[][]; embedding: number[][] } {
  const k = CODES.length;
  const counts = [0, 0, 0, 0];
  const sums = CODES.map(() => [0, 0]);
  VECS.forEach((v, n) => {
    const a = ASSIGN[n] as number;
    counts[a] = (counts[a] as number) + 1;
    const row = sums[a] as number[];
    row[0] = (row[0] as number) + (v[0] as number);
    row[1] = (row[1] as number) + (v[1] as number);
  });
  const cluster = counts.map((c) => decay * 1 + (1 - decay) * c);
  const avg = CODES.map((c, i) => c.map((v, j) => decay * v + (1 - decay) * ((sums[i] as number[])[j] as number)));
  const total = cluster.reduce((a, b) => a + b, 0);
  const smoothed = cluster.map((c) => ((c + eps) / (total + k * eps)) * total);
  const embedding = avg.map((row, i) => row.map((v) => v / (smoothed[i] as number)));
  return { cluster, avg, embedding };
}

test("EMA update in training mode matches a hand computation (4 codes, dim 2, decay 0.9, Laplace eps 1e-5)", () => {
  const q = new VectorQuantizerEMA(4, 2, { dataInit: false, decay: 0.9, eps: 1e-5, dtype: "float64" });
  setCodebook(q, CODES);
  T.tidy(() => {
    const out = q.forward(toBDHW(VECS, 1, 2, 2, { dtype: "float64" }));
    assert.deepEqual(out.indices.toArray(), ASSIGN);
  });
  const want = handEma(0.9, 1e-5);
  assertClose(q.clusterSize.toArray(), want.cluster, { atol: 1e-12, rtol: 1e-10 });
  assertClose(q.embedAvg.toArray(), want.avg.flat(), { atol: 1e-12, rtol: 1e-10 });
  assertClose(q.embedding.toArray(), want.embedding.flat(), { atol: 1e-12, rtol: 1e-10 });
  // The unused code keeps (almost) its value: only the Laplace factor moves it.
  assert.ok(Math.abs((q.embedding.toArray()[6] as number) - 5) < 1e-4);
  assert.equal(q.lastRestarts, 0);
  q.dispose();
});

test("dead-code restart: an unused code below the threshold becomes a vector of the batch; deterministic given the generator; counted", () => {
  const run = (seed: number): { q: VectorQuantizerEMA; g: T.Generator } => {
    const g = new T.Generator({ seed });
    const q = new VectorQuantizerEMA(4, 2, { dataInit: false, decay: 0.9, deadCodeThreshold: 0.95, dtype: "float64", generator: g });
    setCodebook(q, CODES);
    T.tidy(() => void q.forward(toBDHW(VECS, 1, 2, 2, { dtype: "float64" })));
    return { q, g };
  };
  const a = run(3);
  const want = handEma(0.9, 1e-5);
  // code 3: cluster size 0.9 < 0.95 -> restarted; the others (>= 1.0) follow the EMA.
  assert.equal(a.q.lastRestarts, 1);
  assert.equal(a.q.numRestarts, 1);
  const e = rows(a.q.embedding);
  const avg = rows(a.q.embedAvg);
  const cluster = a.q.clusterSize.toArray();
  for (let k = 0; k < 3; k++) {
    assertClose(e[k] as number[], want.embedding[k] as number[], { atol: 1e-12, rtol: 1e-10 });
    assertClose(cluster[k] as number, want.cluster[k] as number, { atol: 1e-12 });
  }
  const fresh = e[3] as number[];
  assert.ok(
    VECS.some((v) => sqDist(v, fresh) === 0),
    `restarted code [${fresh.join(", ")}] must be one of the batch vectors`,
  );
  assert.deepEqual(avg[3], fresh, "embed_avg of a restarted code is its new value (cluster size 1)");
  assert.equal(cluster[3], 1);
  const b = run(3);
  assert.deepEqual(b.q.embedding.toArray(), a.q.embedding.toArray(), "same seed, same restart");
  for (const r of [a, b]) {
    r.q.dispose();
    r.g.dispose();
  }
});

test("eval mode changes no buffer, and does not run the data init", () => {
  const q = new VectorQuantizerEMA(8, 3, { deadCodeThreshold: 0.5 });
  q.eval();
  const before = q.buffers().map((b) => b.toArray());
  T.tidy(() => {
    for (let i = 0; i < 3; i++) q.forward(T.randn([2, 3, 4, 4]));
  });
  const after = q.buffers().map((b) => b.toArray());
  assert.deepEqual(after, before);
  assert.equal(q.initialized.item(), 0);
  assert.equal(q.numRestarts, 0);
  q.dispose();
});

test("data init: the first training batch supplies the codebook once; a loaded, initialised codebook is not re-drawn", () => {
  const g = new T.Generator({ seed: 11 });
  const q = new VectorQuantizerEMA(4, 2, { decay: 0.99, dtype: "float64", generator: g });
  assert.equal(q.initialized.item(), 0);
  const vecs = [
    [1, 2],
    [3, 4],
    [-1, 0],
    [0, -2],
    [7, 7],
    [2, -3],
  ];
  T.tidy(() => {
    const out = q.forward(toBDHW(vecs, 1, 2, 3, { dtype: "float64" }));
    // Four distinct batch vectors became codes, so those positions quantise exactly.
    assert.equal(new Set(out.indices.toArray()).size, 4);
  });
  assert.equal(q.initialized.item(), 1);
  const codes = rows(q.embedding);
  // After one EMA step each code is within the smoothing of a batch vector.
  for (const c of codes) assert.ok(vecs.some((v) => sqDist(v, c) < 1e-2), `code [${c.join(", ")}] is near a batch vector`);

  // A fresh quantiser that loads this state keeps it: a far-away batch does not re-initialise it.
  const q2 = new VectorQuantizerEMA(4, 2, { decay: 0.99, dtype: "float64" });
  T.tidy(() => q2.loadStateDict(q.stateDict()));
  assert.equal(q2.initialized.item(), 1);
  T.tidy(() => void q2.forward(T.full([1, 2, 2, 2], 100, { dtype: "float64" })));
  const moved = rows(q2.embedding).filter((c) => c.some((v) => v > 50));
  assert.ok(moved.length <= 1, "at most the one code that was used moves towards the new batch");
  q.dispose();
  q2.dispose();
  g.dispose();
});

test("input checks name the expected and the actual shape", () => {
  const q = new VectorQuantizerEMA(8, 3);
  T.tidy(() => {
    assertThrowsMatching(() => q.forward(T.zeros([2, 4, 4, 4])), /VectorQuantizerEMA\.forward: z must be \[B, 3, h, w\], got \[2, 4, 4, 4\]/);
    assertThrowsMatching(() => q.nearest(T.zeros([5, 2])), /flat must be \[N, 3\], got \[5, 2\]/);
  });
  assertThrowsMatching(() => new VectorQuantizerEMA(1, 3), /numEmbeddings must be an integer >= 2, got 1/);
  assertThrowsMatching(() => new VectorQuantizerEMA(8, 3, { decay: 1 }), /decay must be in \(0, 1\), got 1/);
  q.dispose();
});
