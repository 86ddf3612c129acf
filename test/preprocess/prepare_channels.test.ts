// The preprocessing commands feed `prepare` (issue 6, point 5): a 7T-like HR volume is bias-corrected
// (`bias-correct --write-field`) and unwarped (`gradunwarp --coeffs --write-map`), and a pairs manifest
// names the corrected HR, the field as its bias map and the |u| map as its gdc map. The b and g
// channels of the prepared slices must be those maps (b = ln(field) - brain median, g = |u| in mm),
// on the right voxels: this checks that the files line up in convention, grid and slicing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { readNifti, toVolume } from "../../src/nifti/index.js";
import { registerBiasCorrect } from "../../src/cli/commands/bias_correct.js";
import { registerGradunwarp } from "../../src/cli/commands/gradunwarp.js";
import { openSliceDataset } from "../../src/data/dataset.js";
import { prepareDataset } from "../../src/data/prepare.js";
import { normaliseIntensity } from "../../src/data/normalise.js";
import { percentile } from "../../src/util/percentile.js";
import { BRAIN_LEVEL } from "../../src/data/brain_fraction.js";
import { extractSlice, sliceGeometry } from "../../src/data/slicing.js";
import type { Volume } from "../../src/volume/volume.js";
import { assertClose } from "../helpers.js";
import { phantom, tempDir, writeVolume } from "../data/phantom.js";

const Z3 = fileURLToPath(new URL("../../../test/fixtures/gdc_z3.grad", import.meta.url));
const SIZE = { height: 48, width: 48 } as const;

async function cli(register: (p: Command) => void, args: string[]): Promise<void> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  register(program);
  const original = console.error;
  console.error = () => {};
  try {
    await program.parseAsync(args, { from: "user" });
  } finally {
    console.error = original;
  }
}

test("bias-correct's field and gradunwarp's |u| map become prepare's b and g channels", async () => {
  const { dir, cleanup } = tempDir("moediff-prep-channels-");
  try {
    // A 2 mm phantom head with a smooth multiplicative bias, and a 3 mm LR copy.
    const a = [2, 0, 0, -39, 0, 2, 0, -43, 0, 0, 2, -35, 0, 0, 0, 1];
    const hr = phantom([40, 44, 36], a);
    const biased: Volume = { ...hr, data: hr.data.map((x, q) => x * Math.exp(0.004 * ((q % 40) - 20) + 0.003 * (Math.floor(q / 1760) - 18))) };
    writeVolume(join(dir, "hr_raw.nii.gz"), biased);
    writeVolume(join(dir, "lr.nii.gz"), phantom([27, 30, 24], [3, 0, 0, -39, 0, 3, 0, -43.5, 0, 0, 3, -34.5, 0, 0, 0, 1]));
    await cli(registerBiasCorrect, ["bias-correct", join(dir, "hr_raw.nii.gz"), "-o", join(dir, "hr_n4.nii.gz"), "--write-field", join(dir, "field.nii.gz"), "--shrink", "1", "--iterations", "20x20", "--spline-distance", "40"]);
    await cli(registerGradunwarp, ["gradunwarp", join(dir, "hr_n4.nii.gz"), "--coeffs", Z3, "-o", join(dir, "hr.nii.gz"), "--write-map", join(dir, "g.nii.gz")]);
    writeFileSync(join(dir, "pairs.json"), JSON.stringify({ pairs: [{ subject: "s1", lr: "lr.nii.gz", hr: "hr.nii.gz", bias: "field.nii.gz", gdc: "g.nii.gz" }] }));
    const r = await prepareDataset({ output: join(dir, "ds"), source: { kind: "pairs", manifest: join(dir, "pairs.json") }, ...SIZE });
    assert.deepEqual(r.manifest.pairs[0]?.channels, { bias: "file", g: "file" });

    // Expected channels, computed from the written maps on the HR grid (all on the same RAS grid here).
    const field = toVolume(readNifti(join(dir, "field.nii.gz")));
    const g = toVolume(readNifti(join(dir, "g.nii.gz")));
    const hrOut = normaliseIntensity(toVolume(readNifti(join(dir, "hr.nii.gz"))), "hr").volume;
    assert.ok(g.data.some((x) => x > 0.05), "the coil displaces the phantom");
    assert.ok(field.data.some((x) => Math.abs(Math.log(x)) > 0.02), "the field is not flat");
    const brainLogs: number[] = [];
    for (let q = 0; q < field.data.length; q++) if ((hrOut.data[q] as number) > BRAIN_LEVEL && (field.data[q] as number) > 0) brainLogs.push(Math.log(field.data[q] as number));
    const median = percentile(Float32Array.from(brainLogs), 50);
    const b: Volume = { ...field, data: field.data.map((x) => (x > 0 ? Math.log(x) - median : 0)) };
    const geometry = sliceGeometry(hrOut.dims, "z", SIZE.height, SIZE.width);
    using ds = openSliceDataset(r.output);
    let checked = 0;
    for (const split of ["train", "val", "test"] as const) {
      for (let s = 0; s < ds.size(split); s++) {
        const slice = ds.getSlice(split, s);
        assertClose(slice.g, extractSlice(g, geometry, slice.meta.index), { atol: 1e-5 });
        assertClose(slice.bias, extractSlice(b, geometry, slice.meta.index), { atol: 1e-5 });
        checked++;
      }
    }
    assert.ok(checked >= 10, `checked ${checked} slices`);
  } finally {
    cleanup();
  }
});
