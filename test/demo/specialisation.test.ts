// Per-region gates and per-expert errors (src/demo/specialisation.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { specialisation } from "../../src/demo/specialisation.js";
import type { Volume } from "../../src/volume/volume.js";

const affine = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
const vol = (data: number[]): Volume => ({ data: Float32Array.from(data), dims: [data.length, 1, 1], affine } as unknown as Volume);

test("gate means and spreads per region, each expert's PSNR on the region's voxels", () => {
  // Six voxels: 0-2 cortex, 3-5 centrum semiovale. E1 is exact on the cortex, E2 on the white matter.
  const reference = vol([0, 10, 20, 100, 110, 120]);
  const e1 = vol([0, 10, 20, 90, 100, 110]);
  const e2 = vol([5, 15, 25, 100, 110, 120]);
  const g1 = vol([0.9, 0.8, 0.7, 0.1, 0.2, 0.3]);
  const g2 = vol([0.1, 0.2, 0.3, 0.9, 0.8, 0.7]);
  const cortex = Uint8Array.from([1, 1, 1, 0, 0, 0]);
  const wm = Uint8Array.from([0, 0, 0, 1, 1, 1]);
  const brain = Uint8Array.from([1, 1, 1, 1, 1, 1]);
  const s = specialisation({
    reference,
    mixture: reference,
    experts: [
      { name: "E1", gate: g1, estimate: e1 },
      { name: "E2", gate: g2, estimate: e2 },
    ],
    masks: new Map([
      ["brain", brain],
      ["cortex", cortex],
      ["centrum_semiovale", wm],
    ]),
  });
  assert.equal(s.dataRange, 120);
  const byName = new Map(s.regions.map((r) => [r.region, r]));
  const c = byName.get("cortex")!;
  assert.ok(Math.abs(c.gateMean[0]! - 0.8) < 1e-6 && Math.abs(c.gateMean[1]! - 0.2) < 1e-6);
  assert.ok(Math.abs(c.gateStd[0]! - Math.sqrt(2 / 300)) < 1e-6, `population sd of 0.9, 0.8, 0.7: ${c.gateStd[0]}`);
  assert.equal(c.expertPsnr[0], Infinity, "E1 is exact on the cortex");
  assert.ok(Math.abs(c.expertPsnr[1]! - 10 * Math.log10((120 * 120) / 25)) < 1e-6);
  const w = byName.get("centrum_semiovale")!;
  assert.ok(Math.abs(w.expertPsnr[0]! - 10 * Math.log10((120 * 120) / 100)) < 1e-6);
  assert.equal(w.expertPsnr[1], Infinity);
  assert.ok(Math.abs(s.spread[0]! - 0.6) < 1e-6 && Math.abs(s.spread[1]! - 0.6) < 1e-6, `spread over the regions: ${s.spread.join(", ")}`);
  assert.equal(byName.get("brain")!.voxels, 6);
});

test("volumes off the reference's grid are refused, naming which", () => {
  const reference = vol([0, 1, 2]);
  assert.throws(
    () => specialisation({ reference, mixture: reference, experts: [{ name: "E2", gate: vol([1, 1]), estimate: reference }], masks: new Map() }),
    /E2's gate has 2 voxels, the reference 3/,
  );
});
