// The pure helpers of the PyTorch parity benchmark (bench/parity.ts): option parsing and its
// errors, the choice of Python interpreter, folding PyTorch's per-tensor differences into the
// headline numbers and failures, the timing medians and ratio, and the text table. The end-to-end
// comparison needs Python with torch, which CI does not install, so it lives in the bench only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { findPython, formatTable, parseParityArgs, summariseDiffs, timingSummary, TOLERANCE, type Case } from "../../bench/parity.js";
import { assertThrowsMatching } from "../helpers.js";
import { withRoot } from "./bench_root.js";

test("parseParityArgs: defaults, the default model dir, MOEDIFF_NUM_THREADS and explicit flags", () => {
  withRoot((root) => {
    const o = parseParityArgs([], root, {}, 3);
    assert.deepEqual(o, { model: join(root, "models", "default"), batch: 4, rounds: 7, warmup: 2, threads: 3, seed: 1, python: null, keep: false, settle: 250 });
    const one = parseParityArgs([], root, { MOEDIFF_NUM_THREADS: "1" }, 3);
    assert.equal(one.threads, 1);
    assert.equal(one.settle, 0, "no worker threads to settle with one thread");
    assert.equal(parseParityArgs(["--settle", "10"], root, {}, 2).settle, 10);
    const p = parseParityArgs(["--model", root, "--batch", "2", "--threads", "2", "--warmup", "0", "--keep", "--python", "/opt/py"], root, { MOEDIFF_NUM_THREADS: "1" }, 3);
    assert.equal(p.model, root);
    assert.equal(p.batch, 2);
    assert.equal(p.threads, 2);
    assert.equal(p.warmup, 0);
    assert.equal(p.keep, true);
    assert.equal(p.python, "/opt/py");
  }, true);
});

test("parseParityArgs: a missing default model, bad values and unknown options are refused clearly", () => {
  withRoot((root) => {
    assertThrowsMatching(() => parseParityArgs([], root, {}, 1), /no --model DIR given/, /models[/\\]default does not exist/);
    assertThrowsMatching(() => parseParityArgs(["--model", root, "--batch", "0"], root, {}, 1), /--batch expects an integer >= 1, got '0'/);
    assertThrowsMatching(() => parseParityArgs(["--model", root, "--rounds", "2.5"], root, {}, 1), /--rounds expects an integer/);
    assertThrowsMatching(() => parseParityArgs(["--model", root, "--bogus", "1"], root, {}, 1), /unknown option '--bogus'/);
    assertThrowsMatching(() => parseParityArgs(["--model"], root, {}, 1), /--model needs a value/);
    assertThrowsMatching(() => parseParityArgs(["--model", join(root, "nope")], root, {}, 1), /parity: the model directory .*nope does not exist/);
    assertThrowsMatching(() => parseParityArgs(["--model", root], root, { MOEDIFF_NUM_THREADS: "two" }, 1), /MOEDIFF_NUM_THREADS must be a positive integer, got 'two'/);
  }, false);
});

test("findPython: explicit first, else /usr/bin/python3 then python3; says how to install torch", () => {
  const asked: string[] = [];
  const accepting = (ok: string) => (p: string): boolean => (asked.push(p), p === ok);
  assert.equal(findPython(null, accepting("python3")), "python3");
  assert.deepEqual(asked, ["/usr/bin/python3", "python3"]);
  assert.equal(findPython(null, accepting("/usr/bin/python3")), "/usr/bin/python3");
  assert.equal(findPython("/opt/py", accepting("/opt/py")), "/opt/py");
  assertThrowsMatching(() => findPython(null, () => false), /apt-get install python3-torch/);
  assertThrowsMatching(() => findPython("/opt/py", () => false), /\/opt\/py cannot import torch/);
});

test("summariseDiffs: headline numbers, the worst gradient, and every tensor over the tolerance named", () => {
  const d = (x: number, m = 1) => ({ max_abs_diff: x, max_abs: m });
  const ok = summariseDiffs({ "e1.out": d(1e-6), "cond.out": d(2e-6), "e1.grad.conv_in.weight": d(3e-5), "cond.grad.norm.bias": d(5e-6) });
  assert.deepEqual(ok, { e1: 1e-6, cond: 2e-6, grad: 3e-5, worstGrad: "e1.grad.conv_in.weight", failures: [] });
  const bad = summariseDiffs({ "e1.out": d(2 * TOLERANCE), "cond.out": d(0), "e1.grad.a": d(0), "cond.grad.b": d(Number.NaN) });
  assert.equal(bad.failures.length, 2);
  assert.match(bad.failures[0] as string, /^e1\.out: max abs diff 2\.000e-4 > 0\.0001/);
  assert.match(bad.failures[1] as string, /^cond\.grad\.b: max abs diff NaN/);
  assert.equal(bad.worstGrad, "cond.grad.b", "a NaN difference is the worst");
  assert.equal(summariseDiffs({ "e1.out": d(1e-3), "cond.out": d(0), "e1.grad.a": d(0) }, 1e-2).failures.length, 0, "tolerance is a parameter");
  assertThrowsMatching(() => summariseDiffs({ "e1.out": d(0), "e1.grad.a": d(0) }), /no difference for cond\.out/);
  assertThrowsMatching(() => summariseDiffs({ "e1.out": d(0), "cond.out": d(0) }), /no gradient differences/);
});

test("timingSummary: medians per case and the combined fwd+bwd ratio of per-round sums", () => {
  const rec = (e1f: number[], e1b: number[], cf: number[], cb: number[]): Record<Case, number[]> => ({ e1_fwd: e1f, e1_fwdbwd: e1b, cond_fwd: cf, cond_fwdbwd: cb });
  const ours = rec([1, 9, 2], [10, 30, 20], [1, 1, 1], [5, 5, 50]);
  const theirs = rec([1, 1, 1], [10, 10, 10], [1, 1, 1], [10, 10, 10]);
  const s = timingSummary(ours, theirs);
  assert.deepEqual(s.ts, { e1_fwd: 2, e1_fwdbwd: 20, cond_fwd: 1, cond_fwdbwd: 5 });
  assert.deepEqual(s.torch, { e1_fwd: 1, e1_fwdbwd: 10, cond_fwd: 1, cond_fwdbwd: 10 });
  // per-round sums: ours 15, 35, 70 -> median 35; PyTorch 20 -> 1.75 (not 25/20 from summed medians)
  assert.equal(s.ratio, 35 / 20);
  // forward: ours 2, 10, 3 -> 3; PyTorch 2
  assert.equal(s.fwdRatio, 1.5);
});

test("formatTable: header rule, left-aligned first column, right-aligned numbers", () => {
  const t = formatTable([
    ["name", "ms"],
    ["e1_fwd", "5.5"],
    ["c", "123.25"],
  ]);
  assert.equal(t, ["name        ms", "------  ------", "e1_fwd     5.5", "c       123.25"].join("\n"));
});
