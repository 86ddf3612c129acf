import { test } from "node:test";
import { spawnSync } from "node:child_process";
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import * as T from "../../src/torch/index.js";
import { assertClose, assertThrowsMatching } from "../helpers.js";

test("intra-op threads default to every core and can be set", () => {
  const expected = process.env.MOEDIFF_NUM_THREADS ? Number(process.env.MOEDIFF_NUM_THREADS) : availableParallelism();
  assert.equal(T.getNumThreads(), expected);
  T.setNumThreads(1);
  assert.equal(T.getNumThreads(), 1);
  T.setNumThreads(expected);
  assert.equal(T.getNumThreads(), expected);
  assertThrowsMatching(() => T.setNumThreads(0), /positive integer/);
});

test("OpenBLAS's pool is sized like libtorch's (MOEDIFF_NUM_THREADS) unless OPENBLAS_NUM_THREADS is set", () => {
  // the variables must be in the environment before the addon (and OpenBLAS) loads
  assert.equal(process.env.OPENBLAS_NUM_THREADS !== undefined, true);
  const child = (env: Record<string, string>): string => {
    const base = { ...process.env };
    delete base.OPENBLAS_NUM_THREADS;
    delete base.OMP_NUM_THREADS;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", `await import(${JSON.stringify(new URL("../../src/torch/index.js", import.meta.url).href)}); console.log(process.env.OPENBLAS_NUM_THREADS, process.env.OMP_NUM_THREADS)`], { env: { ...base, ...env }, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  assert.equal(child({ MOEDIFF_NUM_THREADS: "1" }), "1 1");
  assert.equal(child({ MOEDIFF_NUM_THREADS: "2", OPENBLAS_NUM_THREADS: "3" }), "3 2");
});

test("cuda.isAvailable answers and device strings are checked", () => {
  assert.equal(typeof T.cuda.isAvailable(), "boolean");
  assert.equal(T.cuda.deviceCount() > 0, T.cuda.isAvailable());
  assertThrowsMatching(() => T.zeros([1], { device: "gpu" as T.Device }), /unknown device 'gpu'/);
});

test("a seeded Generator reproduces PyTorch's randn and restores its state", () => {
  // torch.randn(3, generator=torch.Generator().manual_seed(42)) in PyTorch 1.13
  const expected = [0.33669036626815796, 0.12880940735340118, 0.23446236550807953];
  using g = new T.Generator({ seed: 42 });
  T.tidy(() => {
    assertClose(T.randn([3], { generator: g }).data(), expected, { atol: 0, rtol: 0 });
    const state = g.getState();
    const a = T.rand([5], { generator: g }).toArray();
    g.setState(state);
    const b = T.rand([5], { generator: g }).toArray();
    assert.deepEqual(a, b);
  });
});

test("manualSeed makes the default generator reproducible", () => {
  T.tidy(() => {
    T.manualSeed(7);
    const a = T.randn([4]).toArray();
    T.manualSeed(7);
    const b = T.randn([4]).toArray();
    assert.deepEqual(a, b);
    T.manualSeed(8);
    assert.notDeepEqual(T.randn([4]).toArray(), a);
  });
});

test("libtorch reports its version", () => {
  assert.match(T.libtorchVersion(), /^\d+\.\d+/);
});
