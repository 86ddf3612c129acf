import { test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as T from "../../src/torch/index.js";
import { native } from "../../src/torch/native.js";
import { assertThrowsMatching } from "../helpers.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const live = (): number => T.memory().numTensors;

test("tidy frees everything made inside except the result", () => {
  const before = live();
  const out = T.tidy(() => {
    const a = T.ones([4, 4]);
    const b = a.mul(3);
    b.add(1); // intermediate, dropped
    return b.sum();
  });
  assert.equal(live(), before + 1);
  assert.equal(out.item(), 48);
  out.dispose();
  assert.equal(live(), before);
});

test("tidy keeps tensors inside arrays, Maps and plain objects of the result", () => {
  const before = live();
  const r = T.tidy(() => {
    const a = T.zeros([2]);
    return { list: [a, T.ones([1])], map: new Map([["x", T.full([1], 2)]]), n: 3 };
  });
  assert.equal(live(), before + 3);
  assert.equal(r.map.get("x")?.item(), 2);
  for (const t of [...r.list, ...r.map.values()]) t.dispose();
  assert.equal(live(), before);
});

test("nested tidy hands returned tensors to the enclosing scope", () => {
  const before = live();
  T.tidy(() => {
    const inner = T.tidy(() => T.ones([3]).mul(2));
    assert.equal(inner.isDisposed, false);
    assert.equal(live(), before + 1);
    return undefined;
  });
  assert.equal(live(), before, "the outer scope must free what the inner one returned");
});

test("keep() survives every scope until disposed", () => {
  const before = live();
  let kept: T.Tensor | undefined;
  const r = T.tidy(() => {
    T.tidy(() => {
      kept = T.keep(T.ones([2]).mul(5));
    });
    return undefined;
  });
  assert.equal(r, undefined);
  assert.equal(live(), before + 1);
  assert.equal(kept?.sum().item(), 10);
  kept?.dispose();
});

test("tidy frees on throw and rethrows", () => {
  const before = live();
  assert.throws(() =>
    T.tidy(() => {
      T.ones([8]);
      throw new Error("boom");
    }),
  /boom/);
  assert.equal(live(), before);
});

test("tidy rejects an async function and frees what it made", () => {
  const before = live();
  assertThrowsMatching(
    () =>
      T.tidy(() => {
        T.ones([2]);
        return Promise.resolve(1);
      }),
    /tidy/,
    /synchronous/,
  );
  assert.equal(live(), before);
});

test("`using` disposes at the end of the block", () => {
  const before = live();
  {
    using a = T.ones([16]);
    using b = a.mul(2);
    assert.equal(live(), before + 2);
    assert.equal(b.amax().item(), 2);
  }
  // a and b were `using`; the amax() result has no scope and stays until collected.
  assert.equal(live(), before + 1);
});

test("memory() counts storage once for views that share it", () => {
  T.tidy(() => {
    const before = T.memory().numBytes;
    const a = T.zeros([1024], { dtype: "float32" });
    const afterA = T.memory().numBytes;
    assert.equal(afterA - before, 4096);
    const v = a.view(32, 32);
    const s = a.slice(0, 0, 10);
    assert.equal(T.memory().numBytes, afterA, "views must not add bytes");
    v.dispose();
    a.dispose();
    assert.equal(T.memory().numBytes, afterA, "storage lives while a view holds it");
    s.dispose();
    assert.equal(T.memory().numBytes, before);
  });
});

test("a tensor dropped without dispose() is freed by the garbage collector", async () => {
  gc();
  await new Promise((r) => setTimeout(r, 10));
  const before = T.memory();
  (() => {
    for (let i = 0; i < 10; i++) T.ones([256]);
  })();
  assert.equal(T.memory().numTensors, before.numTensors + 10);
  for (let i = 0; i < 20 && T.memory().numTensors > before.numTensors; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  const after = T.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numLeaked - before.numLeaked, 10);
});

test("V8 is told a tensor's bytes outside tidy(), and only the net change when a tidy() scope ends", () => {
  const MB = 1 << 20;
  // V8's own external-memory total (what its collector heuristics read; process.memoryUsage().external
  // does not include what addons report).
  const external = (): number => native.memoryReportState()[2];
  // Outside any scope: the collector must feel the memory (it is the only thing that can free a leak).
  const before = external();
  const loose = T.zeros([4 * MB]); // 16 MB
  assert.ok(external() - before >= 15 * MB, `outside tidy: external grew ${(external() - before) / MB} MB, want >= 15`);
  loose.dispose();
  assert.ok(Math.abs(external() - before) < 2 * MB, "dispose() gives the report back");

  // Inside a scope, 64 MB of temporaries made and freed: nothing is reported while it runs
  // (a report would only trigger collections that cannot free scope-held tensors) ...
  const start = external();
  let inside = 0;
  const kept = T.tidy(() => {
    for (let i = 0; i < 4; i++) T.zeros([4 * MB]);
    inside = external() - start;
    return T.zeros([2 * MB]); // 8 MB escapes
  });
  assert.ok(inside < 2 * MB, `inside tidy: external grew ${inside / MB} MB, want < 2`);
  assert.equal(native.memoryReportState()[0], 0, "no pause is left behind");
  // ... and when it ends, what escaped is reported.
  assert.ok(external() - start >= 7 * MB, `after tidy: external grew ${(external() - start) / MB} MB, want >= 7 (the returned tensor)`);
  kept.dispose();
  assert.ok(Math.abs(external() - start) < 2 * MB);
});
