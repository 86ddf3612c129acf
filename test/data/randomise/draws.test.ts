// The randomisation's draws: inside the documented ranges (docs/randomisation.md), every kind of draw
// actually happens (both acquisition modes, every slice axis and profile, flips), and a subject's
// parameters depend only on (seed, index).
import { test } from "node:test";
import assert from "node:assert/strict";
import { drawAcquisition } from "../../../src/data/randomise/acquisition.js";
import { RANDOMISE_DEFAULTS, resolveRandomiseRanges } from "../../../src/data/randomise/ranges.js";
import { drawSubject } from "../../../src/data/randomise/subject.js";
import { Rng } from "../../../src/data/rng.js";

const within = (x: number, lo: number, hi: number, what: string): void => assert.ok(x >= lo - 1e-9 && x <= hi + 1e-9, `${what} ${x} outside ${lo}..${hi}`);

test("acquisition draws lie inside the documented ranges, and both modes, every slice axis and both profiles occur", () => {
  const seen = { "3d": 0, "2d": 0, axis: new Set<number>(), shape: new Set<string>() };
  for (let s = 0; s < 400; s++) {
    const a = drawAcquisition(new Rng(s, "test"), RANDOMISE_DEFAULTS.acquisition);
    seen[a.mode]++;
    within(a.snr, 10, 60, "snr");
    within(a.bias, 0, 0.5, "bias");
    within(a.gradwarp, 0, 1, "gradwarp");
    assert.ok(Number.isInteger(a.seed) && a.seed >= 0 && a.seed <= 0xffffffff);
    if (a.mode === "3d") {
      assert.equal(a.sliceProfile, undefined);
      assert.ok(a.voxelSize.every((v) => v === a.voxelSize[0]), "3-D voxels are isotropic");
      within(a.voxelSize[0], 1.0, 2.2, "3-D voxel");
    } else {
      const p = a.sliceProfile;
      assert.ok(p !== undefined);
      seen.axis.add(p.axis);
      seen.shape.add(p.shape);
      a.voxelSize.forEach((v, ax) => (ax === p.axis ? within(v, 2.0, 4.0, "slice spacing") : within(v, 1.0, 1.3, "in-plane voxel")));
      within(p.thickness / a.voxelSize[p.axis], 0.8 - 1e-3, 1.0 + 1e-3, "thickness / spacing");
      assert.ok(p.thickness <= 4, `2-D stacks go up to 1x1x4 mm, thickness ${p.thickness}`);
    }
  }
  assert.ok(seen["3d"] > 120 && seen["2d"] > 120, `both modes: ${seen["3d"]} 3-D, ${seen["2d"]} 2-D`);
  assert.deepEqual([...seen.axis].sort(), [0, 1, 2]);
  assert.deepEqual([...seen.shape].sort(), ["gaussian", "rect"]);
});

test("anatomy and contrast draws lie inside their ranges; flips happen both ways; subject i depends on (seed, i) only", () => {
  let flips = 0;
  const gm = new Set<number>();
  for (let i = 0; i < 60; i++) {
    const p = drawSubject(7, i, 0, `s${i}`, RANDOMISE_DEFAULTS);
    const a = p.anatomy;
    for (const r of a.rotationDeg) within(r, -15, 15, "rotation");
    for (const s of a.scale) within(s, 0.9, 1.1, "scale");
    for (const h of a.shear) within(h, -0.05, 0.05, "shear");
    within(a.elastic.sd, 0, 2, "elastic sd");
    assert.equal(a.elastic.spacing, 32);
    if (a.flip) flips++;
    const c = p.contrast;
    assert.ok(c.means[0] < c.means[1] && c.means[1] < c.means[2] && c.means[2] === 1, `T1 ordering of the drawn means ${c.means.join(", ")}`);
    within(c.means[1], 0.55, 0.85, "GM/WM");
    within(c.means[0] / c.means[1], 0.1 - 1e-3, 0.6 + 1e-3, "CSF/GM");
    for (const k of c.spreads) within(k, 0.5, 1.5, "spread");
    within(c.nonBrain, 0.5, 1.5, "non-brain gain");
    within(Math.log(c.gamma), -0.3 - 1e-3, 0.3 + 1e-3, "ln gamma");
    gm.add(c.means[1]);
  }
  assert.ok(flips >= 15 && flips <= 45, `flip probability 0.5: ${flips} of 60`);
  assert.equal(gm.size, 60, "every subject gets its own contrast");
  assert.deepEqual(drawSubject(7, 5, 0, "s5", RANDOMISE_DEFAULTS), drawSubject(7, 5, 0, "s5", RANDOMISE_DEFAULTS));
  assert.notDeepEqual(drawSubject(7, 5, 0, "s5", RANDOMISE_DEFAULTS).anatomy, drawSubject(8, 5, 0, "s5", RANDOMISE_DEFAULTS).anatomy);
  // Narrowing the SNR range changes only the acquisition draws' values, not anatomy or contrast.
  const narrow = resolveRandomiseRanges({ snr: [30, 30] });
  const a = drawSubject(7, 5, 0, "s5", narrow);
  const b = drawSubject(7, 5, 0, "s5", RANDOMISE_DEFAULTS);
  assert.deepEqual([a.anatomy, a.contrast], [b.anatomy, b.contrast]);
  assert.equal(a.acquisition.head.snr, 30);
  assert.throws(() => resolveRandomiseRanges({ snr: [40, 30] }), /SNR range 40:30 has lo > hi/);
});
