// A small synthetic "Colin27" for the demo tests: a 1 mm RAS brain (CSF rim, grey-matter ribbon with
// folds, white-matter core, two lateral ventricles) in a zero background, as ch2bet is skull-stripped;
// a prepared slice data set of two such brains (64x64 slices, as the tiny model's card says; with two
// subjects one is cut into a val and a test slab, so the test slab is thick enough for the 3-D SSIM's
// 11-voxel window), and a tiny model directory with the heldout.json that data set implies.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { prepareDataset } from "../../src/data/prepare.js";
import { readManifest, type DatasetManifest } from "../../src/data/manifest.js";
import { writeNifti } from "../../src/nifti/index.js";
import { formatHeldout, heldoutFromManifest, parseHeldout, type HeldoutResults } from "../../src/model_dir/heldout.js";
import { sourceFile } from "../../src/data/sources.js";
import type { Volume } from "../../src/volume/volume.js";
import { writeTinyModelDir } from "../inference/tiny_model.js";

export const BRAIN_DIMS = [52, 60, 44] as const;

/** Labels by world position (mm from the centre): 0 outside, 1 CSF, 2 GM, 3 WM. */
function label(x: number, y: number, z: number, size: number): number {
  const rho = Math.hypot(x / (23 * size), y / (27 * size), z / (19 * size));
  if (rho > 1) return 0;
  const ventricle = Math.min(Math.hypot((x - 6) / 4.5, y / 11, (z + 1) / 6), Math.hypot((x + 6) / 4.5, y / 11, (z + 1) / 6)) <= 1;
  if (ventricle || rho > 0.92) return 1;
  // A folded ribbon: the GM/WM boundary undulates with the angle.
  const fold = 0.07 * Math.sin(5 * Math.atan2(y, x)) * Math.cos(3 * Math.atan2(z, Math.hypot(x, y)));
  return rho > 0.72 + fold ? 2 : 3;
}

/** The brain at `size` (1: radii 23, 27, 19 mm), texture phase `phase`. */
export function syntheticBrain(size = 1, phase = 0): Volume {
  const [nx, ny, nz] = BRAIN_DIMS;
  const affine = [1, 0, 0, -(nx - 1) / 2, 0, 1, 0, -(ny - 1) / 2, 0, 0, 1, -(nz - 1) / 2, 0, 0, 0, 1];
  const data = new Float32Array(nx * ny * nz);
  const level = [0, 30, 70, 110];
  for (let k = 0, q = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, q++) {
        const l = label(i - (nx - 1) / 2, j - (ny - 1) / 2, k - (nz - 1) / 2, size);
        data[q] = l === 0 ? 0 : (level[l] as number) + 3 * Math.sin(0.9 * i + 0.4 * j + phase) * Math.cos(0.6 * k);
      }
    }
  }
  return { data, dims: [nx, ny, nz], affine };
}

export interface DemoFixture {
  /** The held-out subject's HR volume. */
  readonly hrPath: string;
  readonly dataDir: string;
  readonly manifest: DatasetManifest;
  readonly modelDir: string;
}

/** Writes two brains, prepares their data set and a tiny model directory with heldout.json into `dir`. */
export async function demoFixture(dir: string, results?: HeldoutResults): Promise<DemoFixture> {
  const paths = [join(dir, "brain-a.nii.gz"), join(dir, "brain-b.nii.gz")];
  writeNifti(paths[0] as string, syntheticBrain(1, 0));
  writeNifti(paths[1] as string, syntheticBrain(0.95, 1));
  const r = await prepareDataset({
    source: { kind: "simulate", hr: paths },
    ranges: { voxel: [2, 2], snr: [25, 25], bias: [0.2, 0.2], gradwarp: [0.5, 0.5] },
    output: join(dir, "data"),
    height: 64,
    width: 64,
    seed: 3,
  });
  const modelDir = writeTinyModelDir(join(dir, "model"));
  const manifest = readManifest(r.output);
  const heldout = heldoutFromManifest(manifest, results);
  writeFileSync(join(modelDir, "heldout.json"), formatHeldout(heldout));
  return { hrPath: heldout.source.path, dataDir: r.output, manifest, modelDir };
}

/** Without a data set: one brain, a tiny model and a hand-written heldout.json (slab z first..last). */
export function demoModelOnly(dir: string, slab: { first: number; last: number }): { hrPath: string; modelDir: string } {
  const hrPath = join(dir, "brain.nii.gz");
  writeNifti(hrPath, syntheticBrain());
  const modelDir = writeTinyModelDir(join(dir, "model"));
  const spec = {
    source: { path: hrPath, sha256: sourceFile(hrPath).sha256, subject: "brain" },
    acquisition: { voxelSize: 2, snr: 25, bias: 0.2, gradwarp: 0.5, seed: 11 },
    slab: { axis: "z", ...slab },
  };
  writeFileSync(join(modelDir, "heldout.json"), formatHeldout(parseHeldout(spec, "demoModelOnly")));
  return { hrPath, modelDir };
}
