// Sanity checks on real data: Colin27 (ch2.nii.gz with skull, ch2bet.nii.gz skull-stripped, MNI space)
// and the JHU white-matter atlas in MNI space, all from Debian's mricron-data, downsampled to 2 mm so
// that the file runs in seconds (the full 1 mm figures are in the report).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { readNifti, toVolume } from "../../../src/nifti/index.js";
import { resample, resampleToVoxelSize } from "../../../src/volume/resample.js";
import { applyToPoint } from "../../../src/volume/affine.js";
import { brainMask, segment } from "../../../src/preprocess/segment/index.js";
import { dice } from "../../../src/preprocess/segment/morphology.js";

const DIR = "/usr/share/mricron/templates";
const need = (f: string): string => {
  const p = `${DIR}/${f}`;
  assert.ok(existsSync(p), `${p} is missing: run scripts/setup.sh (it installs the Debian package mricron-data)`);
  return p;
};

const bet = resampleToVoxelSize(toVolume(readNifti(need("ch2bet.nii.gz"))), 2);

test("Colin27 at 2 mm: the brain extracted from ch2 (with skull) matches the support of ch2bet", () => {
  const ch2 = resampleToVoxelSize(toVolume(readNifti(need("ch2.nii.gz"))), 2);
  const fromHead = brainMask(ch2);
  assert.equal(fromHead.method, "threshold");
  const fromBet = brainMask(bet);
  assert.equal(fromBet.method, "support");
  const d = dice(fromHead.mask, fromBet.mask);
  assert.ok(d > 0.95, `Dice ${d}`);
  assert.ok(Math.abs(fromHead.voxels / fromBet.voxels - 1) < 0.05, `volumes ${fromHead.voxels} vs ${fromBet.voxels}`);
});

test("Colin27 at 2 mm: superior corona radiata in WM, plausible fractions, CSO inside WM above the ventricles", () => {
  const r = segment(bet);
  const t = r.tissue;
  const [csf, gm, wm] = t.fractions as [number, number, number];
  assert.ok(csf > 0.03 && csf < 0.2, `CSF ${csf}`);
  assert.ok(gm > 0.4 && gm < 0.6, `GM ${gm}`);
  assert.ok(wm > 0.3 && wm < 0.5, `WM ${wm}`);
  assert.ok(gm / wm > 1 && gm / wm < 1.6, `GM/WM ${gm / wm}`);
  // JHU labels: the superior corona radiata numbers from the atlas's own table, the atlas resampled
  // (nearest neighbour, through the affines) onto the Colin27 grid
  const table = readFileSync(need("JHU-WhiteMatter-labels-1mm.nii.txt"), "utf8");
  const scr = [...table.matchAll(/^(\d+)\s+Superior_corona_radiata_[RL]\s*$/gm)].map((m) => Number(m[1]));
  assert.equal(scr.length, 2);
  const jhu = resample(toVolume(readNifti(need("JHU-WhiteMatter-labels-1mm.nii.gz"))), bet, { interpolation: "nearest" });
  let n = 0;
  let inWm = 0;
  for (let i = 0; i < jhu.data.length; i++) {
    if (!scr.includes(jhu.data[i]!)) continue;
    n++;
    if (t.labels[i] === 3) inWm++;
  }
  assert.ok(n > 1000, `${n} superior corona radiata voxels`);
  assert.ok(inWm / n > 0.95, `${((100 * inWm) / n).toFixed(2)}% of the superior corona radiata in WM`);
  // regions
  const g = r.regions!;
  const ventricles = g.masks.get("ventricles")!;
  const cso = g.masks.get("centrum_semiovale")!;
  const [nx, ny] = bet.dims;
  const z = (i: number) => applyToPoint(bet.affine, [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))])[2];
  let ventTop = -Infinity;
  let ventVoxels = 0;
  for (let i = 0; i < ventricles.length; i++) {
    if (!ventricles[i]) continue;
    ventVoxels++;
    ventTop = Math.max(ventTop, z(i));
    assert.equal(t.labels[i], 1);
  }
  // the lateral ventricles of an adult: a few to a few tens of mL, their top near MNI z = +30
  assert.ok(ventVoxels * 8e-3 > 5 && ventVoxels * 8e-3 < 60, `ventricles ${ventVoxels * 8e-3} mL`);
  assert.ok(ventTop > 20 && ventTop < 40, `top of the ventricles at z = ${ventTop}`);
  assert.equal(g.csoMinZ, ventTop);
  let csoVoxels = 0;
  for (let i = 0; i < cso.length; i++) {
    if (!cso[i]) continue;
    csoVoxels++;
    assert.equal(t.labels[i], 3);
    assert.ok(z(i) > ventTop);
  }
  assert.ok(csoVoxels * 8e-3 > 10, `centrum semiovale ${csoVoxels * 8e-3} mL`);
  const junction = g.masks.get("gw_junction")!;
  assert.ok(junction.every((v, i) => v === 0 || t.labels[i] === 2 || t.labels[i] === 3));
});
