// The randomised volumes: one deformation for every volume of a subject (a landmark lands in the same
// place in the HR target, the skull-off variant and the LR input), flips mirror, and the contrast remap
// keeps CSF < GM < WM in the HR target.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Deformation, type AnatomyParams } from "../../../src/data/randomise/anatomy.js";
import { RANDOMISE_DEFAULTS } from "../../../src/data/randomise/ranges.js";
import { drawSubject, sourceFromVolumes, SubjectGenerator, type SubjectParams } from "../../../src/data/randomise/subject.js";
import type { Volume } from "../../../src/volume/volume.js";
import { headPhantom } from "./phantom.js";

const N = 40;
const C = (N - 1) / 2;
const phantom = headPhantom(N, { landmark: true });
const MARK = phantom.landmark;

function source(): { image: Volume; labels: Uint8Array } {
  return { image: phantom.head, labels: phantom.labels };
}

function argmax(v: Volume): [number, number, number] {
  let best = 0;
  for (let q = 1; q < v.data.length; q++) if ((v.data[q] as number) > (v.data[best] as number)) best = q;
  return [best % N, Math.floor(best / N) % N, Math.floor(best / (N * N))];
}

const anatomy = (o: Partial<AnatomyParams> = {}): AnatomyParams => ({
  rotationDeg: [0, 0, 0],
  scale: [1, 1, 1],
  shear: [0, 0, 0],
  flip: false,
  elastic: { sd: 0, spacing: 32, seed: 1 },
  ...o,
});

test("one deformation for every volume of a subject: the landmark lands in the same place in HR (skull on and off) and LR", () => {
  const s = source();
  const src = sourceFromVolumes("ph", s.image, s.labels, true);
  const base = drawSubject(3, 0, 0, "ph-r001", RANDOMISE_DEFAULTS);
  const still = { mode: "3d", voxelSize: [1.5, 1.5, 1.5], snr: 1e6, bias: 0, gradwarp: 0, seed: 5 } as const;
  const params: SubjectParams = {
    ...base,
    anatomy: anatomy({ rotationDeg: [8, -6, 12], scale: [1.05, 0.95, 1], shear: [0.03, 0, -0.02], elastic: { sd: 2, spacing: 16, seed: 9 } }),
    acquisition: { head: still, brain: still },
  };
  const gen = new SubjectGenerator(src, params);
  assert.ok(gen.deformation.maxDisplacementMm > 0.5 && gen.deformation.maxDisplacementMm <= 6 * Math.sqrt(3), `elastic |u| ${gen.deformation.maxDisplacementMm}`);
  const head = gen.variant("head");
  const brain = gen.variant("brain");
  const p = argmax(head.hr);
  // The landmark moved (the test is not trivial) and the map sends its new place back to it.
  assert.ok(Math.hypot(p[0] - MARK[0], p[1] - MARK[1], p[2] - MARK[2]) > 2, `landmark moved from ${MARK.join(",")} to ${p.join(",")}`);
  const back = gen.deformation.sourceVoxel(...p);
  assert.ok(Math.hypot(back[0] - MARK[0], back[1] - MARK[1], back[2] - MARK[2]) < 1, `map(${p.join(",")}) = ${back.map((x) => x.toFixed(2)).join(",")}, landmark ${MARK.join(",")}`);
  assert.deepEqual(argmax(brain.hr), p, "skull-off HR: same place");
  for (const v of [head, brain]) {
    const l = argmax(v.pair.lrRaw); // the normalised LR is clipped at 1, landmark and bright WM alike
    assert.ok(Math.hypot(l[0] - p[0], l[1] - p[1], l[2] - p[2]) <= 1.5, `${v.variant} LR landmark at ${l.join(",")}, HR at ${p.join(",")}`);
  }
  // The skull-off variant is the skull-on image inside the deformed brain, zero outside.
  let inside = 0;
  for (let q = 0; q < gen.labels.length; q++) {
    if (gen.labels[q] !== 0) {
      inside++;
      assert.equal(brain.hr.data[q], head.hr.data[q]);
    } else assert.equal(brain.hr.data[q], 0);
  }
  assert.ok(inside > 1000);
  // The head variant keeps a skull outside the brain; the brain variant does not.
  let skull = 0;
  for (let q = 0; q < gen.labels.length; q++) if (gen.labels[q] === 0 && (head.hr.data[q] as number) > 10) skull++;
  assert.ok(skull > 1000, `skull voxels in the head variant: ${skull}`);
});

test("a flip mirrors left and right about the brain centre", () => {
  const grid = { dims: [N, N, N] as const, affine: [1, 0, 0, -C, 0, 1, 0, -C, 0, 0, 1, -C, 0, 0, 0, 1] };
  const centre = [1.5, -2, 0.5] as const;
  const flipped = new Deformation(anatomy({ flip: true }), grid, centre);
  const plain = new Deformation(anatomy(), grid, centre);
  const [x, y, z] = flipped.sourceVoxel(10, 20, 30);
  // World x of voxel 10 is 10 - C; mirrored about x = 1.5: 3 - (10 - C); back to voxel: + C.
  assert.ok(Math.abs(x - (3 - (10 - C) + C)) < 1e-9 && Math.abs(y - 20) < 1e-9 && Math.abs(z - 30) < 1e-9, `flip sends (10,20,30) to ${x},${y},${z}`);
  assert.deepEqual(plain.sourceVoxel(10, 20, 30).map((v) => Math.round(v * 1e9) / 1e9), [10, 20, 30]);
  assert.equal(plain.maxDisplacementMm, 0);
  // A landmark right of the centre ends up on the left.
  const s = source();
  const moved = argmax(flipped.apply(s.image));
  assert.ok(moved[0] < C && MARK[0] > C, `landmark x ${MARK[0]} -> ${moved[0]}`);
});

test("the contrast remap keeps CSF < GM < WM in the HR target, with each subject's own contrast", () => {
  const s = source();
  const src = sourceFromVolumes("ph", s.image, s.labels, true);
  const ratios: number[] = [];
  for (let i = 0; i < 6; i++) {
    const gen = new SubjectGenerator(src, drawSubject(11, i, 0, `ph-r${i}`, RANDOMISE_DEFAULTS));
    for (const variant of gen.variants) {
      const m = gen.variant(variant).classMeans;
      assert.ok(m[0] < m[1] && m[1] < m[2], `subject ${i} ${variant}: target means CSF ${m[0]}, GM ${m[1]}, WM ${m[2]}`);
      if (variant === "brain") ratios.push(m[1] / m[2]);
    }
  }
  const spread = Math.max(...ratios) - Math.min(...ratios);
  assert.ok(spread > 0.05, `GM/WM of the targets varies across subjects: ${ratios.map((r) => r.toFixed(3)).join(", ")}`);
});
