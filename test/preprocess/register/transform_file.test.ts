// The transform JSON (write/read, atomic) and resampling the moving image through T onto the fixed grid.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { multiply } from "../../../src/volume/affine.js";
import { registerRigid } from "../../../src/preprocess/register/register.js";
import { rigidMatrix } from "../../../src/preprocess/register/rigid.js";
import { readTransformMatrix, resampleMoving, transformDocument, writeTransform } from "../../../src/preprocess/register/transform_file.js";
import { assertClose, assertThrowsMatching } from "../../helpers.js";
import { phantom } from "../../data/phantom.js";

const DEG = Math.PI / 180;

test("the transform document holds the matrix, its inverse, degrees, mm and the per-level record; it round-trips", () => {
  const dir = mkdtempSync(join(tmpdir(), "moediff-reg-"));
  try {
    const fixed = phantom();
    const moving = { ...fixed, affine: fixed.affine.map((x, i) => (i === 7 ? x - 2 : x)) };
    const r = registerRigid(moving, fixed, { levels: [2, 1], iterations: [20, 10] });
    const doc = transformDocument(r, { moving: "lr.nii.gz", fixed: "hr.nii.gz" });
    assert.equal(doc.format, "moediff-sr-rigid");
    assert.match(doc.convention, /FIXED .* to the MOVING/);
    assert.deepEqual([doc.moving, doc.fixed, doc.metric, doc.init], ["lr.nii.gz", "hr.nii.gz", "ncc", "com"]);
    assertClose(doc.matrix.flat(), r.matrix, { atol: 1e-8 });
    const product = multiply(doc.matrix.flat(), doc.inverse.flat());
    assertClose(product, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], { atol: 1e-7 });
    assertClose(doc.rotation_deg, r.parameters.angles.map((a) => a / DEG), { atol: 1e-5 });
    assertClose(doc.translation_mm, r.parameters.translation, { atol: 1e-5 });
    assertClose(doc.translation_mm[1]!, -2, { atol: 0.2, message: "the y shift" });
    assert.equal(doc.levels.length, 2);
    assert.equal(doc.iterations, doc.levels[0]!.iterations + doc.levels[1]!.iterations);
    assert.equal(doc.final_cost, doc.levels[1]!.final_cost);
    const path = join(dir, "t.json");
    writeTransform(path, doc);
    assert.deepEqual(readdirSync(dir), ["t.json"], "no temporary file left");
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), doc);
    assertClose(readTransformMatrix(path), doc.matrix.flat(), { atol: 0 });
    assert.throws(() => writeTransform(join(dir, "missing", "t.json"), doc), /could not create a temporary file/);
    writeFileSync(join(dir, "bad.json"), "{");
    assertThrowsMatching(() => readTransformMatrix(join(dir, "bad.json")), /the transform file .*bad\.json is not valid JSON .*; write it again with `moediff-sr register --write-transform FILE`/);
    writeFileSync(join(dir, "other.json"), JSON.stringify({ format: "x" }));
    assertThrowsMatching(() => readTransformMatrix(join(dir, "other.json")), /not a moediff-sr-rigid file \(write one with moediff-sr register --write-transform\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("resampleMoving shows moving(T(p)) on the fixed grid with the fixed affine", () => {
  const fixed = phantom();
  // A moving image whose voxels sit at T(fixed voxel): resampling through T gives the fixed data back.
  const t = rigidMatrix({ angles: [10 * DEG, -7 * DEG, 3 * DEG], translation: [2, 1, -3] }, [1, 2, 3]);
  const moving = { ...fixed, affine: multiply(t, fixed.affine) };
  const back = resampleMoving(moving, fixed, t, "trilinear");
  assert.deepEqual(back.affine, fixed.affine);
  assertClose(back.data, fixed.data, { atol: 1e-3 });
  // A 1 mm shift along x: output voxel i reads moving voxel i + 1; the last column falls outside (0).
  const shift = [1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  const moved = resampleMoving(fixed, fixed, shift, "bspline");
  for (const q of [100, 2000, 7000]) assertClose(moved.data[q]!, fixed.data[q + 1]!, { atol: 1e-3, message: `voxel ${q}` });
  assert.equal(moved.data[23], 0);
});
