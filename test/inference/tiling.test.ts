// Covering slices of any size with fixed-size tiles (src/inference/tiling.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { blendWeights, fittedTileSize, TileBlender, tileOffsets, tilePlan } from "../../src/inference/tiling.js";
import { assertThrowsMatching } from "../helpers.js";

test("tileOffsets: one centred (padded) tile when the slice fits; otherwise evenly spread, overlapping tiles covering every pixel", () => {
  assert.deepEqual(tileOffsets(64, 64, 16), [0]);
  assert.deepEqual(tileOffsets(50, 64, 16), [-7]); // floor((50 - 64) / 2), as prepare centres slices
  assert.deepEqual(tileOffsets(51, 64, 16), [-7]);
  for (const [n, tile, overlap] of [[65, 64, 16], [100, 64, 16], [217, 64, 32], [310, 256, 32], [1000, 256, 0]] as const) {
    const offs = tileOffsets(n, tile, overlap);
    assert.equal(offs[0], 0);
    assert.equal(offs[offs.length - 1], n - tile);
    for (let i = 1; i < offs.length; i++) assert.ok((offs[i - 1] as number) + tile - (offs[i] as number) >= overlap, `${n}/${tile}/${overlap}: overlap`);
    assert.equal(offs.length, Math.ceil((n - overlap) / (tile - overlap)));
  }
  assertThrowsMatching(() => tileOffsets(100, 64, 64), /overlap must be an integer in \[0, 64\)/);
  assertThrowsMatching(() => tileOffsets(0, 64, 0), /length must be a positive integer/);
});

test("blending tiles cut from an image gives the image back exactly, seams included", () => {
  const [rows, cols, h, w] = [90, 130, 32, 48];
  const image = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * 10 + (i % 7));
  const plan = tilePlan(rows, cols, h, w, 12);
  assert.ok(plan.length > 4);
  const blender = new TileBlender(rows, cols, blendWeights(h, w, 6), h, w);
  for (const t of plan) {
    const tile = new Float32Array(h * w);
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) tile[r * w + c] = image[(r + t.rowOffset) * cols + c + t.colOffset] as number;
    blender.add(t, tile);
  }
  const out = blender.result();
  let worst = 0;
  out.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (image[i] as number)))));
  assert.ok(worst < 1e-4, `max error ${worst}`);
});

test("a padded tile writes only the pixels inside the image; a pixel covered by no tile is an error", () => {
  const [rows, cols, h, w] = [5, 3, 8, 8];
  const [t] = tilePlan(rows, cols, h, w, 0);
  assert.deepEqual(t, { rowOffset: -2, colOffset: -3 });
  const b = new TileBlender(rows, cols, blendWeights(h, w, 0), h, w);
  b.add(t!, Float32Array.from({ length: h * w }, (_, i) => i));
  const out = b.result();
  assert.equal(out[0], 2 * w + 3); // native (0, 0) is tile pixel (2, 3)
  assert.equal(out[rows * cols - 1], (2 + rows - 1) * w + 3 + cols - 1);
  const empty = new TileBlender(rows, cols, blendWeights(h, w, 0), h, w);
  assert.throws(() => empty.result(), /covered by no tile/);
  assert.ok(empty.result(0).every((v) => v === 0)); // where only skipped (background) tiles lay
  // weights ramp from the edge inwards and are 1 in the middle
  const wts = blendWeights(16, 16, 4);
  assert.equal(wts[8 * 16 + 8], 1);
  assert.ok((wts[0] as number) > 0 && (wts[0] as number) < (wts[16 + 1] as number));
});

test("fittedTileSize: a slice smaller than the tile gets its length rounded up to the multiple, never more than the tile", () => {
  assert.equal(fittedTileSize(181, 256, 64), 192);
  assert.equal(fittedTileSize(217, 256, 64), 256);
  assert.equal(fittedTileSize(192, 256, 64), 192);
  assert.equal(fittedTileSize(1, 256, 64), 64);
  assert.equal(fittedTileSize(300, 256, 64), 256); // larger slices are tiled at the full size
  assertThrowsMatching(() => fittedTileSize(100, 200, 64), /tile must be a positive multiple of 64/);
  assertThrowsMatching(() => fittedTileSize(0, 256, 64), /length must be a positive integer/);
  assertThrowsMatching(() => fittedTileSize(10, 256, 0), /multiple must be a positive integer/);
});
