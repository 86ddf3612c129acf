// `moediff-sr gradunwarp`: gradient-nonlinearity correction and the g map.
//
//   gradunwarp IN --coeffs FILE.grad -o OUT [--write-map G] [--write-jacobian J] [--write-warp W]
//   gradunwarp --coeffs FILE.grad --like REF --write-map G          (maps only, on REF's grid)
//   gradunwarp [IN -o OUT] --warp FILE_gdc_warp.nii.gz --write-map G [--like REF]
//
// The field comes from a Siemens .grad file (src/preprocess/gradunwarp/: gradunwarp's convention,
// exact evaluation at every voxel) or from an existing HCP warp (FSL relative warp in mm, 3 frames).
// IN (3-D or 4-D: every frame) is unwarped on its own grid: out(p) = IN(p + u(p)) * det(I + du/dp),
// cubic B-spline by default; --no-jacobian drops the intensity factor. The maps go on the grid of
// --like REF if given, else of IN, else of the warp file:
//   --write-map       g = |u| in mm (what `prepare`'s g channel is, src/data/channels.ts)
//   --write-jacobian  det(I + du/dp) (signed, uncapped)
//   --write-warp      the field as an HCP/FSL relative warp (3 frames, mm), readable back with --warp
// World coordinates are taken as scanner coordinates with the gradient isocentre at the origin unless
// --isocenter x,y,z says where it is. Engine-free.
import type { Command } from "commander";
import { readNifti, toVolume, writeNifti, type NiftiImage } from "../../nifti/index.js";
import type { Grid, Vec3 } from "../../volume/affine.js";
import type { Volume } from "../../volume/volume.js";
import { readGradFile, type GradCoefficients } from "../../preprocess/gradunwarp/grad_file.js";
import { coefficientDisplacement, displacementMagnitude, type DisplacementField } from "../../preprocess/gradunwarp/displacement.js";
import { fieldOnGrid, fromFslWarp, sameGrid, toFslWarp } from "../../preprocess/gradunwarp/fsl_warp.js";
import { unwarpVolume, type UnwarpInterpolation } from "../../preprocess/gradunwarp/unwarp.js";
import { parseNonFinite } from "../nifti_options.js";
import { fmt } from "../../util/format.js";
import { progress } from "../../util/progress.js";
import { checkNiftiOutput } from "../output_check.js";

interface GradunwarpCliOptions {
  coeffs?: string;
  warp?: string;
  output?: string;
  writeMap?: string;
  writeJacobian?: string;
  writeWarp?: string;
  like?: string;
  isocenter?: Vec3;
  jacobian: boolean;
  interp: UnwarpInterpolation;
  nonFinite: "error" | "zero";
}

/** --isocenter x,y,z in mm. */
export function parseIsocenter(v: string): Vec3 {
  const parts = v.split(",").map((s) => (s.trim() === "" ? Number.NaN : Number(s)));
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x))) {
    throw new Error(`--isocenter must be three numbers x,y,z in world mm (e.g. 0,0,0 or 0,-12.5,30), got '${v}'`);
  }
  return [parts[0] as number, parts[1] as number, parts[2] as number];
}

function parseInterp(v: string): UnwarpInterpolation {
  if (v !== "bspline" && v !== "trilinear") throw new Error(`--interp must be "bspline" or "trilinear", got '${v}'`);
  return v;
}

function checkNiftiName(path: string | undefined, option: string): void {
  if (path !== undefined) checkNiftiOutput(path, option);
}

function gridOf(im: NiftiImage): Grid {
  return { dims: [im.dims[0] as number, im.dims[1] as number, im.dims[2] as number], affine: Array.from(im.affine) };
}

/**
 * Several volumes on one grid as a 4-D image. writeNifti writes 4-D data for any input whose dims have
 * four entries; the Volume type describes 3-D only, so the object is typed through `unknown` and goes
 * nowhere but writeNifti.
 */
function frames4d(grid: Grid, data: Float32Array, frames: number): Volume {
  return { data, dims: [grid.dims[0], grid.dims[1], grid.dims[2], frames], affine: grid.affine } as unknown as Volume;
}

function stats(field: DisplacementField): { max: number; mean: number } {
  const g = displacementMagnitude(field);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < g.length; i++) {
    const v = g[i] as number;
    if (v > max) max = v;
    sum += v;
  }
  return { max, mean: sum / g.length };
}

/** The field on `grid` (with its Jacobian when asked), from the coefficients or from the warp. */
function fieldFor(
  grid: Grid,
  jacobian: boolean,
  source: { coeffs: GradCoefficients; isocenter: Vec3 } | { warp: DisplacementField },
  label: string,
): DisplacementField {
  if ("warp" in source) return fieldOnGrid(source.warp, grid, jacobian);
  const bar = progress(`gradunwarp: field on ${label}`, grid.dims[2]);
  const f = coefficientDisplacement(source.coeffs, grid, { isocenter: source.isocenter, jacobian, onSlice: (k) => bar.update(k + 1) });
  bar.stop();
  return f;
}

function readWarp(path: string, nonFinite: "error" | "zero"): DisplacementField {
  const im = readNifti(path, { nonFinite });
  const frames = im.dims[3] ?? 1;
  if (frames !== 3 || im.dims.length > 4) {
    throw new Error(
      `--warp ${path}: has dims [${im.dims.join(", ")}] (${frames} frame${frames === 1 ? "" : "s"}); a warp is 3 frames (x, y, z relative displacement in mm, FSL convertwarp --relout / HCP *_gdc_warp)`,
    );
  }
  const field = fromFslWarp(gridOf(im), im.data, `--warp ${path}`);
  const s = stats(field);
  if (s.mean > 30) {
    console.error(
      `gradunwarp: warning: --warp ${path} has a mean |w| of ${fmt(s.mean)} mm; that looks like an ABSOLUTE warp (coordinates). ` +
        `A relative warp is expected: convert it with FSL convertwarp --abs --relout first`,
    );
  }
  return field;
}

export function registerGradunwarp(program: Command): void {
  program
    .command("gradunwarp")
    .description("gradient-nonlinearity unwarping from a Siemens .grad file or an HCP warp; writes g = |u| (mm)")
    .argument("[input]", "the acquired (distorted) volume to unwarp (NIfTI, 3-D or 4-D)")
    .option("--coeffs <file>", "Siemens gradient coefficient file (.grad, as read by HCP gradunwarp)")
    .option("--warp <file>", "existing 3-frame relative warp in mm instead (HCP *_gdc_warp.nii.gz, FSL convention)")
    .option("-o, --output <file>", "the unwarped volume (needs IN)")
    .option("--write-map <file>", "write g = |u| (displacement magnitude, mm)")
    .option("--write-jacobian <file>", "write det(I + du/dp)")
    .option("--write-warp <file>", "write the field as a 3-frame relative warp in mm (HCP/FSL convention)")
    .option("--like <file>", "grid for the maps (default: IN's grid, else the warp's)")
    .option("--isocenter <x,y,z>", "world position (mm) of the gradient isocentre (with --coeffs); default 0,0,0", parseIsocenter)
    .option("--no-jacobian", "do not multiply by the Jacobian determinant (no intensity correction)")
    .option("--interp <kind>", "bspline or trilinear sampling of IN", parseInterp, "bspline")
    .option("--non-finite <mode>", "NaN/Inf voxels in the inputs: error or zero", parseNonFinite, "error")
    .action((input: string | undefined, opts: GradunwarpCliOptions) => runGradunwarp(input, opts));
}

function runGradunwarp(input: string | undefined, opts: GradunwarpCliOptions): void {
  const started = Date.now();
  if ((opts.coeffs === undefined) === (opts.warp === undefined)) {
    throw new Error("give the distortion with --coeffs FILE.grad or with --warp FILE_gdc_warp.nii.gz (one of them)");
  }
  if (opts.isocenter !== undefined && opts.coeffs === undefined) throw new Error("--isocenter applies to --coeffs only (a warp file is already on its grid)");
  if (input !== undefined && opts.output === undefined) throw new Error(`IN ${input} given without -o OUT: say where the unwarped volume goes`);
  if (input === undefined && opts.output !== undefined) throw new Error("-o needs the volume to unwarp: gradunwarp IN --coeffs FILE -o OUT");
  const wantsMaps = opts.writeMap !== undefined || opts.writeJacobian !== undefined || opts.writeWarp !== undefined;
  if (input === undefined && !wantsMaps) throw new Error("nothing to do: give IN -o OUT to unwarp, and/or --write-map / --write-jacobian / --write-warp");
  if (input === undefined && opts.coeffs !== undefined && opts.like === undefined) {
    throw new Error("the maps need a grid: give IN, or --like REF.nii.gz");
  }
  if (!wantsMaps && opts.like !== undefined) throw new Error("--like sets the grid of the maps; add --write-map, --write-jacobian or --write-warp");
  checkNiftiName(opts.output, "-o");
  checkNiftiName(opts.writeMap, "--write-map");
  checkNiftiName(opts.writeJacobian, "--write-jacobian");
  checkNiftiName(opts.writeWarp, "--write-warp");

  let source: { coeffs: GradCoefficients; isocenter: Vec3 } | { warp: DisplacementField };
  let what: string;
  if (opts.coeffs !== undefined) {
    const coeffs = readGradFile(opts.coeffs);
    const isocenter = opts.isocenter ?? [0, 0, 0];
    source = { coeffs, isocenter };
    what = `${opts.coeffs} (R0 ${fmt(coeffs.r0)} mm, ${coeffs.count} coefficients, degree ${coeffs.nmax}), isocentre at world ${isocenter.map(fmt).join(",")} mm`;
  } else {
    const warp = readWarp(opts.warp as string, opts.nonFinite);
    source = { warp };
    what = `${opts.warp} (relative warp, ${warp.grid.dims.join("x")})`;
  }
  console.error(`gradunwarp: distortion from ${what}`);

  const image = input !== undefined ? readNifti(input, { nonFinite: opts.nonFinite }) : undefined;
  const mapGrid: Grid | undefined = !wantsMaps
    ? undefined
    : opts.like !== undefined
      ? gridOf(readNifti(opts.like, { nonFinite: "zero" }))
      : image !== undefined
        ? gridOf(image)
        : (source as { warp: DisplacementField }).warp.grid;

  let inputField: DisplacementField | undefined;
  if (image !== undefined) {
    const grid = gridOf(image);
    inputField = fieldFor(grid, opts.jacobian, source, `${input}'s grid`);
    const frames = image.dims[3] ?? 1;
    const n = grid.dims[0] * grid.dims[1] * grid.dims[2];
    const data = new Float32Array(n * frames);
    const bar = progress("gradunwarp: unwarp", frames * grid.dims[2]);
    let folded = 0;
    let outside = 0;
    for (let f = 0; f < frames; f++) {
      const r = unwarpVolume(toVolume(image, f), inputField, {
        interpolation: opts.interp,
        jacobian: opts.jacobian,
        onSlice: (k) => bar.update(f * grid.dims[2] + k + 1),
      });
      data.set(r.image.data, f * n);
      folded = r.folded;
      outside = r.outside;
    }
    bar.stop();
    const out = frames === 1 ? { data, dims: grid.dims, affine: grid.affine } : frames4d(grid, data, frames);
    writeNifti(opts.output as string, out, { description: `moediff-sr gradunwarp${opts.jacobian ? "" : " no-jacobian"} ${opts.interp}` });
    const s = stats(inputField);
    console.error(
      `gradunwarp: wrote ${opts.output}: ${grid.dims.join("x")}${frames > 1 ? `x${frames}` : ""}, ${opts.interp}, ` +
        `${opts.jacobian ? "Jacobian intensity correction" : "no intensity correction"}; |u| max ${fmt(s.max)} mm, mean ${fmt(s.mean)} mm`,
    );
    if (folded > 0) console.error(`gradunwarp: warning: the field folds (det <= 0) at ${folded} voxels (|det| used there, as gradunwarp does)`);
    if (outside > 0) console.error(`gradunwarp: ${outside} voxels sample outside ${input}'s field of view and are 0`);
  }

  if (mapGrid !== undefined) {
    const needJac = opts.writeJacobian !== undefined;
    const reuse = inputField !== undefined && sameGrid(inputField.grid, mapGrid) && (!needJac || inputField.jacobian !== undefined);
    const field = reuse ? (inputField as DisplacementField) : fieldFor(mapGrid, needJac, source, "the map grid");
    const written: string[] = [];
    if (opts.writeMap !== undefined) {
      writeNifti(opts.writeMap, { data: displacementMagnitude(field), dims: mapGrid.dims, affine: mapGrid.affine }, { description: "moediff-sr gradunwarp: g = |u| (mm)" });
      written.push(`${opts.writeMap} (g = |u| mm)`);
    }
    if (opts.writeJacobian !== undefined) {
      writeNifti(opts.writeJacobian, { data: field.jacobian as Float32Array, dims: mapGrid.dims, affine: mapGrid.affine }, { description: "moediff-sr gradunwarp: det(I + du/dp)" });
      written.push(`${opts.writeJacobian} (Jacobian determinant)`);
    }
    if (opts.writeWarp !== undefined) {
      writeNifti(opts.writeWarp, frames4d(mapGrid, toFslWarp(field), 3), { description: "moediff-sr gradunwarp: relative warp mm (FSL)" });
      written.push(`${opts.writeWarp} (relative warp, mm, FSL axes)`);
    }
    const s = stats(field);
    console.error(`gradunwarp: maps on ${mapGrid.dims.join("x")}: |u| max ${fmt(s.max)} mm, mean ${fmt(s.mean)} mm; wrote ${written.join(", ")}`);
  }
  console.error(`gradunwarp: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
