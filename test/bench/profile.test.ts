// The pure parts of `npm run -s bench profile` (bench/profile.ts): exclusive times per part from the
// profiler's nested entries, FLOPs per network from the per-tile counts, and the printed table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatProfile, profileRows } from "../../bench/profile.js";

const e = (seconds: number, units = 1): { seconds: number; units: number } => ({ seconds, units });

test("profileRows: networks with FLOPs, the sampler and transfers less what is timed inside them, shares sum to 1", () => {
  const entries = new Map([
    ["resampling", e(0.5)],
    ["model", e(7, 8)],
    ["vq encoder", e(1, 8)],
    ["condition encoder", e(0.2, 8)],
    ["gating", e(0.1, 8)],
    ["sampling", e(5, 8)],
    ["expert E1", e(1, 40)],
    ["expert E2", e(2, 40)],
    ["vq decoder", e(0.5, 8)],
  ]);
  const flops = new Map([
    ["vq_encoder", 2],
    ["condition_encoder", 0.1],
    ["gating", 0.01],
    ["expert_E1", 1],
    ["expert_E2", 3],
    ["vq_decoder", 4],
  ]);
  const rows = profileRows(entries, 8, 0.3, flops, [1, 2]);
  const by = (p: string) => rows.find((r) => r.part === p) ?? assert.fail(`no row ${p}`);
  assert.deepEqual(rows.map((r) => r.part), ["I/O", "resampling", "VQ encoder", "condition encoder", "gating", "expert E1", "expert E2", "VQ decoder", "sampler steps", "tile transfers", "tiling/blending"]);
  assert.equal(by("expert E2").gflops, 120);
  assert.equal(by("expert E2").gflopsPerSecond, 60);
  assert.equal(by("VQ encoder").gflops, 16);
  assert.ok(Math.abs(by("sampler steps").seconds - 2) < 1e-12, "sampling less the experts");
  assert.ok(Math.abs(by("tile transfers").seconds - 0.2) < 1e-12, "model less encoder, condition, gating, sampling, decoder");
  assert.ok(Math.abs(by("tiling/blending").seconds - 0.5) < 1e-12, "enhance less resampling and model");
  assert.equal(by("I/O").gflops, null);
  assert.ok(Math.abs(rows.reduce((s, r) => s + r.share, 0) - 1) < 1e-12);
  const table = formatProfile(rows).split("\n");
  assert.match(table[0] as string, /^part\s+seconds\s+share %\s+GFLOPs\s+GFLOP\/s$/);
  assert.match(table.find((l) => l.startsWith("expert E2")) as string, /2\.00\s+\d+\.\d\s+120\.0\s+60\.0$/);
  assert.match(table.at(-1) as string, /^total\s+8\.30\s+100\.0/);
});
