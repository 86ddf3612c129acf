// Region masks and the lateral-ventricle finder on a synthetic label map whose geometry is known:
// an ellipsoidal brain (CSF rim, GM ribbon, WM core) with two CSF "ventricles" below its centre.
import { test } from "node:test";
import assert from "node:assert/strict";
import { regionMasks } from "../../../src/preprocess/segment/regions.js";
import { findVentricles } from "../../../src/preprocess/segment/ventricles.js";
import { applyToPoint, type Grid } from "../../../src/volume/affine.js";
import { assertThrowsMatching } from "../../helpers.js";

/** Labels on a grid of `dims` voxels of size `s` mm centred at the world origin. */
function brainPhantom(dims: [number, number, number], s: [number, number, number], ventricles = true) {
  const affine = [s[0], 0, 0, (-(dims[0] - 1) / 2) * s[0], 0, s[1], 0, (-(dims[1] - 1) / 2) * s[1], 0, 0, s[2], (-(dims[2] - 1) / 2) * s[2], 0, 0, 0, 1];
  const grid: Grid = { dims, affine };
  const n = dims[0] * dims[1] * dims[2];
  const labels = new Uint8Array(n);
  const brain = new Uint8Array(n);
  const blob = new Uint8Array(n);
  let blobTop = -Infinity;
  for (let k = 0, idx = 0; k < dims[2]; k++) {
    for (let j = 0; j < dims[1]; j++) {
      for (let i = 0; i < dims[0]; i++, idx++) {
        const [x, y, z] = applyToPoint(affine, [i, j, k]);
        const rho = Math.hypot(x / 28, y / 28, z / 24);
        if (rho > 1) continue;
        brain[idx] = 1;
        // two lateral "ventricles" of ~2 mL: ellipsoids 7 mm off the midline, 4 mm below the centre
        const inBlob = ventricles && Math.min(Math.hypot((x - 7) / 5, y / 14, (z + 4) / 7), Math.hypot((x + 7) / 5, y / 14, (z + 4) / 7)) <= 1;
        if (inBlob) {
          blob[idx] = 1;
          blobTop = Math.max(blobTop, z);
        }
        labels[idx] = inBlob || rho > 0.93 ? 1 : rho > 0.75 ? 2 : 3;
      }
    }
  }
  return { grid, labels, brain, blob, blobTop, n };
}

function worldZ(grid: Grid, idx: number): number {
  const [nx, ny] = grid.dims;
  return applyToPoint(grid.affine, [idx % nx, Math.floor(idx / nx) % ny, Math.floor(idx / (nx * ny))])[2];
}

/** Brute force: distance (mm) from a voxel to the nearest GM (label 2) voxel, over a list of GM world points. */
function gmPoints(grid: Grid, labels: Uint8Array): Float64Array {
  const [nx, ny] = grid.dims;
  const pts: number[] = [];
  for (let q = 0; q < labels.length; q++) {
    if (labels[q] === 2) pts.push(...applyToPoint(grid.affine, [q % nx, Math.floor(q / nx) % ny, Math.floor(q / (nx * ny))]));
  }
  return Float64Array.from(pts);
}

function distanceToGm(grid: Grid, gm: Float64Array, idx: number): number {
  const [nx, ny] = grid.dims;
  const [x, y, z] = applyToPoint(grid.affine, [idx % nx, Math.floor(idx / nx) % ny, Math.floor(idx / (nx * ny))]);
  let best = Infinity;
  for (let q = 0; q < gm.length; q += 3) {
    const d = (gm[q]! - x) ** 2 + (gm[q + 1]! - y) ** 2 + (gm[q + 2]! - z) ** 2;
    if (d < best) best = d;
  }
  return Math.sqrt(best);
}

for (const [name, dims, spacing] of [
  ["1 mm isotropic", [60, 60, 52], [1, 1, 1]],
  ["anisotropic 1 x 1.25 x 2 mm", [60, 48, 26], [1, 1.25, 2]],
] as const) {
  test(`regions on the phantom (${name}): ventricles, centrum semiovale, cortex, junction`, () => {
    const p = brainPhantom([...dims], [...spacing]);
    const r = regionMasks(p.labels, p.brain, p.grid);
    // the ventricles are exactly the two CSF blobs, and the CSO lies above their top
    const v = r.masks.get("ventricles")!;
    assert.deepEqual(v, p.blob);
    assert.equal(r.ventricles?.components.length, 2);
    assert.equal(r.csoMinZ, p.blobTop);
    const cso = r.masks.get("centrum_semiovale")!;
    const wm = r.masks.get("wm")!;
    const gm = r.masks.get("gm")!;
    assert.ok(r.counts.get("centrum_semiovale")! > 500, `CSO ${r.counts.get("centrum_semiovale")}`);
    // checked against brute force on every 5th voxel: CSO = WM, >= 4 mm from GM, above the ventricles
    const gmList = gmPoints(p.grid, p.labels);
    for (let idx = 0; idx < p.n; idx += 5) {
      if (p.labels[idx] !== 3 || worldZ(p.grid, idx) <= p.blobTop) {
        assert.equal(cso[idx], 0);
        continue;
      }
      const expected = distanceToGm(p.grid, gmList, idx) >= 4;
      assert.equal(cso[idx], expected ? 1 : 0, `voxel ${idx}`);
    }
    assert.deepEqual(r.masks.get("cortex"), gm);
    // junction: WM with a GM face neighbour or GM with a WM face neighbour (checked directly)
    const [nx, ny, nz] = p.grid.dims;
    const junction = r.masks.get("gw_junction")!;
    for (let k = 0, idx = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++, idx++) {
          const other = p.labels[idx] === 3 ? 2 : p.labels[idx] === 2 ? 3 : -1;
          const nb = [
            i > 0 ? idx - 1 : -1, i < nx - 1 ? idx + 1 : -1, j > 0 ? idx - nx : -1,
            j < ny - 1 ? idx + nx : -1, k > 0 ? idx - nx * ny : -1, k < nz - 1 ? idx + nx * ny : -1,
          ];
          const expected = other > 0 && nb.some((q) => q >= 0 && p.labels[q] === other);
          if (junction[idx] !== (expected ? 1 : 0)) assert.fail(`junction at ${i},${j},${k}`);
        }
      }
    }
    assert.equal(r.counts.get("brain"), p.brain.reduce((s, b) => s + b, 0));
    assert.equal(r.counts.get("csf")! + r.counts.get("gm")! + r.counts.get("wm")!, r.counts.get("brain"));
    assert.ok(wm.every((w, i) => w === 0 || p.labels[i] === 3));
  });
}

test("junction width: the voxel size reproduces the face-neighbour rule, wider bands contain it", () => {
  const p = brainPhantom([44, 44, 40], [1, 1, 1]);
  const faces = regionMasks(p.labels, p.brain, p.grid).masks.get("gw_junction")!;
  const one = regionMasks(p.labels, p.brain, p.grid, { junctionWidthMm: 1 }).masks.get("gw_junction")!;
  assert.deepEqual(one, faces);
  const wide = regionMasks(p.labels, p.brain, p.grid, { junctionWidthMm: 2.5 }).masks.get("gw_junction")!;
  let extra = 0;
  for (let i = 0; i < p.n; i++) {
    if (faces[i] !== 0) assert.equal(wide[i], 1);
    if (wide[i] !== 0 && faces[i] === 0) extra++;
    if (wide[i] !== 0) assert.ok(p.labels[i] === 2 || p.labels[i] === 3);
  }
  assert.ok(extra > 0);
});

test("csoMinZ replaces the ventricle search; a larger distance shrinks the CSO", () => {
  const p = brainPhantom([60, 60, 52], [1, 1, 1], false);
  assertThrowsMatching(() => regionMasks(p.labels, p.brain, p.grid), /no lateral ventricles found/, /--cso-min-z/);
  const r = regionMasks(p.labels, p.brain, p.grid, { csoMinZ: 0 });
  assert.equal(r.masks.has("ventricles"), false);
  assert.equal(r.csoMinZ, 0);
  const cso = r.masks.get("centrum_semiovale")!;
  for (let i = 0; i < p.n; i++) if (cso[i]) assert.ok(worldZ(p.grid, i) > 0 && p.labels[i] === 3);
  const far = regionMasks(p.labels, p.brain, p.grid, { csoMinZ: 0, csoDistanceMm: 6 }).counts.get("centrum_semiovale")!;
  assert.ok(far > 0 && far < r.counts.get("centrum_semiovale")!);
  assertThrowsMatching(() => regionMasks(p.labels, p.brain, p.grid, { csoDistanceMm: -1 }), /csoDistanceMm must be a finite number >= 0/);
  assertThrowsMatching(() => regionMasks(p.labels, p.brain, p.grid, { junctionWidthMm: 0 }), /junctionWidthMm must be a finite number > 0/);
  assertThrowsMatching(() => regionMasks(p.labels.subarray(1), p.brain, p.grid), /labels: mask has/);
});

test("findVentricles ignores deep CSF far from the centre and shallow CSF", () => {
  const p = brainPhantom([60, 60, 52], [1, 1, 1]);
  // a big CSF pocket near the surface (shallow) is not a ventricle
  const labels = p.labels.slice();
  const [nx, ny] = p.grid.dims;
  for (let k = 38; k < 46; k++) for (let j = 26; j < 34; j++) for (let i = 26; i < 34; i++) labels[i + nx * (j + ny * k)] = 1;
  const r = findVentricles(labels, p.brain, p.grid);
  assert.deepEqual(r.mask, p.blob);
  assert.ok(r.components.every((c) => Math.hypot(...c.centroid) < 15));
  assertThrowsMatching(() => findVentricles(labels, p.brain, p.grid, { centreRadiusMm: 1 }), /no lateral ventricles found/);
});
