// What the engine runs on: the addon's caching CPU allocator is libtorch's CPU allocator in every
// process that loads it (and reuses freed blocks), MOEDIFF_CPU_ALLOCATOR=system turns it off, and
// libtorch's matrix products go through OpenBLAS, not the reference BLAS (docs/benchmarks.md).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as T from "../../src/torch/index.js";

const ENGINE = fileURLToPath(new URL("../../src/torch/index.js", import.meta.url));

/** Runs `body` in a fresh node process with the engine imported as T; returns its last stdout line as JSON. */
function child(body: string, env: Record<string, string> = {}): Record<string, unknown> {
  const script = `import * as T from ${JSON.stringify(ENGINE)};\n${body}`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
}

const REUSE = `
for (let i = 0; i < 10; i++) T.tidy(() => T.ones([1024, 1024]).mul(2).sum());   // 4 MiB buffers, freed each round
console.log(JSON.stringify(T.cpuAllocatorStats()));`;

test("the caching CPU allocator is libtorch's allocator in a new process and reuses freed blocks", () => {
  const s = child(REUSE);
  assert.equal(s.active, true);
  assert.ok((s.hits as number) >= 9, `hits ${String(s.hits)}`);
  assert.ok((s.misses as number) <= 4, `misses ${String(s.misses)}`);
  assert.ok((s.cachedBytes as number) >= 4 << 20 && (s.cachedBytes as number) <= (s.limitBytes as number));
});

test("MOEDIFF_CPU_ALLOCATOR=system keeps libtorch's own allocator; MOEDIFF_CPU_CACHE_MB bounds the cache", () => {
  assert.deepEqual(child(REUSE, { MOEDIFF_CPU_ALLOCATOR: "system" }), { active: false });
  const s = child(REUSE, { MOEDIFF_CPU_CACHE_MB: "0" });
  assert.equal(s.active, true);
  assert.equal(s.limitBytes, 0);
  assert.equal(s.cachedBytes, 0, "nothing is kept above the limit");
  assert.equal(s.hits, 0);
});

test("results do not depend on the allocator; emptyCpuCache gives the cache back", () => {
  const body = `T.manualSeed(3); const x = T.randn([512, 700]); const y = T.tidy(() => x.matmul(x.T).softmax(-1).sum(0)); console.log(JSON.stringify(Array.from(y.data())));`;
  assert.deepEqual(child(body), child(body, { MOEDIFF_CPU_ALLOCATOR: "system" }));
  T.tidy(() => T.ones([1024, 1024]).add(1));
  T.emptyCpuCache();
  assert.equal(T.cpuAllocatorStats().cachedBytes, 0);
});

test("libtorch multiplies through OpenBLAS (or MKL), not the reference BLAS", () => {
  T.tidy(() => T.randn([64, 64]).matmul(T.randn([64, 64])));
  const blas = T.blasLibrary();
  if (process.env.LIBTORCH === undefined) {
    // Debian's libtorch-dev: libblas.so.3 must resolve to OpenBLAS.
    assert.ok(blas !== null && /openblas|mkl/i.test(blas), `BLAS in use: ${String(blas)}; run scripts/setup.sh (it installs libopenblas0-openmp)`);
  } else {
    // An official distribution links MKL statically (nothing in the maps) or names its own library.
    assert.ok(blas === null || !/\/blas\/libblas\.so/.test(blas), `the reference BLAS is in use: ${blas}`);
  }
});
