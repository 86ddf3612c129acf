// xformOptionsFrom: an image computed from a NIfTI input onto another grid keeps the input's sform and
// qform codes, and each written transform maps to its own space (checked by writing and reading back).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readNifti, writeNifti, xformOptionsFrom } from "../../src/nifti/index.js";
import { hasShear } from "../../src/nifti/output_xform.js";
import { invert, multiply } from "../../src/volume/affine.js";
import { assertClose } from "../helpers.js";
import { tempDir } from "../data/phantom.js";

const S = [2, 0, 0, -20, 0, 2, 0, -30, 0, 0, 2, -10, 0, 0, 0, 1]; // the input's sform (MNI)
const c = Math.cos(0.2);
const sn = Math.sin(0.2);
const Q = [2 * c, -2 * sn, 0, 5, 2 * sn, 2 * c, 0, -12, 0, 0, 2, 40, 0, 0, 0, 1]; // its qform (scanner): another space
const A = [1, 0, 0, -20.5, 0, 1, 0, -30.5, 0, 0, 1, -10.5, 0, 0, 0, 1]; // the output grid, in the sform's space
const vol = (affine: number[]) => ({ data: new Float32Array(4 * 4 * 4), dims: [4, 4, 4] as [number, number, number], affine });

test("sform 4 + qform 1 in two spaces: the output keeps both codes, the sform is the output grid and the qform maps to the input's qform space", () => {
  const { dir, cleanup } = tempDir("moediff-output-xform-");
  try {
    const inPath = join(dir, "in.nii");
    writeNifti(inPath, vol(S), { sformCode: 4, qformCode: 1, qformAffine: Q });
    const im = readNifti(inPath);
    assert.deepEqual([im.sformCode, im.qformCode], [4, 1]);
    assertClose(im.qform as number[], Q, { atol: 1e-5 });
    const outPath = join(dir, "out.nii.gz");
    writeNifti(outPath, vol(A), xformOptionsFrom(im, A));
    const out = readNifti(outPath);
    assert.deepEqual([out.sformCode, out.qformCode], [4, 1]);
    assertClose(out.sform as number[], A, { atol: 1e-5 });
    assertClose(out.qform as number[], multiply(multiply(Q, invert(S)), A), { atol: 1e-4 });
  } finally {
    cleanup();
  }
});

test("equal codes and transforms stay so; sform-only and qform-only inputs keep the missing code at 0; pixdim-only gets the defaults", () => {
  const both = { sformCode: 4, qformCode: 4, sform: S, qform: S };
  assert.deepEqual(xformOptionsFrom(both, A), { sformCode: 4, qformCode: 4 });
  assert.deepEqual(xformOptionsFrom({ sformCode: 2, qformCode: 0, sform: S, qform: null }, A), { sformCode: 2, qformCode: 0 });
  assert.deepEqual(xformOptionsFrom({ sformCode: 0, qformCode: 1, sform: null, qform: S }, A), { sformCode: 0, qformCode: 1 });
  const sheared = [1, 0.3, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
  assert.equal(hasShear(sheared), true);
  assert.equal(hasShear(Q), false);
  assert.deepEqual(xformOptionsFrom({ sformCode: 0, qformCode: 1, sform: null, qform: S }, sheared), { sformCode: 1, qformCode: 1 }, "a qform cannot hold shear");
  assert.deepEqual(xformOptionsFrom({ sformCode: 0, qformCode: 0, sform: null, qform: null }, A), {});
});
