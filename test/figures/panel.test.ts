// `figures panel`: LR | SR | HR rows, shared grey window per row, zoom squares and insets, errors.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { makePanel, parseZoom, ZOOM_COLOUR } from "../../src/figures/panel.js";
import { assertThrowsMatching } from "../helpers.js";
import { DIMS, phantom, pngPixel, put, readPng, rejectsMatching, runFigures, tempDir, volumeOf } from "./helpers.js";

const dir = tempDir("panel");
after(() => rmSync(dir, { recursive: true, force: true }));

/** The phantom plus a plateau of 60 at i, j in [4, 8) (aligned with the LR's 2-voxel blocks). */
const plateau = (i: number, j: number) => i >= 4 && i < 8 && j >= 4 && j < 8;
const hrValue = (i: number, j: number, k: number) => (plateau(i, j) ? 60 : phantom(i, j, k));
const HR = put(dir, "hr.nii.gz", volumeOf(hrValue));
const SR = put(dir, "sr.nii.gz", volumeOf((i, j, k) => hrValue(i, j, k) + (plateau(i, j) ? 0 : 0.5 * Math.sin(i + j))));
// LR: 2 mm voxels whose centres sit at HR voxel coordinates 0.5, 2.5, ...; each holds its 2x2x2 block mean.
const LR_AFFINE = [2, 0, 0, -12 + 0.5, 0, 2, 0, -14 + 0.5, 0, 0, 2, -10 + 0.5, 0, 0, 0, 1];
const LR = put(
  dir,
  "lr.nii.gz",
  volumeOf(
    (a, b, c) => {
      let s = 0;
      for (let d = 0; d < 8; d++) s += hrValue(2 * a + (d & 1), 2 * b + ((d >> 1) & 1), 2 * c + (d >> 2));
      return s / 8;
    },
    [12, 14, 10],
    LR_AFFINE,
  ),
);

test("panel PNG: size, three columns, equal grey where LR == SR == HR, zoom squares and insets", async () => {
  const out = join(dir, "panel.png");
  const r = await runFigures("panel", "--lr", LR, "--sr", SR, "--hr", HR, "-o", out);
  assert.match(r.stdout, /wrote .*panel\.png \(\d+ x \d+ px\)/);
  const fig = makePanel({ lr: LR, sr: SR, hr: HR });
  const png = readPng(out);
  assert.equal(png.width, fig.canvas.width);
  assert.equal(png.height, fig.canvas.height);
  assert.equal(fig.lrResampled, true);
  assert.deepEqual(fig.slices, [6, 10, 13]); // the plateau spans every k: extent 0..19
  assert.equal(fig.scale, 11); // 24 px * 11 = 264 >= 256
  assert.equal(fig.cells.length, 3);
  const s = fig.scale;
  for (const row of fig.cells) {
    assert.equal(row.length, 3);
    for (const c of row) {
      assert.equal(c.image.w, DIMS[0] * s);
      assert.equal(c.image.h, DIMS[1] * s);
    }
  }
  // Plateau voxel (i, j) = (5, 5) -> display column 5, row ny - 1 - 5.
  const [x, y] = [5, DIMS[1] - 1 - 5];
  const greys = fig.cells[1]!.map((c) => pngPixel(png, c.image.x + x * s + 5, c.image.y + y * s + 5));
  assert.deepEqual(greys[0], greys[1]);
  assert.deepEqual(greys[1], greys[2]);
  const g = greys[0]![0];
  assert.ok(g > 20 && g < 235, `plateau grey ${g} should be mid-grey`);
  assert.equal(greys[0]![1], g);
  const win = fig.windows[1]!;
  assert.equal(g, Math.round((255 * (60 - win.lo)) / (win.hi - win.lo)));
  // Zoom: default side = 24 / 4 = 6; outline on every image, inset below it, same colour.
  for (const [r0, row] of fig.cells.entries()) {
    const z = fig.zooms[r0]!;
    assert.equal(z.size, 6);
    for (const c of row) {
      assert.deepEqual(pngPixel(png, c.image.x + z.x * s, c.image.y + z.y * s), [...ZOOM_COLOUR]);
      assert.deepEqual(pngPixel(png, c.image.x + (z.x + z.size) * s - 1, c.image.y + (z.y + 3) * s), [...ZOOM_COLOUR]);
      const inset = c.inset!;
      const m = c.magnification!;
      assert.equal(m, Math.floor((DIMS[0] * s) / 6));
      assert.ok(inset.y >= c.image.y + c.image.h, "the inset is below the image");
      assert.deepEqual(pngPixel(png, inset.x, inset.y), [...ZOOM_COLOUR]);
      // Inset content = the image's content at the same voxel, magnified.
      const [dx, dy] = [2, 3];
      assert.deepEqual(pngPixel(png, inset.x + dx * m + m / 2, inset.y + dy * m + m / 2), pngPixel(png, c.image.x + (z.x + dx) * s + 5, c.image.y + (z.y + dy) * s + 5));
    }
  }
});

test("--zoom places the square; HR is optional; LR on the SR grid is not resampled", async () => {
  const fig = makePanel({ lr: SR, sr: SR, zoom: parseZoom("10,12,5"), slices: [9] });
  assert.equal(fig.cells[0]!.length, 2);
  assert.equal(fig.lrResampled, false);
  assert.deepEqual(fig.zooms.map((z) => [z.x, z.y, z.size]), [[8, 10, 5]]);
  // Near an edge the square is shifted inside.
  const edge = makePanel({ lr: SR, sr: SR, zoom: parseZoom("0,27,5"), slices: [9] });
  assert.deepEqual(edge.zooms.map((z) => [z.x, z.y]), [[0, 23]]);
  assertThrowsMatching(() => parseZoom("10,12"), /--zoom expects x,y,size/);
  assertThrowsMatching(() => parseZoom("10,12,1"), /at least 2 voxels/);
  assertThrowsMatching(() => makePanel({ lr: SR, sr: SR, zoom: parseZoom("30,5,4") }), /centre \(30, 5\) is outside the displayed 24 x 28 slice/);
});

test("errors: SR/HR grids differ, slice out of range, missing file; no output is written", async () => {
  const other = put(dir, "hr_other.nii.gz", volumeOf(phantom, [24, 28, 21]));
  const shifted = put(dir, "hr_shifted.nii.gz", volumeOf(phantom, DIMS, [1, 0, 0, -11, 0, 1, 0, -14, 0, 0, 1, -10, 0, 0, 0, 1]));
  const out = join(dir, "bad.png");
  await rejectsMatching(runFigures("panel", "--lr", LR, "--sr", SR, "--hr", other, "-o", out), /--hr .* is not on the grid of --sr/, /dims \[24, 28, 21\] vs \[24, 28, 20\]/);
  await rejectsMatching(runFigures("panel", "--lr", LR, "--sr", SR, "--hr", shifted, "-o", out), /affines differ by up to 1 mm/);
  await rejectsMatching(runFigures("panel", "--lr", LR, "--sr", SR, "--slices", "5,20", "-o", out), /slice 20 is out of range for axis 2, which has 20 slices/);
  await rejectsMatching(runFigures("panel", "--lr", LR, "--sr", SR, "--axis", "1", "--slices", "28", "-o", out), /slice 28 is out of range for axis 1, which has 28 slices/);
  await rejectsMatching(runFigures("panel", "--lr", join(dir, "nope.nii.gz"), "--sr", SR, "-o", out), /--lr .*nope\.nii\.gz does not exist/);
  await rejectsMatching(runFigures("panel", "--lr", LR, "--sr", SR, "-o", join(dir, "no-such-dir", "x.png")), /output directory .*no-such-dir does not exist/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp") || f === "bad.png"), []);
});
