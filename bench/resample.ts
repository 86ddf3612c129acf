// Not a test: times resampling of a Colin27-sized volume (181 x 217 x 181, 1 mm) on one thread.
// Run after building: node dist/test/volume/timing.js
import { affineFrom, rotation, scaleColumns } from "../test/volume/volumes.js";
import { gridFor } from "../src/volume/affine.js";
import { prefilterBSpline } from "../src/volume/bspline.js";
import { resample, resampleToVoxelSize, type Interpolation } from "../src/volume/resample.js";
import { reorient } from "../src/volume/reorient.js";
import type { Volume } from "../src/volume/volume.js";

const dims: [number, number, number] = [181, 217, 181];
const data = new Float32Array(dims[0] * dims[1] * dims[2]);
for (let q = 0; q < data.length; q++) data[q] = Math.sin(q * 0.001) * 100 + (q % 97);
const v: Volume = { data, dims, affine: affineFrom([1, 0, 0, 0, 1, 0, 0, 0, 1], [-90, -126, -72]) };

function time(label: string, fn: () => unknown, repeats = 3): void {
  fn(); // warm-up
  const t: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  console.log(`${label.padEnd(48)} median ${t[Math.floor(t.length / 2)]!.toFixed(0).padStart(5)} ms  (min ${t[0]!.toFixed(0)})`);
}

const oblique = { ...gridFor(v, 1.5), affine: affineFrom(scaleColumns(rotation(10, -5, 15), [1.5, 1.5, 1.5]), [-95, -120, -80]) };
console.log(`source ${dims.join("x")} 1 mm -> ${gridFor(v, 1.5).dims.join("x")} 1.5 mm, node ${process.version}`);
time("bspline prefilter only", () => prefilterBSpline(v));
for (const interpolation of ["nearest", "trilinear", "bspline"] as Interpolation[]) {
  time(`${interpolation} to 1.5 mm (per-axis path)`, () => resampleToVoxelSize(v, 1.5, { interpolation }));
  time(`${interpolation} to 1.5 mm (general path)`, () => resampleToVoxelSize(v, 1.5, { interpolation, path: "general" }));
  time(`${interpolation} to 1.5 mm, rotated target`, () => resample(v, oblique, { interpolation }));
}
time("trilinear to 0.7 mm (259x310x259)", () => resampleToVoxelSize(v, 0.7, { interpolation: "trilinear" }), 1);
time("bspline to 0.7 mm (259x310x259)", () => resampleToVoxelSize(v, 0.7, { interpolation: "bspline" }), 1);
time("reorient to LPI", () => reorient(v, "LPI"));
